/**
 * The part of an EdgeOS configuration the plugin cares about (firewall rulesets, interface bindings and
 * addresses), read from the paths of `show configuration commands`.
 */

export interface FirewallRule {
  readonly number: number;
  action?: string;
  description?: string;
  disabled: boolean;
  protocol?: string;
  sourceAddress?: string;
  /** Lower case, as the plugin writes it. */
  sourceMac?: string;
  destinationPort?: string;
  /** `time startdate`: the rule matches only from then on (the plugin's timed access, with `time utc`). */
  startDate?: string;
  /** `time utc`: the time settings are UTC, not the router's local time. */
  utc?: boolean;
  /** `log enable` (true) or `log disable` (false): whether the rule writes a LOG row ahead of its action row. */
  log?: boolean;
  /** `limit rate` (`6/minute`) and `limit burst` (`5`): the rule matches only while its token bucket has credit. */
  limitRate?: string;
  limitBurst?: string;
  /** Every other setting of the rule (state matches, logging, groups...), as `key value` text. */
  readonly otherSettings: string[];
}

export interface RuleSetConfig {
  readonly name: string;
  defaultAction?: string;
  readonly rules: Map<number, FirewallRule>;
}

export interface InterfaceConfig {
  /** The kernel name iptables uses: eth0, eth0.10, pppoe0, switch0. */
  readonly name: string;
  /** The configuration path of the interface node: ['interfaces', 'ethernet', 'eth0', 'vif', '10']. */
  readonly path: readonly string[];
  outRuleSet?: string;
  /** The IPv6 ruleset bound to its `out` slot. */
  outRuleSet6?: string;
  readonly addresses: string[];
  /** True when the interface has IPv6 (an IPv6 address, DHCPv6 prefix delegation or IPv6 settings). */
  ipv6: boolean;
}

export interface EdgeOsFirewall {
  /** `firewall name X`: IPv4 rulesets. */
  readonly ruleSets: Map<string, RuleSetConfig>;
  /** `firewall ipv6-name X`: IPv6 rulesets. */
  readonly ruleSets6: Map<string, RuleSetConfig>;
  readonly interfaces: Map<string, InterfaceConfig>;
}

/** Settings we read into named fields; anything else under a rule goes to `otherSettings`. */
const KNOWN_RULE_SETTINGS = new Set(['action', 'description', 'protocol', 'disable', 'source address', 'source mac-address', 'destination port']);

export function readFirewall(paths: readonly string[][]): EdgeOsFirewall {
  const ruleSets = new Map<string, RuleSetConfig>();
  const ruleSets6 = new Map<string, RuleSetConfig>();
  const interfaces = new Map<string, InterfaceConfig>();

  for (const path of paths) {
    if (path[0] === 'firewall' && (path[1] === 'name' || path[1] === 'ipv6-name') && path[2] !== undefined) {
      readRuleSetLine(path[1] === 'name' ? ruleSets : ruleSets6, path[2], path.slice(3));
    } else if (path[0] === 'interfaces') {
      readInterfaceLine(interfaces, path);
    }
  }
  return { ruleSets, ruleSets6, interfaces };
}

function readRuleSetLine(ruleSets: Map<string, RuleSetConfig>, name: string, rest: string[]): void {
  let ruleSet = ruleSets.get(name);
  if (!ruleSet) {
    ruleSet = { name, rules: new Map() };
    ruleSets.set(name, ruleSet);
  }
  if (rest[0] === 'default-action') {
    ruleSet.defaultAction = rest[1];
    return;
  }
  if (rest[0] !== 'rule' || rest[1] === undefined || !/^\d+$/.test(rest[1])) {
    return;
  }
  const number = Number(rest[1]);
  let rule = ruleSet.rules.get(number);
  if (!rule) {
    rule = { number, disabled: false, otherSettings: [] };
    ruleSet.rules.set(number, rule);
  }
  const setting = rest.slice(2);
  const key = setting.length > 1 ? setting.slice(0, -1).join(' ') : (setting[0] ?? '');
  const value = setting.length > 1 ? setting[setting.length - 1] : undefined;
  switch (key) {
    case 'action':
      rule.action = value;
      return;
    case 'description':
      rule.description = value;
      return;
    case 'protocol':
      rule.protocol = value;
      return;
    case 'disable':
      rule.disabled = true;
      return;
    case 'source address':
      rule.sourceAddress = value;
      return;
    case 'source mac-address':
      rule.sourceMac = value?.toLowerCase();
      return;
    case 'destination port':
      rule.destinationPort = value;
      return;
    case 'time startdate':
      rule.startDate = value;
      return;
    case 'log':
      if (value === 'enable' || value === 'disable') {
        rule.log = value === 'enable';
        return;
      }
      rule.otherSettings.push(setting.join(' '));
      return;
    case 'limit rate':
      rule.limitRate = value;
      return;
    case 'limit burst':
      rule.limitBurst = value;
      return;
    case 'time':
      if (value === 'utc') {
        rule.utc = true;
        return;
      }
      rule.otherSettings.push(setting.join(' '));
      return;
    default:
      if (!KNOWN_RULE_SETTINGS.has(setting.join(' ')) && setting.length > 0) {
        rule.otherSettings.push(setting.join(' '));
      }
  }
}

/**
 * Maps an interface node to its kernel name: `ethernet eth0 vif 10` is eth0.10, `ethernet eth0 pppoe 0` is
 * pppoe0, `switch switch0` is switch0.
 */
function readInterfaceLine(interfaces: Map<string, InterfaceConfig>, path: string[]): void {
  const base = path[2];
  if (path[1] === undefined || base === undefined) {
    return;
  }
  // `ethernet eth0 vif 10` is eth0.10, `ethernet eth0 pppoe 0` is pppoe0, and PPPoE over a VLAN
  // (`ethernet eth0 vif 7 pppoe 0`, common on fibre) is pppoe0 too: follow vif and pppoe as deep as they go.
  let name = base;
  let nodeLength = 3;
  while ((path[nodeLength] === 'vif' || path[nodeLength] === 'pppoe') && path[nodeLength + 1] !== undefined) {
    name = path[nodeLength] === 'vif' ? `${name}.${path[nodeLength + 1]}` : `pppoe${path[nodeLength + 1]}`;
    nodeLength += 2;
  }
  let config = interfaces.get(name);
  if (!config) {
    config = { name, path: path.slice(0, nodeLength), addresses: [], ipv6: false };
    interfaces.set(name, config);
  }
  const rest = path.slice(nodeLength);
  if (rest[0] === 'firewall' && rest[1] === 'out' && rest[2] === 'name' && rest[3] !== undefined) {
    config.outRuleSet = rest[3];
  } else if (rest[0] === 'firewall' && rest[1] === 'out' && rest[2] === 'ipv6-name' && rest[3] !== undefined) {
    config.outRuleSet6 = rest[3];
  } else if (rest[0] === 'dhcpv6-pd' || rest[0] === 'ipv6' || (rest[0] === 'address' && (rest[1]?.includes(':') === true || rest[1] === 'dhcpv6'))) {
    config.ipv6 = true;
  } else if (rest[0] === 'address' && rest[1] !== undefined) {
    const address = rest[1].split('/')[0];
    if (address && /^\d+\.\d+\.\d+\.\d+$/.test(address)) {
      config.addresses.push(address);
    }
  }
}

/**
 * Where an interface that is not in the configuration yet would live. EdgeOS needs the full node path to bind a
 * ruleset; a PPPoE interface can only be found through its parent, so it must already be configured.
 */
export function interfacePathFor(name: string, firewall: EdgeOsFirewall): readonly string[] | undefined {
  const known = firewall.interfaces.get(name);
  if (known) {
    return known.path;
  }
  const vlan = /^(eth\d+|switch\d+|bond\d+)\.(\d+)$/.exec(name);
  if (vlan) {
    const parent = vlan[1] ?? '';
    return ['interfaces', interfaceType(parent), parent, 'vif', vlan[2] ?? ''];
  }
  if (/^(eth|switch|br|bond)\d+$/.test(name)) {
    return ['interfaces', interfaceType(name), name];
  }
  return undefined;
}

function interfaceType(name: string): string {
  if (name.startsWith('switch')) {
    return 'switch';
  }
  if (name.startsWith('br')) {
    return 'bridge';
  }
  if (name.startsWith('bond')) {
    return 'bonding';
  }
  return 'ethernet';
}
