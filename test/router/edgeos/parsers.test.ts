import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { readFirewall, interfacePathFor } from '../../../src/router/edgeos/firewallConfig';
import { parseChainCounters, parseConfigCommands, parseConntrackSummary, parseNeighbours, parseOffload, sumConntrackSummaries } from '../../../src/router/edgeos/parsers';

const sample = (name: string): string => readFileSync(join(__dirname, '../../fixtures/edgeos', name), 'utf8');

/** The part of a sample file between two marker lines (samples hold several outputs with notes between). */
function section(text: string, from: RegExp, to?: RegExp): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => from.test(line));
  const rest = lines.slice(start + 1);
  const end = to ? rest.findIndex((line) => to.test(line)) : -1;
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!result.ok) {
    throw new Error(result.error);
  }
  return result.value;
}

describe('show configuration commands', () => {
  it('reads EdgeOS bare and single-quoted values (ER-PoE blog sample)', () => {
    const text = section(sample('edgeos_ERPoE_show_configuration_tree_and_commands.txt'), /^## ---- commands form ----/);
    const paths = unwrap(parseConfigCommands(text));
    expect(paths).toContainEqual(['firewall', 'name', 'WAN_IN', 'description', 'WAN to internal']);
    expect(paths).toContainEqual(['interfaces', 'ethernet', 'eth1', 'dhcpv6-pd', 'pd', '0', 'interface', 'switch0', 'host-address', '::1']);
    expect(paths).toContainEqual(['interfaces', 'loopback', 'lo']);
    const firewall = readFirewall(paths);
    const wanIn = firewall.ruleSets.get('WAN_IN');
    expect(wanIn?.defaultAction).toBe('drop');
    expect(wanIn?.rules.get(20)).toMatchObject({ action: 'drop', description: 'Drop invalid state', disabled: false });
    // State matches are conditions the plugin never writes: they make a rule "not ours to trust".
    expect(wanIn?.rules.get(20)?.otherSettings).toEqual(['state invalid enable']);
    expect(firewall.interfaces.get('eth0')?.addresses).toEqual(['192.168.1.1']);
    expect(firewall.interfaces.get('switch0')?.addresses).toEqual(['192.168.2.1']);
    expect(firewall.interfaces.get('eth1')?.outRuleSet).toBeUndefined();
  });

  it('reads VyOS 1.1 where every value is quoted (napalm-vyos sample)', () => {
    const paths = unwrap(parseConfigCommands(sample('napalm-vyos_test_get_users_show_configuration_commands.txt')));
    expect(paths).toContainEqual(['interfaces', 'ethernet', 'eth1', 'address', '10.0.1.222/24']);
    expect(paths).toContainEqual(['system', 'login', 'user', 'vagrant', 'authentication', 'plaintext-password', '']);
    expect(readFirewall(paths).interfaces.get('eth1')?.addresses).toEqual(['10.0.1.222']);
  });

  it('reads the LAN_IN ruleset and its interface bindings (EdgeRouter Lite blog sample)', () => {
    const text = section(sample('edgeos_show_firewall_statistics_LAN_IN.txt'), /show configuration commands/, /^$/);
    const firewall = readFirewall(unwrap(parseConfigCommands(text)));
    const rule = firewall.ruleSets.get('LAN_IN')?.rules.get(22);
    expect(rule).toMatchObject({ action: 'drop', description: 'Internet DNS', protocol: 'tcp_udp', destinationPort: '53', otherSettings: [] });
    expect(firewall.interfaces.get('eth1')).toMatchObject({ path: ['interfaces', 'ethernet', 'eth1'] });
  });

  it('reads the ansible fixture without a firewall', () => {
    const firewall = readFirewall(unwrap(parseConfigCommands(sample('ansible_edgeos_edgeos_config_config.cfg.txt'))));
    expect(firewall.ruleSets.size).toBe(0);
    expect(firewall.interfaces.get('eth0')?.addresses).toEqual(['1.2.3.4']);
  });

  it('refuses a line with an unterminated quote instead of guessing', () => {
    expect(parseConfigCommands("set firewall name X rule 1 description 'cut off\n").ok).toBe(false);
  });

  it('maps VLAN, PPPoE and switch interfaces to their kernel names', () => {
    const firewall = readFirewall(
      unwrap(
        parseConfigCommands(
          [
            'set interfaces ethernet eth0 vif 10 firewall out name CAMS',
            'set interfaces ethernet eth0 pppoe 0 firewall out name WAN_OUT',
            'set interfaces switch switch0 address 192.168.1.1/24',
          ].join('\n'),
        ),
      ),
    );
    expect(firewall.interfaces.get('eth0.10')).toMatchObject({ path: ['interfaces', 'ethernet', 'eth0', 'vif', '10'], outRuleSet: 'CAMS' });
    expect(firewall.interfaces.get('pppoe0')).toMatchObject({ path: ['interfaces', 'ethernet', 'eth0', 'pppoe', '0'], outRuleSet: 'WAN_OUT' });
    expect(interfacePathFor('pppoe0', firewall)).toEqual(['interfaces', 'ethernet', 'eth0', 'pppoe', '0']);
    expect(interfacePathFor('eth2.30', firewall)).toEqual(['interfaces', 'ethernet', 'eth2', 'vif', '30']);
    expect(interfacePathFor('switch0', firewall)).toEqual(['interfaces', 'switch', 'switch0']);
    expect(interfacePathFor('pppoe1', firewall)).toBeUndefined();
  });
});

describe('iptables -L -v -n -x counters', () => {
  it('splits on whitespace when wide counters overflow their columns (generic sample)', () => {
    const text = sample('generic_iptables_L_nxv_format.txt');
    const counters = unwrap(parseChainCounters(text.replace('/* snag:ipt_nntp */', '/* NNTP-7 */'), 'NNTP'));
    expect(counters.get(7)).toEqual({ packets: 39253428, bytes: 81025601206 });
  });

  const chain = [
    'Chain CAMGUARD_OUT (1 references)',
    '    pkts      bytes target     prot opt in     out     source               destination         ',
    '      12      840 RETURN     tcp  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4000 */ tcp dpt:53',
    '       3      210 RETURN     udp  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4000 */ udp dpt:53',
    '       5      300 LOG        all  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4008 */ LOG flags 0 level 4 prefix "[CAMGUARD_OUT-4008-D]"',
    '       5      300 DROP       all  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4008 */',
    '39253428 81025601206 RETURN     all  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4009 */',
    '    1778   980898 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-10000 default-action accept */',
    '',
  ].join('\n');

  it('sums tcp_udp rows, skips LOG rows and reads the default action', () => {
    const counters = unwrap(parseChainCounters(chain, 'CAMGUARD_OUT'));
    expect(counters.get(4000)).toEqual({ packets: 15, bytes: 1050 });
    expect(counters.get(4008)).toEqual({ packets: 5, bytes: 300 });
    expect(counters.get(4009)).toEqual({ packets: 39253428, bytes: 81025601206 });
    expect(counters.get(10000)).toEqual({ packets: 1778, bytes: 980898 });
  });

  it('reads the real EdgeOS comment layout of a default-action with logging (WANv6 sample, as -L would print it)', () => {
    const rules = sample('edgeos_ip6tables_S_WANv6_enable-default-log.txt');
    expect(rules).toContain('"WANv6_IN-10000 default-action drop" -j LOG');
    const listing = [
      'Chain WANv6_IN (1 references)',
      '    pkts      bytes target     prot opt in     out     source               destination',
      '       9      700 LOG        all      *      *       ::/0                 ::/0                 /* WANv6_IN-10000 default-action drop */ LOG flags 0 level 4 prefix "[WANv6_IN-default-D]"',
      '       9      700 DROP       all      *      *       ::/0                 ::/0                 /* WANv6_IN-10000 default-action drop */',
    ].join('\n');
    expect(unwrap(parseChainCounters(listing, 'WANv6_IN')).get(10000)).toEqual({ packets: 9, bytes: 700 });
  });

  it('returns an error, not numbers, for listings it cannot trust', () => {
    expect(parseChainCounters(chain, 'OTHER').ok).toBe(false);
    expect(parseChainCounters(chain.replace('    pkts      bytes', '    pkts'), 'CAMGUARD_OUT').ok).toBe(false);
    // Without -x iptables prints 1234K: a rounded number must never be taken for a count.
    expect(parseChainCounters(chain.replace('39253428 81025601206', '  39253K   81025M'), 'CAMGUARD_OUT').ok).toBe(false);
    expect(parseChainCounters(chain.replace('39253428 81025601206', '18446744073709551616 1'), 'CAMGUARD_OUT').ok).toBe(false);
    const cut = chain.split('\n');
    cut[3] = (cut[3] ?? '').slice(0, 30);
    expect(parseChainCounters(cut.join('\n'), 'CAMGUARD_OUT').ok).toBe(false);
  });
});

describe('show ubnt offload', () => {
  it('sees IPv4 forwarding offload on the ER-4', () => {
    expect(unwrap(parseOffload(sample('edgeos_show_ubnt_offload_ER-4.txt')))).toEqual({ ipv4Forwarding: true, ipv6Forwarding: false });
  });

  it('sees it on the ER-Lite sample whose indentation was lost', () => {
    const text = section(sample('edgeos_show_ubnt_offload_ERLite_and_save.txt'), /show ubnt offload/, /^ubnt@ubnt:~\$ configure/);
    expect(unwrap(parseOffload(text))).toEqual({ ipv4Forwarding: true, ipv6Forwarding: false });
  });

  it('does not mistake IPv6 forwarding offload for IPv4', () => {
    const text = sample('edgeos_show_ubnt_offload_ER-4.txt').replace('forwarding: enabled', 'forwarding: disabled').replace(/IPv6\n {2}forwarding: disabled/, 'IPv6\n  forwarding: enabled');
    expect(unwrap(parseOffload(text))).toEqual({ ipv4Forwarding: false, ipv6Forwarding: true });
  });

  it('reads IPv6 forwarding offload apart from IPv4 (Cavium models offload each family on its own)', () => {
    const text = sample('edgeos_show_ubnt_offload_ER-4.txt').replace(/IPv6\n {2}forwarding: disabled/, 'IPv6\n  forwarding: enabled');
    expect(unwrap(parseOffload(text))).toEqual({ ipv4Forwarding: true, ipv6Forwarding: true });
    expect(unwrap(parseOffload(text.replace(/IPv4\n {2}forwarding: enabled/, 'IPv4\n  forwarding: disabled')))).toEqual({ ipv4Forwarding: false, ipv6Forwarding: true });
  });

  it('refuses output that is not about offload', () => {
    expect(parseOffload('Invalid command: [show]').ok).toBe(false);
  });
});

describe('conntrack summary', () => {
  it('reads the stderr trailer (conntrack-tools sample)', () => {
    expect(unwrap(parseConntrackSummary(sample('generic_conntrack_L_conntrack-tools.txt')))).toBe(296);
    expect(unwrap(parseConntrackSummary('conntrack v1.4.6 (conntrack-tools): 3 flow entries have been deleted.'))).toBe(3);
  });
});

describe('conntrack summaries of several addresses', () => {
  it('adds up one summary per address, and refuses when one is missing', () => {
    const stderr = 'conntrack v1.4.6 (conntrack-tools): 3 flow entries have been deleted.\nconntrack v1.4.6 (conntrack-tools): 0 flow entries have been deleted.\n';
    expect(unwrap(sumConntrackSummaries(stderr, 2))).toBe(3);
    expect(sumConntrackSummaries(stderr, 3)).toEqual({ ok: false, error: 'conntrack reported on 2 of 3 addresses' });
  });
});

describe('neighbour table (ip neigh show)', () => {
  const labSample = readFileSync(join(__dirname, '../../fixtures/lab/iproute2_ip_neigh_show.txt'), 'utf8').split('\n').slice(1).join('\n');

  it('reads each address with its MAC, IPv4 and IPv6 alike (verbatim iproute2 output from the router lab)', () => {
    expect(unwrap(parseNeighbours(labSample))).toEqual([
      { address: '198.51.100.50', mac: '02:00:c6:33:64:32' },
      { address: '203.0.113.10', mac: '12:bd:8d:4d:28:e8' },
      { address: '198.51.100.254', mac: '62:c9:e9:7e:91:5d' },
      { address: '2001:db8:ffff::10', mac: '12:bd:8d:4d:28:e8' },
      { address: '2001:db8:100::50', mac: '02:00:c6:33:64:32' },
    ]);
  });

  it('skips entries without a link-layer address, reads the router flag, and lower-cases MACs', () => {
    const text = ['192.168.1.77 dev switch0  FAILED', '192.168.1.78 dev switch0  INCOMPLETE', 'fe80::1 dev eth0 lladdr 44:D9:E7:00:00:01 router STALE', ''].join('\n');
    expect(unwrap(parseNeighbours(text))).toEqual([{ address: 'fe80::1', mac: '44:d9:e7:00:00:01' }]);
  });

  it('refuses lines it cannot read rather than guess an address', () => {
    expect(parseNeighbours('Invalid command: [ip]').ok).toBe(false);
    expect(parseNeighbours('192.168.1.50 dev switch0 lladdr 00:11:22:33:44').ok).toBe(false);
    expect(parseNeighbours('192.168.1.50 dev switch0 lladdr 00:11:22:33:44:55 REACH\uFFFDABLE').ok).toBe(false);
  });
});
