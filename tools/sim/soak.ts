/**
 * The soak: a real Homebridge with the plugin, a real HomeKit controller toggling cameras at random moments, and
 * the router failing in every way we know of in between. At the end, after the faults stop, every camera's HomeKit
 * state must equal what the router enforces, every accepted request must either be in force or have been reported
 * as failed, no configuration session may be left open, and Homebridge must have printed no unhandled rejection.
 *
 * It runs against one of two routers (`target`):
 * - `simulator`: the simulated EdgeRouter over real SSH on localhost, with its faults injected in-process;
 * - `lab`: the router lab (network namespaces, real OpenSSH, real iptables; see tools/lab), with lab-real faults:
 *   the sshd process serving the plugin's connection killed, SSH packets dropped by iptables, sshd stopped, the
 *   router rebooted with SSH down for a while, each at the worst moment of a transaction (before, during or after
 *   the commit), and failed, partial, locked and 30-second commits (see tools/lab/soakTarget.ts).
 *
 * `npm run soak` runs it with 1,000 toggles (in the lab when it can run) and records the figures for
 * docs/RELIABILITY.md; the test suite runs short ones against both.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Lab } from '../lab/lab';
import { startLabSoakTarget } from '../lab/soakTarget';
import { startHomebridge } from './homebridgeRunner';
import type { RunningHomebridge } from './homebridgeRunner';
import { heapTrend } from './heapTrend';
import type { HeapTrend } from './heapTrend';
import { HomeKitClient, NO_RESPONSE } from './homeKitClient';
import { SIM_USER, startSimulatedRouter } from './simulatedSetup';
import type { SimulatedRouterSetup } from './simulatedSetup';

/** The simulator's faults. */
export const FAULTS = [
  'commit fails',
  'commit partly applies',
  'commit locked 3 times in a row',
  'slow commit (2 s)',
  'SSH connection cut',
  'SSH connection cut during commit',
  'sshd stopped for 1.5 s',
  'router reboot',
] as const;
export type Fault = (typeof FAULTS)[number];

/**
 * A fault the soak injects itself, on either router: Homebridge stopped by SIGTERM while a commit is under way,
 * then started again on the same storage (same accessories, same pairing). Only in the first half of a run, so
 * that one Homebridge serves the second half and its heap can be measured over it.
 */
export const HOMEBRIDGE_RESTART = 'Homebridge stopped by SIGTERM during a commit, then started again';

export type SoakTargetName = 'simulator' | 'lab';

export interface SoakCamera {
  readonly name: string;
  readonly address: string;
  readonly allow: readonly string[];
}

/** What the router enforces for a camera: its drop rule disabled, enforced, or not there at all. */
export type EnforcedAccess = 'allowed' | 'blocked' | 'missing';

/** The router a soak runs against, and the faults it can inject. */
export interface SoakTarget {
  readonly name: SoakTargetName;
  /** What the toggles ran against, in a sentence for docs/RELIABILITY.md. */
  readonly description: string;
  readonly faults: readonly string[];
  /**
   * What happens to a fault picked while another is still running: `queue` runs it next; `skip` drops it (lab
   * faults wait for their moment in a transaction, so a queue of them would outlast the toggles).
   */
  readonly whileFaultRuns: 'queue' | 'skip';
  /** The longest pause between two toggles, and the share of toggles sent right after the previous one (a scene). */
  readonly pacing: { readonly maxPauseMs: number; readonly sceneRate: number };
  /** How long the router may take, once the faults stop, until HomeKit and the router agree. */
  readonly settleTimeoutMs: number;
  cameras(count: number): SoakCamera[];
  /** The router block of the plugin's configuration. */
  routerConfig(cameras: readonly SoakCamera[]): Record<string, unknown>;
  /**
   * Injects one fault; resolves false when its moment never came and nothing was injected. `stop` is aborted when
   * the toggles end: a fault still waiting for its moment then gives up (no transaction will come).
   */
  inject(fault: string, stop: AbortSignal): Promise<boolean>;
  /** Ends whatever a fault may have left behind (pending commit faults, slow commits, dropped packets, sshd down). */
  clearFaults(): Promise<void>;
  /**
   * Runs `action` while the next transaction is in its commit, holding it there for about `holdMs`; resolves false
   * when no transaction came in time (nothing was run). The soak stops Homebridge this way.
   */
  duringCommit(action: () => Promise<void>, holdMs: number, stop: AbortSignal): Promise<boolean>;
  /** What the faults caught the plugin doing that it must never do (lab only: a login storm, a login to an impostor). */
  violations?(): readonly string[];
  openSessions(): Promise<number>;
  /** Sessions found left open during the run, described (lab only: a later reboot would close them unseen). */
  sessionsLeftOpen?(): readonly string[];
  /** The router's active configuration (`show configuration commands`). */
  activeConfig(): Promise<string>;
  /** Real traffic from the cameras that have a host, compared with what the router enforces (lab only). */
  checkTraffic?(cameras: readonly SoakCamera[], enforced: ReadonlyMap<string, EnforcedAccess>): Promise<string[]>;
  /** Makes sure Homebridge ends with the target, even if this process crashes (lab only). */
  trackProcess?(pid: number | undefined): void;
  dispose(): Promise<void>;
}

export interface SoakOptions {
  readonly toggles: number;
  readonly cameras: number;
  /** Chance that a toggle is followed by a fault. */
  readonly faultRate: number;
  readonly seed: number;
  /** The router to run against; default `simulator`. */
  readonly target?: SoakTargetName;
  /** For `lab`: a lab already running (its router is reset to a fresh one first); otherwise one is started and stopped. */
  readonly lab?: Lab;
  /**
   * `random` (default) draws the faults in random rounds (each fault once a round); `cycle` goes through them in order, a missed one again, so a
   * short run meets them all (with `whileFaultRuns: 'skip'`, where a fault is picked only once the one before ended).
   */
  readonly faultOrder?: 'random' | 'cycle';
  /** The faults to pick from; default all of the target's. */
  readonly faults?: readonly string[];
  /** Overrides the target's pacing of toggles. */
  readonly maxPauseMs?: number;
  readonly sceneRate?: number;
  readonly onProgress?: (message: string) => void;
  /** Receives every line Homebridge prints (debug included). */
  readonly onLine?: (line: string) => void;
}

export interface RssSample {
  readonly toggle: number;
  readonly mb: number;
}

export interface SoakResult {
  readonly target: SoakTargetName;
  readonly targetDescription: string;
  readonly toggles: number;
  readonly accepted: number;
  readonly refusedNoResponse: number;
  /** Faults injected, by name, in the target's order. */
  readonly faults: Record<string, number>;
  /** Faults picked whose moment never came (no transaction reached it in time): nothing was injected. */
  readonly faultsMissed: Record<string, number>;
  /** Cameras whose HomeKit state differs from the router's at the end. */
  readonly wrongStates: number;
  /** Cameras whose last accepted request is neither in force nor reported as failed. */
  readonly lostStates: number;
  /** Configuration sessions open on the router at the end. */
  readonly openSessions: number;
  /** Lab only: sessions seen open during the run while no login was running (left open); undefined on the simulator. */
  readonly sessionsLeftOpen: number | undefined;
  /** Times HomeKit saw the router as unreachable (a leak sensor's StatusFault went up), and the longest of them. */
  readonly outages: number;
  readonly longestOutageSeconds: number;
  /** Unhandled rejections in Homebridge's output (it runs with --unhandled-rejections=warn, so each is printed, not fatal). */
  readonly unhandledRejections: number;
  /** Homebridge ended or shut itself down before the soak stopped it (an uncaught exception does that). */
  readonly homebridgeCrashed: boolean;
  /** Lab only: cameras whose real packets disagree with the rules the router enforces; undefined on the simulator. */
  readonly trafficMismatches: number | undefined;
  /** Seconds from the end of the last fault until HomeKit and the router agreed (the plugin's own recovery). */
  readonly recoverySeconds: number;
  /** Homebridge's resident set size (VmRSS in /proc/PID/status): right after pairing, after warm-up, at the end. */
  readonly homebridgeRssStartMB: number;
  readonly homebridgeRssWarmMB: number;
  readonly homebridgeRssEndMB: number;
  /** The highest RSS of the run (VmHWM). */
  readonly homebridgeRssPeakMB: number;
  /** RSS every tenth of the run, from the end of the warm-up on. */
  readonly rssSamples: readonly RssSample[];
  /** Times Homebridge was stopped by SIGTERM and started again (a fault; only in the first half of the run). */
  readonly homebridgeRestarts: number;
  /**
   * The live JavaScript values (objects, arrays, closures, strings, numbers) of the Homebridge that served the end
   * of the run, from heap snapshots after a full garbage collection (see heapProbe.ts), sampled every twentieth of
   * the run from its warm-up on, and their trend (see heapTrend.ts).
   */
  readonly heapSamples: readonly RssSample[];
  readonly heap: HeapTrend;
  /** V8's own part of the same heap (compiled code, hidden classes, internals), first sample and last: shown apart. */
  readonly heapCodeMB: { readonly first: number; readonly last: number };
  /** Lab only: what the faults caught the plugin doing that it must never do; undefined on the simulator. */
  readonly faultViolations: number | undefined;
  readonly seconds: number;
  /** What went wrong, for the cameras that ended wrong or lost and the rest (empty when all is well). */
  readonly evidence: readonly string[];
}

/** A small, seeded generator, so a failing soak can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const toMB = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 100) / 100;

/** A memory figure of a process from /proc/PID/status, in MB (0 when the process is gone). */
function procStatusMB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) {
    return 0;
  }
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What `show configuration commands` says about a camera's drop rule: the plugin's rule in `ruleSet` that drops
 * the camera's address, enforced or carrying `disable`.
 */
export function enforcedAccess(config: string, address: string, ruleSet = 'CAMGUARD_OUT'): EnforcedAccess {
  const lines = config.split('\n');
  const prefix = `set firewall name ${escapeRegExp(ruleSet)} rule (\\d+) `;
  const rulesOf = (pattern: string): Set<string> =>
    new Set(lines.map((line) => new RegExp(`^${prefix}${pattern}$`).exec(line.trim())?.[1]).filter((rule): rule is string => rule !== undefined));
  const fromCamera = rulesOf(`source address ${escapeRegExp(address)}`);
  const drops = [...rulesOf('action drop')].filter((rule) => fromCamera.has(rule));
  if (drops.length === 0) {
    return 'missing';
  }
  const disabled = rulesOf('disable');
  return drops.every((rule) => disabled.has(rule)) ? 'allowed' : 'blocked';
}

/** The simulated EdgeRouter, with the faults the soak has always injected into it. */
async function startSimulatorTarget(): Promise<SoakTarget> {
  const sim: SimulatedRouterSetup = await startSimulatedRouter();
  const inject = async (fault: Fault): Promise<void> => {
    switch (fault) {
      case 'commit fails':
        return sim.router.failNextCommits('fail');
      case 'commit partly applies':
        return sim.router.failNextCommits('partial');
      case 'commit locked 3 times in a row':
        return sim.router.failNextCommits('locked', 3);
      case 'slow commit (2 s)':
        await sim.router.setCommitDelay(2_000);
        await sleep(4_000);
        return sim.router.setCommitDelay(0);
      case 'SSH connection cut':
        return sim.dropConnections();
      case 'SSH connection cut during commit': {
        await sim.router.setCommitDelay(800);
        const deadline = Date.now() + 3_000;
        while (Date.now() < deadline && (await sim.router.openSessionCount()) === 0) {
          await sleep(20);
        }
        sim.dropConnections();
        return sim.router.setCommitDelay(0);
      }
      case 'sshd stopped for 1.5 s':
        await sim.stop();
        await sleep(1_500);
        return sim.start();
      case 'router reboot':
        return sim.router.reboot();
    }
  };
  return {
    name: 'simulator',
    description: 'the EdgeOS interpreter of tools/sim/edgeos behind an in-process SSH server on localhost, with an in-memory firewall',
    faults: FAULTS,
    whileFaultRuns: 'queue',
    pacing: { maxPauseMs: 300, sceneRate: 0 },
    settleTimeoutMs: 90_000,
    cameras: (count) => Array.from({ length: count }, (_, i) => ({ name: `Camera ${i + 1}`, address: `192.0.2.${60 + i}`, allow: ['dns'] })),
    routerConfig: (cameras) => ({ name: 'Soak', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras }),
    inject: async (fault) => {
      await inject(fault as Fault);
      return true;
    },
    clearFaults: () => sim.router.clearFaults(),
    duringCommit: async (action, holdMs, stop) => {
      await sim.router.setCommitDelay(holdMs);
      const deadline = Date.now() + 20_000;
      while ((await sim.router.store.read()).commitLock === null) {
        if (Date.now() > deadline || stop.aborted) {
          await sim.router.setCommitDelay(0);
          return false;
        }
        await sleep(20);
      }
      // Only this commit is slow: each commit reads the delay when it takes the lock.
      await sim.router.setCommitDelay(0);
      await action();
      return true;
    },
    openSessions: () => sim.router.openSessionCount(),
    activeConfig: () => sim.router.activeConfigCommands(),
    dispose: () => sim.dispose(),
  };
}

/** Homebridge prints unhandled rejections as warnings (counted by the soak) instead of ending at the first. */
const COUNTING_NODE_OPTIONS = ['--unhandled-rejections=warn'];

/**
 * Node reports an unhandled rejection as "UnhandledPromiseRejectionWarning: <the error>" followed, the first time,
 * by a line that explains what one is ("...: Unhandled promise rejection. This error originated..."): one counts.
 */
const UNHANDLED = /unhandled/i;
const UNHANDLED_EXPLANATION = /Unhandled promise rejection\. This error originated/;
const SELF_SHUTDOWN = /Got SIGTERM, shutting down/;

/** A stopping Homebridge gets 4 s to finish its transaction (see SHUTDOWN_GRACE_MS); a commit held longer outlasts it. */
const RESTART_HOLDS_MS = [1_000, 8_000];

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const rand = random(options.seed);
  const target = options.target === 'lab' ? await startLabSoakTarget({ lab: options.lab }) : await startSimulatorTarget();
  const cameras = target.cameras(options.cameras);
  const allFaults = [...target.faults, HOMEBRIDGE_RESTART];
  const faultChoice = options.faults ?? allFaults;
  const unknownFault = faultChoice.find((name) => !allFaults.includes(name));
  if (unknownFault !== undefined || faultChoice.length === 0) {
    await target.dispose();
    throw new Error(unknownFault === undefined ? 'no faults to pick from' : `the ${target.name} cannot inject "${unknownFault}"`);
  }
  const maxPauseMs = options.maxPauseMs ?? target.pacing.maxPauseMs;
  const sceneRate = options.sceneRate ?? target.pacing.sceneRate;
  const storage = mkdtempSync(join(tmpdir(), 'camera-guard-soak-'));
  /** Every line of every Homebridge of the run, in order: a restart does not lose what the one before said. */
  const output: string[] = [];
  let homebridge: RunningHomebridge | undefined;
  let home: HomeKitClient | undefined;
  let instances = 0;
  let stoppingOnPurpose = false;
  let exitedEarly = false;
  let stopWatching = (): void => undefined;

  const startInstance = async (): Promise<{ hb: RunningHomebridge; client: HomeKitClient }> => {
    instances++;
    const hb = await startHomebridge({
      storage,
      heapFile: join(storage, `heap-${instances}.jsonl`),
      nodeOptions: COUNTING_NODE_OPTIONS,
      onLine: (line) => {
        output.push(line);
        options.onLine?.(line);
      },
      platform: {
        pollSeconds: 1,
        leak: { attempts: 1000000, uploadMB: 0, windowMinutes: 1, quietMinutes: 1 },
        // The soak measures what toggling and polling keep; the network data set is a fixed table, read once, whose
        // cost the bench measures on its own.
        networkData: { source: 'off' },
        routers: [target.routerConfig(cameras)],
      },
    });
    homebridge = hb;
    target.trackProcess?.(hb.child.pid);
    hb.child.once('exit', () => {
      exitedEarly ||= !stoppingOnPurpose;
    });
    const client = home === undefined ? await HomeKitClient.pair(hb.username, hb.port, hb.pin) : await HomeKitClient.connect(hb.username, hb.port, home.pairing);
    home = client;
    return { hb, client };
  };

  try {
    let { hb, client } = await startInstance();
    const switchIds = (): string[] => cameras.map((camera) => client.id(`${camera.name} Internet`, 'on'));
    const faultId = (): string => client.id(`${cameras[0]!.name} Leak`, 'statusFault');
    let switches = switchIds();
    await client.waitForValue(faultId(), 0, 30_000);
    // HomeKit's view of outages: the first camera's leak sensor reports a fault while the router cannot be reached.
    const outageMs: number[] = [];
    let outageSince: number | undefined;
    let watched = client;
    let eventsSeen = 0;
    const outageWatch = setInterval(() => {
      if (watched !== client) {
        watched = client;
        eventsSeen = 0;
      }
      const fault = faultId();
      for (; eventsSeen < watched.events.length; eventsSeen++) {
        const event = watched.events[eventsSeen]!;
        if (event.id !== fault) {
          continue;
        }
        const faulty = event.value === true || event.value === 1;
        if (faulty && outageSince === undefined) {
          outageSince = Date.now();
        } else if (!faulty && outageSince !== undefined) {
          outageMs.push(Date.now() - outageSince);
          outageSince = undefined;
        }
      }
    }, 100);
    stopWatching = () => clearInterval(outageWatch);
    const rssStart = procStatusMB(hb.child.pid, 'VmRSS');
    const warmupToggles = Math.max(1, Math.round(options.toggles / 10));
    const heapEvery = Math.max(1, Math.round(options.toggles / 20));
    let rssWarm = rssStart;
    const rssSamples: RssSample[] = [];
    /**
     * Heap samples of the Homebridge running now, from its warm-up on (a restart starts a new series): its live values,
     * and V8's own part (code, hidden classes), which grows as V8 warms up and is reported apart.
     */
    let heapSeries: { toggle: number; valueBytes: number; engineBytes: number }[] = [];
    let instanceStartToggle = 0;
    let restarts = 0;

    // While Homebridge restarts, nobody can toggle (the Home app shows No Response); the toggles wait for it.
    let restarting: Promise<void> | undefined;
    let toggleInFlight: Promise<unknown> = Promise.resolve();
    let toggleNow = 0;
    let nextRestartHold = 0;
    const restartHomebridge = async (): Promise<void> => {
      let done = (): void => undefined;
      restarting = new Promise<void>((resolve) => (done = resolve));
      try {
        await toggleInFlight.catch(() => undefined);
        stoppingOnPurpose = true;
        await client.close();
        await hb.stop();
        stoppingOnPurpose = false;
        ({ hb, client } = await startInstance());
        switches = switchIds();
        restarts++;
        heapSeries = [];
        instanceStartToggle = toggleNow;
      } finally {
        restarting = undefined;
        done();
      }
    };
    const inject = async (fault: string, stop: AbortSignal): Promise<boolean> => {
      if (fault !== HOMEBRIDGE_RESTART) {
        return target.inject(fault, stop);
      }
      const holdMs = RESTART_HOLDS_MS[nextRestartHold++ % RESTART_HOLDS_MS.length]!;
      // A restart picked in the first half but whose commit comes only in the second is not made (see HOMEBRIDGE_RESTART).
      const firstHalf = new AbortController();
      const watch = setInterval(() => {
        if (toggleNow > options.toggles / 2 || stop.aborted) firstHalf.abort();
      }, 50);
      try {
        return await target.duringCommit(() => (firstHalf.signal.aborted ? Promise.resolve() : restartHomebridge()), holdMs, firstHalf.signal);
      } finally {
        clearInterval(watch);
      }
    };

    const faults = Object.fromEntries(allFaults.map((name) => [name, 0]));
    const faultsMissed = Object.fromEntries(allFaults.map((name) => [name, 0]));
    const lastAccepted = new Map<number, { value: boolean; outputIndex: number }>();
    let accepted = 0;
    let refused = 0;
    let faultChain: Promise<void> = Promise.resolve();
    let faultsInFlight = 0;
    let faultError: Error | undefined;
    let nextInCycle = 0;
    /**
     * Random order draws from a bag holding each fault once, refilled when empty: every fault comes up once per round
     * in a random order, so a run of a few rounds meets them all, which plain random picks need not.
     */
    let bag: string[] = [];
    const drawFault = (pickable: (name: string) => boolean): string => {
      for (;;) {
        if (bag.length === 0) {
          bag = [...faultChoice];
        }
        const [drawn] = bag.splice(Math.floor(rand() * bag.length), 1);
        if (drawn !== undefined && pickable(drawn)) {
          return drawn;
        }
      }
    };
    const togglesDone = new AbortController();
    for (let toggle = 1; toggle <= options.toggles; toggle++) {
      toggleNow = toggle;
      const index = Math.floor(rand() * cameras.length);
      const value = rand() < 0.5;
      while (restarting !== undefined) {
        await restarting;
      }
      const outputIndex = output.length;
      const sent = client.set(switches[index]!, value);
      toggleInFlight = sent;
      const { status } = await sent;
      if ((status ?? 0) === 0) {
        accepted++;
        lastAccepted.set(index, { value, outputIndex });
      } else if (status === NO_RESPONSE) {
        refused++;
      } else {
        throw new Error(`HomeKit answered status ${status} to a toggle`);
      }
      // Restarts only in the first half: the second half is one Homebridge, whose heap is measured.
      const pickable = (name: string): boolean => name !== HOMEBRIDGE_RESTART || toggle <= options.toggles / 2;
      const choice = faultChoice.filter(pickable);
      if (choice.length > 0 && rand() < options.faultRate && !(target.whileFaultRuns === 'skip' && faultsInFlight > 0)) {
        // In a cycle, a fault whose moment never came is picked again next, so that a short run meets every fault.
        while (options.faultOrder === 'cycle' && !pickable(faultChoice[nextInCycle % faultChoice.length]!)) {
          nextInCycle++;
        }
        const chosen = options.faultOrder === 'cycle' ? faultChoice[nextInCycle % faultChoice.length]! : drawFault(pickable);
        faultsInFlight++;
        // Faults run one after another, alongside the toggles.
        faultChain = faultChain
          .then(() => (togglesDone.signal.aborted ? false : inject(chosen, togglesDone.signal)))
          .then(
            (hit) => {
              (hit ? faults : faultsMissed)[chosen]!++;
              if (hit && options.faultOrder === 'cycle' && faultChoice[nextInCycle % faultChoice.length] === chosen) {
                nextInCycle++;
              }
            },
            (error: unknown) => {
              faultError ??= error instanceof Error ? error : new Error(`injecting "${chosen}" failed: ${JSON.stringify(error)}`);
            },
          )
          .finally(() => {
            faultsInFlight--;
          });
      }
      if (toggle === warmupToggles) {
        rssWarm = procStatusMB(hb.child.pid, 'VmRSS');
      }
      if (toggle >= warmupToggles && (toggle - warmupToggles) % warmupToggles === 0) {
        rssSamples.push({ toggle, mb: procStatusMB(hb.child.pid, 'VmRSS') });
      }
      if (toggle - instanceStartToggle >= warmupToggles && toggle % heapEvery === 0 && restarting === undefined) {
        const sample = await hb.sampleHeap();
        if (sample !== undefined) {
          heapSeries.push({ toggle, valueBytes: sample.valueBytes, engineBytes: sample.engineBytes });
        }
      }
      if (toggle % 100 === 0) {
        options.onProgress?.(`${toggle} toggles, ${accepted} accepted, ${refused} refused with No Response, ${restarts} Homebridge restart(s)`);
      }
      const scene = sceneRate > 0 && rand() < sceneRate;
      await sleep(scene ? 0 : Math.floor(rand() * maxPauseMs));
    }
    togglesDone.abort();
    await faultChain;
    if (faultError !== undefined) {
      throw faultError;
    }
    await target.clearFaults();
    const faultsEnded = Date.now();

    // Let everything settle: the router answers, and HomeKit agrees with it for a few polls in a row.
    const agree = async (): Promise<boolean> => {
      const config = await target.activeConfig();
      for (const [index, id] of switches.entries()) {
        const shown = (await client.get(id)).value;
        const enforced = enforcedAccess(config, cameras[index]!.address);
        if (enforced === 'missing' || (shown === 1 || shown === true) !== (enforced === 'allowed')) {
          return false;
        }
      }
      return (await client.get(faultId())).value === 0;
    };
    const deadline = Date.now() + target.settleTimeoutMs;
    let streak = 0;
    let agreedAt: number | undefined;
    while (Date.now() < deadline && streak < 3) {
      if (await agree()) {
        agreedAt ??= Date.now();
        streak++;
      } else {
        agreedAt = undefined;
        streak = 0;
      }
      await sleep(1_000);
    }
    const endSample = await hb.sampleHeap();
    if (endSample !== undefined && options.toggles - instanceStartToggle >= warmupToggles) {
      heapSeries.push({ toggle: options.toggles, valueBytes: endSample.valueBytes, engineBytes: endSample.engineBytes });
    }

    let wrongStates = 0;
    let lostStates = 0;
    const evidence: string[] = [];
    const enforcedNow = new Map<string, EnforcedAccess>();
    const finalConfig = await target.activeConfig();
    for (const [index, id] of switches.entries()) {
      const camera = cameras[index]!;
      const shown = (await client.get(id)).value;
      const enforced = enforcedAccess(finalConfig, camera.address);
      enforcedNow.set(camera.address, enforced);
      if (enforced === 'missing' || (shown === 1 || shown === true) !== (enforced === 'allowed')) {
        wrongStates++;
        evidence.push(`${camera.name}: HomeKit shows ${String(shown)}, the router has ${enforced === 'missing' ? 'no drop rule for it' : enforced === 'allowed' ? 'access on' : 'access off'}`);
      }
      const last = lastAccepted.get(index);
      if (last && (enforced === 'allowed') !== last.value) {
        const reported = output.slice(last.outputIndex).some((line) => line.includes(`"${camera.name}": could not`));
        if (!reported) {
          lostStates++;
          evidence.push(`${camera.name}: last accepted ${last.value ? 'on' : 'off'} (output line ${last.outputIndex}) is not in force and was not reported`);
        }
      }
    }
    const traffic = target.checkTraffic === undefined ? undefined : await target.checkTraffic(cameras, enforcedNow);
    evidence.push(...(traffic ?? []));
    const unhandled = output.filter((line) => UNHANDLED.test(line) && !UNHANDLED_EXPLANATION.test(line));
    evidence.push(...unhandled.slice(0, 5).map((line) => `Homebridge: ${line}`));
    // Each stop the soak made prints "Got SIGTERM"; one more means Homebridge stopped itself (an uncaught exception).
    const selfShutdowns = output.filter((line) => SELF_SHUTDOWN.test(line)).length - restarts;
    const crashed = exitedEarly || hb.child.exitCode !== null || selfShutdowns > 0;
    if (crashed) {
      evidence.push(`Homebridge ended by itself during the soak; its last lines: ${output.slice(-5).join(' | ')}`);
    }
    const openSessions = await target.openSessions();
    const leftOpen = target.sessionsLeftOpen?.();
    evidence.push(...(leftOpen ?? []));
    const violations = target.violations?.();
    evidence.push(...(violations ?? []));
    stopWatching();
    if (wrongStates > 0 || lostStates > 0) {
      evidence.push(finalConfig.split('\n').filter((line) => line.includes(' rule ')).join('\n'));
    }
    return {
      target: target.name,
      targetDescription: target.description,
      toggles: options.toggles,
      accepted,
      refusedNoResponse: refused,
      faults,
      faultsMissed,
      wrongStates,
      lostStates,
      openSessions,
      sessionsLeftOpen: leftOpen?.length,
      outages: outageMs.length,
      longestOutageSeconds: Math.round(Math.max(0, ...outageMs) / 100) / 10,
      unhandledRejections: unhandled.length,
      homebridgeCrashed: crashed,
      trafficMismatches: traffic?.length,
      recoverySeconds: agreedAt === undefined ? Math.round((Date.now() - faultsEnded) / 1000) : Math.round((agreedAt - faultsEnded) / 1000),
      homebridgeRssStartMB: rssStart,
      homebridgeRssWarmMB: rssWarm,
      homebridgeRssEndMB: procStatusMB(hb.child.pid, 'VmRSS'),
      homebridgeRssPeakMB: procStatusMB(hb.child.pid, 'VmHWM'),
      rssSamples,
      homebridgeRestarts: restarts,
      heapSamples: heapSeries.map((sample) => ({ toggle: sample.toggle, mb: toMB(sample.valueBytes) })),
      heap: heapTrend(heapSeries.map((sample) => ({ toggle: sample.toggle, bytes: sample.valueBytes }))),
      heapCodeMB: { first: toMB(heapSeries[0]?.engineBytes ?? 0), last: toMB(heapSeries[heapSeries.length - 1]?.engineBytes ?? 0) },
      faultViolations: violations?.length,
      seconds: Math.round((Date.now() - started) / 1000),
      evidence,
    };
  } finally {
    stoppingOnPurpose = true;
    stopWatching();
    await home?.close();
    await homebridge?.stop();
    homebridge?.remove();
    await target.dispose();
  }
}
