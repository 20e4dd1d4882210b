import { ConfigSystem } from './configSystem';
import { parseConfigCommands, renderConfigCommands } from './configTree';
import { allRuleKeys } from './firewall';
import { MemoryDataplane } from './memoryDataplane';
import { MemoryStateStore } from './memoryStore';
import { edgeOsPrograms, ipv6RuleSetCounters, ruleSetCounters } from './programs';
import { runLoginShell, type ShellHost } from './shell';
import type {
  CommandResult,
  CommitFaultKind,
  CounterPair,
  Dataplane,
  LanHost,
  RouterStateStore,
  SimState,
  TrafficDataplane,
  TrafficProtocol,
  TrafficSpec,
  TrafficVerdict,
} from './types';

export interface SimulatedEdgeRouterOptions {
  /** The configuration at power-on, as `show configuration commands` text: it is both active and saved. */
  initialConfig?: string;
  /** Where the state lives; when given, it must already hold a state (see createInitialState) and the options below are ignored. */
  store?: RouterStateStore;
  /** Defaults to the in-memory dataplane, the only one that can carry simulated traffic. */
  dataplane?: Dataplane;
  /** The interface whose `out` ruleset simulated traffic crosses; default eth0. */
  wanInterface?: string;
  /** Whether `show ubnt offload` reports IPv4 forwarding offload (and established flows bypass iptables); default off. */
  offload?: boolean;
  lanHosts?: LanHost[];
}

export function createInitialState(options: Pick<SimulatedEdgeRouterOptions, 'initialConfig' | 'wanInterface' | 'offload' | 'lanHosts'> = {}): SimState {
  const config = parseConfigCommands(options.initialConfig ?? '');
  return {
    active: config,
    saved: config,
    sessions: {},
    commitLock: null,
    configBrokenUntilReboot: false,
    faults: { pendingCommitFaults: [], commitDelayMs: 0 },
    booted: false,
    nextPid: 1000,
    options: { wanInterface: options.wanInterface ?? 'eth0', offload: options.offload ?? false, lanHosts: options.lanHosts ?? [] },
  };
}

function carriesTraffic(dataplane: Dataplane): dataplane is TrafficDataplane {
  return 'sendTraffic' in dataplane;
}

/**
 * A simulated Ubiquiti EdgeRouter: `run` interprets what an SSH exec request would run on it; the other methods are
 * the hooks tests and the demo use to look inside, inject faults and simulate traffic.
 */
export class SimulatedEdgeRouter {
  readonly store: RouterStateStore;
  readonly dataplane: Dataplane;
  private readonly shellHost: ShellHost;
  private booting: Promise<void> | undefined;

  constructor(options: SimulatedEdgeRouterOptions = {}) {
    this.store = options.store ?? new MemoryStateStore(createInitialState(options));
    this.dataplane = options.dataplane ?? new MemoryDataplane(this.store);
    const config = new ConfigSystem(this.store, this.dataplane);
    this.shellHost = {
      programs: edgeOsPrograms({ store: this.store, dataplane: this.dataplane, config }),
      allocatePid: () => this.store.update((state) => state.nextPid++),
    };
  }

  /**
   * Runs an exec request's command line in a login vbash whose standard input is `stdin`; aborting stops the script
   * between commands. `user` is who logged in: a user the configuration makes `level operator` has no sudo, as on
   * EdgeOS; anyone else (the simulator's own users among them) is an admin.
   */
  async run(command: string, stdin = '', signal?: AbortSignal, user?: string): Promise<CommandResult> {
    await this.boot();
    const operator = user !== undefined && (await this.activeConfigCommands()).split('\n').some((line) => line.replace(/'/g, '') === `set system login user ${user} level operator`);
    return runLoginShell(this.shellHost, command, stdin, signal, !operator);
  }

  /** Power cycle: active := saved, counters zero, flows, sessions and the commit lock gone. Injected faults stay. */
  async reboot(): Promise<void> {
    const saved = await this.store.update((state) => {
      Object.assign(state, { active: state.saved, sessions: {}, commitLock: null, configBrokenUntilReboot: false, booted: true });
      return state.saved;
    });
    await this.dataplane.applyFirewall(saved, allRuleKeys(saved));
    await this.dataplane.reboot();
  }

  /**
   * Changes the configuration the way an administrator on the router would (begin, set/delete…, commit, end, and
   * save when asked). `lines` are `set …`/`delete …` commands; the result is that of the commit (or the save).
   */
  configure(lines: string[], options: { save?: boolean } = {}): Promise<CommandResult> {
    const script = [
      'W=/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper',
      '$W begin',
      ...lines.map((line) => `$W ${line}`),
      options.save === true ? '$W commit && $W save; status=$?' : '$W commit; status=$?',
      '$W end',
      'exit $status',
    ].join('\n');
    return this.run('/bin/vbash -s', script);
  }

  async openSessionCount(): Promise<number> {
    return Object.keys((await this.store.read()).sessions).length;
  }

  async activeConfigCommands(): Promise<string> {
    return renderConfigCommands((await this.store.read()).active);
  }

  async savedConfigCommands(): Promise<string> {
    return renderConfigCommands((await this.store.read()).saved);
  }

  /** Packets and bytes per rule number (the default action is 10000), summed over a rule's iptables rows. */
  async counters(ruleSet: string): Promise<Map<number, CounterPair>> {
    await this.boot();
    return ruleSetCounters(this.dataplane, ruleSet);
  }

  /** The same for an IPv6 ruleset (`firewall ipv6-name`), read from `ip6tables -L -v -n -x`. */
  async counters6(ruleSet: string): Promise<Map<number, CounterPair>> {
    await this.boot();
    return ipv6RuleSetCounters(this.dataplane, ruleSet);
  }

  /** Makes the next `count` commits that have changes fail that way (`locked` also hits commits without changes). */
  async failNextCommits(kind: CommitFaultKind, count = 1): Promise<void> {
    await this.store.update((state) => {
      state.faults.pendingCommitFaults.push(...Array<CommitFaultKind>(count).fill(kind));
    });
  }

  /** How long each commit holds the commit lock before it applies (small routers take seconds). */
  async setCommitDelay(ms: number): Promise<void> {
    await this.store.update((state) => {
      state.faults.commitDelayMs = ms;
    });
  }

  /** Makes every later `set`/`delete` whose path contains `text` fail the way EdgeOS refuses a value (until cleared). */
  async refuseEdits(text: string): Promise<void> {
    await this.store.update((state) => {
      state.faults.refuseEdits = [...(state.faults.refuseEdits ?? []), text];
    });
  }

  async clearFaults(): Promise<void> {
    await this.store.update((state) => {
      state.faults = { pendingCommitFaults: [], commitDelayMs: 0 };
    });
  }

  async setOffload(enabled: boolean): Promise<void> {
    await this.store.update((state) => {
      state.options.offload = enabled;
    });
  }

  async setLanHosts(hosts: LanHost[]): Promise<void> {
    await this.store.update((state) => {
      state.options.lanHosts = hosts;
    });
  }

  /** True after the configuration wrapper was run through sudo, until the next reboot. */
  async isConfigBroken(): Promise<boolean> {
    return (await this.store.read()).configBrokenUntilReboot;
  }

  /**
   * Forwards traffic from a LAN host out of the WAN interface through the firewall: IPv4 through the iptables
   * rulesets, IPv6 (`family: 6`, or a `from` with a colon) through the ip6tables ones.
   */
  async sendTraffic(traffic: TrafficSpec): Promise<TrafficVerdict> {
    await this.boot();
    const { options } = await this.store.read();
    return this.trafficDataplane().sendTraffic(traffic, options);
  }

  /**
   * Deletes kernel rows behind EdgeOS's back (`sudo iptables -D` by hand): with a rule key (`CAMGUARD_OUT-4008`, or
   * `ipv6:CAMGUARD6_OUT-4008`) that rule's rows in `chain`, otherwise the jumps in `chain` to `target`. The
   * configuration is not changed, so it still says the rule is in force.
   */
  async deleteKernelRows(family: 4 | 6, chain: string, which: { ruleKey?: string; target?: string }): Promise<number> {
    await this.boot();
    return this.trafficDataplane().deleteKernelRows(family, chain, (row) => (which.ruleKey !== undefined ? row.ruleKey === which.ruleKey : row.target === which.target));
  }

  /** Registers an established connection from a LAN host (IPv4 or IPv6), as if it had been opened before the current rules. */
  async openFlow(from: string, flow: { protocol?: TrafficProtocol; port?: number; to?: string } = {}): Promise<void> {
    await this.boot();
    await this.trafficDataplane().openFlow({ from, protocol: flow.protocol ?? 'tcp', port: flow.port ?? 443, to: flow.to });
  }

  /** Whether conntrack holds a flow from this LAN host. */
  hasFlow(from: string): Promise<boolean> {
    return this.trafficDataplane().hasFlow(from);
  }

  private trafficDataplane(): TrafficDataplane {
    if (!carriesTraffic(this.dataplane)) throw new Error('simulated traffic needs the in-memory dataplane');
    return this.dataplane;
  }

  /** Loads the active configuration into the dataplane once per state (the router's boot). */
  private boot(): Promise<void> {
    this.booting ??= (async () => {
      const { booted, active } = await this.store.read();
      if (booted) return;
      await this.dataplane.applyFirewall(active, allRuleKeys(active));
      await this.store.update((state) => {
        state.booted = true;
      });
    })().catch((error: unknown) => {
      this.booting = undefined;
      throw error;
    });
    return this.booting;
  }
}
