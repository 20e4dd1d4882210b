import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import { NAMED_SERVICES } from '../../../src/config';
import {
  MARK,
  cutFlowsCommand,
  cutFlowsScript,
  cutManyFlowsScript,
  splitCutReports,
  parseTransactionOutput,
  readScript,
  saveScript,
  ruleSetPaths,
  shellWord,
  splitSections,
  transactionScript,
} from '../../../src/router/edgeos/commands';
import { readFirewall } from '../../../src/router/edgeos/firewallConfig';
import type { RuleSetConfig } from '../../../src/router/edgeos/firewallConfig';
import { parseConfigCommands } from '../../../src/router/edgeos/parsers';
import { RuleSetLayout, assignSlots, descriptionName } from '../../../src/router/edgeos/ruleSetLayout';

const sample = (name: string): string => readFileSync(join(__dirname, '../../fixtures/edgeos', name), 'utf8');

const frontDoor: CameraSettings = { name: 'Front Door', address: '192.168.1.50', allow: [NAMED_SERVICES.dns!, NAMED_SERVICES.smtp!], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage', address: '192.168.1.51', allow: [], allowMinutes: 0 };

/** Runs the `set` commands a transaction would send through the config parser, as the router would store them. */
function ruleSetFrom(commands: string[][]): RuleSetConfig | undefined {
  const text = commands.map((path) => `set ${path.map(shellWord).join(' ')}`).join('\n');
  const parsed = parseConfigCommands(text);
  if (!parsed.ok) {
    throw new Error(parsed.error);
  }
  return readFirewall(parsed.value.paths).ruleSets.get('CAMGUARD_OUT');
}

describe('rule layout', () => {
  const layout = new RuleSetLayout(4000);

  it('puts allow rules first, then the tries-log rule, the block, then the egress counter, in the camera block', () => {
    const specs = layout.rulesFor(frontDoor, 2, 'blocked');
    expect(specs.map((spec) => [spec.number, spec.action, spec.protocol, spec.destinationPort, spec.disabled])).toEqual([
      [4020, 'accept', 'tcp_udp', '53', false],
      [4021, 'accept', 'tcp', '25,465,587', false],
      [4027, 'drop', undefined, undefined, false],
      [4028, 'drop', undefined, undefined, false],
      [4029, 'accept', undefined, undefined, false],
    ]);
    expect(specs[2]).toMatchObject({ description: 'camera-guard: Front Door (tries log)', log: true, limit: { rate: '6/minute', burst: 5 }, sourceAddress: '192.168.1.50' });
    expect(specs[3]?.description).toBe('camera-guard: Front Door (block)');
    // Allowed: the tries-log and drop rules are disabled together; timed: both carry the same deadline.
    expect(layout.rulesFor(frontDoor, 2, 'allowed').slice(2, 4).map((spec) => spec.disabled)).toEqual([true, true]);
    const timed = layout.rulesFor(frontDoor, 2, 'allowed', Date.UTC(2026, 11, 2, 12, 30, 0)).slice(2, 4);
    expect(timed.map((spec) => [spec.disabled, spec.startDate])).toEqual([
      [false, '2026-12-02T12:30:00'],
      [false, '2026-12-02T12:30:00'],
    ]);
  });

  it('builds the EdgeOS set commands of the tries-log rule: drop, log enable, limit rate and burst, the source of the block', () => {
    const tries = layout.rulesFor(frontDoor, 0, 'blocked').find((spec) => spec.number === layout.triesRule(0));
    expect(ruleSetPaths('CAMGUARD_OUT', tries!).map((path) => path.join(' '))).toEqual([
      'firewall name CAMGUARD_OUT rule 4007 action drop',
      'firewall name CAMGUARD_OUT rule 4007 description camera-guard: Front Door (tries log)',
      'firewall name CAMGUARD_OUT rule 4007 source address 192.168.1.50',
      'firewall name CAMGUARD_OUT rule 4007 log enable',
      'firewall name CAMGUARD_OUT rule 4007 limit rate 6/minute',
      'firewall name CAMGUARD_OUT rule 4007 limit burst 5',
    ]);
  });

  it('builds the EdgeOS set commands of NOTES.md for a rule', () => {
    const [dns] = layout.rulesFor(frontDoor, 0, 'blocked');
    expect(ruleSetPaths('CAMGUARD_OUT', dns!).map((path) => path.join(' '))).toEqual([
      'firewall name CAMGUARD_OUT rule 4000 action accept',
      'firewall name CAMGUARD_OUT rule 4000 description camera-guard: Front Door (allow dns)',
      'firewall name CAMGUARD_OUT rule 4000 source address 192.168.1.50',
      'firewall name CAMGUARD_OUT rule 4000 protocol tcp_udp',
      'firewall name CAMGUARD_OUT rule 4000 destination port 53',
    ]);
  });

  it('recognises its own rules after a round trip through the router, in both access states', () => {
    for (const access of ['blocked', 'allowed'] as const) {
      const written = layout.rulesFor(frontDoor, 0, access).flatMap((spec) => ruleSetPaths('CAMGUARD_OUT', spec));
      expect(layout.classify(ruleSetFrom(written), frontDoor, 0)).toEqual({ status: 'intact', access });
    }
  });

  it('calls a block missing, damaged or outdated as the router shows it', () => {
    const written = layout.rulesFor(frontDoor, 0, 'blocked').flatMap((spec) => ruleSetPaths('CAMGUARD_OUT', spec));
    expect(layout.classify(undefined, frontDoor, 0).status).toBe('missing');
    const withoutDrop = written.filter((path) => path[4] !== '4008');
    expect(layout.classify(ruleSetFrom(withoutDrop), frontDoor, 0).status).toBe('damaged');
    const dropNowAccepts = written.map((path) => (path[4] === '4008' && path[5] === 'action' ? [...path.slice(0, 6), 'accept'] : path));
    expect(layout.classify(ruleSetFrom(dropNowAccepts), frontDoor, 0).status).toBe('damaged');
    const counterDisabled = [...written, ['firewall', 'name', 'CAMGUARD_OUT', 'rule', '4009', 'disable']];
    expect(layout.classify(ruleSetFrom(counterDisabled), frontDoor, 0).status).toBe('damaged');
    // The owner changed the allow-list in the config: the block still holds, the allow rules need rewriting.
    const lessAllowed = { ...frontDoor, allow: [NAMED_SERVICES.dns!] };
    expect(layout.classify(ruleSetFrom(written), lessAllowed, 0)).toEqual({ status: 'outdated', access: 'blocked' });
  });

  it('keeps each camera in its block, gives new cameras the lowest empty block, and never uses the owner\'s', () => {
    const written = [
      ...layout.rulesFor(garage, 1, 'allowed').flatMap((spec) => ruleSetPaths('CAMGUARD_OUT', spec)),
      ...layout.rulesFor({ ...garage, name: 'Old', address: '192.168.1.99' }, 3, 'blocked').flatMap((spec) => ruleSetPaths('CAMGUARD_OUT', spec)),
      ['firewall', 'name', 'CAMGUARD_OUT', 'rule', '4005', 'action', 'accept'],
    ];
    const assignment = assignSlots(layout, ruleSetFrom(written), [frontDoor, garage]);
    expect(assignment.slots.get(garage.address)).toBe(1);
    expect(assignment.slots.get(frontDoor.address)).toBe(2);
    expect(assignment.stale).toEqual([{ slot: 3, address: '192.168.1.99' }]);
    expect(assignment.foreignRules).toEqual([4005]);
  });

  it('makes any camera name safe for a rule description', () => {
    expect(descriptionName('Front Door')).toBe('Front Door');
    expect(descriptionName("Kid's room 📷 \"cam\"; rm -rf / $(reboot)")).toBe('Kids room cam rm -rf (reboot)');
    expect(descriptionName('📷📷')).toBe('camera');
    expect(descriptionName('x'.repeat(100))).toHaveLength(48);
  });
});

describe('transaction script', () => {
  it('runs one session: begin, changes chained to the commit (a refused one stops them), save only after a good commit, discard, end; a cut connection still ends it', () => {
    const script = transactionScript(
      [
        { op: 'set', path: ['firewall', 'name', 'CAMGUARD_OUT', 'rule', '4008', 'disable'] },
        { op: 'delete', path: ['firewall', 'name', 'CAMGUARD_OUT', 'rule', '4018', 'disable'] },
      ],
      true,
    );
    expect(script.trim().split('\n')).toEqual([
      "trap '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper discard >/dev/null 2>&1; /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper end >/dev/null 2>&1; exit 129' HUP TERM PIPE",
      '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper begin &&',
      `echo '${MARK.op} 0' &&`,
      '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper set firewall name CAMGUARD_OUT rule 4008 disable &&',
      `echo '${MARK.op} 1' &&`,
      '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper delete firewall name CAMGUARD_OUT rule 4018 disable &&',
      `echo '${MARK.edited}' &&`,
      `/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper commit && echo '${MARK.committed}' && /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper save && echo '${MARK.saved}'`,
      '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper discard',
      '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper end',
      `echo '${MARK.done}'`,
    ]);
    expect(transactionScript([], false)).not.toContain(' save');
  });

  it('quotes descriptions and refuses words that could escape their quotes', () => {
    expect(shellWord('camera-guard: Front Door (block)')).toBe("'camera-guard: Front Door (block)'");
    for (const hostile of ["it's", 'a\nb', '$(reboot)', '`id`', 'back\\slash', 'nul\u0000']) {
      expect(() => shellWord(hostile)).toThrow(/unsafe/);
    }
  });

  it('reads a successful commit and save', () => {
    const report = parseTransactionOutput(
      `${MARK.op} 0\n${MARK.op} 1\n${MARK.edited}\n${MARK.committed}\nSaving configuration to '/config/config.boot'...\nDone\n${MARK.saved}\nNo changes have been discarded\n${MARK.done}\n`,
      '',
    );
    expect(report).toEqual({ edited: true, refused: undefined, committed: true, saved: true, locked: false, errors: [] });
  });

  it('reads every failed-commit transcript in the samples as a failure, with the router\'s words kept', () => {
    const text = sample('edgeos_failed_commit_outputs.txt');
    const blocks = text.split(/^## \d\)/m).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const block of blocks) {
      const body = block.split('\n').filter((line) => !line.startsWith('##') && !line.startsWith('#')).join('\n');
      const report = parseTransactionOutput(`${body}\n${MARK.done}\n`, '');
      expect(report.committed).toBe(false);
      expect(report.errors.length).toBeGreaterThan(0);
    }
    const firewall = parseTransactionOutput(
      '[ interfaces wireguard wg0 firewall in name WG_IN ]\nFirewall config error: Rule set WG_IN is not configured\n\nCommit failed\n',
      '',
    );
    expect(firewall.errors).toEqual(['[ interfaces wireguard wg0 firewall in name WG_IN ]', 'Firewall config error: Rule set WG_IN is not configured', 'Commit failed']);
  });

  it('recognises the commit lock wording from vyatta-cfg', () => {
    const report = parseTransactionOutput('Configuration system temporarily locked due to another commit in progress\n', '');
    expect(report).toMatchObject({ committed: false, locked: true });
  });

  it('splits a read into its sections', () => {
    const sections = splitSections(`${MARK.config}\nset a b\n${MARK.counters}\nChain X\n${MARK.end}\n`);
    expect(sections.get(MARK.config)).toBe('set a b');
    expect(sections.get(MARK.counters)).toBe('Chain X');
    expect(readScript('CAMGUARD_OUT')).toContain('sudo /sbin/iptables -t filter -L CAMGUARD_OUT -v -n -x');
  });
});

describe('cutting a camera\'s open connections', () => {
  it('tells conntrack the family of an IPv6 address (without it, it looks in the IPv4 table only)', () => {
    expect(cutFlowsCommand('192.168.1.50')).toBe('sudo /usr/sbin/conntrack -D -s 192.168.1.50');
    expect(cutFlowsCommand('2001:db8:1::50')).toBe('sudo /usr/sbin/conntrack -D -f ipv6 -s 2001:db8:1::50');
    expect(cutFlowsScript(['192.168.1.50', '2001:db8:1::50'])).toBe('sudo /usr/sbin/conntrack -D -s 192.168.1.50\nsudo /usr/sbin/conntrack -D -f ipv6 -s 2001:db8:1::50\n');
  });

  it('refuses an address that could escape the command', () => {
    expect(() => cutFlowsCommand("1.2.3.4'; reboot; '")).toThrow(/unsafe word/);
  });

  it('cuts several cameras in one script and tells their reports apart, so one camera the router is silent on fails alone', () => {
    expect(cutManyFlowsScript([['192.0.2.50', '2001:db8:1::50'], ['192.0.2.51']])).toBe(
      "echo '@@camera-guard cut 0' >&2\nsudo /usr/sbin/conntrack -D -s 192.0.2.50\nsudo /usr/sbin/conntrack -D -f ipv6 -s 2001:db8:1::50\n" +
        "echo '@@camera-guard cut 1' >&2\nsudo /usr/sbin/conntrack -D -s 192.0.2.51\n",
    );
    const summary = (n: number): string => `conntrack v1.4.6 (conntrack-tools): ${n} flow entries have been deleted.`;
    const stderr = ['@@camera-guard cut 0', summary(2), summary(1), '@@camera-guard cut 1', 'sudo: conntrack: command not found', '@@camera-guard cut 7', summary(9)].join('\n');
    expect(splitCutReports(stderr, 2)).toEqual([`${summary(2)}\n${summary(1)}\n`, 'sudo: conntrack: command not found\n']);
  });
});

describe('every script that opens a configuration session', () => {
  it('first sets the trap that ends the session if the connection is cut (found by the lab: a save cut off by a Homebridge stop left its session open)', () => {
    const trap = "trap '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper discard >/dev/null 2>&1; /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper end >/dev/null 2>&1; exit 129' HUP TERM PIPE";
    for (const script of [saveScript(), transactionScript([{ op: 'set', path: ['firewall', 'name', 'X', 'rule', '1', 'disable'] }], true)]) {
      const lines = script.split('\n');
      expect(lines[0]).toBe(trap);
      expect(lines.findIndex((line) => / begin( &&)?$/.test(line))).toBe(1);
    }
  });
});
