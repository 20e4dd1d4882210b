/**
 * One RouterGuard per router: the loop that keeps what HomeKit asked for and what the router has in step. It
 * connects, polls, runs transactions, sleeps or wakes, and stops; every decision it acts on is made elsewhere:
 * what a transaction changes by the driver's planner, each camera's intent in `intent.ts`, the outage and its
 * backoffs in `connection.ts`, Lockdown in `lockdown.ts`, what a reading means for a camera in `cameraWatch.ts`,
 * timed access in `timedAccess.ts`, and every sentence for the owner in `messages.ts`.
 *
 * - The router is the source of truth: every poll reads it; a change made on the router shows within one poll.
 * - Requests from HomeKit never wait on the network: they are queued, merged with requests that arrive close
 *   together, and applied as one transaction, planned on a reading taken for it; the result is read back.
 * - Blocking is the safe direction: a block that could not be confirmed is retried until the router confirms it.
 *   An opening is never retried behind the owner's back.
 */
import type { CameraSettings, LeakSettings } from '../config';
import type { Log } from '../log';
import { RouterError, enforcedAccess } from '../router/driver';
import type { Access, ApplyOutcome, Plan, RouterDriver, RouterReading } from '../router/driver';
import { BATCH_WINDOW_MS, LOCKED_COMMIT_BACKOFF_MS, LOCKED_COMMIT_RETRIES, SHUTDOWN_GRACE_MS } from '../settings';
import { CameraWatch } from './cameraWatch';
import { Connection } from './connection';
import * as intents from './intent';
import type { Intent } from './intent';
import { lockdownRefuses, switchLockdown } from './lockdown';
import type { LockdownMemory } from './lockdown';
import * as say from './messages';
import { Messenger } from './messages';
import { TimedAccess } from './timedAccess';


/** What the HomeKit layer hears about; each call means "read the guard's state again and show it". */
export interface GuardListener {
  cameraChanged(address: string): void;
  leakChanged(address: string): void;
  reachabilityChanged(): void;
  lockdownChanged(): void;
}

export type RequestResult = 'queued' | 'unreachable' | 'refused-lockdown';

export interface GuardOptions {
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
  /** For backoff jitter; tests pass a fixed one. */
  readonly random?: () => number;
}

interface Camera {
  readonly watch: CameraWatch;
  readonly timed: TimedAccess;
  intent: Intent;
}

const NO_REQUESTS: ReadonlyMap<string, Access> = new Map();

export class RouterGuard {
  private readonly cameras = new Map<string, Camera>();
  private readonly driver: RouterDriver;
  private readonly say: Messenger;
  private readonly now: () => number;
  private readonly connection: Connection;
  private lockdown: LockdownMemory;
  private reachableNow = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private workReady = false;
  /** The last reading, while it is the latest word on the router (dropped when a transaction is abandoned). */
  private lastReading: RouterReading | undefined;
  private offloadChecked = false;

  constructor(private readonly options: GuardOptions) {
    this.driver = options.driver;
    this.say = new Messenger(options.log);
    this.now = options.now ?? Date.now;
    this.connection = new Connection(options.pollMs, options.random);
    this.lockdown = options.lockdown;
    for (const settings of options.cameras) {
      const address = settings.address;
      const camera: Camera = {
        watch: new CameraWatch(settings, options.leak, options.seenCameras.has(address)),
        intent: intents.IDLE,
        timed: new TimedAccess(
          settings.allowMinutes,
          options.openUntil?.get(address),
          (deadline) => options.saveOpenUntil?.(address, deadline),
          () => {
            if (camera.watch.actual === 'allowed' && !this.stopped) {
              this.say.say(say.closingTimed(settings));
              // Queued even while the router is unreachable: blocking is retried until confirmed.
              this.queue(camera, 'blocked');
            }
          },
          this.now,
        ),
      };
      this.cameras.set(address, camera);
    }
  }

  // ---- what HomeKit reads and asks (never waits) ----

  get reachable(): boolean {
    return this.reachableNow;
  }

  get lockdownOn(): boolean {
    return this.lockdown.on;
  }

  /** The access the switch shows; undefined (No Response) when it is not known: never a calm Off the router may not enforce. */
  shownAccess(address: string): Access | undefined {
    const camera = this.cameras.get(address);
    return camera && intents.shown(camera.intent, camera.watch.actual, camera.watch.notInForce === undefined, this.reachableNow);
  }

  /** True when what the switch would show is not known, so the leak sensor reports a fault. */
  stateUnknown(address: string): boolean {
    return this.shownAccess(address) === undefined;
  }

  leakDetected(address: string): boolean {
    return this.cameras.get(address)?.watch.leakDetected ?? false;
  }

  requestAccess(address: string, access: Access): RequestResult {
    const camera = this.cameras.get(address);
    if (!camera || !this.reachableNow || this.stopped) {
      return 'unreachable';
    }
    if (lockdownRefuses(this.lockdown, access)) {
      this.say.say(say.lockdownRefusesOpening(camera.watch.settings));
      return 'refused-lockdown';
    }
    this.queue(camera, access);
    return 'queued';
  }

  requestLockdown(on: boolean): RequestResult {
    if (!this.reachableNow || this.stopped) {
      return 'unreachable';
    }
    const change = switchLockdown(this.lockdown, on, new Map([...this.cameras.keys()].map((address) => [address, this.shownAccess(address)])));
    if (change === undefined) {
      return 'queued';
    }
    for (const [address, access] of change.requests) {
      const camera = this.cameras.get(address);
      if (camera) {
        this.queue(camera, access);
      }
    }
    this.lockdown = change.memory;
    this.say.say(on ? say.lockdownEntered(this.cameras.size) : say.lockdownLeft());
    this.options.saveLockdown(change.memory);
    this.options.listener.lockdownChanged();
    return 'queued';
  }

  // ---- life cycle ----

  start(): void {
    this.running ??= this.loop().catch((error: unknown) => {
      // The loop catches everything itself; reaching this means a bug, which must still not crash Homebridge.
      this.say.say(say.guardCrashed(error instanceof Error ? error.message : String(error)));
    });
  }

  /**
   * Stops polling. A transaction in flight may finish, and requests still waiting for their batch are sent in one
   * last transaction (a block asked for just before Homebridge stops must not be dropped), all within `graceMs`;
   * then the connection is closed and whatever the router did not confirm is logged.
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
      camera.timed.stopTimer();
    }
    this.wake?.();
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.driver.close();
    for (const camera of this.cameras.values()) {
      const unconfirmed = intents.unconfirmed(camera.intent);
      if (unconfirmed !== undefined) {
        this.say.say(say.unconfirmedAtStop(camera.watch.settings, unconfirmed));
      }
    }
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    // Once stopped, the loop only finishes what was asked before the stop, on a connection it already has.
    while (!this.stopped || (this.workReady && this.driver.connected)) {
      if (!this.driver.connected && !(await this.connect())) {
        continue;
      }
      try {
        if (this.workReady) {
          this.workReady = false;
          await this.transact();
        } else {
          this.absorb(await this.driver.read(this.options.cameras), NO_REQUESTS);
        }
        this.connection.answered();
      } catch (error) {
        const setback = this.connection.sessionFailed(asRouterError(error));
        this.lost(setback.message, 'the router stopped answering');
        await this.sleep(setback.delayMs, false);
        continue;
      }
      if (this.workReady) {
        continue;
      }
      // The planner decides whether the router needs anything nobody asked for (a repair, a save).
      const repairDue = this.lastReading !== undefined && !this.driver.plan(this.lastReading, NO_REQUESTS).empty;
      const untilRepair = this.connection.untilRepair(this.now());
      if (repairDue && untilRepair <= 0) {
        this.workReady = true;
        continue;
      }
      await this.sleep(repairDue ? Math.min(this.options.pollMs, untilRepair) : this.options.pollMs, true);
    }
  }

  /** Connects; false (after waiting out the backoff) when that failed. */
  private async connect(): Promise<boolean> {
    try {
      await this.driver.connect();
    } catch (error) {
      const setback = this.connection.connectFailed(asRouterError(error));
      this.lost(setback.message, 'the router cannot be reached');
      await this.sleep(setback.delayMs, false);
      return false;
    }
    this.say.say(this.connection.connected());
    if (!this.offloadChecked) {
      try {
        this.offloadChecked = true;
        if (await this.driver.hardwareOffload()) {
          this.say.say(say.offloadOn());
        }
      } catch (error) {
        this.offloadChecked = false;
        this.say.say(say.offloadUnknown((error as Error).message));
      }
    }
    return true;
  }

  /** The router stopped answering: the switches show No Response, and openings waiting for their batch are dropped. */
  private lost(message: say.Message, reason: string): void {
    this.driver.close();
    this.setReachable(false);
    this.say.say(message);
    for (const camera of this.cameras.values()) {
      const { intent, dropped } = intents.dropOpening(camera.intent);
      camera.intent = intent;
      if (dropped) {
        this.say.say(say.openingDropped(camera.watch.settings, reason));
        this.options.listener.cameraChanged(camera.watch.settings.address);
      }
    }
  }

  /**
   * Applies the queued requests and any repairs in one transaction, planned on a reading taken for it, then reads
   * back and reports. When the plan is empty, its reading is the confirmation.
   */
  private async transact(): Promise<void> {
    const requested = new Map<string, Access>();
    for (const [address, camera] of this.cameras) {
      const { intent, asked } = intents.begin(camera.intent);
      camera.intent = intent;
      if (asked !== undefined) {
        requested.set(address, asked);
      }
    }
    const before = new Map([...this.cameras].map(([address, camera]) => [address, camera.watch.actual]));
    try {
      const { plan, outcome } = await this.planAndApply(requested);
      if (outcome?.result === 'committed' && !outcome.saved) {
        this.say.say(say.notSaved(outcome.detail));
      }
      const after = outcome === undefined ? plan.reading : await this.driver.read(this.options.cameras);
      this.absorb(after, requested);
      this.settle(requested, outcome, after);
      if (this.driver.plan(after, NO_REQUESTS).empty) {
        this.connection.repaired();
      } else if (outcome !== undefined && plan.repairs.length > 0) {
        // A repair that did not take (it failed, or does not stick) waits, longer each time, instead of rewriting
        // the router's flash in a loop. Damage done after a transaction that only applied requests is repaired at
        // the next poll, as usual.
        const why = outcome.result === 'committed' ? 'the router took it, but its rules still do not read back intact' : outcome.detail;
        this.say.say(this.connection.repairFailed(this.now(), why).message);
        this.say.say(say.stillToRepair(after.repairs));
      }
    } catch (error) {
      // The connection failed before the router confirmed the outcome (even after a commit: the read-back is the
      // confirmation). Nothing may stay shown as if it were confirmed.
      this.abandon(requested, error);
      throw error;
    }
    for (const [address, camera] of this.cameras) {
      if (camera.watch.actual === 'blocked' && before.get(address) !== 'blocked') {
        await this.cutFlows(camera.watch.settings);
      }
    }
  }

  /** Reads, plans and applies; a commit refused because another is running is retried on a fresh reading. */
  private async planAndApply(requested: ReadonlyMap<string, Access>): Promise<{ plan: Plan; outcome: ApplyOutcome | undefined }> {
    let plan = this.driver.plan(await this.driver.read(this.options.cameras), requested);
    if (plan.empty) {
      return { plan, outcome: undefined };
    }
    this.say.say(say.planned(plan.steps));
    let outcome = await this.driver.apply(plan);
    for (let attempt = 1; outcome.result === 'locked' && attempt <= LOCKED_COMMIT_RETRIES && !this.stopped; attempt++) {
      const delay = LOCKED_COMMIT_BACKOFF_MS * 2 ** (attempt - 1);
      this.say.say(say.routerBusy(delay, attempt, LOCKED_COMMIT_RETRIES));
      await this.sleep(delay, false);
      const inFlight = new Map([...this.cameras].flatMap(([address, camera]) => (camera.intent.inFlight === undefined ? [] : [[address, camera.intent.inFlight] as const])));
      plan = this.driver.plan(await this.driver.read(this.options.cameras), inFlight);
      outcome = await this.driver.apply(plan);
    }
    return { plan, outcome };
  }

  /** A new drop rule does not stop a flow already past it on an offloading router: delete the flows too. */
  private async cutFlows(settings: CameraSettings): Promise<void> {
    try {
      const cut = await this.driver.cutFlows(settings);
      this.say.say(say.flowsCut(settings, cut.flows, cut.addresses));
      if (cut.problem !== undefined) {
        this.say.say(say.flowsPartlyCut(settings, cut.problem));
      }
    } catch (error) {
      this.say.say(say.flowsNotCut(settings, (error as Error).message));
    }
  }

  /** Compares what was asked with what the router now has; reports each camera once. */
  private settle(requested: ReadonlyMap<string, Access>, outcome: ApplyOutcome | undefined, after: RouterReading): void {
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      if (!camera) {
        continue;
      }
      const actual = enforcedAccess(after.cameras.get(address));
      const { intent, confirmed } = intents.settle(camera.intent, wanted, actual);
      camera.intent = intent;
      if (!confirmed) {
        this.say.say(say.notApplied(camera.watch.settings, wanted, actual, outcome));
      } else if (outcome !== undefined) {
        this.say.say(say.confirmed(camera.watch.settings, wanted));
      }
      this.options.listener.cameraChanged(address);
    }
  }

  /** The connection failed before the router confirmed a transaction: blocks are queued again; openings reported unconfirmed. */
  private abandon(requested: ReadonlyMap<string, Access>, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      if (!camera) {
        continue;
      }
      const { intent, result } = intents.abandon(camera.intent, wanted);
      camera.intent = intent;
      if (result !== 'superseded') {
        const settings = camera.watch.settings;
        this.say.say(result === 'block-retried' ? say.blockUnconfirmed(settings, reason) : say.openingUnconfirmed(settings, reason));
        this.options.listener.cameraChanged(address);
      }
    }
    this.lastReading = undefined;
  }

  /** Takes in a reading: reachability, what the router says, and each camera's view of it. */
  private absorb(reading: RouterReading, requested: ReadonlyMap<string, Access>): void {
    this.lastReading = reading;
    this.setReachable(true);
    if (reading.adopted) {
      this.say.say(say.adopted(reading.ruleSet));
    }
    if (!reading.enforced) {
      this.say.say(say.notEnforced(reading.ruleSet));
    }
    reading.warnings.forEach((warning) => this.say.say(say.routerWarning(warning)));
    reading.notes.forEach((note) => this.say.say(say.routerNote(note)));
    reading.unlisted.forEach((camera) => this.say.say(say.unlisted(camera)));
    const routerOwn = new Set(reading.routerAddresses);
    const now = this.now();
    for (const [address, camera] of this.cameras) {
      if (routerOwn.has(address)) {
        this.say.say(say.routerOwnAddress(camera.watch.settings));
      }
      const seen = reading.cameras.get(address);
      if (!seen) {
        continue;
      }
      if (seen.access === 'allowed' && seen.openForMs !== undefined) {
        camera.timed.routerDeadline(now + seen.openForMs);
      }
      const ours = (access: Access): boolean => requested.get(address) === access || intents.expects(camera.intent, access);
      const observed = camera.watch.observe(seen, { now, ours, lockdownOn: this.lockdown.on });
      observed.messages.forEach((message) => this.say.say(message));
      if (observed.firstSeen) {
        this.options.markSeen(address);
      }
      if (observed.accessChanged) {
        camera.timed.accessKnown(camera.watch.actual, !this.stopped);
      }
      if (observed.cameraChanged) {
        this.options.listener.cameraChanged(address);
      }
      if (observed.leakChanged) {
        this.options.listener.leakChanged(address);
      }
    }
  }

  private setReachable(reachable: boolean): void {
    if (this.reachableNow !== reachable) {
      this.reachableNow = reachable;
      this.options.listener.reachabilityChanged();
    }
  }

  private queue(camera: Camera, access: Access): void {
    camera.intent = intents.request(camera.intent, access);
    this.options.listener.cameraChanged(camera.watch.settings.address);
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = undefined;
      this.workReady = true;
      this.wake?.();
    }, BATCH_WINDOW_MS);
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
}

function asRouterError(error: unknown): RouterError {
  if (error instanceof RouterError) {
    return error;
  }
  return new RouterError('protocol', `unexpected problem talking to the router (${error instanceof Error ? error.message : String(error)}).`);
}
