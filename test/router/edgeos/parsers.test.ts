import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import { readFirewall, interfacePathFor } from '../../../src/router/edgeos/firewallConfig';
import { MARK, splitSections } from '../../../src/router/edgeos/commands';
import {
  MAX_LINE_LENGTH,
  MAX_SKIPPED_REPORTED,
  kernelRows,
  kernelRowsChanged,
  parseChainCounters,
  parseChainListing,
  parseConfigCommands,
  parseHookJumps,
  parseConntrackSummary,
  parseNeighbours,
  parseOffload,
  splitConfigWords,
  sumConntrackSummaries,
} from '../../../src/router/edgeos/parsers';

const sample = (name: string): string => readFileSync(join(__dirname, '../../fixtures/edgeos', name), 'utf8');

/** The part of a sample file between two marker lines (samples hold several outputs with notes between). */
function section(text: string, from: RegExp, to?: RegExp): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => from.test(line));
  const rest = lines.slice(start + 1);
  const end = to ? rest.findIndex((line) => to.test(line)) : -1;
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/**
 * The real text of a listing the sample shows as `cat -A` prints it: `$` marks each line's end, `^I` is a tab and
 * `M-CM-)` the two bytes of é in UTF-8 (the only such sequences in the sample).
 */
function engineListing(file: string): string {
  const body = section(file, /^=== show configuration commands/);
  return body
    .split('\n')
    .filter((line) => line.endsWith('$'))
    .map((line) => `${line.slice(0, -1).replaceAll('^I', '\t').replaceAll('M-CM-)', 'é')}\n`)
    .join('');
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
    const paths = unwrap(parseConfigCommands(text)).paths;
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
    const paths = unwrap(parseConfigCommands(sample('napalm-vyos_test_get_users_show_configuration_commands.txt'))).paths;
    expect(paths).toContainEqual(['interfaces', 'ethernet', 'eth1', 'address', '10.0.1.222/24']);
    expect(paths).toContainEqual(['system', 'login', 'user', 'vagrant', 'authentication', 'plaintext-password', '']);
    expect(readFirewall(paths).interfaces.get('eth1')?.addresses).toEqual(['10.0.1.222']);
  });

  it('reads the LAN_IN ruleset and its interface bindings (EdgeRouter Lite blog sample)', () => {
    const text = section(sample('edgeos_show_firewall_statistics_LAN_IN.txt'), /show configuration commands/, /^$/);
    const firewall = readFirewall(unwrap(parseConfigCommands(text)).paths);
    const rule = firewall.ruleSets.get('LAN_IN')?.rules.get(22);
    expect(rule).toMatchObject({ action: 'drop', description: 'Internet DNS', protocol: 'tcp_udp', destinationPort: '53', otherSettings: [] });
    expect(firewall.interfaces.get('eth1')).toMatchObject({ path: ['interfaces', 'ethernet', 'eth1'] });
  });

  it('reads the ansible fixture without a firewall', () => {
    const firewall = readFirewall(unwrap(parseConfigCommands(sample('ansible_edgeos_edgeos_config_config.cfg.txt'))).paths);
    expect(firewall.ruleSets.size).toBe(0);
    expect(firewall.interfaces.get('eth0')?.addresses).toEqual(['1.2.3.4']);
  });

  it('refuses a line with an unterminated quote instead of guessing', () => {
    expect(parseConfigCommands("set firewall name X rule 1 description 'cut off\n").ok).toBe(false);
  });

  it('reads every line the EdgeOS engine printed for awkward values, each value exactly as it was set (engine sample)', () => {
    const file = sample('edgeos_engine_show_configuration_commands_awkward_values.txt');
    const listing = engineListing(file);
    const lines = listing.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(68);
    const { paths, skipped } = unwrap(parseConfigCommands(listing));
    expect(skipped).toEqual([]);
    expect(paths).toHaveLength(lines.length);
    // Part 1 of the sample names each value as it was given to `set` and whether the engine took it.
    const setValues = [...file.matchAll(/^set rule (\d+) description \[(.*)\] rc=(\d)$/gm)].map(([, rule, value, rc]) => ({ rule: Number(rule), value, taken: rc === '0' }));
    expect(setValues).toHaveLength(27);
    const rules = readFirewall(paths).ruleSets.get('CAMGUARD_OUT')?.rules;
    for (const { rule, value, taken } of setValues) {
      expect({ rule, description: rules?.get(rule)?.description }).toEqual({ rule, description: taken ? value : undefined });
    }
    expect(rules?.get(123)?.description).toBe('tab\ttab');
    expect(rules?.get(125)?.description).toBe('café');
    expect(rules?.get(120)?.description).toBe('back\\slash');
    expect(rules?.get(104)?.description).toBe('');
    expect(rules?.get(4000)?.sourceMac).toBe('00:11:22:33:44:55');
    expect(rules?.get(4001)?.disabled).toBe(true);
    expect(paths).toContainEqual(['firewall', 'ipv6-name', 'CAMGUARD6_OUT', 'rule', '4000', 'source', 'address', '2001:db8::50']);
    // Multi-value nodes come one line per value, in the order they were set; tag names are quoted like values.
    expect(paths.filter((path) => path.slice(0, 4).join(' ') === 'interfaces ethernet eth1 address').map((path) => path[4])).toEqual(['192.168.1.1/24', '10.0.0.1/8', 'fd00::1/64']);
    expect(paths).toContainEqual(['interfaces', 'ethernet', 'eth1', 'description', 'Local 2']);
    expect(paths).toContainEqual(['system', 'static-host-mapping', 'host-name', 'my host', 'alias', 'b c']);
    expect(paths).toContainEqual(['system', 'static-host-mapping', 'host-name', 'sl/ash%pct', 'inet', '192.168.1.7']);
  });

  it('reads any words the engine can print: whatever a value holds but a quote or a line break (fast-check)', () => {
    // The engine's printing rule (see NOTES.md, "What EdgeOS's own engine does"), written out here on its own.
    // eslint-disable-next-line no-control-regex -- control characters are among those the engine quotes.
    const QUOTED = /[\u0000-\u001f\u007f *}{[\];&`!$><|?#\\~():]/;
    const engineWord = (word: string): string => (word === '' || QUOTED.test(word) ? `'${word}'` : word);
    const character = fc.oneof(fc.constantFrom(...' \t*}{[];&`!$><|?#\\~():%^@+=,./-_é\u0001\u001b\u007f'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const word = fc.string({ unit: character, maxLength: 12 }).filter((text) => !/['"\n\r]/.test(text) && !text.includes('\uFFFD'));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
        const line = `set system login banner ${words.map(engineWord).join(' ')}`;
        expect(splitConfigWords(line.slice(4))).toEqual(['system', 'login', 'banner', ...words]);
        const firewallLine = `set firewall name X rule 10 description ${engineWord(words.join(' '))}`;
        expect(unwrap(parseConfigCommands(firewallLine)).paths).toEqual([['firewall', 'name', 'X', 'rule', '10', 'description', words.join(' ')]]);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['a double-quoted value (EdgeOS refuses " in values, so it never prints one)', 'description "Front Door"'],
    ['a double quote inside single quotes', `description 'say "hi"'`],
    ['a single quote inside a word', "description O'Brien"],
    ['text glued to a closing quote', "description 'Front'Door"],
    ['an unterminated quote', "description 'Front Door"],
    ['a tab outside quotes (EdgeOS quotes a word with a tab)', 'description Front\tDoor'],
    ['a control character outside quotes', 'description Front\u001bDoor'],
  ])('fails the whole read for a firewall or interfaces line it cannot read: %s', (_what, tail) => {
    for (const line of [`set firewall name CAMGUARD_OUT rule 4008 ${tail}`, `set interfaces ethernet eth0 ${tail}`]) {
      const parsed = parseConfigCommands(`set system host-name ubnt\n${line}\n`);
      expect(parsed.ok).toBe(false);
      // The error names the line, cleaned of control characters.
      // eslint-disable-next-line no-control-regex -- control characters must not reach the owner's log.
      expect(parsed.ok ? '' : parsed.error).not.toMatch(/[\u0000-\u001f]/);
    }
  });

  it('skips and reports a line it cannot read in a tree the plugin never touches, and reads every other line', () => {
    const odd = [
      "set system login banner pre-login 'Welcome \"home\"'",
      "set service dns forwarding options 'cut off",
      'set system domain-name home\u001b[2Jlan',
      'set system static-host-mapping host-name caf\uFFFD inet 192.168.1.7',
      `set service lldp ${'x'.repeat(MAX_LINE_LENGTH)}`,
    ];
    const text = ['set firewall name WAN_IN default-action drop', ...odd, 'Some warning the router printed', '', 'set system host-name ubnt', ''].join('\n');
    const { paths, skipped } = unwrap(parseConfigCommands(text));
    expect(paths).toEqual([
      ['firewall', 'name', 'WAN_IN', 'default-action', 'drop'],
      ['system', 'host-name', 'ubnt'],
    ]);
    expect(skipped.map((entry) => entry.reason)).toEqual([
      'a double quote, which EdgeOS never prints',
      'a quote that is never closed',
      'a control character outside quotes',
      'bytes that are not text',
      `longer than ${MAX_LINE_LENGTH} characters`,
      'not a set command',
    ]);
    for (const { line } of skipped) {
      // Fit for a log line: no control characters, no longer than 80 characters.
      // eslint-disable-next-line no-control-regex -- control characters must not reach the owner's log.
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(line.length).toBeLessThanOrEqual(80);
    }
    expect(skipped[2]?.line).toBe('set system domain-name home?[2Jlan');
  });

  it('fails on a firewall or interfaces line that is too long to read, and on a line whose tree cannot be told', () => {
    expect(parseConfigCommands(`set system host-name ubnt\nset firewall name X rule 10 description '${'x'.repeat(MAX_LINE_LENGTH)}'`).ok).toBe(false);
    expect(parseConfigCommands(`set system host-name ubnt\nset interfaces ethernet eth0 description ${'x'.repeat(MAX_LINE_LENGTH)}`).ok).toBe(false);
    // A set command with odd spacing still belongs to its tree.
    expect(parseConfigCommands('set system host-name ubnt\nset\tfirewall name X rule 10 disable').ok).toBe(false);
    expect(parseConfigCommands('set system host-name ubnt\n  set firewall name X rule 10 disable').ok).toBe(false);
    expect(parseConfigCommands("set system host-name ubnt\nset 'firewall name X rule 10 disable").ok).toBe(false);
    expect(parseConfigCommands('set system host-name ubnt\nset Firewall\u0000 name X rule 10 disable').ok).toBe(false);
    expect(parseConfigCommands('set system host-name ubnt\nset \n').ok).toBe(false);
  });

  it('reports the first unreadable lines one by one and counts the rest', () => {
    const bad = Array.from({ length: MAX_SKIPPED_REPORTED + 7 }, (_, i) => `set system login banner 'cut ${i}`);
    const { skipped } = unwrap(parseConfigCommands(['set system host-name ubnt', ...bad].join('\n')));
    expect(skipped).toHaveLength(MAX_SKIPPED_REPORTED + 1);
    expect(skipped[MAX_SKIPPED_REPORTED]).toEqual({ line: '', reason: 'and 7 more lines that could not be read' });
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
      ).paths,
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

describe('what the kernel really enforces', () => {
  const HOOKS = sample('iptables_legacy_1.8.9_L_v_n_x_out_hook.txt');

  it('reads the out hook\'s jumps from real iptables and ip6tables listings, with VLAN and PPPoE interfaces and a row without a target', () => {
    const v4 = unwrap(parseHookJumps(section(HOOKS, /^=== iptables -L VYATTA_FW_OUT_HOOK/, /^===/), 'VYATTA_FW_OUT_HOOK'));
    expect(v4).toEqual([
      { target: 'WAN_OUT', out: 'pppoe0' },
      { target: 'CAMGUARD_OUT', out: 'eth0.10' },
      { target: 'CAMGUARD_OUT', out: 'eth0' },
    ]);
    expect(unwrap(parseHookJumps(section(HOOKS, /^=== ip6tables/, /^===/), 'VYATTA_FW_OUT_HOOK'))).toEqual([{ target: 'CAMGUARD6_OUT', out: 'eth0' }]);
    expect(unwrap(parseHookJumps(section(HOOKS, /^=== iptables -L EMPTY_HOOK/), 'EMPTY_HOOK'))).toEqual([]);
  });

  it('reads EdgeOS\'s older format (protocol names, ip6tables with a blank opt column)', () => {
    const listing = [
      'Chain VYATTA_FW_OUT_HOOK (1 references)',
      '    pkts      bytes target     prot opt in     out     source               destination',
      '  120934  9120223 CAMGUARD6_OUT  all      *      eth0    ::/0                 ::/0',
    ].join('\n');
    expect(unwrap(parseHookJumps(listing, 'VYATTA_FW_OUT_HOOK'))).toEqual([{ target: 'CAMGUARD6_OUT', out: 'eth0' }]);
  });

  it('never reads a damaged listing as a jump that is there', () => {
    const v4 = section(HOOKS, /^=== iptables -L VYATTA_FW_OUT_HOOK/, /^===/);
    expect(parseHookJumps(v4, 'OTHER').ok).toBe(false);
    expect(parseHookJumps(v4.replace('    pkts      bytes', '    pkts'), 'VYATTA_FW_OUT_HOOK').ok).toBe(false);
    const cut = v4.split('\n');
    cut[4] = (cut[4] ?? '').slice(0, 40);
    expect(parseHookJumps(cut.join('\n'), 'VYATTA_FW_OUT_HOOK').ok).toBe(false);
    expect(parseHookJumps(v4.replace('pppoe0 ', 'pppoe0\x1b[2J'), 'VYATTA_FW_OUT_HOOK').ok).toBe(false);
  });

  it('reads a timed drop row as the real kernel prints it (the default row added, as EdgeOS always compiles one)', () => {
    const TIME = sample('iptables_legacy_1.8.9_time_match.txt');
    const withDefault = (text: string): string => `${text.trimEnd()}\n       0        0 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* X-10000 default-action accept */\n`;
    const v4 = unwrap(parseChainListing(withDefault(section(TIME, /^=== iptables -L X/, /^===/)), 'X'));
    expect(v4.drops.get(10)).toEqual([{ source: '192.0.2.5', mac: undefined }]);
    const v6 = unwrap(parseChainListing(withDefault(section(TIME, /^=== ip6tables -L X/)), 'X'));
    expect(v6.drops.get(10)).toEqual([{ source: '::/0', mac: '00:11:22:33:44:55' }]);
  });

  it('lists each rule\'s DROP rows, by address or by MAC, and not its LOG row', () => {
    const listing = [
      'Chain CAMGUARD_OUT (1 references)',
      '    pkts      bytes target     prot opt in     out     source               destination',
      '       5      300 LOG        all  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4008 */ LOG flags 0 level 4 prefix "[CAMGUARD_OUT-4008-D]"',
      '       5      300 DROP       all  --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4008 */',
      '       0        0 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-4018 */ MAC 00:12:41:A3:70:04',
      '       0        0 RETURN     all  --  *      *       192.168.1.52         0.0.0.0/0            /* CAMGUARD_OUT-4028 */',
      '    1778   980898 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-10000 default-action accept */',
    ].join('\n');
    const { drops } = unwrap(parseChainListing(listing, 'CAMGUARD_OUT'));
    expect(drops.get(4008)).toEqual([{ source: '192.168.1.50', mac: undefined }]);
    expect(drops.get(4018)).toEqual([{ source: '0.0.0.0/0', mac: '00:12:41:a3:70:04' }]);
    expect(drops.has(4028)).toBe(false);
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

  it('reads each address with its MAC and interface, IPv4 and IPv6 alike (verbatim iproute2 output from the router lab)', () => {
    expect(unwrap(parseNeighbours(labSample))).toEqual([
      { address: '198.51.100.50', mac: '02:00:c6:33:64:32', device: 'eth1' },
      { address: '203.0.113.10', mac: '12:bd:8d:4d:28:e8', device: 'eth0' },
      { address: '198.51.100.254', mac: '62:c9:e9:7e:91:5d', device: 'eth1' },
      { address: '2001:db8:ffff::10', mac: '12:bd:8d:4d:28:e8', device: 'eth0' },
      { address: '2001:db8:100::50', mac: '02:00:c6:33:64:32', device: 'eth1' },
    ]);
  });

  it('skips entries without a link-layer address, reads the router flag, and lower-cases MACs', () => {
    const text = ['192.168.1.77 dev switch0  FAILED', '192.168.1.78 dev switch0  INCOMPLETE', 'fe80::1 dev eth0 lladdr 44:D9:E7:00:00:01 router STALE', ''].join('\n');
    expect(unwrap(parseNeighbours(text))).toEqual([{ address: 'fe80::1', mac: '44:d9:e7:00:00:01', device: 'eth0' }]);
  });

  it('refuses lines it cannot read rather than guess an address', () => {
    expect(parseNeighbours('Invalid command: [ip]').ok).toBe(false);
    expect(parseNeighbours('192.168.1.50 dev switch0 lladdr 00:11:22:33:44').ok).toBe(false);
    expect(parseNeighbours('192.168.1.50 dev switch0 lladdr 00:11:22:33:44:55 REACH\uFFFDABLE').ok).toBe(false);
  });
});

describe('kernelRows: whether the kernel firewall changed between two polls', () => {
  // The plugin's read answered by EdgeOS's own engine after real packets (verbatim sample).
  const answer = splitSections(sample('edgeos_engine_plugin_read_after_traffic.txt').split('\n').slice(2).join('\n'));
  const marks = [MARK.counters, MARK.countersFailed, MARK.counters6, MARK.counters6Failed];
  const edited = (edit: (text: string) => string): Map<string, string> => new Map([...answer].map(([mark, text]) => [mark, mark === MARK.counters ? edit(text) : text]));
  const before = kernelRows(answer, marks);

  it('sees the same rules when only the counters rose', () => {
    const after = kernelRows(edited((text) => text.replace('       5      240 DROP', '      17      816 DROP')), marks);
    expect(after.rows).toBe(before.rows);
    expect(kernelRowsChanged(before, after)).toBe(false);
  });

  it('sees a change when a DROP row went (a drop rule disabled), a row changed, or a listing failed', () => {
    const withoutDrop = edited((text) => text.split('\n').filter((line) => !line.includes('CAMGUARD_OUT-4008')).join('\n'));
    expect(kernelRowsChanged(before, kernelRows(withoutDrop, marks))).toBe(true);
    const otherSource = edited((text) => text.replace('DROP       0    --  *      *       192.168.1.50', 'DROP       0    --  *      *       192.168.1.99'));
    expect(kernelRowsChanged(before, kernelRows(otherSource, marks))).toBe(true);
    const failed = new Map([...answer].filter(([mark]) => mark !== MARK.counters).concat([[MARK.countersFailed, '']]));
    expect(kernelRowsChanged(before, kernelRows(failed, marks))).toBe(true);
  });

  it('sees a change when a counter went down (the row was re-inserted: the rule edited, counters cleared, a reboot)', () => {
    const reset = edited((text) => text.replace('       5      240 DROP', '       0        0 DROP'));
    expect(kernelRows(reset, marks).rows).toBe(before.rows);
    expect(kernelRowsChanged(before, kernelRows(reset, marks))).toBe(true);
  });
});
