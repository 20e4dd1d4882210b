import { deletePath, parseConfigCommands, renderConfigCommands, setPath, splitQuotedWords, validateSetPath } from '../../src/sim/edgeos/configTree';

const words = (line: string): string[] => line.split(' ');

describe('config tree', () => {
  it('parses and prints `show configuration commands` in EdgeOS style', () => {
    const config = parseConfigCommands(
      [
        "set interfaces ethernet eth1 description 'Local 2'",
        'set firewall name LAN_IN rule 20 action drop',
        'set firewall name LAN_IN rule 3 action accept',
        "set interfaces ethernet eth0 dhcpv6-pd pd 0 interface switch0 prefix-id ':'",
        'set firewall name LAN_IN rule 10 action "accept"',
        'set firewall name LAN_IN enable-default-log',
        'set interfaces loopback lo',
        "set firewall name LAN_IN rule 3 source mac-address '00:11:22:33:44:55'",
        'set system name-server 208.67.222.222',
        'set system name-server 208.67.220.220',
      ].join('\n'),
    );
    expect(renderConfigCommands(config)).toBe(
      [
        'set firewall name LAN_IN enable-default-log',
        'set firewall name LAN_IN rule 3 action accept',
        "set firewall name LAN_IN rule 3 source mac-address '00:11:22:33:44:55'",
        'set firewall name LAN_IN rule 10 action accept',
        'set firewall name LAN_IN rule 20 action drop',
        "set interfaces ethernet eth0 dhcpv6-pd pd 0 interface switch0 prefix-id ':'",
        "set interfaces ethernet eth1 description 'Local 2'",
        'set interfaces loopback lo',
        'set system name-server 208.67.220.220',
        'set system name-server 208.67.222.222',
        '',
      ].join('\n'),
    );
  });

  it('splits words with both quoting styles, including empty values', () => {
    expect(splitQuotedWords(`set a 'b c' "d \\"e\\"" f''`)).toEqual(['set', 'a', 'b c', 'd "e"', 'f']);
    expect(splitQuotedWords(`set x ''`)).toEqual(['set', 'x', '']);
  });

  it('replaces single-valued leaves, keeps multi-valued ones, and reports existing nodes', () => {
    let config = parseConfigCommands('set firewall name X rule 10 action accept\nset firewall name X rule 10 log disable');
    config = setPath(config, words('firewall name X rule 10 action drop')).config;
    config = setPath(config, words('firewall name X rule 10 log enable')).config;
    config = setPath(config, words('firewall name X rule 10 disable')).config;
    config = setPath(config, words('firewall group address-group CAMS address 192.168.1.50')).config;
    config = setPath(config, words('firewall group address-group CAMS address 192.168.1.51')).config;
    expect(setPath(config, words('firewall name X rule 10 disable')).alreadyExists).toBe(true);
    expect(setPath(config, words('firewall name X rule 10')).alreadyExists).toBe(true);
    expect(renderConfigCommands(config)).toBe(
      [
        'set firewall group address-group CAMS address 192.168.1.50',
        'set firewall group address-group CAMS address 192.168.1.51',
        'set firewall name X rule 10 action drop',
        'set firewall name X rule 10 disable',
        'set firewall name X rule 10 log enable',
        '',
      ].join('\n'),
    );
  });

  it('deletes subtrees, keeps an emptied tag node, and reports missing nodes', () => {
    const config = parseConfigCommands(
      'set firewall group address-group CAMS address 192.168.1.50\nset firewall name X rule 10 action drop\nset firewall name X rule 10 disable\nset firewall name Y default-action drop',
    );
    expect(deletePath(config, words('firewall name X rule 11'))).toBeNull();
    const withoutFlag = deletePath(config, words('firewall name X rule 10 disable'));
    expect(withoutFlag && renderConfigCommands(withoutFlag)).not.toContain('disable');
    const emptied = deletePath(config, words('firewall group address-group CAMS address 192.168.1.50'));
    expect(emptied && renderConfigCommands(emptied)).toContain('set firewall group address-group CAMS\n');
    const withoutRuleSet = deletePath(config, words('firewall name X'));
    expect(withoutRuleSet && renderConfigCommands(withoutRuleSet)).not.toContain('name X');
  });

  it('validates the paths it knows', () => {
    expect(validateSetPath(words('firewall name X rule 10000 action drop'))).toContain('Set failed');
    expect(validateSetPath(words('firewall name X rule 10 action allow'))).toContain('Set failed');
    expect(validateSetPath(words('firewall name X rule 10 action'))).toBe('Configuration path: [firewall name X rule 10 action] requires a value\nSet failed\n');
    expect(validateSetPath(words('firewall name X rule 10 disable now'))).toBe('The specified configuration node is not valid\nSet failed\n');
    expect(validateSetPath(words('firewall name THIS_NAME_IS_LONGER_THAN_28_CHARS rule 1 action drop'))).toContain('Set failed');
    expect(validateSetPath(words('firewall name X rule 10 action drop'))).toBeNull();
  });
});
