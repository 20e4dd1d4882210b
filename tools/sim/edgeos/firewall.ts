/**
 * The EdgeOS firewall read from the configuration: IPv4 rulesets (`firewall name …`), IPv6 rulesets
 * (`firewall ipv6-name …`) and their interface bindings. Commit validation, the per-rule change detection that
 * decides which counters restart, and the compilation the way EdgeOS does it: IPv4 rulesets to chains of the
 * iptables filter table, IPv6 rulesets to chains of the separate ip6tables filter table (same hook chain names,
 * same comments, same RETURN/DROP/REJECT targets).
 */
import { childNodes, compareLines, pathExists, pathValue, pathValues } from './configTree';
import { ip6tablesAddress } from './ipv6';
import type { CompiledFirewall, ConfigLines, IptablesChain, IptablesRow, RowMatch } from './types';

export const DEFAULT_RULE_NUMBER = 10000;
/** How much of a ruleset's name ubnt-fw keeps in a LOG prefix (engine sample S8, destinations.md section 1). */
const LOG_PREFIX_NAME_LENGTH = 19;

/** The configuration node of a ruleset family: `firewall name X` (IPv4) or `firewall ipv6-name X` (IPv6). */
export type RuleSetKind = 'name' | 'ipv6-name';

/**
 * Rule keys (see IptablesRow.ruleKey) of IPv6 rules carry this prefix: an IPv4 and an IPv6 ruleset may share a
 * name, and a change to one must not restart the other's counters.
 */
export const IPV6_RULE_KEY_PREFIX = 'ipv6:';

export function ruleKeyOf(kind: RuleSetKind, ruleSet: string, number: number | string): string {
  return `${kind === 'ipv6-name' ? IPV6_RULE_KEY_PREFIX : ''}${ruleSet}-${number}`;
}

interface Family {
  kind: RuleSetKind;
  anyAddress: string;
  rejectWith: string;
  /** The address-group and network-group nodes rules of this family refer to. */
  groups: { address: string; network: string };
}

const FAMILIES: Record<RuleSetKind, Family> = {
  name: { kind: 'name', anyAddress: '0.0.0.0/0', rejectWith: 'icmp-port-unreachable', groups: { address: 'address-group', network: 'network-group' } },
  'ipv6-name': {
    kind: 'ipv6-name',
    anyAddress: '::/0',
    rejectWith: 'icmp6-port-unreachable',
    groups: { address: 'ipv6-address-group', network: 'ipv6-network-group' },
  },
};

/** Protocol names ip6tables-save prints for the ways EdgeOS lets ICMPv6 be written (getprotobynumber(58)). */
const IPV6_PROTOCOL_ALIASES: Record<string, string> = { icmpv6: 'ipv6-icmp', '58': 'ipv6-icmp', '6': 'tcp', '17': 'udp' };

const TARGETS: Record<string, string> = { accept: 'RETURN', drop: 'DROP', reject: 'REJECT' };
const LOG_LETTERS: Record<string, string> = { accept: 'A', drop: 'D', reject: 'R' };
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'tcp_udp']);
const HOOKS: Record<string, { chain: string; side: 'in' | 'out' }> = {
  in: { chain: 'VYATTA_FW_IN_HOOK', side: 'in' },
  out: { chain: 'VYATTA_FW_OUT_HOOK', side: 'out' },
  local: { chain: 'VYATTA_FW_LOCAL_HOOK', side: 'in' },
};

export interface FirewallBinding {
  /** The configuration line, e.g. `interfaces ethernet eth0 firewall out name X`. */
  path: string[];
  interfaceName: string;
  direction: string;
  family: 'ipv4' | 'ipv6';
  ruleSet: string;
}

/**
 * The kernel name of the interface a config path is under: `ethernet eth0 vif 10` is eth0.10,
 * `ethernet eth0 pppoe 0` is pppoe0, `switch switch0` is switch0.
 */
function interfaceNameOf(path: readonly string[]): string {
  let name = path[2] ?? '';
  for (let i = 3; i + 1 < path.length && path[i] !== 'firewall'; i += 2) {
    if (path[i] === 'vif') name = `${name}.${path[i + 1]}`;
    if (path[i] === 'pppoe') name = `pppoe${path[i + 1]}`;
  }
  return name;
}

export function firewallBindings(config: ConfigLines): FirewallBinding[] {
  return config.flatMap((line) => {
    const at = line.indexOf('firewall');
    const [direction, kind, ruleSet] = line.slice(at + 1);
    if (line[0] !== 'interfaces' || at < 3 || line.length !== at + 4 || direction === undefined || ruleSet === undefined) return [];
    if (!(direction in HOOKS) || (kind !== 'name' && kind !== 'ipv6-name')) return [];
    return [{ path: line, interfaceName: interfaceNameOf(line), direction, family: kind === 'name' ? 'ipv4' : 'ipv6', ruleSet }];
  });
}

export function ruleSetNames(config: ConfigLines, kind: RuleSetKind = 'name'): string[] {
  return childNodes(config, ['firewall', kind]);
}

/** The rule numbers of a ruleset, ascending. */
export function ruleNumbers(config: ConfigLines, ruleSet: string, kind: RuleSetKind = 'name'): number[] {
  return childNodes(config, ['firewall', kind, ruleSet, 'rule'])
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The lines of each rule of the family's rulesets, by ruleset and rule number, found in one pass: looking each of a
 * rule's values up in the whole configuration takes time in the square of its size, minutes for an owner's few
 * thousand rules.
 */
function ruleLines(config: ConfigLines, kind: RuleSetKind): Map<string, Map<number, ConfigLines>> {
  const byRuleSet = new Map<string, Map<number, ConfigLines>>();
  for (const line of config) {
    const [tree, node, ruleSet, rule, number] = line;
    if (tree !== 'firewall' || node !== kind || ruleSet === undefined || rule !== 'rule' || number === undefined) continue;
    const rules = byRuleSet.get(ruleSet) ?? new Map<number, ConfigLines>();
    byRuleSet.set(ruleSet, rules);
    const lines = rules.get(Number(number)) ?? [];
    rules.set(Number(number), lines);
    lines.push(line);
  }
  return byRuleSet;
}

/** The rules of one ruleset, ascending, each read from its own lines. */
function rulesOf(byRuleSet: Map<string, Map<number, ConfigLines>>, ruleSet: string, kind: RuleSetKind): RuleConfig[] {
  const rules = byRuleSet.get(ruleSet) ?? new Map<number, ConfigLines>();
  return [...rules.keys()].sort((a, b) => a - b).map((number) => ruleConfig(rules.get(number) ?? [], ruleSet, number, kind));
}

interface EndpointConfig {
  address?: string;
  mac?: string;
  port?: string;
  addressGroup?: string;
}

export interface RuleConfig {
  number: number;
  action?: string;
  protocol: string;
  description?: string;
  disabled: boolean;
  log: boolean;
  states: string[];
  source: EndpointConfig;
  destination: EndpointConfig;
  /** `time startdate` (the rule matches from then on) and `time utc`. */
  startDate?: string;
  utc: boolean;
  /** `limit rate` (`6/minute`) and `limit burst` (Vyatta's template default: 1). */
  limitRate?: string;
  limitBurst?: number;
}

function endpointConfig(config: ConfigLines, path: string[], family: Family): EndpointConfig {
  return {
    address: pathValue(config, [...path, 'address']),
    mac: pathValue(config, [...path, 'mac-address']),
    port: pathValue(config, [...path, 'port']),
    addressGroup: pathValue(config, [...path, 'group', family.groups.address]) ?? pathValue(config, [...path, 'group', family.groups.network]),
  };
}

export function ruleConfig(config: ConfigLines, ruleSet: string, number: number, kind: RuleSetKind = 'name'): RuleConfig {
  const family = FAMILIES[kind];
  const path = ['firewall', kind, ruleSet, 'rule', String(number)];
  const value = (...rest: string[]): string | undefined => pathValue(config, [...path, ...rest]);
  return {
    number,
    action: value('action'),
    protocol: value('protocol') ?? 'all',
    description: value('description'),
    disabled: pathExists(config, [...path, 'disable']),
    log: value('log') === 'enable',
    // iptables prints states in this order whatever order they were configured in.
    states: ['invalid', 'new', 'related', 'established'].filter((state) => value('state', state) === 'enable').map((s) => s.toUpperCase()),
    source: endpointConfig(config, [...path, 'source'], family),
    destination: endpointConfig(config, [...path, 'destination'], family),
    startDate: value('time', 'startdate'),
    utc: pathExists(config, [...path, 'time', 'utc']),
    limitRate: value('limit', 'rate'),
    limitBurst: Number(value('limit', 'burst') ?? '1'),
  };
}

/** `-m limit`'s time units, in xt_limit's scale (XT_LIMIT_SCALE = 10000 per second), as libxt_limit knows them. */
const LIMIT_UNITS: readonly { readonly name: string; readonly printed: string; readonly mult: number }[] = [
  { name: 'day', printed: 'day', mult: 10000 * 86400 },
  { name: 'hour', printed: 'hour', mult: 10000 * 3600 },
  { name: 'minute', printed: 'min', mult: 10000 * 60 },
  { name: 'second', printed: 'sec', mult: 10000 },
];

/**
 * A `limit rate` as xt_limit keeps it: the period between two packets (`avg`, in 1/10000 s), as libxt_limit's
 * parse_rate computes it; undefined when iptables refuses it (less than 1, or faster than 10000/second: "Rate too
 * fast").
 */
export function limitPeriod(rate: string): number | undefined {
  const match = /^(\d+)\/(second|minute|hour|day)$/.exec(rate);
  const unit = LIMIT_UNITS.find((candidate) => candidate.name === match?.[2]);
  const count = Number(match?.[1]);
  if (unit === undefined || !(count >= 1) || count > unit.mult) return undefined;
  return Math.floor(unit.mult / count);
}

/** The rate as `iptables -L` prints it back from the period (libxt_limit's print_rate): `6/minute` is `6/min`. */
export function printedRate(period: number): string {
  let index = 1;
  for (; index < LIMIT_UNITS.length; index++) {
    const unit = LIMIT_UNITS[index] as (typeof LIMIT_UNITS)[number];
    if (period > unit.mult || Math.floor(unit.mult / period) < unit.mult % period) break;
  }
  const unit = LIMIT_UNITS[index - 1] as (typeof LIMIT_UNITS)[number];
  return `${Math.floor(unit.mult / period)}/${unit.printed}`;
}

export function defaultAction(config: ConfigLines, ruleSet: string, kind: RuleSetKind = 'name'): string {
  return pathValue(config, ['firewall', kind, ruleSet, 'default-action']) ?? 'drop';
}

function errorBlock(path: readonly string[], message: string): string {
  return `[ ${path.join(' ')} ]\n${message}\n\n`;
}

/** The EdgeOS error blocks a commit of `config` would print (empty when it commits cleanly), without `Commit failed`. */
export function validateFirewall(config: ConfigLines): string {
  const errors: string[] = [];
  for (const binding of firewallBindings(config)) {
    if (!pathExists(config, ['firewall', binding.family === 'ipv4' ? 'name' : 'ipv6-name', binding.ruleSet])) {
      errors.push(errorBlock(binding.path, `Firewall config error: Rule set ${binding.ruleSet} is not configured`));
    }
  }
  for (const family of Object.values(FAMILIES)) {
    const byRuleSet = ruleLines(config, family.kind);
    for (const ruleSet of ruleSetNames(config, family.kind)) {
      for (const rule of rulesOf(byRuleSet, ruleSet, family.kind)) {
        const number = rule.number;
        const path = ['firewall', family.kind, ruleSet, 'rule', String(number)];
        // A disabled rule without an action commits (engine sample, E15): it compiles to nothing.
        if (rule.action === undefined && !rule.disabled) {
          errors.push(errorBlock(path, `Firewall config error: Rule ${number} has no action`));
        }
        // ubnt-fw (and Vyatta's Rule.pm) refuse a rate below 1 at commit; iptables refuses one faster than 10000/second.
        if (rule.limitRate !== undefined && limitPeriod(rule.limitRate) === undefined) {
          errors.push(errorBlock(path, 'integer value in rate cannot be less than 1, nor more than 10000/second'));
        }
        if ((rule.source.port !== undefined || rule.destination.port !== undefined) && !PORT_PROTOCOLS.has(rule.protocol)) {
          errors.push(
            errorBlock(path, `Firewall config error: ports can only be specified when protocol is "tcp", "udp" or "tcp_udp" (currently "${rule.protocol}")`),
          );
        }
        for (const group of [rule.source.addressGroup, rule.destination.addressGroup]) {
          if (group === undefined) continue;
          const defined = [family.groups.address, family.groups.network].some((node) => pathExists(config, ['firewall', 'group', node, group]));
          if (!defined) {
            errors.push(errorBlock(path, `Firewall config error: Group ${group} has not been defined`));
          }
        }
      }
    }
  }
  return errors.join('');
}

/**
 * The configuration of every compiled rule, keyed `<RULESET>-<N>` (the default action is `<RULESET>-10000`), so that
 * two configurations can be compared rule by rule.
 */
function ruleFingerprints(config: ConfigLines): Map<string, string> {
  const fingerprints = new Map<string, string>();
  for (const line of config) {
    const kind = line[1];
    if (line[0] !== 'firewall' || (kind !== 'name' && kind !== 'ipv6-name') || line[2] === undefined) continue;
    const isDefault = line[3] === 'default-action' || line[3] === 'enable-default-log';
    if (line[3] !== 'rule' && !isDefault) continue;
    const key = ruleKeyOf(kind, line[2], isDefault ? DEFAULT_RULE_NUMBER : (line[4] ?? ''));
    fingerprints.set(key, `${fingerprints.get(key) ?? ''}${JSON.stringify(line)}`);
  }
  return fingerprints;
}

/** Rules whose configuration differs (added, removed, edited, disabled or enabled): EdgeOS re-inserts them. */
export function changedRuleKeys(before: ConfigLines, after: ConfigLines): Set<string> {
  const old = ruleFingerprints(before);
  const current = ruleFingerprints(after);
  return new Set([...old.keys(), ...current.keys()].filter((key) => old.get(key) !== current.get(key)));
}

export function allRuleKeys(config: ConfigLines): Set<string> {
  return new Set(ruleFingerprints(config).keys());
}

/**
 * The address a rule row carries: the configured one (IPv6 masked and printed as ip6tables does), or "any". An empty
 * address (which EdgeOS takes in an IPv4 rule) gives no `-s` at all: the rule matches every host (engine sample, E1).
 */
function rowAddress(family: Family, address: string | undefined): string {
  if (address === undefined || address === '') return family.anyAddress;
  return family.kind === 'ipv6-name' ? (ip6tablesAddress(address) ?? address) : address;
}

function ruleRows(family: Family, ruleSet: string, rule: RuleConfig): IptablesRow[] {
  const action = rule.action ?? 'drop';
  const comment = `${ruleSet}-${rule.number}`;
  const match: RowMatch = {
    comment,
    states: rule.states.length > 0 ? rule.states : undefined,
    sourceMac: rule.source.mac?.toUpperCase(),
    sourceSet: rule.source.addressGroup,
    destinationSet: rule.destination.addressGroup,
    sourcePorts: rule.source.port,
    destinationPorts: rule.destination.port,
    // ubnt-fw compiles `time startdate` to `-m time --datestart … --utc` (UTC also without `time utc`, as xt_time's default).
    ...(rule.startDate === undefined ? {} : { dateStart: rule.startDate }),
    // `-m limit --limit <rate> --limit-burst <burst>`, on every row of the rule (LOG and action rows alike, each with
    // its own bucket): docs/design/destinations.md section 1.
    ...(rule.limitRate === undefined ? {} : { limit: { rate: rule.limitRate, burst: rule.limitBurst ?? 1 } }),
  };
  const configured = family.kind === 'ipv6-name' ? (IPV6_PROTOCOL_ALIASES[rule.protocol] ?? rule.protocol) : rule.protocol;
  const protocols = configured === 'tcp_udp' ? ['tcp', 'udp'] : [configured];
  return protocols.flatMap((protocol) => {
    const row = (target: string, extra: RowMatch): IptablesRow => ({
      id: `${ruleSet}|${comment}|${target}|${protocol}`,
      ruleKey: ruleKeyOf(family.kind, ruleSet, rule.number),
      target,
      protocol,
      inInterface: '*',
      outInterface: '*',
      source: rowAddress(family, rule.source.address),
      destination: rowAddress(family, rule.destination.address),
      match: { ...match, ...extra },
    });
    const actionRow = row(TARGETS[action] ?? 'DROP', action === 'reject' ? { rejectWith: family.rejectWith } : {});
    // The prefix names the ruleset cut to 19 characters (ubnt-fw's get_log_prefix; firewallLog.ts logPrefixOf).
    const prefix = `[${ruleSet.slice(0, LOG_PREFIX_NAME_LENGTH)}-${rule.number}-${LOG_LETTERS[action] ?? 'D'}]`;
    return rule.log ? [row('LOG', { logPrefix: prefix }), actionRow] : [actionRow];
  });
}

function defaultRows(family: Family, config: ConfigLines, ruleSet: string): IptablesRow[] {
  const action = defaultAction(config, ruleSet, family.kind);
  const comment = `${ruleSet}-${DEFAULT_RULE_NUMBER} default-action ${action}`;
  const row = (target: string, extra: RowMatch): IptablesRow => ({
    id: `${ruleSet}|${comment}|${target}|all`,
    ruleKey: ruleKeyOf(family.kind, ruleSet, DEFAULT_RULE_NUMBER),
    target,
    protocol: 'all',
    inInterface: '*',
    outInterface: '*',
    source: family.anyAddress,
    destination: family.anyAddress,
    match: { comment, ...extra },
  });
  const actionRow = row(TARGETS[action] ?? 'DROP', action === 'reject' ? { rejectWith: family.rejectWith } : {});
  const logged = pathExists(config, ['firewall', family.kind, ruleSet, 'enable-default-log']);
  return logged ? [row('LOG', { logPrefix: `[${ruleSet.slice(0, LOG_PREFIX_NAME_LENGTH)}-default-${LOG_LETTERS[action] ?? 'D'}]` }), actionRow] : [actionRow];
}

/** One filter table: a chain per ruleset of the family (disabled rules absent) plus the interface hook chains. */
function compileTable(family: Family, config: ConfigLines): CompiledFirewall {
  const chains: Record<string, IptablesChain> = {};
  for (const hook of Object.values(HOOKS)) chains[hook.chain] = { name: hook.chain, references: 1, rows: [] };
  const byRuleSet = ruleLines(config, family.kind);
  for (const ruleSet of ruleSetNames(config, family.kind)) {
    const rules = rulesOf(byRuleSet, ruleSet, family.kind).filter((rule) => !rule.disabled);
    chains[ruleSet] = { name: ruleSet, references: 0, rows: [...rules.flatMap((rule) => ruleRows(family, ruleSet, rule)), ...defaultRows(family, config, ruleSet)] };
  }
  const bindings = firewallBindings(config)
    .filter((binding) => binding.family === (family.kind === 'name' ? 'ipv4' : 'ipv6'))
    .sort((a, b) => compareLines(a.path, b.path));
  for (const binding of bindings) {
    const hook = HOOKS[binding.direction];
    const target = chains[binding.ruleSet];
    if (hook === undefined || target === undefined) continue;
    target.references += 1;
    chains[hook.chain]?.rows.push({
      id: `${hook.chain}|${binding.interfaceName}|${binding.ruleSet}`,
      ruleKey: '',
      target: binding.ruleSet,
      protocol: 'all',
      inInterface: hook.side === 'in' ? binding.interfaceName : '*',
      outInterface: hook.side === 'out' ? binding.interfaceName : '*',
      source: family.anyAddress,
      destination: family.anyAddress,
      match: {},
    });
  }
  const ipsets: Record<string, string[]> = {};
  for (const kind of [family.groups.address, family.groups.network]) {
    for (const group of childNodes(config, ['firewall', 'group', kind])) {
      ipsets[group] = pathValues(config, ['firewall', 'group', kind, group, kind === family.groups.address ? 'address' : 'network']);
    }
  }
  return { chains, ipsets };
}

/** Compiles the IPv4 firewall (`firewall name …`) to the iptables filter table. */
export function compileFirewall(config: ConfigLines): CompiledFirewall {
  return compileTable(FAMILIES.name, config);
}

/**
 * Compiles the IPv6 firewall (`firewall ipv6-name …`) to the ip6tables filter table. Rows look like the IPv4 ones
 * (same ids, comments and targets) except: addresses are IPv6 (`::/0` for any), ICMPv6 is protocol `ipv6-icmp`,
 * `reject` rejects with `icmp6-port-unreachable`, rule keys start with IPV6_RULE_KEY_PREFIX, and ipsets come from
 * `ipv6-address-group`/`ipv6-network-group`.
 */
export function compileIpv6Firewall(config: ConfigLines): CompiledFirewall {
  return compileTable(FAMILIES['ipv6-name'], config);
}
