/**
 * The router lab: started and torn down here, used by the lab tests and by `npm run lab`.
 *
 * The router is the simulator's SimulatedEdgeRouter (the same interpreter as `npm run demo` and the driver tests)
 * on a state file shared with every SSH login, with its in-memory counters swapped for the router namespace's real
 * iptables, its connection tracking answered from the router namespace's kernel (labDataplane.ts) and its
 * /var/log/messages fed with the kernel's LOG lines (kernelLog.ts). Through `lab.router` the owner of the lab can
 * inject what a real router does on its own: slow, failed, partial or locked commits, a reboot, a change made on the
 * router outside HomeKit.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { SimulatedEdgeRouter, createInitialState } from '../sim/edgeos';
import { FileStateStore } from './fileStateStore';
import { KernelLog, restoreKernelLogSetting } from './kernelLog';
import { LabDataplane } from './labDataplane';
import { assertLanRoutedIntoLab, createLabNetwork, enableConntrackAccounting, namespacePids, removeLabNetwork, setConntrackAccounting } from './network';
import { OWNER_FILE, labUnavailableReason } from './prerequisites';
import { RouterHold } from './routerHolds';
import type { HoldPoint } from './routerHolds';
import { SERVICE_PORTS } from './services';
import type { InternetEvent, TrafficReport } from './services';
import { LabSshServer, removeRouterAccounts } from './sshd';
import { COMPILED_LAB_DIR, inNamespace, processStartTime, run, runChecked, sleep, terminateProcesses, tool } from './system';
import {
  FRESH_LAB_ROUTER_CONFIG,
  FRONT_DOOR,
  GARAGE,
  HOMEBRIDGE_HOST,
  INTERNET,
  LAB_DIR,
  LAN6_PREFIX_LENGTH,
  LAN_HOSTS,
  LAN_PREFIX_LENGTH,
  NVR,
  ROUTER,
  isFreeLanAddress,
  isLan6Address,
} from './topology';
import type { LabHostSpec } from './topology';

const ROUTER_STATE_FILE = join(LAB_DIR, 'router-state.json');
/** Processes outside the namespaces that belong to a lab run (the Homebridge pointed at it), one `pid start-time` a line. */
const COMPANIONS_FILE = join(LAB_DIR, 'companions');
const INTERNET_READY_TIMEOUT_MS = 10_000;
/** One traffic command never needs more than this (answers time out after 2 s, finite uploads after 60 s). */
const TRAFFIC_TIMEOUT_MS = 90_000;

export class LabUnavailableError extends Error {}

export interface TrafficOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

function parseReport(line: string): TrafficReport | undefined {
  try {
    return JSON.parse(line) as TrafficReport;
  } catch {
    return undefined;
  }
}

function parseEvent(line: string): InternetEvent | undefined {
  try {
    return JSON.parse(line) as InternetEvent;
  } catch {
    return undefined;
  }
}

function trafficArgv(host: LabHostSpec, args: (string | number)[]): string[] {
  return inNamespace(host.namespace, [process.execPath, join(COMPILED_LAB_DIR, 'cameraTraffic.js'), ...args.map(String)]);
}

/** An upload that runs until stopped, with the internet host's acknowledgements as they arrive. */
export class RunningUpload {
  acked = 0;
  /** When `acked` last grew (ms since the epoch). */
  lastProgressAt = Date.now();
  private readonly exited: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    if (child.stdout !== null) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const report = parseReport(line);
        if (report !== undefined && 'acked' in report && report.acked > this.acked) {
          this.acked = report.acked;
          this.lastProgressAt = Date.now();
        }
      });
    }
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/**
 * The traffic a LAN host can make towards one of the internet host's addresses: its IPv4 one, or its IPv6 one (then
 * from the host's global IPv6 address, or from `from`, another of its addresses).
 */
export class HostTraffic {
  constructor(
    readonly spec: LabHostSpec,
    private readonly server: string,
    private readonly from?: string,
  ) {}

  /** A TCP connection to the internet host (the camera cloud by default). */
  connect(port: number = SERVICE_PORTS.upload): Promise<TrafficOutcome> {
    return this.traffic(['connect', this.server, port]);
  }

  dns(): Promise<TrafficOutcome> {
    return this.traffic(['dns', this.server]);
  }

  ntp(): Promise<TrafficOutcome> {
    return this.traffic(['ntp', this.server]);
  }

  smtp(): Promise<TrafficOutcome> {
    return this.traffic(['smtp', this.server]);
  }

  udp(datagrams: number, size = 1000): Promise<TrafficOutcome> {
    return this.traffic(['udp', this.server, datagrams, size]);
  }

  /** Uploads `bytes` to the camera cloud and waits until all of it has arrived. */
  upload(bytes: number, bytesPerSecond = 0): Promise<TrafficOutcome> {
    return this.traffic(['upload', this.server, bytes, bytesPerSecond]);
  }

  /** Starts an upload that runs until stopped. */
  startUpload(bytesPerSecond: number): RunningUpload {
    const argv = trafficArgv(this.spec, [...this.fromArgs(), 'upload', this.server, 0, bytesPerSecond]);
    return new RunningUpload(spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] }));
  }

  private fromArgs(): string[] {
    return this.from === undefined ? [] : ['--from', this.from];
  }

  private async traffic(args: (string | number)[]): Promise<TrafficOutcome> {
    const result = await run(trafficArgv(this.spec, [...this.fromArgs(), ...args]), { timeoutMs: TRAFFIC_TIMEOUT_MS });
    const outcome = result.stdout
      .split('\n')
      .map(parseReport)
      .find((report): report is TrafficOutcome => report !== undefined && 'ok' in report);
    return outcome ?? { ok: false, detail: `the traffic tool failed (exit ${result.code}): ${result.stderr.trim()}` };
  }
}

/** A camera (or the NVR) on the lab's LAN, and the traffic it can make towards the internet host. */
export class LabHost extends HostTraffic {
  private current: string;
  private readonly extra6: string[] = [];

  constructor(spec: LabHostSpec) {
    super(spec, INTERNET.address);
    this.current = spec.address;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Its IPv4 address now (the spec's, unless DHCP moved it: see Lab.moveHost). */
  get address(): string {
    return this.current;
  }

  /** Its global IPv6 address. */
  get address6(): string {
    return this.spec.address6;
  }

  get mac(): string {
    return this.spec.mac;
  }

  /**
   * The same traffic over IPv6, from its global address or `from` (one added with addIpv6Address): always an
   * explicit one, since with several addresses the kernel's choice depends on how they compare with the destination.
   */
  ipv6(from: string = this.spec.address6): HostTraffic {
    return new HostTraffic(this.spec, INTERNET.address6, from);
  }

  /** Gives the host another address on the LAN, as a new DHCP lease would: the old one is gone, the gateway stays. */
  async readdress(address: string): Promise<void> {
    const ip = (...args: string[]): Promise<string> => runChecked([tool('ip'), '-n', this.spec.namespace, ...args], { timeoutMs: 10_000 });
    await ip('address', 'del', `${this.current}/${LAN_PREFIX_LENGTH}`, 'dev', 'eth0');
    await ip('address', 'add', `${address}/${LAN_PREFIX_LENGTH}`, 'dev', 'eth0');
    // Removing the only address of the subnet took the default route with it.
    await ip('route', 'replace', 'default', 'via', ROUTER.lanAddress);
    this.current = address;
  }

  /**
   * Adds another global IPv6 address in the LAN's prefix, as IPv6 privacy extensions do every day or so: an address
   * no configuration can know in advance. Removed again by removeExtraIpv6Addresses.
   */
  async addIpv6Address(address: string): Promise<void> {
    if (!isLan6Address(address) || address === this.spec.address6) throw new Error(`${address} is not a new address of the lab's IPv6 LAN`);
    await runChecked([tool('ip'), '-n', this.spec.namespace, '-6', 'address', 'add', `${address}/${LAN6_PREFIX_LENGTH}`, 'dev', 'eth0', 'nodad'], { timeoutMs: 10_000 });
    this.extra6.push(address);
  }

  async removeExtraIpv6Addresses(): Promise<void> {
    for (const address of this.extra6.splice(0)) {
      await runChecked([tool('ip'), '-n', this.spec.namespace, '-6', 'address', 'del', `${address}/${LAN6_PREFIX_LENGTH}`, 'dev', 'eth0'], { timeoutMs: 10_000 });
    }
  }
}

/** The internet host's servers, and what they have seen so far. */
export class InternetHost {
  readonly events: InternetEvent[] = [];

  private constructor() {}

  /** Starts the servers; they stop with the lab (and by themselves when this process goes away). */
  static async start(): Promise<InternetHost> {
    const argv = inNamespace(INTERNET.namespace, [process.execPath, join(COMPILED_LAB_DIR, 'internetHost.js'), INTERNET.address, INTERNET.address6]);
    const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const host = new InternetHost();
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the internet host did not start within ${INTERNET_READY_TIMEOUT_MS / 1000} s: ${errors.trim()}`)), INTERNET_READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the internet host exited (${code ?? 'signal'}): ${errors.trim()}`));
      });
      if (child.stdout !== null) {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const event = parseEvent(line);
          if (event === undefined) return;
          if (event.event === 'ready') {
            clearTimeout(timer);
            resolve();
          } else {
            host.events.push(event);
          }
        });
      }
    });
    try {
      await ready;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return host;
  }

  /** How many times a service answered this LAN address. */
  answers(service: 'dns' | 'ntp' | 'smtp', from: string): number {
    return this.events.filter((event) => event.event === 'answered' && event.service === service && event.from === from).length;
  }
}

export interface LabOptions {
  /** The router's configuration at power-on (`show configuration commands` text); default: fresh from the wizard. */
  readonly initialConfig?: string;
}

export interface LabCameraConfig {
  readonly name: string;
  readonly address: string;
  readonly allow?: readonly string[];
  readonly mac?: string;
  readonly allowMinutes?: number;
}

export interface LabPlatformOptions {
  readonly pollSeconds?: number;
  readonly leak?: { attempts?: number; uploadMB?: number; windowMinutes?: number; quietMinutes?: number };
  /** The cameras in the plugin's configuration; default: Front Door and Garage at their lab addresses, `dns` allowed. */
  readonly cameras?: readonly LabCameraConfig[];
}

function initialRouterState(initialConfig: string): ReturnType<typeof createInitialState> {
  return createInitialState({
    initialConfig,
    wanInterface: ROUTER.wanInterface,
    lanHosts: LAN_HOSTS.map((host) => ({ ip: host.address, mac: host.mac, hostname: host.hostname, ipv6: [host.address6] })),
  });
}

export class Lab {
  readonly frontDoor = new LabHost(FRONT_DOOR);
  readonly garage = new LabHost(GARAGE);
  readonly nvr = new LabHost(NVR);

  constructor(
    /** The router's interpreter, state and dataplane, for looking inside and injecting faults. */
    readonly router: SimulatedEdgeRouter,
    readonly ssh: LabSshServer,
    readonly internet: InternetHost,
    /** The kernel's LOG lines of the router's rules, as they reach its /var/log/messages. */
    readonly kernelLog: KernelLog,
  ) {}

  get hosts(): LabHost[] {
    return [this.frontDoor, this.garage, this.nvr];
  }

  /** The Camera Guard platform block of a Homebridge pointed at this lab's router, with both cameras on it. */
  platformConfig(options: LabPlatformOptions = {}): Record<string, unknown> {
    return {
      pollSeconds: options.pollSeconds ?? 1,
      leak: { attempts: 1, uploadMB: 1, windowMinutes: 1, quietMinutes: 0.1, ...options.leak },
      routers: [
        {
          name: 'Lab Router',
          host: ROUTER.lanAddress,
          port: 22,
          username: ROUTER.sshUser,
          privateKeyFile: this.ssh.privateKeyFile,
          hostKey: this.ssh.hostKeyFingerprint,
          wanInterface: ROUTER.wanInterface,
          ruleSet: 'CAMGUARD_OUT',
          firstRule: 4000,
          cameras: options.cameras ?? [this.frontDoor, this.garage].map((camera) => ({ name: camera.name, address: camera.address, allow: ['dns'] })),
        },
      ],
    };
  }

  /**
   * A router reboot: SSH goes down (every connection cut), the saved configuration becomes the active one and is
   * loaded again, counters restart at zero and connection tracking is empty; then, `sshDownMs` later, SSH comes back.
   */
  async rebootRouter(options: { sshDownMs?: number } = {}): Promise<void> {
    await this.ssh.stop();
    await this.router.reboot();
    await sleep(options.sshDownMs ?? 0);
    await this.ssh.start();
  }

  /**
   * Makes the next configuration transaction that reaches `point` pause there for `ms` (see routerHolds.ts):
   * `await (await lab.holdRouterAt('commit-done', 1000)).reached(10_000)` resolves true while it is paused there,
   * which is the moment to inject a fault.
   */
  holdRouterAt(point: HoldPoint, ms: number): Promise<RouterHold> {
    return RouterHold.request(ROUTER_STATE_FILE, point, ms);
  }

  /** Withdraws a hold that no transaction has reached yet (see holdRouterAt), if there is one. */
  withdrawHold(): Promise<void> {
    return RouterHold.withdraw(ROUTER_STATE_FILE);
  }

  /**
   * DHCP gives a host another address: the host's interface changes and the router's lease table says so. The new
   * address must be a free one of the lab's LAN, and this machine must still reach it only through the lab.
   */
  async moveHost(host: LabHost, address: string): Promise<void> {
    const taken = [ROUTER.lanAddress, HOMEBRIDGE_HOST.address, ...this.hosts.map((other) => other.address)];
    if (!isFreeLanAddress(address, taken)) throw new Error(`${address} is not a free address of the lab's LAN`);
    await assertLanRoutedIntoLab([address]);
    await host.readdress(address);
    await this.router.setLanHosts(this.hosts.map((other) => ({ ip: other.address, mac: other.mac, hostname: other.spec.hostname, ipv6: [other.address6] })));
  }

  /**
   * A different router: the state starts over from `initialConfig` (faults cleared too), as after a factory reset
   * and restore of its configuration and SSH keys.
   */
  async resetRouter(initialConfig: string): Promise<void> {
    await this.ssh.stop();
    const fresh = initialRouterState(initialConfig);
    await this.router.store.update((state) => {
      Object.assign(state, fresh);
    });
    await this.router.reboot();
    // The router's own host key and the plugin's login key, whatever a test replaced them with.
    this.ssh.resetKeys();
    await this.ssh.start();
  }

  /**
   * Makes stopping the lab also end this process (a Homebridge pointed at it), also when the lab's owner crashed
   * and the next run cleans up.
   */
  trackProcess(pid: number | undefined): void {
    trackCompanion(pid);
  }

  /** Whether a router login (or a tool it runs) is running: see routerLoginRunning. */
  loginRunning(): Promise<boolean> {
    return routerLoginRunning();
  }

  /**
   * `net.netfilter.nf_conntrack_acct` in the router's kernel, as the owner sets it on EdgeOS (off there by default; the
   * lab starts with it on). Flows opened while it is off carry no counts.
   */
  setConntrackAccounting(enabled: boolean): Promise<void> {
    return setConntrackAccounting(enabled);
  }

  /** `conntrack -L -s <address>` on the router. */
  async flows(address: string): Promise<string> {
    return (await this.router.dataplane.listFlows(address)).stdout;
  }

  stop(): Promise<void> {
    return stopLab();
  }
}

/**
 * Whether a router login (or a tool it runs) is running: any process in the router namespace but sshd. A login whose
 * connection was cut goes on until it notices, so once none runs, none can change the router until a new login.
 */
export async function routerLoginRunning(): Promise<boolean> {
  const pids = await namespacePids(ROUTER.namespace);
  return pids.some((pid) => {
    try {
      return !['sshd', 'sshd-session', 'sshd-auth'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

/** Makes stopping the lab end this process too (see Lab.trackProcess). */
function trackCompanion(pid: number | undefined): void {
  const started = pid === undefined ? undefined : processStartTime(pid);
  if (started !== undefined) appendFileSync(COMPANIONS_FILE, `${pid} ${started}\n`);
}

/** The tracked companion processes still running (a process that reuses a recorded id is someone else's). */
function trackedCompanions(): number[] {
  let lines: string[];
  try {
    lines = readFileSync(COMPANIONS_FILE, 'utf8').split('\n');
  } catch {
    return [];
  }
  return lines.flatMap((line) => {
    const [pid, started] = line.split(' ');
    return pid !== undefined && started !== undefined && processStartTime(Number(pid)) === started ? [Number(pid)] : [];
  });
}

/** Starts the lab, after removing whatever a previous (perhaps crashed) run left behind. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) throw new LabUnavailableError(unavailable);
  await stopLab();
  try {
    mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(OWNER_FILE, `${process.pid}\n`);
    await createLabNetwork();
    const store = await FileStateStore.create(ROUTER_STATE_FILE, initialRouterState(options.initialConfig ?? FRESH_LAB_ROUTER_CONFIG));
    const router = new SimulatedEdgeRouter({ store, dataplane: new LabDataplane({ namespace: ROUTER.namespace }) });
    // Power-on: the saved configuration is loaded into the kernel, which also loads connection tracking.
    await router.reboot();
    await enableConntrackAccounting();
    const kernelLog = await KernelLog.start(store, trackCompanion);
    const ssh = await LabSshServer.prepare(join(LAB_DIR, 'ssh'), ROUTER_STATE_FILE);
    await ssh.start();
    const internet = await InternetHost.start();
    return new Lab(router, ssh, internet, kernelLog);
  } catch (error) {
    await stopLab();
    throw error;
  }
}

/**
 * Removes everything a lab leaves: its processes (the kernel log's reader too), namespaces, veths, the kernel's
 * logging setting and the state directory. Safe to call any time.
 */
export async function stopLab(): Promise<void> {
  await terminateProcesses(trackedCompanions());
  restoreKernelLogSetting();
  await removeLabNetwork();
  removeRouterAccounts();
  rmSync(LAB_DIR, { recursive: true, force: true });
}
