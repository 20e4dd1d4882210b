/**
 * The EdgeOS programs a router driver runs: the configuration wrapper, cli-shell-api, the operational command
 * wrapper, iptables, ip6tables and conntrack. Each gets its arguments already split by the shell.
 */
import { childNodes, pathExists, pathValue, pathValues, renderConfigCommands } from './configTree';
import type { ConfigSystem } from './configSystem';
import { DEFAULT_RULE_NUMBER, defaultAction, firewallBindings, ruleConfig, ruleNumbers } from './firewall';
import { formatArp, formatDhcpLeases, formatFirewallStatistics, formatNeighbours, formatOffload, formatVersion, parseIptablesCounters } from './formats';
import type { Program, ProcessContext } from './shell';
import type { CommandResult, ConntrackFlow, CounterPair, Dataplane, RouterStateStore } from './types';

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
   * `conntrack -L|-D [-f ipv4|ipv6] -s IP`, and `conntrack -L -o extended` (the whole table). conntrack takes the family
   * from the address; one given with `-f` must agree with it, as conntrack-tools insists ("mismatched address family").
   */
  const conntrack: Program = async (args, context) => {
    if (!context.root) return fail('conntrack v1.4.6 (conntrack-tools): Operation failed: Operation not permitted\n');
    if (args.join(' ') === '-L -o extended') return listAllFlows();
    const operation = args.find((arg) => arg === '-L' || arg === '-D');
    const sourceAt = args.findIndex((arg) => arg === '-s' || arg === '--src' || arg === '--orig-src');
    const source = sourceAt >= 0 ? args[sourceAt + 1] : undefined;
    const familyAt = args.findIndex((arg) => arg === '-f' || arg === '--family');
    const family = familyAt >= 0 ? args[familyAt + 1] : undefined;
    const expectedLength = family === undefined ? 3 : 5;
    if (operation === undefined || source === undefined || args.length !== expectedLength || (family !== undefined && family !== 'ipv4' && family !== 'ipv6')) {
      return fail('conntrack: the simulator supports only `conntrack -L|-D [-f ipv4|ipv6] -s IP` and `conntrack -L -o extended`\n', 2);
    }
    if (family !== undefined && (family === 'ipv6') !== source.includes(':')) return fail('conntrack v1.4.6 (conntrack-tools): mismatched address family\n', 2);
    return operation === '-L' ? dataplane.listFlows(source) : dataplane.deleteFlows(source);
  };

  /** The whole table, from the dataplane when it can list it (a real kernel), else from the memory dataplane's flows. */
  const listAllFlows = async (): Promise<CommandResult> => {
    if (dataplane.listAllFlows !== undefined) return dataplane.listAllFlows();
    const state = await store.read();
    if (state.memoryDataplane === undefined) return fail("conntrack: the simulator's dataplane cannot list the whole table\n", 2);
    const accounting = ((await dataplane.conntrackAccounting?.()) ?? state.conntrackAccounting ?? 0) === 1;
    const flows = state.memoryDataplane.flows;
    return { stdout: flows.map((flow) => formatExtendedFlow(flow, accounting)).join(''), stderr: `conntrack v1.4.6 (conntrack-tools): ${flows.length} flow entries have been shown.\n`, code: 0 };
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
    ...coreutilsPrograms(store, dataplane),
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

/** The files the simulated coreutils know: the router's log (root:adm 0640) and the conntrack accounting switch. */
const LOG_FILE = '/var/log/messages';
const ROTATED_LOG_FILE = `${LOG_FILE}.1`;
const ACCOUNTING_FILE = '/proc/sys/net/netfilter/nf_conntrack_acct';
/** procfs files have a fixed inode of their own and report size 0 to stat, as on Linux. */
const ACCOUNTING_INODE = 4026532105;

interface SimFile {
  inode: number;
  /** The bytes, one character per byte (latin1). */
  bytes: string;
  /** Only root may read it (the login is taken not to be in group adm: the stricter case). */
  rootOnly: boolean;
  /** What stat's %s says (procfs: 0). */
  size: number;
}

async function simFile(store: RouterStateStore, dataplane: Dataplane, path: string): Promise<SimFile | undefined> {
  const state = await store.read();
  if (path === ACCOUNTING_FILE) {
    const value = (await dataplane.conntrackAccounting?.()) ?? state.conntrackAccounting ?? 0;
    return { inode: ACCOUNTING_INODE, bytes: `${value}\n`, rootOnly: false, size: 0 };
  }
  const log = path === LOG_FILE ? state.routerLog?.current : path === ROTATED_LOG_FILE ? state.routerLog?.rotated : undefined;
  if (log === undefined) return undefined;
  const bytes = Buffer.from(log.text, 'utf8').toString('latin1');
  return { inode: log.inode, bytes, rootOnly: true, size: bytes.length };
}

/** A file's bytes for a program that reads it, or the error coreutils print. */
async function readSimFile(store: RouterStateStore, dataplane: Dataplane, program: string, path: string, context: ProcessContext): Promise<string | CommandResult> {
  const file = await simFile(store, dataplane, path);
  if (file === undefined) return fail(`${program}: cannot open '${path}' for reading: No such file or directory\n`);
  const unreadable = file.rootOnly && (!context.root || (await store.read()).faults.logUnreadable === true);
  if (unreadable) return fail(`${program}: cannot open '${path}' for reading: Permission denied\n`);
  return file.bytes;
}

/** `\NNN` octal escapes, `\\`, `\n`, `\t` and ranges `a-z`, as tr reads a set. */
function trSet(text: string): Set<number> | undefined {
  const chars: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1))?.[0];
      if (octal !== undefined) {
        chars.push(parseInt(octal, 8));
        i += octal.length;
      } else {
        const escaped = text[++i];
        const known: Record<string, number> = { '\\': 92, n: 10, t: 9 };
        if (escaped === undefined || !Object.hasOwn(known, escaped)) return undefined;
        chars.push(known[escaped] ?? 0);
      }
    } else {
      chars.push(text.charCodeAt(i));
    }
  }
  const set = new Set<number>();
  for (let i = 0; i < chars.length; i++) {
    const low = chars[i] ?? 0;
    if (chars[i + 1] === 45 && i + 2 < chars.length) {
      const high = chars[i + 2] ?? 0;
      if (high < low) return undefined;
      for (let c = low; c <= high; c++) set.add(c);
      i += 2;
    } else {
      set.add(low);
    }
  }
  return set;
}

/** One flow as `conntrack -L -o extended` prints it (conntrack-tools 1.4): counters only while accounting is on. */
export function formatExtendedFlow(flow: ConntrackFlow, accounting: boolean): string {
  const family = flow.src.includes(':') ? 'ipv6     10' : 'ipv4     2';
  const counters = (packets: number, bytes: number): string => (accounting ? ` packets=${packets} bytes=${bytes}` : '');
  const sent = counters(flow.packets, flow.bytes);
  const received = counters(flow.packets, flow.packets * 52);
  if (flow.protocol === 'icmp' || flow.protocol === 'ipv6-icmp') {
    const [name, request, reply] = flow.protocol === 'icmp' ? ['icmp     1', 8, 0] : ['icmpv6   58', 128, 129];
    return (
      `${family} ${name} 29 src=${flow.src} dst=${flow.dst} type=${request} code=0 id=${flow.sport}${sent} ` +
      `src=${flow.dst} dst=${flow.src} type=${reply} code=0 id=${flow.sport}${received} mark=0 use=1\n`
    );
  }
  const head = flow.protocol === 'tcp' ? 'tcp      6 431999 ESTABLISHED' : 'udp      17 179';
  return (
    `${family} ${head} src=${flow.src} dst=${flow.dst} sport=${flow.sport} dport=${flow.dport}${sent} ` +
    `src=${flow.dst} dst=${flow.src} sport=${flow.dport} dport=${flow.sport}${received} [ASSURED] mark=0 use=1\n`
  );
}

/**
 * The coreutils and grep a log or connection-table read runs, only in the forms it uses: `stat -L -c FORMAT FILE…`
 * (%i %s %n), `tail -c +N [FILE]`, `head -c N [FILE]`, `tr -c SET1 SET2`, `grep -F -e PATTERN… [FILE]`, `cat FILE`.
 * Files are the router's log (SimState.routerLog, readable by root only) and the conntrack accounting switch.
 */
export function coreutilsPrograms(store: RouterStateStore, dataplane: Dataplane): Map<string, Program> {
  const unsupported = (name: string, forms: string): CommandResult => fail(`${name}: the simulator supports only ${forms}\n`, 2);
  const input = async (name: string, file: string | undefined, context: ProcessContext): Promise<string | CommandResult> =>
    file === undefined ? (context.input ?? '') : readSimFile(store, dataplane, name, file, context);

  const stat: Program = async (args) => {
    if (args[0] !== '-L' || args[1] !== '-c' || args[2] === undefined || args.length < 4) return unsupported('stat', "`stat -L -c FORMAT FILE...'");
    const format = args[2];
    if (/%[^isn]/.test(format.replace(/%%/g, ''))) return unsupported('stat', 'the formats %i, %s and %n');
    let stdout = '';
    let stderr = '';
    for (const path of args.slice(3)) {
      const file = await simFile(store, dataplane, path);
      if (file === undefined) stderr += `stat: cannot stat '${path}': No such file or directory\n`;
      else stdout += `${format.replace(/%([isn%])/g, (_, code: string) => (code === 'i' ? String(file.inode) : code === 's' ? String(file.size) : code === 'n' ? path : '%'))}\n`;
    }
    return { stdout, stderr, code: stderr === '' ? 0 : 1 };
  };

  const tail: Program = async (args, context) => {
    const from = args[0] === '-c' ? /^\+([0-9]{1,15})$/.exec(args[1] ?? '') : null;
    if (from?.[1] === undefined || args.length > 3) return unsupported('tail', "`tail -c +N [FILE]'");
    const bytes = await input('tail', args[2], context);
    return typeof bytes === 'string' ? ok(bytes.slice(Math.max(0, Number(from[1]) - 1))) : bytes;
  };

  const head: Program = async (args, context) => {
    const count = args[0] === '-c' && /^[0-9]{1,15}$/.test(args[1] ?? '') ? Number(args[1]) : undefined;
    if (count === undefined || args.length > 3) return unsupported('head', "`head -c N [FILE]'");
    const bytes = await input('head', args[2], context);
    return typeof bytes === 'string' ? ok(bytes.slice(0, count)) : bytes;
  };

  const tr: Program = (args, context) => {
    const set = args[0] === '-c' && args.length === 3 ? trSet(args[1] ?? '') : undefined;
    const replacement = args[2] ?? '';
    if (set === undefined || replacement.length !== 1) return Promise.resolve(unsupported('tr', "`tr -c SET1 C' (one replacement character)"));
    const text = context.input ?? '';
    let out = '';
    for (let i = 0; i < text.length; i++) out += set.has(text.charCodeAt(i)) ? text.charAt(i) : replacement;
    return Promise.resolve(ok(out));
  };

  const grep: Program = async (args, context) => {
    const patterns: string[] = [];
    let fixed = false;
    let file: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      if (arg === '-F') fixed = true;
      else if (arg === '-e' && args[i + 1] !== undefined) patterns.push(args[++i] ?? '');
      else if (!arg.startsWith('-') && file === undefined && i === args.length - 1) file = arg;
      else return unsupported('grep', "`grep -F -e PATTERN... [FILE]'");
    }
    if (!fixed || patterns.length === 0) return unsupported('grep', "`grep -F -e PATTERN... [FILE]'");
    const text = await input('grep', file, context);
    if (typeof text !== 'string') return { ...text, code: 2 };
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const matched = lines.filter((line) => patterns.some((pattern) => line.includes(pattern)));
    return { stdout: matched.map((line) => `${line}\n`).join(''), stderr: '', code: matched.length > 0 ? 0 : 1 };
  };

  const cat: Program = async (args, context) => {
    if (args.length !== 1 || args[0]?.startsWith('-')) return unsupported('cat', "`cat FILE'");
    const path = args[0] ?? '';
    const file = await simFile(store, dataplane, path);
    if (file === undefined) return fail(`cat: ${path}: No such file or directory\n`);
    const bytes = await readSimFile(store, dataplane, 'cat', path, context);
    return typeof bytes === 'string' ? ok(bytes) : fail(`cat: ${path}: Permission denied\n`);
  };

  return new Map<string, Program>([
    ['stat', stat],
    ['/usr/bin/stat', stat],
    ['tail', tail],
    ['/usr/bin/tail', tail],
    ['head', head],
    ['/usr/bin/head', head],
    ['tr', tr],
    ['/usr/bin/tr', tr],
    ['grep', grep],
    ['/bin/grep', grep],
    ['cat', cat],
    ['/bin/cat', cat],
  ]);
}
