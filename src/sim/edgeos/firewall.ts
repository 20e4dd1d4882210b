/**
 * The EdgeOS IPv4 firewall (`firewall name …` and the interface bindings) read from the configuration: commit
 * validation, the per-rule change detection that decides which counters restart, and the compilation to iptables
 * chains the way EdgeOS does it. IPv6 rulesets are validated but not compiled (the simulator has no ip6tables).
 */
import { childNodes, compareLines, hasPrefix, pathExists, pathValue, pathValues } from './configTree';
import type { CompiledFirewall, ConfigLines, IptablesChain, IptablesRow, RowMatch } from './types';

export const DEFAULT_RULE_NUMBER = 10000;

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

export function ruleSetNames(config: ConfigLines): string[] {
  return childNodes(config, ['firewall', 'name']);
}

/** The rule numbers of a ruleset, ascending. */
export function ruleNumbers(config: ConfigLines, ruleSet: string): number[] {
  return childNodes(config, ['firewall', 'name', ruleSet, 'rule'])
    .map(Number)
    .sort((a, b) => a - b);
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
}

function endpointConfig(config: ConfigLines, path: string[]): EndpointConfig {
  return {
    address: pathValue(config, [...path, 'address']),
    mac: pathValue(config, [...path, 'mac-address']),
    port: pathValue(config, [...path, 'port']),
    addressGroup: pathValue(config, [...path, 'group', 'address-group']) ?? pathValue(config, [...path, 'group', 'network-group']),
  };
}

export function ruleConfig(config: ConfigLines, ruleSet: string, number: number): RuleConfig {
  const path = ['firewall', 'name', ruleSet, 'rule', String(number)];
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
    source: endpointConfig(config, [...path, 'source']),
    destination: endpointConfig(config, [...path, 'destination']),
  };
}

export function defaultAction(config: ConfigLines, ruleSet: string): string {
  return pathValue(config, ['firewall', 'name', ruleSet, 'default-action']) ?? 'drop';
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
  for (const ruleSet of ruleSetNames(config)) {
    for (const number of ruleNumbers(config, ruleSet)) {
      const rule = ruleConfig(config, ruleSet, number);
      const path = ['firewall', 'name', ruleSet, 'rule', String(number)];
      if (rule.action === undefined) {
        errors.push(errorBlock(path, `Firewall config error: Rule ${number} has no action`));
      }
      if ((rule.source.port !== undefined || rule.destination.port !== undefined) && !PORT_PROTOCOLS.has(rule.protocol)) {
        errors.push(
          errorBlock(path, `Firewall config error: ports can only be specified when protocol is "tcp", "udp" or "tcp_udp" (currently "${rule.protocol}")`),
        );
      }
      for (const group of [rule.source.addressGroup, rule.destination.addressGroup]) {
        if (group !== undefined && !pathExists(config, ['firewall', 'group', 'address-group', group]) && !pathExists(config, ['firewall', 'group', 'network-group', group])) {
          errors.push(errorBlock(path, `Firewall config error: Group ${group} has not been defined`));
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
    if (!hasPrefix(line, ['firewall', 'name']) || line[2] === undefined) continue;
    const isDefault = line[3] === 'default-action' || line[3] === 'enable-default-log';
    if (line[3] !== 'rule' && !isDefault) continue;
    const key = `${line[2]}-${isDefault ? DEFAULT_RULE_NUMBER : line[4]}`;
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

function ruleRows(ruleSet: string, rule: RuleConfig): IptablesRow[] {
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
  };
  const protocols = rule.protocol === 'tcp_udp' ? ['tcp', 'udp'] : [rule.protocol];
  return protocols.flatMap((protocol) => {
    const row = (target: string, extra: RowMatch): IptablesRow => ({
      id: `${ruleSet}|${comment}|${target}|${protocol}`,
      ruleKey: comment,
      target,
      protocol,
      inInterface: '*',
      outInterface: '*',
      source: rule.source.address ?? '0.0.0.0/0',
      destination: rule.destination.address ?? '0.0.0.0/0',
      match: { ...match, ...extra },
    });
    const actionRow = row(TARGETS[action] ?? 'DROP', action === 'reject' ? { rejectWith: 'icmp-port-unreachable' } : {});
    return rule.log ? [row('LOG', { logPrefix: `[${comment}-${LOG_LETTERS[action] ?? 'D'}]` }), actionRow] : [actionRow];
  });
}

function defaultRows(config: ConfigLines, ruleSet: string): IptablesRow[] {
  const action = defaultAction(config, ruleSet);
  const comment = `${ruleSet}-${DEFAULT_RULE_NUMBER} default-action ${action}`;
  const row = (target: string, extra: RowMatch): IptablesRow => ({
    id: `${ruleSet}|${comment}|${target}|all`,
    ruleKey: `${ruleSet}-${DEFAULT_RULE_NUMBER}`,
    target,
    protocol: 'all',
    inInterface: '*',
    outInterface: '*',
    source: '0.0.0.0/0',
    destination: '0.0.0.0/0',
    match: { comment, ...extra },
  });
  const actionRow = row(TARGETS[action] ?? 'DROP', action === 'reject' ? { rejectWith: 'icmp-port-unreachable' } : {});
  const logged = pathExists(config, ['firewall', 'name', ruleSet, 'enable-default-log']);
  return logged ? [row('LOG', { logPrefix: `[${ruleSet}-default-${LOG_LETTERS[action] ?? 'D'}]` }), actionRow] : [actionRow];
}

/** Compiles the IPv4 firewall: one chain per ruleset (disabled rules absent) plus the interface hook chains. */
export function compileFirewall(config: ConfigLines): CompiledFirewall {
  const chains: Record<string, IptablesChain> = {};
  for (const hook of Object.values(HOOKS)) chains[hook.chain] = { name: hook.chain, references: 1, rows: [] };
  for (const ruleSet of ruleSetNames(config)) {
    const rules = ruleNumbers(config, ruleSet)
      .map((number) => ruleConfig(config, ruleSet, number))
      .filter((rule) => !rule.disabled);
    chains[ruleSet] = { name: ruleSet, references: 0, rows: [...rules.flatMap((rule) => ruleRows(ruleSet, rule)), ...defaultRows(config, ruleSet)] };
  }
  const bindings = firewallBindings(config)
    .filter((binding) => binding.family === 'ipv4')
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
      source: '0.0.0.0/0',
      destination: '0.0.0.0/0',
      match: {},
    });
  }
  const ipsets: Record<string, string[]> = {};
  for (const kind of ['address-group', 'network-group']) {
    for (const group of childNodes(config, ['firewall', 'group', kind])) {
      ipsets[group] = pathValues(config, ['firewall', 'group', kind, group, kind === 'address-group' ? 'address' : 'network']);
    }
  }
  return { chains, ipsets };
}
