/**
 * One RouterGuard per router: the loop that keeps what HomeKit asked for and what the router has in step. It
 * connects, polls, runs transactions, sleeps or wakes, and stops; the decisions it acts on are made elsewhere:
 * what a transaction changes by the driver's planner (`transaction.ts` runs it), each camera's request in
 * `intent.ts`, the outage and its backoffs in `connection.ts`, Lockdown in `lockdown.ts`, what a reading means for a
 * camera in `cameraWatch.ts`, timed access in `timedAccess.ts`, and every sentence for the owner in `messages.ts`.
 *
 * The router is the source of truth (every poll reads it). Requests never wait on the network: they are queued,
 * merged with those that arrive close together, and applied as one transaction. A block that could not be
 * confirmed is retried until the router confirms it; an opening is never retried behind the owner's back.
 */
import type { CameraSettings } from '../config';
import { RouterError, enforcedAccess } from '../router/driver';
import type { Access, RouterReading } from '../router/driver';
import { BATCH_WINDOW_MS, SHUTDOWN_GRACE_MS } from '../settings';
import { CameraWatch } from './cameraWatch';
import { Connection } from './connection';
import type { GuardOptions, RequestResult } from './guardApi';
import * as intents from './intent';
import type { Intent } from './intent';
import { lockdownRefuses, switchLockdown } from './lockdown';
import type { LockdownMemory } from './lockdown';
import * as say from './messages';
import { Messenger } from './messages';
import { Sleeper } from './sleeper';
import { TimedAccess } from './timedAccess';
import { runTransaction } from './transaction';

export type { GuardListener, GuardOptions, RequestResult } from './guardApi';

interface Camera {
  readonly settings: CameraSettings;
  readonly watch: CameraWatch;
  readonly timed: TimedAccess;
  intent: Intent;
}

const NO_REQUESTS: ReadonlyMap<string, Access> = new Map();

export class RouterGuard {
  private readonly cameras = new Map<string, Camera>();
  private readonly say: Messenger;
  private readonly now: () => number;
  private readonly connection: Connection;
  private readonly sleeper = new Sleeper();
  private lockdown: LockdownMemory;
  private reachableNow = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private workReady = false;
  /** The latest reading, while it is the latest word on the router (dropped when a transaction is abandoned). */
  private lastReading: RouterReading | undefined;
  private offloadChecked = false;

  constructor(private readonly options: GuardOptions) {
    this.say = new Messenger(options.log);
    this.now = options.now ?? Date.now;
    this.connection = new Connection(options.pollMs, options.random);
    this.lockdown = options.lockdown;
    for (const settings of options.cameras) {
      const address = settings.address;
      const closeTimed = (): void => {
        if (camera.watch.actual === 'allowed' && !this.stopped) {
          this.say.say(say.closingTimed(settings));
          this.queue(camera, 'blocked'); // even while the router is unreachable: a block is retried until confirmed
        }
      };
      const save = (deadline: number | undefined): void => options.saveOpenUntil?.(address, deadline);
      const camera: Camera = {
        settings,
        watch: new CameraWatch(settings, options.leak, options.seenCameras.has(address)),
        timed: new TimedAccess(settings.allowMinutes, options.openUntil?.get(address), save, closeTimed, this.now),
        intent: intents.IDLE,
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
      this.say.say(say.lockdownRefusesOpening(camera.settings));
      return 'refused-lockdown';
    }
    this.queue(camera, access);
    return 'queued';
  }

  requestLockdown(on: boolean): RequestResult {
    if (!this.reachableNow || this.stopped) {
      return 'unreachable';
    }
    // What each camera is asked or configured to have, not what it gets: a block the kernel does not enforce is
    // remembered as a block, so leaving Lockdown never opens a camera the configuration blocked.
    const asked = (camera: Camera): Access | undefined => intents.shown(camera.intent, camera.watch.actual, true, true);
    const change = switchLockdown(this.lockdown, on, new Map([...this.cameras].map(([address, camera]) => [address, asked(camera)])));
    if (change !== undefined) {
      change.requests.forEach((access, address) => this.queue(this.cameras.get(address), access));
      this.lockdown = change.memory;
      this.say.say(on ? say.lockdownEntered(this.cameras.size) : say.lockdownLeft());
      this.options.saveLockdown(change.memory);
      this.options.listener.lockdownChanged();
    }
    return 'queued';
  }

  // ---- life cycle ----

  start(): void {
    // The loop catches everything itself; reaching the catch means a bug, which must still not crash Homebridge.
    this.running ??= this.loop().catch((error: unknown) => this.say.say(say.guardCrashed(error instanceof Error ? error.message : String(error))));
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
    this.cameras.forEach((camera) => camera.timed.stopTimer());
    this.sleeper.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.options.driver.close();
    for (const camera of this.cameras.values()) {
      const unconfirmed = intents.unconfirmed(camera.intent);
      if (unconfirmed !== undefined) {
        this.say.say(say.unconfirmedAtStop(camera.settings, unconfirmed));
      }
    }
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    const driver = this.options.driver;
    // Once stopped, the loop only finishes what was asked before the stop, on a connection it already has.
    while (!this.stopped || (this.workReady && driver.connected)) {
      if (!driver.connected && !(await this.connect())) {
        continue;
      }
      try {
        if (this.workReady) {
          this.workReady = false;
          await this.transact();
        } else {
          this.absorb(await driver.read(this.options.cameras), NO_REQUESTS);
        }
        this.say.say(this.connection.answered());
      } catch (error) {
        const setback = this.connection.sessionFailed(asRouterError(error));
        this.lost(setback.message, 'the router stopped answering');
        await this.sleeper.sleep(setback.delayMs, false);
        continue;
      }
      // The planner decides whether the router needs anything nobody asked for (a repair, a save).
      const repairDue = this.lastReading !== undefined && !driver.plan(this.lastReading, NO_REQUESTS).empty;
      const untilRepair = this.connection.untilRepair(this.now());
      if (repairDue && untilRepair <= 0) {
        this.workReady = true;
      }
      if (!this.workReady) {
        await this.sleeper.sleep(repairDue ? Math.min(this.options.pollMs, untilRepair) : this.options.pollMs, true);
      }
    }
  }

  /** Connects; false (after waiting out the backoff) when that failed. */
  private async connect(): Promise<boolean> {
    try {
      await this.options.driver.connect();
    } catch (error) {
      const setback = this.connection.connectFailed(asRouterError(error));
      this.lost(setback.message, 'the router cannot be reached');
      await this.sleeper.sleep(setback.delayMs, false);
      return false;
    }
    this.say.say(this.connection.connected());
    if (!this.offloadChecked) {
      try {
        const offload = await this.options.driver.hardwareOffload();
        this.offloadChecked = true;
        this.say.say(offload ? say.offloadOn() : undefined);
      } catch (error) {
        this.say.say(say.offloadUnknown((error as Error).message));
      }
    }
    return true;
  }

  /** The router stopped answering: the switches show No Response, and openings waiting for their batch are dropped. */
  private lost(message: say.Message, reason: string): void {
    this.options.driver.close();
    this.setReachable(false);
    this.say.say(message);
    for (const camera of this.cameras.values()) {
      const { intent, dropped } = intents.dropOpening(camera.intent);
      camera.intent = intent;
      if (dropped) {
        this.say.say(say.openingDropped(camera.settings, reason));
        this.options.listener.cameraChanged(camera.settings.address);
      }
    }
  }

  /** Applies the queued requests and any repairs in one transaction, then settles each request on the read-back. */
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
    const inFlight = (): Map<string, Access> =>
      new Map([...this.cameras].flatMap(([address, { intent }]) => (intent.inFlight === undefined ? [] : [[address, intent.inFlight] as const])));
    let result;
    try {
      const wait = (ms: number): Promise<void> => this.sleeper.sleep(ms, false);
      result = await runTransaction({ driver: this.options.driver, cameras: this.options.cameras, say: this.say, inFlight, wait, stopped: () => this.stopped }, requested);
    } catch (error) {
      // Lost before the router confirmed the outcome (even after a commit: the read-back is the confirmation).
      this.abandon(requested, error instanceof Error ? error.message : String(error));
      throw error;
    }
    const { plan, outcome, after } = result;
    this.absorb(after, requested);
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      if (camera) {
        const actual = enforcedAccess(after.cameras.get(address));
        const settled = intents.settle(camera.intent, wanted, actual);
        camera.intent = settled.intent;
        this.say.say(!settled.confirmed ? say.notApplied(camera.settings, wanted, actual, outcome) : outcome && say.confirmed(camera.settings, wanted));
        this.options.listener.cameraChanged(address);
      }
    }
    if (this.options.driver.plan(after, NO_REQUESTS).empty) {
      this.connection.repaired();
    } else if (outcome !== undefined && plan.repairs.length > 0) {
      // A repair (or a save) that did not take waits, longer each time, instead of writing the router's flash in a
      // loop. A failed save was already reported as such.
      const why = outcome.result === 'committed' ? 'the router took it, but its rules still do not read back intact' : outcome.detail;
      const setback = this.connection.repairFailed(this.now(), why);
      this.say.say(after.repairs.length > 0 ? setback.message : undefined);
      this.say.say(after.repairs.length > 0 ? say.stillToRepair(after.repairs) : undefined);
    }
    for (const [address, camera] of this.cameras) {
      if (camera.watch.actual === 'blocked' && before.get(address) !== 'blocked') {
        await this.cutFlows(camera.settings);
      }
    }
  }

  /** A new drop rule does not stop a flow already past it on an offloading router: delete the flows too. */
  private async cutFlows(settings: CameraSettings): Promise<void> {
    try {
      const cut = await this.options.driver.cutFlows(settings);
      this.say.say(say.flowsCut(settings, cut.flows, cut.addresses));
      this.say.say(cut.problem === undefined ? undefined : say.flowsPartlyCut(settings, cut.problem));
    } catch (error) {
      this.say.say(say.flowsNotCut(settings, (error as Error).message));
    }
  }

  /** The router did not confirm a transaction: blocks are queued again; openings are reported unconfirmed. */
  private abandon(requested: ReadonlyMap<string, Access>, reason: string): void {
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      const abandoned = camera && intents.abandon(camera.intent, wanted);
      if (camera && abandoned && abandoned.result !== 'superseded') {
        camera.intent = abandoned.intent;
        this.say.say(abandoned.result === 'block-retried' ? say.blockUnconfirmed(camera.settings, reason) : say.openingUnconfirmed(camera.settings, reason));
        this.options.listener.cameraChanged(address);
      }
    }
    this.lastReading = undefined;
  }

  /** Takes in a reading: reachability, what it says about the router, and each camera's view of it. */
  private absorb(reading: RouterReading, requested: ReadonlyMap<string, Access>): void {
    this.lastReading = reading;
    this.setReachable(true);
    say.readingMessages(reading, this.options.cameras).forEach((message) => this.say.say(message));
    const now = this.now();
    for (const [address, camera] of this.cameras) {
      const seen = reading.cameras.get(address);
      if (seen?.openForMs !== undefined) {
        camera.timed.routerDeadline(now + seen.openForMs);
      }
      const ours = (access: Access): boolean => requested.get(address) === access || intents.expects(camera.intent, access);
      const observed = seen && camera.watch.observe(seen, { now, ours, lockdownOn: this.lockdown.on });
      if (observed) {
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
  }

  private setReachable(reachable: boolean): void {
    if (this.reachableNow !== reachable) {
      this.reachableNow = reachable;
      this.options.listener.reachabilityChanged();
    }
  }

  private queue(camera: Camera | undefined, access: Access): void {
    if (camera) {
      camera.intent = intents.request(camera.intent, access);
      this.options.listener.cameraChanged(camera.settings.address);
      this.batchTimer ??= setTimeout(() => {
        this.batchTimer = undefined;
        this.workReady = true;
        this.sleeper.wakeUp();
      }, BATCH_WINDOW_MS);
    }
  }
}

function asRouterError(error: unknown): RouterError {
  if (error instanceof RouterError) {
    return error;
  }
  return new RouterError('protocol', `unexpected problem talking to the router (${error instanceof Error ? error.message : String(error)}).`);
}
