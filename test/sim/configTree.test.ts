import fc from 'fast-check';

import { compareLines, deletePath, hasPrefix, isMultiValued, isValueless, parseConfigCommands, renderConfigCommands, setPath, splitConfigLine, validateSetPath } from '../../tools/sim/edgeos/configTree';
import type { ConfigLines } from '../../tools/sim/edgeos/types';

const words = (line: string): string[] => line.split(' ');

describe('config tree', () => {
  it('parses and prints `show configuration commands` in EdgeOS style', () => {
    const config = parseConfigCommands(
      [
        "set interfaces ethernet eth1 description 'Local 2'",
        'set firewall name LAN_IN rule 20 action drop',
        'set firewall name LAN_IN rule 3 action accept',
        "set interfaces ethernet eth0 dhcpv6-pd pd 0 interface switch0 prefix-id ':'",
        "set firewall name LAN_IN rule 10 action 'accept'",
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
        // A multi-value node prints its values in the order they were set, as EdgeOS does.
        'set system name-server 208.67.222.222',
        'set system name-server 208.67.220.220',
        '',
      ].join('\n'),
    );
  });

  it('keeps every value of the tag and multi-value nodes of a stock EdgeOS configuration', () => {
    // Each of these is one line per value in a real listing (the ER-X wizard's defaults, DNS forwarding, RA): an earlier
    // simulator kept only the last value of each.
    const listing = [
      'set interfaces ethernet eth1 dhcpv6-pd pd 0 interface switch0 service slaac',
      "set interfaces switch switch0 ipv6 router-advert name-server '2001:4860:4860::8888'",
      "set interfaces switch switch0 ipv6 router-advert name-server '2001:4860:4860::8844'",
      'set interfaces switch switch0 switch-port interface eth1',
      'set interfaces switch switch0 switch-port interface eth2',
      'set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 dns-server 192.168.1.1',
      'set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 dns-server 9.9.9.9',
      'set service dns dynamic interface eth0 service dyndns server members.dyndns.org',
      'set service dns forwarding listen-on switch0',
      'set service dns forwarding listen-on eth1',
      'set service dns forwarding name-server 8.8.8.8',
      "set service dns forwarding name-server '2001:4860:4860::8888'",
      'set system ntp server 0.ubnt.pool.ntp.org',
      'set system ntp server 1.ubnt.pool.ntp.org',
      '',
    ].join('\n');
    expect(renderConfigCommands(parseConfigCommands(listing))).toBe(listing);
    const config = setPath(parseConfigCommands(listing), words('service dns dynamic interface eth0 service dyndns server other.example')).config;
    expect(renderConfigCommands(config)).not.toContain('members.dyndns.org');
  });

  it('splits words as EdgeOS prints them, nothing escaped inside quotes, and refuses what it never prints', () => {
    expect(splitConfigLine(`a 'b c' 'back\\slash' '' 'dollar$HOME' caf\u00e9`)).toEqual(['a', 'b c', 'back\\slash', '', 'dollar$HOME', 'caf\u00e9']);
    expect(() => splitConfigLine(`a "b c"`)).toThrow(/not a line EdgeOS prints/);
    expect(() => splitConfigLine(`a 'b c`)).toThrow(/never closed/);
    expect(() => splitConfigLine(`a 'b'c`)).toThrow(/after a closing quote/);
    expect(() => splitConfigLine(`a O'Brien`)).toThrow(/quote inside a value/);
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

  it('sets by binary search exactly what a scan of the whole configuration sets (fast-check)', () => {
    // The plain definition: look at every line, then sort (stably, so values of a multi-value leaf stay in set order).
    const plainSet = (config: ConfigLines, path: string[]): ConfigLines => {
      if (config.some((line) => hasPrefix(line, path))) return config;
      const replaces = !isValueless(path) && !isMultiValued(path);
      const kept = config.filter((line) => !hasPrefix(path, line) && !(replaces && line.length === path.length && hasPrefix(line, path.slice(0, -1))));
      return [...kept, path].sort(compareLines);
    };
    const value = fc.constantFrom('1', '2', '10', 'a', 'b c', '');
    const path = fc.oneof(
      fc.tuple(fc.constantFrom('X', 'Y'), fc.constantFrom('2', '10', '9'), fc.constantFrom('action', 'description', 'protocol'), value).map(([set, rule, leaf, v]) => ['firewall', 'name', set, 'rule', rule, leaf, v]),
      fc.tuple(fc.constantFrom('X', 'Y'), fc.constantFrom('2', '10')).map(([set, rule]) => ['firewall', 'name', set, 'rule', rule, 'disable']),
      fc.constantFrom('G', 'H').map((group) => ['firewall', 'group', 'address-group', group]),
      fc.tuple(fc.constantFrom('G', 'H'), value).map(([group, v]) => ['firewall', 'group', 'address-group', group, 'address', v]),
      value.map((v) => ['interfaces', 'ethernet', 'eth0', 'address', v]),
      value.map((v) => ['system', 'name-server', v]),
      value.map((v) => ['system', 'host-name', v]),
      fc.constant<string[]>(['interfaces', 'loopback', 'lo']),
    );
    fc.assert(
      fc.property(fc.array(path, { maxLength: 40 }), (paths) => {
        let fast: ConfigLines = [];
        let plain: ConfigLines = [];
        for (const next of paths) {
          fast = setPath(fast, next).config;
          plain = plainSet(plain, next);
          expect(fast).toEqual(plain);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
