/**
 * The simulated router's dataplane in the lab: the firewall compiled by the simulator (`compileFirewall`, the
 * same code the in-memory dataplane uses) loaded into the router namespace's real, legacy iptables, so that the
 * counters the plugin reads are the kernel's and the packets the cameras send are really dropped or forwarded.
 *
 * A commit rebuilds the whole filter table in one `iptables-restore`, carrying the counters of every rule whose
 * configuration did not change (EdgeOS re-inserts only the rules that changed, so only theirs restart at 0).
 * Address and network groups become ipsets of the same name, swapped in place when their members change.
 *
 * IPv6 rulesets (`firewall ipv6-name`) go the same way into the ip6tables filter table (`compileIpv6Firewall`,
 * `ip6tables-legacy-restore`), with their groups as inet6 ipsets, as EdgeOS does it.
 */
import { compileFirewall, compileIpv6Firewall } from '../sim/edgeos';
import type { CommandResult, CompiledFirewall, ConfigLines, CounterPair, Dataplane, IptablesChain, IptablesRow } from '../sim/edgeos';
import { inNamespace, run, runChecked, tool } from './system';

/** The chains EdgeOS hangs its firewall on, in the order the built-in chains jump to them. */
const BUILT_IN_JUMPS: Record<string, string[]> = {
  INPUT: ['VYATTA_FW_LOCAL_HOOK', 'VYATTA_POST_FW_IN_HOOK'],
  FORWARD: ['VYATTA_FW_IN_HOOK', 'VYATTA_FW_OUT_HOOK', 'VYATTA_POST_FW_FWD_HOOK'],
  OUTPUT: ['VYATTA_POST_FW_OUT_HOOK'],
};
/** What passes every ruleset is accepted at the end, as on EdgeOS. */
const POST_HOOKS = ['VYATTA_POST_FW_IN_HOOK', 'VYATTA_POST_FW_FWD_HOOK', 'VYATTA_POST_FW_OUT_HOOK'];

const XTABLES_WAIT_SECONDS = '10';
const TOOL_TIMEOUT_MS = 30_000;
/** A scratch set for filling a group before it is swapped in; ipset names are at most 31 characters. */
const IPSET_SCRATCH = 'cglab-scratch';

interface SavedRule {
  id: string;
  counter: CounterPair;
}

interface SavedTable {
  /** Policy counters of the built-in chains. */
  policies: Map<string, CounterPair>;
  rules: SavedRule[];
}

/** Splits an iptables-save rule into words; iptables-save double-quotes words with spaces and escapes `"` and `\`. */
function splitSaveWords(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => match[2] ?? (match[1] ?? '').replace(/\\(.)/g, '$1'));
}

function optionValue(words: readonly string[], ...options: string[]): string | undefined {
  const at = words.findIndex((word) => options.includes(word));
  return at >= 0 ? words[at + 1] : undefined;
}

/**
 * The identity `compileFirewall` gives a row (see IptablesRow.id), read back from an iptables-save rule: ruleset
 * rows by chain, comment, target and protocol; jumps by chain, interface and target.
 */
function savedRuleId(words: readonly string[]): string {
  const chain = optionValue(words, '-A') ?? '';
  const target = optionValue(words, '-j') ?? '';
  const comment = optionValue(words, '--comment');
  if (comment !== undefined) return `${chain}|${comment}|${target}|${optionValue(words, '-p') ?? 'all'}`;
  return `${chain}|${optionValue(words, '-i', '-o') ?? ''}|${target}`;
}

function parseCounter(text: string | undefined): CounterPair {
  const [packets = '0', bytes = '0'] = (text ?? '').replace(/[[\]]/g, '').split(':');
  return { packets: Number(packets), bytes: Number(bytes) };
}

/** Reads `iptables-save -c -t filter`. */
function parseSavedTable(text: string): SavedTable {
  const policies = new Map<string, CounterPair>();
  const rules: SavedRule[] = [];
  for (const line of text.split('\n')) {
    const policy = /^:(\S+) (ACCEPT|DROP) (\[\d+:\d+\])/.exec(line);
    if (policy?.[1] !== undefined) policies.set(policy[1], parseCounter(policy[3]));
    const rule = /^(\[\d+:\d+\]) (-A .*)$/.exec(line);
    if (rule?.[2] !== undefined) rules.push({ id: savedRuleId(splitSaveWords(rule[2])), counter: parseCounter(rule[1]) });
  }
  return { policies, rules };
}

function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** The IPv4 and IPv6 filter tables: their tools, and how each names "any address". */
interface Table {
  readonly compile: typeof compileFirewall;
  readonly save: string;
  readonly restore: string;
  readonly list: string;
  readonly ipsetFamily: 'inet' | 'inet6';
}

const IPV4: Table = { compile: compileFirewall, save: 'iptables-legacy-save', restore: 'iptables-legacy-restore', list: 'iptables-legacy', ipsetFamily: 'inet' };
const IPV6: Table = { compile: compileIpv6Firewall, save: 'ip6tables-legacy-save', restore: 'ip6tables-legacy-restore', list: 'ip6tables-legacy', ipsetFamily: 'inet6' };
const ANY_ADDRESSES = new Set(['0.0.0.0/0', '::/0']);

/** `-s`/`-d` for an address, a network, a range (`a-b`, through iprange) or any of them negated with `!`. */
function addressMatch(side: 'src' | 'dst', spec: string): string[] {
  if (ANY_ADDRESSES.has(spec)) return [];
  const negated = spec.startsWith('!');
  const address = negated ? spec.slice(1) : spec;
  const not = negated ? ['!'] : [];
  if (address.includes('-')) return ['-m', 'iprange', ...not, side === 'src' ? '--src-range' : '--dst-range', address];
  return [...not, side === 'src' ? '-s' : '-d', address];
}

/** Port matches: a single port or range through the protocol's own match, lists through multiport. */
function portMatches(protocol: string, sourcePorts: string | undefined, destinationPorts: string | undefined): string[] {
  const words: string[] = [];
  const single: string[] = [];
  for (const [ports, side] of [
    [sourcePorts, 's'],
    [destinationPorts, 'd'],
  ] as const) {
    if (ports === undefined) continue;
    const iptablesPorts = ports.replace(/-/g, ':');
    if (ports.includes(',')) words.push('-m', 'multiport', side === 's' ? '--sports' : '--dports', iptablesPorts);
    else single.push(side === 's' ? '--sport' : '--dport', iptablesPorts);
  }
  return single.length > 0 ? ['-m', protocol, ...single, ...words] : words;
}

/** One compiled row as the words of an `-A` line of iptables-restore. */
function ruleWords(chain: string, row: IptablesRow): string[] {
  const m = row.match;
  return [
    '-A',
    chain,
    ...addressMatch('src', row.source),
    ...addressMatch('dst', row.destination),
    ...(row.inInterface !== '*' ? ['-i', row.inInterface] : []),
    ...(row.outInterface !== '*' ? ['-o', row.outInterface] : []),
    ...(row.protocol !== 'all' ? ['-p', row.protocol] : []),
    ...(m.comment !== undefined ? ['-m', 'comment', '--comment', quoted(m.comment)] : []),
    ...(m.states !== undefined ? ['-m', 'state', '--state', m.states.join(',')] : []),
    ...(m.sourceMac !== undefined ? ['-m', 'mac', '--mac-source', m.sourceMac] : []),
    ...(m.sourceSet !== undefined ? ['-m', 'set', '--match-set', m.sourceSet, 'src'] : []),
    ...(m.destinationSet !== undefined ? ['-m', 'set', '--match-set', m.destinationSet, 'dst'] : []),
    ...portMatches(row.protocol, m.sourcePorts, m.destinationPorts),
    ...(m.dateStart !== undefined ? ['-m', 'time', '--datestart', m.dateStart, '--utc'] : []),
    // The tries-log rule's bound, on its LOG and DROP rows alike (each row its own bucket), as ubnt-fw emits it.
    ...(m.limit !== undefined ? ['-m', 'limit', '--limit', m.limit.rate, '--limit-burst', String(m.limit.burst)] : []),
    '-j',
    row.target,
    ...(m.logPrefix !== undefined ? ['--log-prefix', quoted(m.logPrefix)] : []),
    ...(m.rejectWith !== undefined ? ['--reject-with', m.rejectWith] : []),
  ];
}

/** The fixed part of the table: the built-in chains' jumps to the EdgeOS hooks, and the final accepts. */
function skeletonChains(): IptablesChain[] {
  const jump = (chain: string, target: string): IptablesRow => ({
    id: `${chain}||${target}`,
    ruleKey: '',
    target,
    protocol: 'all',
    inInterface: '*',
    outInterface: '*',
    source: '0.0.0.0/0',
    destination: '0.0.0.0/0',
    match: {},
  });
  return [
    ...Object.entries(BUILT_IN_JUMPS).map(([chain, hooks]) => ({ name: chain, references: 0, rows: hooks.map((hook) => jump(chain, hook)) })),
    ...POST_HOOKS.map((hook) => ({ name: hook, references: 1, rows: [jump(hook, 'ACCEPT')] })),
  ];
}

/** The iptables-restore input for the whole filter table, with the counters each rule keeps. */
function restoreInput(firewall: CompiledFirewall, previous: SavedTable, changedRuleKeys: Set<string>): string {
  const oldCounters = new Map(previous.rules.map((rule) => [rule.id, rule.counter]));
  const chains = [...skeletonChains(), ...Object.values(firewall.chains)];
  const counterText = ({ packets, bytes }: CounterPair): string => `[${packets}:${bytes}]`;
  const lines = ['*filter'];
  for (const chain of chains) {
    const builtIn = chain.name in BUILT_IN_JUMPS;
    lines.push(`:${chain.name} ${builtIn ? 'ACCEPT' : '-'} ${counterText(builtIn ? (previous.policies.get(chain.name) ?? { packets: 0, bytes: 0 }) : { packets: 0, bytes: 0 })}`);
  }
  for (const chain of chains) {
    for (const row of chain.rows) {
      const kept = changedRuleKeys.has(row.ruleKey) ? undefined : oldCounters.get(row.id);
      lines.push(`${counterText(kept ?? { packets: 0, bytes: 0 })} ${ruleWords(chain.name, row).join(' ')}`);
    }
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function familyOf(address: string): string[] {
  return address.includes(':') ? ['-f', 'ipv6'] : [];
}

export interface IptablesDataplaneOptions {
  /** Run the tools in this network namespace; undefined when this process already runs inside the router's. */
  readonly namespace?: string;
}

export class IptablesDataplane implements Dataplane {
  constructor(private readonly options: IptablesDataplaneOptions = {}) {}

  async applyFirewall(active: ConfigLines, changedRuleKeys: Set<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const table of [IPV4, IPV6]) {
      const firewall = table.compile(active);
      const groups = Object.entries(firewall.ipsets);
      if (groups.length > 0) await this.loadGroups(groups, table.ipsetFamily);
      for (const [name] of groups) wanted.add(name);
      const previous = parseSavedTable(await runChecked(this.argv(table.save, '-c', '-t', 'filter'), { timeoutMs: TOOL_TIMEOUT_MS }));
      // IPv6 rule keys carry their own prefix (see ruleKeyOf), so one set of changed keys serves both tables.
      await runChecked(this.argv(table.restore, '-w', XTABLES_WAIT_SECONDS, '-c'), { stdin: restoreInput(firewall, previous, changedRuleKeys), timeoutMs: TOOL_TIMEOUT_MS });
    }
    await this.removeUnusedGroups(wanted);
  }

  listChain(chain: string): Promise<CommandResult> {
    return this.list(IPV4, chain);
  }

  listChain6(chain: string): Promise<CommandResult> {
    return this.list(IPV6, chain);
  }

  /** `conntrack` needs to be told the family of an IPv6 address (without it, it lists and deletes IPv4 flows only). */
  listFlows(sourceIp: string): Promise<CommandResult> {
    return run(this.argv('conntrack', '-L', ...familyOf(sourceIp), '-s', sourceIp), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  deleteFlows(sourceIp: string): Promise<CommandResult> {
    return run(this.argv('conntrack', '-D', ...familyOf(sourceIp), '-s', sourceIp), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  listNeighbours(): Promise<CommandResult> {
    return run(this.argv('ip', 'neigh', 'show'), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  async reboot(): Promise<void> {
    for (const table of [IPV4, IPV6]) {
      await runChecked(this.argv(table.list, '-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-Z'), { timeoutMs: TOOL_TIMEOUT_MS });
    }
    // `conntrack -F` succeeds on an empty table too; it fails only when the kernel has no conntrack at all.
    await runChecked(this.argv('conntrack', '-F'), { timeoutMs: TOOL_TIMEOUT_MS });
    await runChecked(this.argv('conntrack', '-F', '-f', 'ipv6'), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  /**
   * Deletes rows from the kernel behind EdgeOS's back, as `sudo iptables -D` typed on the router would: the rows of
   * `chain` carrying the comment `ruleKey` (`CAMGUARD_OUT-4018`), or jumping to `target`. The configuration still
   * says the rules are there. Returns how many rows went.
   */
  async deleteRows(family: 4 | 6, chain: string, which: { ruleKey?: string; target?: string }): Promise<number> {
    const table = family === 4 ? IPV4 : IPV6;
    const rules = await runChecked(this.argv(table.list, '-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-S', chain), { timeoutMs: TOOL_TIMEOUT_MS });
    const rows = rules
      .split('\n')
      .filter((line) => line.startsWith(`-A ${chain} `) && !line.includes('"'))
      .map((line) => line.split(' '))
      .filter((words) => {
        const after = (flag: string): string | undefined => words[words.indexOf(flag) + 1];
        return which.ruleKey !== undefined ? words.includes('--comment') && after('--comment') === which.ruleKey : words.includes('-j') && after('-j') === which.target;
      });
    for (const words of rows) {
      await runChecked(this.argv(table.list, '-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-D', ...words.slice(1)), { timeoutMs: TOOL_TIMEOUT_MS });
    }
    return rows.length;
  }

  private list(table: Table, chain: string): Promise<CommandResult> {
    return run(this.argv(table.list, '-w', XTABLES_WAIT_SECONDS, '-t', 'filter', '-L', chain, '-v', '-n', '-x'), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  private argv(program: string, ...args: string[]): string[] {
    return inNamespace(this.options.namespace, [tool(program), ...args]);
  }

  /** Creates each group's set, filling a scratch set and swapping it in so rules never see a half-filled set. */
  private async loadGroups(groups: [string, string[]][], family: Table['ipsetFamily']): Promise<void> {
    const script = groups.flatMap(([name, members]) => [
      `create ${name} hash:net family ${family} -exist`,
      `create ${IPSET_SCRATCH} hash:net family ${family} -exist`,
      `flush ${IPSET_SCRATCH}`,
      ...members.map((member) => `add ${IPSET_SCRATCH} ${member} -exist`),
      `swap ${IPSET_SCRATCH} ${name}`,
      `destroy ${IPSET_SCRATCH}`,
    ]);
    await runChecked(this.argv('ipset', 'restore'), { stdin: `${script.join('\n')}\n`, timeoutMs: TOOL_TIMEOUT_MS });
  }

  private async removeUnusedGroups(wanted: Set<string>): Promise<void> {
    const existing = await run(this.argv('ipset', 'list', '-n'), { timeoutMs: TOOL_TIMEOUT_MS });
    if (existing.code !== 0) return;
    for (const name of existing.stdout.split('\n').filter((line) => line !== '' && !wanted.has(line))) {
      await runChecked(this.argv('ipset', 'destroy', name), { timeoutMs: TOOL_TIMEOUT_MS });
    }
  }
}
