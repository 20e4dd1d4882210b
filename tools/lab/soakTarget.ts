/**
 * The soak (tools/sim/soak.ts) against the router lab: the plugin talks to the lab router's real OpenSSH over the
 * lab's LAN, its rules go into real iptables, and the faults are the lab's own:
 *
 * - the SSH connection cut before, during and after the commit, three ways: the sshd process serving it killed,
 *   its packets dropped for a few seconds (iptables DROP on tcp/22 in and out of the router), sshd stopped;
 * - a router reboot (counters zeroed, the saved configuration loaded, SSH down for a while), at any moment, during
 *   a commit, and after a commit but before its save;
 * - commits that fail, partly apply, are "temporarily locked" several times in a row (within the plugin's retries
 *   and beyond them), or take 30 s;
 * - the router refusing the plugin's key for a while (the plugin must back off, not storm), and an impostor's host
 *   key (the plugin must stop at the key: no login attempted, no command run).
 *
 * The soak itself adds a Homebridge stopped by SIGTERM during a commit (see duringCommit) and started again.
 *
 * "Before, during and after the commit" are exact: the router pauses the next transaction at that point (see
 * routerHolds.ts) and the fault is injected while it waits there.
 */
import type { CommitFaultKind } from '../sim/edgeos';
import type { SoakCamera, SoakTarget } from '../sim/soak';
import { routerLoginRunning as loginRunning, startLab } from './lab';
import type { Lab, LabHost } from './lab';
import type { HoldPoint } from './routerHolds';
import { sleep } from './system';
import { FRESH_LAB_ROUTER_CONFIG, HOMEBRIDGE_HOST, spareLanAddress } from './topology';

/** How long a transaction waits at its hold point for the fault to be injected. */
const HOLD_MS = 1_000;
/** How long a fault waits for a transaction to reach its moment before it gives up (nothing injected). */
const MOMENT_TIMEOUT_MS = 20_000;
/** How long a commit fault waits for commits to use it up. */
const COMMIT_FAULT_TIMEOUT_MS = 60_000;
const DROP_MS = 4_000;
const SSHD_DOWN_MS = 3_000;
const REBOOT_SSH_DOWN_MS = 5_000;
const SLOW_COMMIT_MS = 30_000;
/** How often the router is checked for configuration sessions that no login holds any more. */
const SESSION_CHECK_MS = 1_000;

const MOMENTS: readonly { point: HoldPoint; words: string }[] = [
  { point: 'session-open', words: 'before commit' },
  { point: 'commit-running', words: 'during commit' },
  { point: 'commit-done', words: 'after commit' },
];

const CONNECTION_FAULTS = [
  { kind: 'kill', words: 'sshd process serving the connection killed' },
  { kind: 'drop', words: `SSH packets dropped for ${DROP_MS / 1000} s` },
  { kind: 'stop', words: `sshd stopped for ${SSHD_DOWN_MS / 1000} s` },
] as const;

const REBOOT = `router reboot, SSH down ${REBOOT_SSH_DOWN_MS / 1000} s`;
/** The router stops accepting the plugin's key until the plugin has been refused once (the plugin then waits 24-30 s). */
export const LOGIN_REFUSED = "login refused (the router stopped accepting the plugin's key) until the plugin tried once";
/** Another host key, until the plugin has met it, then the router's own again. */
export const IMPOSTOR = "host key changed while running (an impostor) until the plugin met it, then the router's own back";
/** A login storm: more refused logins than the plugin's backoff allows while the key is refused. */
const MAX_REFUSED_LOGINS = 2;
/** After the impostor appears, logins cut by the sshd restart may still be winding down for this long. */
const WIND_DOWN_MS = 1_000;

export const LAB_FAULTS: readonly string[] = [
  'commit fails',
  'commit partly applies',
  'commit locked 3 times in a row',
  'commit locked 6 times in a row (more than the plugin retries)',
  `commit takes ${SLOW_COMMIT_MS / 1000} s`,
  ...CONNECTION_FAULTS.flatMap((fault) => MOMENTS.map((moment) => `${fault.words}, ${moment.words}`)),
  `${REBOOT}, at a random moment`,
  `${REBOOT}, during commit`,
  `${REBOOT}, after commit (before save)`,
  LOGIN_REFUSED,
  IMPOSTOR,
];


/**
 * Watches for configuration sessions left open: every session belongs to the login whose script opened it, so a
 * session that is open while no login runs stays open for good (until a reboot, which would hide it from the
 * check at the end of the soak). Reads the state between two looks at the processes, so a login that starts or
 * ends meanwhile cannot fool it.
 */
class SessionLeakWatch {
  readonly leaked = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private busy = false;
  /** A reboot kills the logins before it closes their sessions: no check counts while one is under way. */
  private pauses = 0;
  private generation = 0;

  constructor(lab: Lab) {
    this.timer = setInterval(() => {
      if (this.busy || this.pauses > 0) return;
      this.busy = true;
      const generation = this.generation;
      void (async () => {
        if (await loginRunning()) return;
        const { sessions } = await lab.router.store.read();
        if (Object.keys(sessions).length === 0 || (await loginRunning())) return;
        if (this.pauses > 0 || generation !== this.generation) return;
        for (const [id, session] of Object.entries(sessions)) {
          if (!this.leaked.has(id)) this.leaked.set(id, `router session ${id} (opened ${session.openedAt}) was open while no login ran: left open`);
        }
      })()
        .catch(() => undefined)
        .finally(() => {
          this.busy = false;
        });
    }, SESSION_CHECK_MS);
  }

  /** Runs `action` (a reboot) with the watch paused. */
  async paused(action: () => Promise<void>): Promise<void> {
    this.pauses++;
    this.generation++;
    try {
      await action();
    } finally {
      this.pauses--;
      this.generation++;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Waits until `condition` holds; false when it did not within `timeoutMs`, or `signal` aborted first. */
async function until(condition: () => Promise<boolean>, timeoutMs: number, stepMs = 20, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline || signal?.aborted === true) return false;
    await sleep(stepMs);
  }
}

export async function startLabSoakTarget(options: { lab?: Lab } = {}): Promise<SoakTarget> {
  const owned = options.lab === undefined;
  const lab = options.lab ?? (await startLab());
  try {
    // A fresh router, whatever an earlier user of the lab left.
    await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
  } catch (error) {
    if (owned) await lab.stop();
    throw error;
  }
  const hostOf = new Map<string, LabHost>(lab.hosts.map((host) => [host.address, host]));
  const sessionWatch = new SessionLeakWatch(lab);

  /** The next commits that change something fail that way; true once commits have used them all up. */
  const commitFault = async (kind: CommitFaultKind, count: number, stop: AbortSignal): Promise<boolean> => {
    await lab.router.failNextCommits(kind, count);
    const used = await until(async () => (await lab.router.store.read()).faults.pendingCommitFaults.length === 0, COMMIT_FAULT_TIMEOUT_MS, 100, stop);
    if (!used) await lab.router.clearFaults();
    return used;
  };

  /** One commit that takes SLOW_COMMIT_MS; true once it has run. */
  const slowCommit = async (stop: AbortSignal): Promise<boolean> => {
    await lab.router.setCommitDelay(SLOW_COMMIT_MS);
    const started = await until(async () => (await lab.router.store.read()).commitLock !== null, MOMENT_TIMEOUT_MS, 20, stop);
    // Only this commit is slow: each commit reads the delay when it takes the lock.
    await lab.router.setCommitDelay(0);
    if (started) await until(async () => (await lab.router.store.read()).commitLock === null, SLOW_COMMIT_MS + 30_000, 100);
    return started;
  };

  /** Runs `fault` while the next transaction that gets there waits `holdMs` at `point`; false when none got there in time. */
  const atMomentFor = async (point: HoldPoint, holdMs: number, stop: AbortSignal, fault: () => Promise<void>): Promise<boolean> => {
    const hold = await lab.holdRouterAt(point, holdMs);
    if (!(await hold.reached(MOMENT_TIMEOUT_MS, stop))) return false;
    await fault();
    return true;
  };
  const atMoment = (point: HoldPoint, stop: AbortSignal, fault: () => Promise<void>): Promise<boolean> => atMomentFor(point, HOLD_MS, stop, fault);

  const connectionFault = async (kind: (typeof CONNECTION_FAULTS)[number]['kind']): Promise<void> => {
    switch (kind) {
      case 'kill':
        await lab.ssh.cutConnections();
        return;
      case 'drop':
        await lab.ssh.setPacketsDropped(true);
        try {
          await sleep(DROP_MS);
        } finally {
          await lab.ssh.setPacketsDropped(false);
        }
        return;
      case 'stop':
        await lab.ssh.stopService();
        try {
          await sleep(SSHD_DOWN_MS);
        } finally {
          await lab.ssh.start();
        }
        return;
    }
  };

  const reboot = (): Promise<void> => sessionWatch.paused(() => lab.rebootRouter({ sshDownMs: REBOOT_SSH_DOWN_MS }));

  /** What a fault showed the plugin doing that it must never do (a login storm, a login to an impostor). */
  const violations: string[] = [];
  let otherKey: { privateKeyFile: string; publicKeyLine: string } | undefined;

  /** True once the router has refused the plugin's login at least once. */
  const loginRefused = async (stop: AbortSignal): Promise<boolean> => {
    otherKey ??= await lab.ssh.generateClientKey('soak_someone_else_ed25519');
    const mark = lab.ssh.logMark();
    lab.ssh.setAuthorizedKey(otherKey.publicKeyLine);
    try {
      await lab.ssh.cutConnections();
      return await until(() => Promise.resolve(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address).refusedLogins >= 1), MOMENT_TIMEOUT_MS, 100, stop);
    } finally {
      lab.ssh.setAuthorizedKey(undefined);
      const { refusedLogins } = lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address);
      if (refusedLogins > MAX_REFUSED_LOGINS) violations.push(`${LOGIN_REFUSED}: ${refusedLogins} refused logins while the key was refused (a login storm)`);
    }
  };

  /** True once the plugin has met the impostor's key; anything it then sent beyond the handshake is a violation. */
  const impostor = async (stop: AbortSignal): Promise<boolean> => {
    const mark = lab.ssh.logMark();
    await lab.ssh.replaceHostKey();
    try {
      const met = await until(() => Promise.resolve(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address).connections >= 1), MOMENT_TIMEOUT_MS, 100, stop);
      await sleep(WIND_DOWN_MS);
      const loginsBefore = (await lab.router.store.read()).nextPid;
      // The plugin may try again meanwhile; it must stop at the key every time.
      await sleep(2_000);
      const events = lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address);
      if (events.authAttempts > 0) violations.push(`${IMPOSTOR}: the plugin attempted ${events.authAttempts} login(s) against the impostor's key`);
      if ((await lab.router.store.read()).nextPid !== loginsBefore) violations.push(`${IMPOSTOR}: a command ran on the router while it presented the impostor's key`);
      return met;
    } finally {
      await lab.ssh.restoreHostKey();
    }
  };

  const inject = async (fault: string, stop: AbortSignal): Promise<boolean> => {
    switch (fault) {
      case 'commit fails':
        return commitFault('fail', 1, stop);
      case 'commit partly applies':
        return commitFault('partial', 1, stop);
      case 'commit locked 3 times in a row':
        return commitFault('locked', 3, stop);
      case 'commit locked 6 times in a row (more than the plugin retries)':
        return commitFault('locked', 6, stop);
      case `commit takes ${SLOW_COMMIT_MS / 1000} s`:
        return slowCommit(stop);
      case `${REBOOT}, at a random moment`:
        await reboot();
        return true;
      case `${REBOOT}, during commit`:
        return atMoment('commit-running', stop, reboot);
      case `${REBOOT}, after commit (before save)`:
        return atMoment('commit-done', stop, reboot);
      case LOGIN_REFUSED:
        return loginRefused(stop);
      case IMPOSTOR:
        return impostor(stop);
    }
    for (const connection of CONNECTION_FAULTS) {
      for (const moment of MOMENTS) {
        if (fault === `${connection.words}, ${moment.words}`) return atMoment(moment.point, stop, () => connectionFault(connection.kind));
      }
    }
    throw new Error(`the lab cannot inject "${fault}"`);
  };

  return {
    name: 'lab',
    description:
      'network namespaces on this machine, with the real OpenSSH server in the router namespace running the EdgeOS ' +
      'interpreter of tools/sim/edgeos as its login, and every commit loaded into the namespace\'s real iptables',
    faults: LAB_FAULTS,
    whileFaultRuns: 'skip',
    // Lab faults last seconds each; slower toggles (with scenes, which partial commits need) leave room for them.
    pacing: { maxPauseMs: 2_500, sceneRate: 0.35 },
    settleTimeoutMs: 150_000,
    cameras: (count) =>
      Array.from({ length: count }, (_, i): SoakCamera => {
        const host = lab.hosts[i];
        return host === undefined ? { name: `Camera ${i + 1}`, address: spareLanAddress(i), allow: ['dns'] } : { name: host.name, address: host.address, allow: ['dns'] };
      }),
    routerConfig: (cameras) => ({ ...(lab.platformConfig({ cameras }).routers as Record<string, unknown>[])[0], name: 'Soak' }),
    inject,
    clearFaults: async () => {
      await lab.router.clearFaults();
      await lab.ssh.setPacketsDropped(false);
      await lab.ssh.restoreKeys();
      await lab.ssh.start();
    },
    duringCommit: (action, holdMs, stop) => atMomentFor('commit-running', holdMs, stop, action),
    violations: () => [...violations],
    openSessions: () => lab.router.openSessionCount(),
    sessionsLeftOpen: () => [...sessionWatch.leaked.values()],
    activeConfig: () => lab.router.activeConfigCommands(),
    checkTraffic: async (cameras, enforced) => {
      const checks = cameras.flatMap((camera) => {
        const host = hostOf.get(camera.address);
        const access = enforced.get(camera.address);
        if (host === undefined || access === undefined) return [];
        return [
          (async (): Promise<string[]> => {
            const [connect, dns] = await Promise.all([host.connect(), host.dns()]);
            const problems: string[] = [];
            if (connect.ok !== (access === 'allowed')) {
              problems.push(`${camera.name}: the router has ${access === 'allowed' ? 'access on' : 'access off'}, but a TCP connection to the internet ${connect.ok ? 'got through' : `failed (${connect.detail})`}`);
            }
            if (!dns.ok) problems.push(`${camera.name}: DNS, which it may always use, failed (${dns.detail})`);
            return problems;
          })(),
        ];
      });
      return (await Promise.all(checks)).flat();
    },
    trackProcess: (pid) => lab.trackProcess(pid),
    dispose: async () => {
      sessionWatch.stop();
      await lab.router.clearFaults().catch(() => undefined);
      await lab.ssh.setPacketsDropped(false).catch(() => undefined);
      await lab.ssh.restoreKeys().catch(() => undefined);
      if (owned) {
        await lab.stop();
      } else {
        await lab.ssh.start();
      }
    },
  };
}
