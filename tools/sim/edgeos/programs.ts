/**
 * The EdgeOS programs a router driver runs: the configuration wrapper, cli-shell-api, the operational command
 * wrapper, iptables, ip6tables and conntrack. Each gets its arguments already split by the shell.
 */
import { childNodes, pathExists, pathValue, pathValues, renderConfigCommands } from './configTree';
import type { ConfigSystem } from './configSystem';
import { DEFAULT_RULE_NUMBER, defaultAction, firewallBindings, ruleConfig, ruleNumbers } from './firewall';
import { formatArp, formatDhcpLeases, formatFirewallStatistics, formatNeighbours, formatOffload, formatVersion, parseIptablesCounters } from './formats';
import type { Program, ProcessContext } from './shell';
import type { CommandResult, CounterPair, Dataplane, RouterStateStore } from './types';

const ok = (stdout: string): CommandResult => ({ stdout, stderr: '', code: 0 });
const fail = (stderr: string, code = 1): CommandResult => ({ stdout: '', stderr, code });
const quoteList = (names: string[]): string => names.map((name) => `'${name}'`).join(' ');

/** The LAN interface `show arp` reports hosts on (ER-X default: the ports bridged as switch0). */
const LAN_INTERFACE = 'switch0';

export interface ProgramDependencies {
  store: RouterStateStore;
  dataplane: Dataplane;
  config: ConfigSystem;
}

/** The configuration wrapper keys its session on the parent process, or on CMD_WRAPPER_SESSION_ID when exported. */
export function sessionIdOf(context: ProcessContext): string {
  return context.env.CMD_WRAPPER_SESSION_ID ?? String(context.pid);
}

/** Counters per rule number of a ruleset, read from the dataplane's iptables listing (empty when the chain is missing). */
export async function ruleSetCounters(dataplane: Dataplane, ruleSet: string): Promise<Map<number, CounterPair>> {
  const listing = await dataplane.listChain(ruleSet);
  return listing.code === 0 ? parseIptablesCounters(listing.stdout) : new Map();
}

/** The same for an IPv6 ruleset, from the ip6tables listing (empty when the chain or the IPv6 dataplane is missing). */
export async function ipv6RuleSetCounters(dataplane: Dataplane, ruleSet: string): Promise<Map<number, CounterPair>> {
  const listing = await dataplane.listChain6?.(ruleSet);
  return listing?.code === 0 ? parseIptablesCounters(listing.stdout) : new Map();
}

type ListChain = (chain: string) => Promise<CommandResult>;

/**
 * `iptables` or `ip6tables` (1.4.21, as on EdgeOS): only `-t filter -L CHAIN -v -n -x`, flags in any order and
 * grouping; both print the same error texts with their own name.
 */
function xtablesProgram(name: 'iptables' | 'ip6tables', list: ListChain | undefined): Program {
  return async (args, context) => {
    if (!context.root) {
      return fail(`${name} v1.4.21: can't initialize ${name} table \`filter': Permission denied (you must be root)\nPerhaps ${name} or your kernel needs to be upgraded.\n`, 3);
    }
    const flags = new Set<string>();
    let table = 'filter';
    let chain: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      if (!/^-[a-zA-Z]+$/.test(arg)) return fail(`Bad argument \`${arg}'\n`, 2);
      for (const flag of arg.slice(1)) flags.add(flag);
      if (arg.endsWith('t')) table = args[++i] ?? '';
      else if (arg.endsWith('L') && args[i + 1] !== undefined && !args[i + 1]?.startsWith('-')) chain = args[++i];
    }
    const supported = [...flags].every((flag) => 'tLvnx'.includes(flag)) && ['L', 'v', 'n', 'x'].every((flag) => flags.has(flag));
    if (!supported || chain === undefined) return fail(`${name}: the simulator supports only \`${name} -t filter -L CHAIN -v -n -x\`\n`, 2);
    if (table !== 'filter') return fail(`${name}: No chain/target/match by that name.\n`);
    if (list === undefined) return fail(`${name}: the simulator's dataplane has no IPv6 firewall (it does not implement listChain6)\n`, 2);
    return list(chain);
  };
}

export function edgeOsPrograms({ store, dataplane, config }: ProgramDependencies): Map<string, Program> {
  const cfgWrapper: Program = async (args, context) => {
    const [command = '', ...path] = args;
    const sessionId = sessionIdOf(context);
    if (context.root) {
      // On EdgeOS this leaves root-owned files in the session directories: configuration fails until a reboot.
      await store.update((state) => {
        state.configBrokenUntilReboot = true;
      });
      return fail('vyatta-cfg-cmd-wrapper: run through sudo: the configuration system is now broken until the router reboots (simulated)\n');
    }
    switch (command) {
      case 'begin':
        return config.begin(sessionId);
      case 'end':
        return config.end(sessionId);
      case 'set':
      case 'delete':
        return config.edit(sessionId, command, path);
      case 'commit':
        return config.commit(sessionId);
      case 'discard':
        return config.discard(sessionId);
      case 'save':
        return config.save();
      default:
        return fail(`vyatta-cfg-cmd-wrapper: the simulator does not support '${command}'\n`, 2);
    }
  };

  const cliShellApi: Program = async (args, context) => {
    const [operation = '', ...path] = args;
    const active = operation.includes('Active');
    const view = active ? (await store.read()).active : await config.view(sessionIdOf(context));
    switch (operation.replace('Active', '')) {
      case 'exists':
        return { stdout: '', stderr: '', code: pathExists(view, path) ? 0 : 1 };
      case 'returnValue': {
        const value = pathValue(view, path);
        return value === undefined ? { stdout: '', stderr: '', code: 1 } : ok(value);
      }
      case 'returnValues':
        return ok(quoteList(pathValues(view, path)));
      case 'listNodes':
        return ok(quoteList(childNodes(view, path)));
      default:
        return fail(`cli-shell-api: the simulator does not support '${operation}'\n`, 2);
    }
  };

  const firewallStatistics = async (ruleSet: string): Promise<CommandResult> => {
    const active = (await store.read()).active;
    if (!pathExists(active, ['firewall', 'name', ruleSet])) return fail(`Firewall ruleset "${ruleSet}" is not configured\n`);
    const counters = await ruleSetCounters(dataplane, ruleSet);
    const zero = { packets: 0, bytes: 0 };
    const rules = ruleNumbers(active, ruleSet)
      .map((number) => ruleConfig(active, ruleSet, number))
      .filter((rule) => !rule.disabled)
      .map((rule) => ({ rule: String(rule.number), counter: counters.get(rule.number) ?? zero, action: rule.action ?? '', description: rule.description ?? '' }));
    const defaultRow = { rule: String(DEFAULT_RULE_NUMBER), counter: counters.get(DEFAULT_RULE_NUMBER) ?? zero, action: defaultAction(active, ruleSet), description: 'DEFAULT ACTION' };
    const activeOn = firewallBindings(active)
      .filter((binding) => binding.family === 'ipv4' && binding.ruleSet === ruleSet)
      .map((binding) => `(${binding.interfaceName},${binding.direction.toUpperCase()})`);
    const description = pathValue(active, ['firewall', 'name', ruleSet, 'description']);
    return ok(formatFirewallStatistics(ruleSet, description, activeOn, [...rules, defaultRow]));
  };

  const opWrapper: Program = async (args) => {
    const command = args.join(' ');
    const state = await store.read();
    const statistics = /^show firewall name (\S+) statistics$/.exec(command);
    if (statistics?.[1] !== undefined) return firewallStatistics(statistics[1]);
    switch (command) {
      case 'show configuration commands':
        return ok(renderConfigCommands(state.active));
      case 'show ubnt offload': {
        const analysis = (setting: string): boolean => pathValue(state.active, ['system', 'traffic-analysis', setting]) === 'enable';
        return ok(formatOffload(state.options.offload, { export: analysis('export'), dpi: analysis('dpi') }));
      }
      case 'show dhcp leases':
        return ok(formatDhcpLeases(state.options.lanHosts, new Date()));
      case 'show arp':
        return ok(formatArp(state.options.lanHosts, LAN_INTERFACE));
      case 'show version':
        return ok(formatVersion(new Date()));
      default:
        return fail(`Invalid command: ${args[0] ?? ''} [${args.slice(1).join(' ')}]\n`);
    }
  };

  const iptables = xtablesProgram('iptables', (chain) => dataplane.listChain(chain));
  const ip6tables = xtablesProgram('ip6tables', dataplane.listChain6?.bind(dataplane));

  /**
   * `conntrack -L|-D [-f ipv4|ipv6] -s IP`. conntrack takes the family from the address; one given with `-f` must
   * agree with it, as conntrack-tools insists ("mismatched address family").
   */
  const conntrack: Program = async (args, context) => {
    if (!context.root) return fail('conntrack v1.4.6 (conntrack-tools): Operation failed: Operation not permitted\n');
    const operation = args.find((arg) => arg === '-L' || arg === '-D');
    const sourceAt = args.findIndex((arg) => arg === '-s' || arg === '--src' || arg === '--orig-src');
    const source = sourceAt >= 0 ? args[sourceAt + 1] : undefined;
    const familyAt = args.findIndex((arg) => arg === '-f' || arg === '--family');
    const family = familyAt >= 0 ? args[familyAt + 1] : undefined;
    const expectedLength = family === undefined ? 3 : 5;
    if (operation === undefined || source === undefined || args.length !== expectedLength || (family !== undefined && family !== 'ipv4' && family !== 'ipv6')) {
      return fail('conntrack: the simulator supports only `conntrack -L|-D [-f ipv4|ipv6] -s IP`\n', 2);
    }
    if (family !== undefined && (family === 'ipv6') !== source.includes(':')) return fail('conntrack v1.4.6 (conntrack-tools): mismatched address family\n', 2);
    return operation === '-L' ? dataplane.listFlows(source) : dataplane.deleteFlows(source);
  };

  /** `ip neigh show`, `ip route show default`: the router's neighbours, from the dataplane's kernel when it has one, else from the LAN hosts. */
  const ipProgram: Program = async (args) => {
    if (args.join(' ') === 'route show default') {
      // The simulated router reaches the internet through its WAN interface's gateway (the first address of its net).
      return ok(`default via 203.0.113.1 dev ${(await store.read()).options.wanInterface} proto static\n`);
    }
    if (args.join(' ') !== 'neigh show' && args.join(' ') !== 'neigh') return fail('ip: the simulator supports only `ip neigh show` and `ip route show default`\n', 2);
    if (dataplane.listNeighbours !== undefined) return dataplane.listNeighbours();
    return ok(formatNeighbours((await store.read()).options.lanHosts, LAN_INTERFACE));
  };

  /** `date -u +%s` only: the router's clock, in seconds since the epoch. */
  const dateProgram: Program = (args) =>
    Promise.resolve(args.join(' ') === '-u +%s' ? ok(`${Math.floor(Date.now() / 1000)}\n`) : fail('date: the simulator supports only `date -u +%s`\n', 1));

  // Operational commands only exist in an interactive vbash (`vbash -ic 'show …'`), where the op-mode functions are loaded.
  const show: Program = (args, context) => (context.interactive ? opWrapper(['show', ...args], context) : Promise.resolve(fail('Invalid command: [show]\n')));

  return new Map<string, Program>([
    ['/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper', cfgWrapper],
    ['vyatta-cfg-cmd-wrapper', cfgWrapper],
    ['/bin/cli-shell-api', cliShellApi],
    ['cli-shell-api', cliShellApi],
    ['/opt/vyatta/bin/vyatta-op-cmd-wrapper', opWrapper],
    ['vyatta-op-cmd-wrapper', opWrapper],
    ['/sbin/iptables', iptables],
    ['iptables', iptables],
    ['/sbin/ip6tables', ip6tables],
    ['ip6tables', ip6tables],
    ['/usr/sbin/conntrack', conntrack],
    ['/sbin/ip', ipProgram],
    ['ip', ipProgram],
    ['conntrack', conntrack],
    ['show', show],
    ['date', dateProgram],
    ['/bin/date', dateProgram],
  ]);
}
