/**
 * One RouterGuard per router: it keeps what HomeKit asked for and what the router has in step.
 *
 * - The router is the source of truth. Every poll reads its configuration and counters; a change made on the
 *   router shows up within one poll and is logged as made outside HomeKit.
 * - Requests from HomeKit never wait on the network: they are queued, merged with requests that arrive close
 *   together, and applied as one transaction; the result is read back from the router and reported.
 * - Blocking is the safe direction: a block that could not be confirmed (connection lost) is retried until the
 *   router confirms it. Opening access is never retried behind the owner's back; a failed opening is reported
 *   and the switch shows the router's real state.
 * - Everything that goes wrong is logged once, in a sentence, and recovered from by reconnecting with backoff.
 */
import type { CameraSettings, LeakSettings, RouterSettings } from '../config';
import { printable } from '../config';
import type { Log } from '../log';
import { routerWords } from '../log';
import { RouterError } from '../router/driver';
import type { Access, AccessChange, ApplyOutcome, RouterDriver, RouterReading, UnlistedCamera } from '../router/driver';
import {
  AUTH_RETRY_MAX_MS,
  AUTH_RETRY_MIN_MS,
  BATCH_WINDOW_MS,
  BYTES_PER_MB,
  LOCKED_COMMIT_BACKOFF_MS,
  LOCKED_COMMIT_RETRIES,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  REPAIR_RETRY_MAX_MS,
  REPAIR_RETRY_MIN_MS,
  SHUTDOWN_GRACE_MS,
} from '../settings';
import { Backoff } from './backoff';
import { LeakDetector } from './leakDetector';
import type { LeakTrip } from './leakDetector';

/** What the HomeKit layer hears about; each call means "read the guard's state again and show it". */
export interface GuardListener {
  cameraChanged(address: string): void;
  leakChanged(address: string): void;
  reachabilityChanged(): void;
  lockdownChanged(): void;
}

/** Remembered across Homebridge restarts by the HomeKit layer (in the accessory cache). */
export interface LockdownMemory {
  readonly on: boolean;
  /** Each camera's access before the lockdown, restored when it ends. */
  readonly previous: Readonly<Record<string, Access>>;
}

export type RequestResult = 'queued' | 'unreachable' | 'refused-lockdown';

interface CameraState {
  readonly settings: CameraSettings;
  /** What the router enforces, from the last reading; undefined until known. */
  actual: Access | undefined;
  /** Requested but not yet confirmed by a reading. */
  desired: Access | undefined;
  /** A request queued for the next transaction. */
  queued: Access | undefined;
  /** Bumped whenever the access changes, so the leak detector never mixes traffic from both sides of a change. */
  epoch: number;
  readonly detector: LeakDetector;
  closeTimer: NodeJS.Timeout | undefined;
  /** When timed access (`allowMinutes`) closes, kept across restarts; undefined when not timed or closed. */
  openUntil: number | undefined;
  /** True once the camera's rules were seen on the router (so missing rules mean "deleted", not "new"). */
  seen: boolean;
  /** True while its rules are missing or damaged and that has been logged, so it is logged once per episode. */
  damageReported: boolean;
  /** Set while the configuration blocks it but the kernel's firewall does not: why its packets get out. */
  notInForce: string | undefined;
}

export interface GuardOptions {
  readonly router: RouterSettings & { readonly host: string };
  readonly cameras: readonly CameraSettings[];
  readonly leak: LeakSettings;
  readonly pollMs: number;
  readonly driver: RouterDriver;
  readonly log: Log;
  readonly listener: GuardListener;
  /** Cameras whose rules were seen on the router in an earlier run. */
  readonly seenCameras: ReadonlySet<string>;
  readonly lockdown: LockdownMemory;
  readonly saveLockdown: (memory: LockdownMemory) => void;
  readonly markSeen: (address: string) => void;
  /** Deadlines of timed access from an earlier run (camera address → epoch ms), so a restart cannot extend them. */
  readonly openUntil?: ReadonlyMap<string, number>;
  /** Stores a camera's timed-access deadline (undefined: none), where it survives a restart. */
  readonly saveOpenUntil?: (address: string, deadline: number | undefined) => void;
  readonly now?: () => number;
}

export class RouterGuard {
  private readonly cameras = new Map<string, CameraState>();
  private readonly log: Log;
  private readonly driver: RouterDriver;
  private readonly now: () => number;
  private reachableNow = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private workReady = false;
  private lastReading: RouterReading | undefined;
  /** When the next repair may run: repairs that do not take back off, so a router that never reads back intact is not rewritten (and its flash written) in a loop. */
  private repairDueAt = 0;
  private lockdown: { on: boolean; previous: Map<string, Access> };
  private offloadChecked = false;
  /** Lost connections: reset only once a read succeeds, so a router that drops every session after login is not asked again at once. */
  private readonly connectBackoff = new Backoff(RECONNECT_MIN_MS, RECONNECT_MAX_MS);
  /** Refused logins and impostor keys, and (apart) errors after login that are not a lost connection: slow, like a refused login. */
  private readonly authBackoff = new Backoff(AUTH_RETRY_MIN_MS, AUTH_RETRY_MAX_MS);
  private readonly sessionBackoff = new Backoff(AUTH_RETRY_MIN_MS, AUTH_RETRY_MAX_MS);
  private readonly repairBackoff: Backoff;
  private readonly saidOnce = new Set<string>();
  private lastProblem: string | undefined;

  constructor(private readonly options: GuardOptions) {
    this.log = options.log;
    this.driver = options.driver;
    this.now = options.now ?? Date.now;
    this.repairBackoff = new Backoff(Math.max(options.pollMs, REPAIR_RETRY_MIN_MS), Math.max(options.pollMs, REPAIR_RETRY_MAX_MS));
    for (const settings of options.cameras) {
      this.cameras.set(settings.address, {
        settings,
        actual: undefined,
        desired: undefined,
        queued: undefined,
        epoch: 0,
        detector: new LeakDetector(options.leak),
        closeTimer: undefined,
        openUntil: options.openUntil?.get(settings.address),
        seen: options.seenCameras.has(settings.address),
        damageReported: false,
        notInForce: undefined,
      });
    }
    this.lockdown = { on: options.lockdown.on, previous: new Map(Object.entries(options.lockdown.previous)) };
  }

  // ---- what HomeKit reads (never waits) ----

  get reachable(): boolean {
    return this.reachableNow;
  }

  get lockdownOn(): boolean {
    return this.lockdown.on;
  }

  /**
   * The access the switch shows: a request while it waits for or rides its transaction, else what the router last
   * confirmed. Undefined when that is not known (router unreachable or unread, rules missing or damaged, a request
   * the router did not confirm): the switch then answers "No Response", never a calm Off the router may not enforce.
   */
  shownAccess(address: string): Access | undefined {
    const camera = this.cameras.get(address);
    if (!camera || !this.reachableNow) {
      return undefined;
    }
    // A block the kernel does not enforce is no block: the switch shows On, as the camera's packets get out.
    const enforced = camera.actual === 'blocked' && camera.notInForce !== undefined ? 'allowed' : camera.actual;
    return camera.queued ?? camera.desired ?? enforced;
  }

  /** True when what the switch would show is not known, so the leak sensor reports a fault. */
  stateUnknown(address: string): boolean {
    return this.shownAccess(address) === undefined;
  }

  leakDetected(address: string): boolean {
    const camera = this.cameras.get(address);
    return camera !== undefined && (camera.detector.detected || camera.notInForce !== undefined);
  }

  // ---- what HomeKit asks for (never waits) ----

  requestAccess(address: string, access: Access): RequestResult {
    const camera = this.cameras.get(address);
    if (!camera) {
      return 'unreachable';
    }
    if (!this.reachableNow || this.stopped) {
      return 'unreachable';
    }
    if (access === 'allowed' && this.lockdown.on) {
      this.log.warn(`"${printable(camera.settings.name)}" stays blocked because Lockdown is on; turn Lockdown off first.`);
      return 'refused-lockdown';
    }
    this.queue(camera, access);
    return 'queued';
  }

  requestLockdown(on: boolean): RequestResult {
    if (!this.reachableNow || this.stopped) {
      return 'unreachable';
    }
    if (on === this.lockdown.on) {
      return 'queued';
    }
    if (on) {
      const previous = new Map<string, Access>();
      for (const camera of this.cameras.values()) {
        // A camera whose state is unknown comes back blocked when the lockdown ends.
        previous.set(camera.settings.address, this.shownAccess(camera.settings.address) ?? 'blocked');
        this.queue(camera, 'blocked');
      }
      this.lockdown = { on: true, previous };
      this.log.info(`Lockdown on: blocking the internet access of all ${this.cameras.size} camera(s).`);
    } else {
      for (const camera of this.cameras.values()) {
        this.queue(camera, this.lockdown.previous.get(camera.settings.address) ?? 'blocked');
      }
      this.lockdown = { on: false, previous: new Map() };
      this.log.info('Lockdown off: restoring each camera\'s access from before the lockdown.');
    }
    this.options.saveLockdown({ on: this.lockdown.on, previous: Object.fromEntries(this.lockdown.previous) });
    this.options.listener.lockdownChanged();
    return 'queued';
  }

  // ---- life cycle ----

  start(): void {
    if (!this.running) {
      this.running = this.loop().catch((error: unknown) => {
        // The loop catches everything itself; reaching this means a bug, which must still not crash Homebridge.
        this.log.error(`stopped guarding after an unexpected error (${(error as Error).message}); restart Homebridge to resume.`);
      });
    }
  }

  /**
   * Stops polling. A transaction in flight may finish, and requests still waiting for their batch are sent in one
   * last transaction (a block asked for just before Homebridge stops must not be dropped), all within `graceMs`
   * (see SHUTDOWN_GRACE_MS); then the connection is closed and whatever the router did not confirm is
   * logged, so the owner knows what the switches will show after the restart.
   */
  stop(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    this.stopping ??= this.stopOnce(graceMs);
    return this.stopping;
  }

  private async stopOnce(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      this.workReady = true;
    }
    for (const camera of this.cameras.values()) {
      clearTimeout(camera.closeTimer);
    }
    this.wake?.();
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.driver.close();
    for (const camera of this.cameras.values()) {
      const unconfirmed = camera.queued ?? camera.desired;
      if (unconfirmed !== undefined) {
        this.log.error(
          `"${printable(camera.settings.name)}": could not confirm that internet access was ${unconfirmed === 'allowed' ? 'opened' : 'blocked'} before Homebridge stopped; ` +
            'after the restart the switch shows what the router has. Set it again then if it is not what you want.',
        );
      }
    }
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    // Once stopped, the loop only finishes what was asked before the stop, on a connection it already has.
    while (!this.stopped || (this.workReady && this.driver.connected)) {
      if (!this.driver.connected) {
        const delay = await this.tryConnect();
        if (delay !== undefined) {
          await this.sleep(delay, false);
          continue;
        }
      }
      try {
        if (this.workReady) {
          this.workReady = false;
          await this.transact();
        } else {
          await this.poll();
        }
        this.connectBackoff.reset();
        this.sessionBackoff.reset();
      } catch (error) {
        await this.sleep(this.onRouterError(error), false);
        continue;
      }
      if (this.workReady) {
        continue;
      }
      const untilRepair = this.repairDueAt - this.now();
      if (this.needsRepair() && untilRepair <= 0) {
        this.workReady = true;
        continue;
      }
      await this.sleep(this.needsRepair() ? Math.min(this.options.pollMs, untilRepair) : this.options.pollMs, true);
    }
  }

  /** Returns the delay before the next attempt when connecting failed. */
  private async tryConnect(): Promise<number | undefined> {
    try {
      await this.driver.connect();
    } catch (error) {
      const routerError = asRouterError(error);
      const slow = routerError.kind === 'auth' || routerError.kind === 'host-key' || routerError.kind === 'config';
      const delay = slow ? this.authBackoff.next() : this.connectBackoff.next();
      this.setReachable(false);
      this.reportProblem(routerError, delay);
      this.dropQueuedOpenings('the router cannot be reached');
      return delay;
    }
    // The connect backoff is reset only by a read that succeeds: a router that drops or fails every session right
    // after login must not be logged in to again at once.
    this.authBackoff.reset();
    if (this.lastProblem !== undefined) {
      this.log.info('connected to the router again; guarding resumes.');
      this.lastProblem = undefined;
    } else {
      this.log.debug('connected to the router.');
    }
    await this.checkOffloadOnce();
    return undefined;
  }

  private async checkOffloadOnce(): Promise<void> {
    if (this.offloadChecked) {
      return;
    }
    try {
      const offload = await this.driver.hardwareOffload();
      this.offloadChecked = true;
      if (offload) {
        this.log.warn(
          'hardware offload is on, so uploads from allowed cameras bypass the firewall counters and are under-counted; ' +
            'blocked attempts are still counted exactly. Turn offload off on the router if upload alarms matter to you.',
        );
      }
    } catch (error) {
      this.log.debug(`could not check hardware offload (${(error as Error).message}); will try after the next reconnect.`);
    }
  }

  /** An error after login: drop the connection, tell the owner once, and return how long to wait before reconnecting. */
  private onRouterError(error: unknown): number {
    const routerError = asRouterError(error);
    this.driver.close();
    this.setReachable(false);
    // A lost connection is retried soon (and less and less often); anything else after a successful login (the
    // router answers nonsense, or lacks what the settings name) is retried as slowly as a refused login.
    const lost = routerError.kind === 'unreachable' || routerError.kind === 'timeout';
    const delay = lost ? this.connectBackoff.next() : this.sessionBackoff.next();
    this.reportProblem(routerError, delay);
    this.dropQueuedOpenings('the router stopped answering');
    return delay;
  }

  /** Logs a problem once when it starts, and only at debug level while it lasts. */
  private reportProblem(error: RouterError, retryMs: number | undefined): void {
    const retry = retryMs === undefined ? 'retrying shortly' : `retrying in ${Math.max(1, Math.round(retryMs / 1000))} s`;
    const message = `${error.message} Camera switches show "No Response" and leak sensors a fault until the router answers; ${retry}.`;
    const key = `${error.kind}:${error.message}`;
    const serious = error.kind === 'host-key' || error.kind === 'auth' || error.kind === 'config';
    // One outage is one warning, however its symptoms change (connection lost, then refused); a login or host
    // key problem is always worth its own error, once.
    if (this.lastProblem === key || (this.lastProblem !== undefined && !serious)) {
      this.log.debug(message);
      return;
    }
    this.lastProblem = key;
    if (serious) {
      this.log.error(message);
    } else {
      this.log.warn(message);
    }
  }

  private setReachable(reachable: boolean): void {
    if (this.reachableNow !== reachable) {
      this.reachableNow = reachable;
      this.options.listener.reachabilityChanged();
    }
  }

  private async poll(): Promise<void> {
    const reading = await this.driver.read(this.options.cameras);
    this.absorb(reading, new Map());
  }

  /**
   * Applies the queued requests and any repairs in one transaction, then reads back and reports. The driver plans
   * on a reading it takes for this transaction: a request is never dropped because an older reading says it is
   * already in effect (the router may have been changed by hand since).
   */
  private async transact(): Promise<void> {
    const requested = new Map<string, Access>();
    for (const camera of this.cameras.values()) {
      if (camera.queued !== undefined) {
        requested.set(camera.settings.address, camera.queued);
        camera.desired = camera.queued;
        camera.queued = undefined;
      }
    }
    const before = new Map([...this.cameras.values()].map((camera) => [camera.settings.address, camera.actual]));
    try {
      const outcome = await this.applyWithRetry(requested);
      if (outcome.result === 'committed' && !outcome.saved) {
        this.log.warn(`the change was applied but could not be saved on the router (${outcome.detail}); it would be lost if the router restarts, so saving is retried.`);
      }
      // When nothing had to change, the reading the driver planned on is the confirmation.
      const after = outcome.unchanged ?? (await this.driver.read(this.options.cameras));
      this.absorb(after, requested);
      this.settle(requested, outcome.unchanged === undefined ? outcome : undefined, after);
      if (after.repairs.length === 0) {
        this.repairBackoff.reset();
        this.repairDueAt = 0;
      } else if (outcome.unchanged === undefined && outcome.repaired.length > 0) {
        // The transaction was a repair and the router still needs repairs (it failed, or did not stick): wait before
        // the next one, longer each time, instead of rewriting the router's flash in a loop. (Damage done after a
        // transaction that only applied requests is repaired at the next poll, as usual.)
        const delay = this.repairBackoff.next();
        this.repairDueAt = this.now() + delay;
        const why = outcome.result === 'committed' ? 'the router took it, but its rules still do not read back intact' : outcome.detail;
        this.log.warn(`the repair of the camera rules did not take (${why}); the cameras concerned show "No Response" and it is tried again in ${Math.round(delay / 1000)} s.`);
        this.log.debug(`still to repair: ${after.repairs.slice(0, 3).join('; ')}.`);
      }
    } catch (error) {
      // The connection failed before the router confirmed the outcome (even after a commit: the read-back is the
      // confirmation). Nothing may stay shown as if it were confirmed.
      this.abandon(requested, error);
      throw error;
    }
    for (const camera of this.cameras.values()) {
      if (camera.actual === 'blocked' && before.get(camera.settings.address) !== 'blocked') {
        await this.cutFlows(camera);
      }
    }
  }

  /** A new drop rule does not stop a flow already past it on an offloading router: delete the flows too. */
  private async cutFlows(camera: CameraState): Promise<void> {
    const name = `"${printable(camera.settings.name)}"`;
    try {
      const cut = await this.driver.cutFlows(camera.settings);
      this.log.debug(`${name}: cut ${cut.flows} open connection(s) from ${cut.addresses.join(', ')}.`);
      if (cut.problem !== undefined) {
        this.log.warn(
          `${name}: blocked, and its connections from ${camera.settings.address} were cut, but ${cut.problem}; ` +
            'connections it has open from other addresses (IPv6, or a new DHCP lease) may go on until they end.',
        );
      }
    } catch (error) {
      this.log.warn(
        `"${printable(camera.settings.name)}": blocked, but its open connections could not be cut (${(error as Error).message}); ` +
          'an upload already in progress may go on until it ends.',
      );
    }
  }

  private async applyWithRetry(requested: ReadonlyMap<string, Access>): Promise<ApplyOutcome> {
    let outcome = await this.driver.apply(this.options.cameras, this.changes(requested));
    for (let attempt = 1; outcome.result === 'locked' && attempt <= LOCKED_COMMIT_RETRIES && !this.stopped; attempt++) {
      const delay = LOCKED_COMMIT_BACKOFF_MS * 2 ** (attempt - 1);
      this.log.debug(`the router is busy with another commit; trying again in ${delay / 1000} s (attempt ${attempt} of ${LOCKED_COMMIT_RETRIES}).`);
      await this.sleep(delay, false);
      // The driver reads the router again for the retry, so it is built on the router's current state.
      outcome = await this.driver.apply(this.options.cameras, this.changes(this.pendingDesired()));
    }
    return outcome;
  }

  private changes(requested: ReadonlyMap<string, Access>): AccessChange[] {
    return [...requested].flatMap(([address, access]) => {
      const camera = this.cameras.get(address);
      return camera ? [{ camera: camera.settings, access }] : [];
    });
  }

  private pendingDesired(): Map<string, Access> {
    const desired = new Map<string, Access>();
    for (const camera of this.cameras.values()) {
      if (camera.desired !== undefined) {
        desired.set(camera.settings.address, camera.desired);
      }
    }
    return desired;
  }

  /** Compares what was asked with what the router now has; reports each camera once. */
  private settle(requested: ReadonlyMap<string, Access>, outcome: ApplyOutcome | undefined, after: RouterReading): void {
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      if (!camera) {
        continue;
      }
      const actual = after.cameras.get(address)?.access;
      if (camera.desired === wanted) {
        camera.desired = undefined;
      }
      const name = `"${printable(camera.settings.name)}"`;
      if (actual === wanted) {
        if (outcome) {
          this.log.info(`${name}: internet access ${wanted === 'allowed' ? 'opened' : 'blocked'} from HomeKit.`);
        }
      } else {
        const why = outcome ? ` (${whyNotApplied(outcome)})` : '';
        this.log.error(
          `${name}: could not ${wanted === 'allowed' ? 'open' : 'block'} internet access${why}; ` +
            `the switch shows what the router really has (${describe(actual)}). Try again, or check the router's log.`,
        );
      }
      this.options.listener.cameraChanged(address);
    }
  }

  /**
   * The connection failed before the router confirmed a transaction: blocks stay queued until confirmed; openings
   * are reported as unconfirmed and the switch shows what the router reports once it answers.
   */
  private abandon(requested: ReadonlyMap<string, Access>, error: unknown): void {
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      if (!camera || camera.desired !== wanted) {
        // Already settled by the read-back, or asked again since.
        continue;
      }
      camera.desired = undefined;
      const name = `"${printable(camera.settings.name)}"`;
      if (wanted === 'blocked') {
        camera.queued ??= 'blocked';
        this.log.warn(`${name}: the block could not be confirmed (${(error as Error).message}); it will be applied as soon as the router answers.`);
      } else {
        this.log.error(
          `${name}: could not confirm that internet access opened (${(error as Error).message}); the switch shows what the router reports once it answers again.`,
        );
      }
      this.options.listener.cameraChanged(address);
    }
    this.lastReading = undefined;
  }

  /**
   * An opening asked for just before the router became unreachable is dropped, not applied whenever the router
   * comes back (which could be hours later); a block stays queued.
   */
  private dropQueuedOpenings(reason: string): void {
    for (const camera of this.cameras.values()) {
      if (camera.queued === 'allowed') {
        camera.queued = undefined;
        this.log.error(
          `"${printable(camera.settings.name)}": could not open internet access because ${reason}; the switch shows "No Response" until the router answers, then what the router has.`,
        );
        this.options.listener.cameraChanged(camera.settings.address);
      }
    }
  }

  /** Takes in a reading: reachability, external changes, repairs, leak detection. */
  private absorb(reading: RouterReading, expected: ReadonlyMap<string, Access>): void {
    this.lastReading = reading;
    this.setReachable(true);
    if (reading.adopted) {
      this.once(
        `adopted:${reading.ruleSet}`,
        'info',
        `the WAN "out" slot already holds your ruleset "${reading.ruleSet}", so the camera rules go into it; your own rules there are left untouched.`,
      );
    }
    if (!reading.enforced) {
      this.log.warn(`the camera ruleset "${reading.ruleSet}" is missing or not bound to the WAN interface; setting it up now.`);
    }
    for (const warning of reading.warnings) {
      this.once(`warning:${warning}`, 'warn', warning);
    }
    for (const note of reading.notes) {
      this.once(`note:${note}`, 'debug', note);
    }
    for (const unlisted of reading.unlisted) {
      this.reportUnlisted(unlisted);
    }
    const routerOwn = new Set(reading.routerAddresses);
    const now = this.now();
    for (const camera of this.cameras.values()) {
      const address = camera.settings.address;
      const name = `"${printable(camera.settings.name)}"`;
      if (routerOwn.has(address)) {
        this.once(`router-address:${address}`, 'error', `${name}: ${address} is one of the router's own addresses, not a camera's; fix "address".`);
      }
      const seen = reading.cameras.get(address);
      if (!seen) {
        continue;
      }
      if (seen.status === 'missing' || seen.status === 'damaged') {
        camera.detector.resetBaseline();
        if (camera.actual !== undefined) {
          // Nothing trustworthy is enforced now; the switch shows blocked, which the repair is about to make true.
          camera.actual = undefined;
          camera.epoch++;
          this.options.listener.cameraChanged(address);
        }
        if (!camera.damageReported) {
          camera.damageReported = true;
          if (!camera.seen) {
            this.log.info(`${name} (${address}) is new: its rules are being created with internet access blocked.`);
          } else if (seen.status === 'missing') {
            this.log.warn(`${name}: its rules were deleted on the router; re-creating them with internet access blocked.`);
          } else {
            this.log.warn(`${name}: its rules were changed on the router and can no longer be trusted; re-creating them with internet access blocked.`);
          }
        }
        continue;
      }
      camera.damageReported = false;
      if (!camera.seen) {
        camera.seen = true;
        this.options.markSeen(address);
      }
      const access = seen.access;
      if (access === 'allowed' && seen.openForMs !== undefined) {
        this.followRouterDeadline(camera, now + seen.openForMs);
      }
      if (access !== undefined && access !== camera.actual) {
        const before = camera.actual;
        camera.actual = access;
        camera.epoch++;
        const ours = expected.get(address) === access || camera.desired === access || camera.queued !== undefined;
        if (before === 'allowed' && access === 'blocked' && seen.timedOut === true && !ours) {
          this.log.info(`${name}: internet access closed by the router itself at the end of its ${formatNumber(camera.settings.allowMinutes)} minute(s) ("allowMinutes").`);
        } else if (before !== undefined && !ours) {
          this.log.warn(`${name}: internet access was ${access === 'allowed' ? 'opened' : 'blocked'} on the router, outside HomeKit.`);
          if (access === 'allowed' && this.lockdown.on) {
            this.log.warn(`${name} was opened on the router although Lockdown is on; Lockdown does not override changes made on the router.`);
          }
        }
        this.onAccessKnown(camera);
        this.options.listener.cameraChanged(address);
      }
      this.checkInForce(camera, seen.notInForce);
      if (seen.counters && access !== undefined) {
        const wasDetected = camera.detector.detected;
        const trip = camera.detector.observe({ at: now, access, accessEpoch: camera.epoch, counters: seen.counters });
        if (trip) {
          this.reportLeak(camera, trip, wasDetected);
        }
        if (wasDetected !== camera.detector.detected) {
          if (!camera.detector.detected) {
            this.log.info(`${name}: no unexpected traffic for a while; its leak sensor is clear again.`);
          }
          this.options.listener.leakChanged(address);
        }
      } else {
        camera.detector.resetBaseline();
        if (camera.detector.expire(now)) {
          this.options.listener.leakChanged(address);
        }
      }
    }
  }

  /** Tells the owner when a block stops or starts being in force in the kernel, and updates the switch and sensor. */
  private checkInForce(camera: CameraState, notInForce: string | undefined): void {
    if (notInForce === camera.notInForce) {
      return;
    }
    const before = camera.notInForce;
    camera.notInForce = notInForce;
    const name = `"${printable(camera.settings.name)}" (${camera.settings.address})`;
    if (notInForce !== undefined && before === undefined) {
      this.log.error(
        `${name} LEAK: its block is not in force: the router's configuration blocks it, but ${routerWords(notInForce)}, so its packets get out; ` +
          'the switch shows On and the leak sensor stays tripped until the block is in force again (restarting the router rebuilds its firewall from the configuration).',
      );
    } else if (notInForce === undefined) {
      this.log.info(`${name}: its block is in force in the router's firewall again.`);
    }
    camera.epoch++;
    camera.detector.resetBaseline();
    this.options.listener.cameraChanged(camera.settings.address);
    this.options.listener.leakChanged(camera.settings.address);
  }

  private reportLeak(camera: CameraState, trip: LeakTrip, alreadyDetected: boolean): void {
    const name = `"${printable(camera.settings.name)}" (${camera.settings.address})`;
    const minutes = `${formatNumber(trip.windowMs / 60_000)} min`;
    let message: string;
    switch (trip.reason) {
      case 'blocked-attempts':
        message = `${name} LEAK: ${trip.amount} blocked packet(s) toward the internet in the last ${minutes} while its access is off; it keeps trying to phone home.`;
        break;
      case 'upload':
        message = `${name} LEAK: uploaded ${formatNumber(trip.amount / BYTES_PER_MB)} MB in the last ${minutes}, more than the ${formatNumber(this.options.leak.uploadBytes / BYTES_PER_MB)} MB allowed; check what it is sending.`;
        break;
      case 'block-bypassed':
        message = `${name} LEAK: ${trip.amount} packet(s) reached the internet in the last ${minutes} although its access is off; the block is not working, check the router's firewall for rules ahead of the camera rules.`;
        break;
    }
    if (alreadyDetected) {
      this.log.debug(message);
    } else if (trip.reason === 'block-bypassed') {
      this.log.error(message);
    } else {
      this.log.warn(message);
    }
  }

  /**
   * The router enforces a timed opening itself (its drop rule starts matching at the deadline): the plugin's timer
   * follows the router's deadline when it is the earlier one, so both close together, and it is stored for a restart.
   */
  private followRouterDeadline(camera: CameraState, deadline: number): void {
    // Of two deadlines (the stored one, the router's) the earlier stands: a timed opening is never extended.
    if (camera.openUntil !== undefined && camera.openUntil - deadline < 2_000) {
      return;
    }
    camera.openUntil = deadline;
    this.options.saveOpenUntil?.(camera.settings.address, deadline);
    if (camera.closeTimer !== undefined) {
      clearTimeout(camera.closeTimer);
      camera.closeTimer = undefined;
      this.onAccessKnown(camera);
    }
  }

  /** Starts or stops the timer that closes access again after `allowMinutes`. */
  private onAccessKnown(camera: CameraState): void {
    const minutes = camera.settings.allowMinutes;
    if (camera.actual !== 'allowed') {
      clearTimeout(camera.closeTimer);
      camera.closeTimer = undefined;
      if (camera.openUntil !== undefined) {
        camera.openUntil = undefined;
        this.options.saveOpenUntil?.(camera.settings.address, undefined);
      }
      return;
    }
    if (minutes <= 0 && camera.openUntil !== undefined) {
      camera.openUntil = undefined;
      this.options.saveOpenUntil?.(camera.settings.address, undefined);
    }
    if (minutes <= 0 || camera.closeTimer || this.stopped) {
      return;
    }
    // A deadline from before a restart stands (one that passed while Homebridge was away closes at once); a new
    // opening gets a new one, stored before the timer starts so a crash cannot leave the camera open for good.
    if (camera.openUntil === undefined) {
      camera.openUntil = this.now() + minutes * 60_000;
      this.options.saveOpenUntil?.(camera.settings.address, camera.openUntil);
    }
    const close = (): void => {
      camera.closeTimer = undefined;
      if (camera.actual === 'allowed' && !this.stopped) {
        this.log.info(`"${printable(camera.settings.name)}": closing internet access again after ${formatNumber(minutes)} minute(s), as configured by "allowMinutes".`);
        // Queued even while the router is unreachable: blocking is retried until confirmed.
        this.queue(camera, 'blocked');
      }
    };
    camera.closeTimer = setTimeout(close, Math.max(0, camera.openUntil - this.now()));
    camera.closeTimer.unref?.();
  }

  private needsRepair(): boolean {
    const reading = this.lastReading;
    if (!reading) {
      return false;
    }
    return reading.repairs.length > 0 || this.driver.unsavedChanges;
  }

  /** Tells the owner, once, what becomes of the rules of a camera that is not configured. */
  private reportUnlisted(camera: UnlistedCamera): void {
    const source = camera.source === undefined ? undefined : routerWords(camera.source, 40);
    const who = `${camera.name === undefined ? 'a camera' : `"${routerWords(camera.name, 60)}"`}${source === undefined ? '' : ` (${source})`}`;
    const rules = `rules ${camera.firstRule}-${camera.lastRule}`;
    const release =
      source === undefined
        ? 'If you removed it on purpose, delete those rules on the router.'
        : `If you removed it on purpose, add "${source}" to this router's "forget" list and its rules are deleted; it then has unrestricted internet access.`;
    const key = `unlisted:${camera.firstRule}:${camera.source ?? ''}:${camera.fate}`;
    switch (camera.fate) {
      case 'kept-blocked':
        if (camera.access === 'allowed') {
          this.once(key, 'warn', `${who} is no longer in the configuration but its ${rules} let it reach the internet; blocking it now, so a camera removed by mistake cannot get out. ${release}`);
        } else {
          this.once(key, 'warn', `${who} is no longer in the configuration; its ${rules} stay on the router and keep it blocked, so a camera removed by mistake cannot get out. ${release}`);
        }
        return;
      case 'kept-as-is':
        this.once(key, 'debug', `${who}: its ${rules} belong to a camera entry that is skipped, so they are left exactly as they are.`);
        return;
      case 'frozen':
        this.once(
          key,
          'warn',
          `${who}: its ${rules} are left exactly as they are, because a skipped camera entry could not be matched to its rules (its address is not valid): ` +
            'until that entry is fixed, the plugin removes or changes no rules of unconfigured cameras on this router.',
        );
        return;
      case 'forgotten':
        this.once(key, 'warn', `${who}: deleting its ${rules} as "forget" asks; it now has unrestricted internet access.`);
        return;
      case 'no-block-rule':
        this.once(key, 'warn', `${who} is no longer in the configuration and its ${rules} have no drop rule left, so nothing blocks it; put the camera back in the configuration, or delete those rules on the router.`);
        return;
    }
  }

  private queue(camera: CameraState, access: Access): void {
    camera.queued = access;
    this.options.listener.cameraChanged(camera.settings.address);
    if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined;
        this.workReady = true;
        this.wake?.();
      }, BATCH_WINDOW_MS);
    }
  }

  /** Waits `ms`, or less when new work arrives (if `wakeable`) or the guard stops. */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === wakeUp) {
          this.wake = undefined;
        }
        resolve();
      };
      const wakeUp = (): void => {
        if (wakeable || this.stopped) {
          done();
        }
      };
      const timer = setTimeout(done, ms);
      this.wake = wakeUp;
    });
  }

  private once(key: string, level: 'info' | 'warn' | 'error' | 'debug', message: string): void {
    if (!this.saidOnce.has(key)) {
      this.saidOnce.add(key);
      this.log[level](message);
    }
  }
}

function asRouterError(error: unknown): RouterError {
  if (error instanceof RouterError) {
    return error;
  }
  return new RouterError('protocol', `unexpected problem talking to the router (${error instanceof Error ? error.message : String(error)}).`);
}

function describe(access: Access | undefined): string {
  return access === 'allowed' ? 'access on' : access === 'blocked' ? 'access off' : 'unknown, its rules are being repaired';
}

/** Three significant digits are plenty for a log line: 1.25 MB, 150 MB, 0.5 min. */
function formatNumber(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** Why a transaction did not leave what was asked, for the log. */
function whyNotApplied(outcome: ApplyOutcome): string {
  if (outcome.result === 'locked') {
    return 'the router stayed busy with another commit';
  }
  if (outcome.result === 'committed') {
    return outcome.detail === '' ? 'the router took the change, but reading it back shows something else' : `the router took the change, but reading it back shows something else: ${outcome.detail}`;
  }
  return outcome.detail;
}
