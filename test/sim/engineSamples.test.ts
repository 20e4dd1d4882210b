/**
 * The simulator against what Ubiquiti's own EdgeOS configuration engine printed (the `edgeos_engine_*` samples):
 * the same listing byte for byte, the same refusals at `set` in the same words and with the same exit status, and
 * the same compiled rule for a value the engine takes although it should not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseConfigCommands as readListing } from '../../src/router/edgeos/parsers';
import { RESERVED_RULESET_NAMES } from '../../src/router/edgeos/reservedNames';
import { SimulatedEdgeRouter } from '../../tools/sim/edgeos';
import { parseConfigCommands, renderConfigCommands } from '../../tools/sim/edgeos/configTree';

const sample = (name: string): string => readFileSync(join(__dirname, '../fixtures/edgeos', name), 'utf8');
const AWKWARD = sample('edgeos_engine_show_configuration_commands_awkward_values.txt');
const REFUSALS = sample('edgeos_engine_ubnt-fw_compile_and_refusals.txt');
const W = '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper';

/** Part 2 of the awkward-values sample as the real text: `$` ends each line, `^I` is a tab, `M-CM-)` is é. */
function engineListing(): string {
  const body = AWKWARD.slice(AWKWARD.indexOf('=== show configuration commands'));
  return body
    .split('\n')
    .filter((line) => line.endsWith('$'))
    .map((line) => `${line.slice(0, -1).replaceAll('^I', '\t').replaceAll('M-CM-)', 'é')}\n`)
    .join('');
}

/** A word for the simulated vbash, single-quoted as a shell script would (a quote as '\''). */
const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

/** Runs `lines` between begin and end in one configuration session and returns what the shell printed. */
async function session(router: SimulatedEdgeRouter, lines: string[]): Promise<string> {
  const result = await router.run('/bin/vbash -s', [`W=${W}`, '$W begin', ...lines, '$W end', ''].join('\n'));
  return result.stdout + result.stderr;
}

describe('the simulator prints as the EdgeOS engine does', () => {
  it('loads the engine\'s listing of awkward values and prints it back byte for byte (every word by the engine\'s quoting rule, values of multi-value nodes in set order)', () => {
    const listing = engineListing();
    const config = parseConfigCommands(listing);
    expect(renderConfigCommands(config)).toBe(listing);
    // And the plugin reads the simulator's listing as the simulator holds it.
    expect(readListing(renderConfigCommands(config))).toEqual({ ok: true, value: { paths: config, skipped: [] } });
  });

  it('given the same `set` commands, refuses the same values in the same words and prints the same listing', async () => {
    const listing = engineListing();
    // Part 1: each description set through the configuration wrapper, with the value and exit status echoed.
    const part1 = AWKWARD.slice(AWKWARD.indexOf('\nset rule 101 ') + 1);
    const expected = part1.slice(0, part1.indexOf('\n', part1.indexOf('set rule 128 ')) + 1);
    const values = [...expected.matchAll(/^set rule (\d+) description \[([\s\S]*?)\] rc=\d$/gm)].map(([, rule, value]) => ({ rule: rule ?? '', value: value ?? '' }));
    expect(values).toHaveLength(28);
    // The router before: the listing without rules 101-128.
    const before = listing
      .split('\n')
      .filter((line) => !/^set firewall name CAMGUARD_OUT rule 1\d\d /.test(line))
      .join('\n');
    const router = new SimulatedEdgeRouter({ initialConfig: before });
    const output = await session(router, [
      ...values.flatMap(({ rule, value }) => [
        `$W set firewall name CAMGUARD_OUT rule ${rule} action accept`,
        `$W set firewall name CAMGUARD_OUT rule ${rule} description ${shellQuote(value)}`,
        `echo ${shellQuote(`set rule ${rule} description [${value}] rc=`)}$?`,
      ]),
      '$W commit >/dev/null',
    ]);
    expect(output).toBe(expected);
    expect(await router.activeConfigCommands()).toBe(listing);
  });
});

interface RefusalCase {
  name: string;
  commands: string[];
  output: string;
  commitStatus: string;
  iptables: string | undefined;
}

/** The E cases of the ubnt-fw sample: the commands, what `set` printed, the commit's exit status and compiled rule. */
function refusalCases(): RefusalCase[] {
  const blocks = REFUSALS.split(/^=================== /m).filter((block) => /^E\d+:/.test(block));
  return blocks.flatMap((block) => {
    const lines = block.split('\n').slice(1);
    const commands = lines.filter((line) => line.startsWith('    > ') && !line.includes('commit;')).map((line) => line.slice(6));
    const statusAt = lines.findIndex((line) => line.startsWith('    commit-rc='));
    if (commands.length === 0 || statusAt < 0) {
      return [];
    }
    const output = lines
      .slice(0, statusAt)
      .filter((line) => !line.startsWith('    > '))
      .map((line) => `${line.slice(4)}\n`)
      .join('');
    const iptables = lines.find((line) => line.startsWith('    iptables: '))?.slice('    iptables: '.length);
    return [{ name: block.split('\n')[0] ?? '', commands, output, commitStatus: lines[statusAt]?.slice(4) ?? '', iptables }];
  });
}

describe('the simulator refuses at `set` what the EdgeOS engine refuses (ubnt-fw sample)', () => {
  const cases = refusalCases();

  it('finds the cases of the sample', () => {
    expect(cases.map((c) => c.name.split(':')[0])).toEqual(['E1', 'E2', 'E10', 'E11', 'E12', 'E13', 'E14', 'E23', 'E24']);
  });

  it.each(cases.map((c) => [c.name, c]))('%s', async (_name, c) => {
    const router = new SimulatedEdgeRouter({ initialConfig: 'set interfaces ethernet eth0 address dhcp\nset system host-name ubnt\n' });
    // The sample shows what each `set` printed and the commit's exit status; what the commit printed is not shown.
    const output = await session(router, [...c.commands.map((command) => `$W ${command}`), '$W commit >/dev/null; echo "commit-rc=$?"']);
    expect(output).toBe(`${c.output}${c.commitStatus}\n`);
    if (c.iptables !== undefined) {
      // EdgeOS takes an empty IPv4 source address and compiles the drop rule without one: it drops every host.
      expect(c.iptables).toBe('-A CAMGUARD_OUT -m comment --comment CAMGUARD_OUT-4100 -j DROP');
      const row = (await router.run('sudo /sbin/iptables -t filter -L CAMGUARD_OUT -v -n -x')).stdout.split('\n').find((line) => line.includes('CAMGUARD_OUT-4100'));
      expect(row?.trim().split(/\s+/).slice(2, 9)).toEqual(['DROP', 'all', '--', '*', '*', '0.0.0.0/0', '0.0.0.0/0']);
      expect((await router.configure(['set interfaces ethernet eth0 firewall out name CAMGUARD_OUT'])).code).toBe(0);
      for (const from of ['192.168.1.50', '192.168.1.51', '10.0.0.7']) {
        expect(await router.sendTraffic({ from, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
      }
    }
  });

  it('refuses every reserved ruleset name in both families, and takes the same names in other cases', async () => {
    const router = new SimulatedEdgeRouter({ initialConfig: 'set system host-name ubnt\n' });
    const names = [...RESERVED_RULESET_NAMES, 'VZONE_LAN'];
    const output = await session(router, [
      ...names.flatMap((name) => [`$W set firewall name ${name} default-action accept; echo "rc=$?"`, `$W set firewall ipv6-name ${name} default-action accept; echo "rc=$?"`]),
      '$W set firewall name Drop default-action accept; echo "rc=$?"',
      '$W set firewall name CAMGUARD_OUT default-action accept; echo "rc=$?"',
    ]);
    const refusal = (name: string): string => `Cannot use reserved name "${name}" for firewall rule set\n\nValue validation failed\nSet failed\nrc=1\n`;
    expect(output).toBe(`${names.map((name) => refusal(name).repeat(2)).join('')}rc=0\nrc=0\n`);
  });
});
