/**
 * One RouterGuard per router: the loop that keeps what HomeKit asked for and what the router has in step. It
 * connects, polls, runs transactions, sleeps or wakes, and stops; the decisions it acts on are made elsewhere:
 * what a transaction changes by the driver's planner (`transaction.ts` runs it), each camera's request in
 * `intent.ts`, the outage and its backoffs in `connection.ts`, Lockdown in `lockdown.ts`, what a reading means for a
 * camera in `cameraWatch.ts`, timed access in `timedAccess.ts`, and every sentence for the owner in `messages.ts`.
 *
 * The router is the source of truth (every poll reads its firewall; the driver reads its configuration when that changed). Requests never wait on the network: they are queued,
 * merged with those that arrive close together, and applied as one transaction. A block that could not be
 * confirmed is retried until the router confirms it; an opening is never retried behind the owner's back.
 */
import type { NetworkName } from '../destinations/summary';
import { RouterError } from '../router/driver';
import type { Access, RouterReading } from '../router/driver';
import { BATCH_WINDOW_MS, SHUTDOWN_GRACE_MS } from '../settings';
import { Connection } from './connection';
import type { GuardOptions, GuardSnapshot, RequestResult } from './guardApi';
import { flowDescription, MAX_LISTED, triedDescription } from './destinationBook';
import type { DestinationsSnapshot } from './guardApi';
import { GuardedCamera } from './guardedCamera';
import * as intents from './intent';
import { lockdownRefuses, switchLockdown } from './lockdown';
import type { LockdownMemory } from './lockdown';
import * as say from './messages';
import { Messenger } from './messages';
import { Sleeper } from './sleeper';
import { cutFlows, runTransaction } from './transaction';

export type { CameraSnapshot, GuardListener, GuardOptions, GuardSnapshot, RequestResult } from './guardApi';

const NO_REQUESTS: ReadonlyMap<string, Access> = new Map();

export class RouterGuard {
  private readonly cameras = new Map<string, GuardedCamera>();
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
  private lastPollAt: number | undefined;
  /** The last reading that carried destinations: when, and whether the router counted bytes per flow then. */
  private destinationsRead: { at: number; accounting: boolean | undefined } | undefined;
  /** The router's own addresses, from the latest reading (a destination there is expected). */
  private routerAddresses: readonly string[] = [];
  /** What the log last said about the router being lost, until it answers again. */
  private problem: string | undefined;

  constructor(private readonly options: GuardOptions) {
    this.say = new Messenger(options.log);
    this.now = options.now ?? Date.now;
    this.connection = new Connection(options.pollMs, options.random);
    this.lockdown = options.lockdown;
    for (const settings of options.cameras) {
      const address = settings.address;
      const memory = {
        seenBefore: options.seenCameras.has(address),
        openUntil: options.openUntil?.get(address),
        saveOpenUntil: (deadline: number | undefined) => options.saveOpenUntil?.(address, deadline),
      };
      const camera: GuardedCamera = new GuardedCamera(settings, options.leak, memory, () => this.closeTimed(camera), this.now);
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
    return this.cameras.get(address)?.shown(this.reachableNow);
  }

  /** True when what the switch would show is not known, so the leak sensor reports a fault. */
  stateUnknown(address: string): boolean {
    return this.shownAccess(address) === undefined;
  }

  leakDetected(address: string): boolean {
    return this.cameras.get(address)?.watch.leakDetected ?? false;
  }

  /** What the owner's status view shows: the last poll, the current problem, and each camera's enforced state. */
  snapshot(): GuardSnapshot {
    return {
      lastPoll: this.lastPollAt,
      problem: this.problem,
      cameras: [...this.cameras.values()].map((camera) => {
        const watch = camera.watch;
        const known = this.reachableNow && watch.notInForce === undefined ? watch.actual : undefined;
        return {
          name: camera.settings.name,
          address: camera.address,
          enforced: known,
          blockedPackets: watch.counters?.blockedPackets,
          egressBytes: watch.counters?.egressBytes,
          leak: watch.leakDetected,
          lastLeakTrip: watch.lastTripAt,
          ...(this.destinationsRead === undefined ? {} : { destinations: this.destinationsOf(camera) }),
        };
      }),
    };
  }

  /** A destination with its reverse name, once one has arrived. */
  private named<T extends { address: string; hostName?: string; network?: NetworkName }>(destination: T): T {
    const hostName = this.options.names?.nameOf(destination.address);
    const network = this.options.names?.networkOf?.(destination.address);
    return { ...destination, ...(hostName === undefined ? {} : { hostName }), ...(network === undefined ? {} : { network }) };
  }

  /** A camera's destinations for the status view, from its book. */
  private destinationsOf(camera: GuardedCamera): DestinationsSnapshot {
    const read = this.destinationsRead ?? { at: this.now(), accounting: undefined };
    const book = camera.watch.book;
    const tried = book.day(this.now());
    const flows = book.flows();
    const outgoing = flows?.flows.destinations ?? [];
    const expected = (address: string): boolean => camera.watch.isExpected(address, this.routerAddresses, this.options.names);
    return {
      blocked: tried.destinations.map((destination) => this.named({ ...triedDescription(destination), lastSeen: destination.lastSeen, expected: expected(destination.address) })),
      allowed: outgoing
        .slice(0, MAX_LISTED)
        .map((destination) => this.named({ ...flowDescription(destination), ...(flows === undefined ? {} : { lastSeen: flows.at }), expected: expected(destination.address) })),
      more: tried.others + Math.max(0, outgoing.length - MAX_LISTED) + (flows?.flows.otherDestinations ?? 0),
      accounting: read.accounting,
      updatedAt: read.at,
    };
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
    const change = switchLockdown(this.lockdown, on, new Map([...this.cameras].map(([address, camera]) => [address, camera.asked()])));
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
          this.absorb(await driver.read(this.options.cameras, 'poll'), NO_REQUESTS);
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
    this.problem = message.text;
    this.options.listener.readingTaken?.();
    this.say.say(message);
    for (const camera of this.cameras.values()) {
      this.tell(camera, camera.dropOpening(reason));
    }
  }

  /** Applies the queued requests and any repairs in one transaction, then settles each request on the read-back. */
  private async transact(): Promise<void> {
    const requested = new Map<string, Access>();
    for (const [address, camera] of this.cameras) {
      const asked = camera.begin();
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
      this.tell(camera, camera?.settle(wanted, after.cameras.get(address), outcome), true);
    }
    const needsMore = !this.options.driver.plan(after, NO_REQUESTS).empty;
    this.connection.afterTransaction(this.now(), needsMore, plan.repairs.length > 0, outcome, after.repairs).forEach((message) => this.say.say(message));
    const newlyBlocked = [...this.cameras].filter(([address, camera]) => camera.watch.actual === 'blocked' && before.get(address) !== 'blocked');
    await cutFlows(this.options.driver, newlyBlocked.map(([, camera]) => camera.settings), this.say);
  }

  /** The router did not confirm a transaction: blocks are queued again; openings are reported unconfirmed. */
  private abandon(requested: ReadonlyMap<string, Access>, reason: string): void {
    for (const [address, wanted] of requested) {
      const camera = this.cameras.get(address);
      this.tell(camera, camera?.abandon(wanted, reason));
    }
    this.lastReading = undefined;
  }

  /** Takes in a reading: reachability, what it says about the router, and each camera's view of it. */
  private absorb(reading: RouterReading, requested: ReadonlyMap<string, Access>): void {
    this.lastReading = reading;
    this.lastPollAt = this.now();
    if (reading.destinations !== undefined) {
      this.destinationsRead = { at: this.now(), accounting: reading.destinations.accounting };
    }
    this.problem = undefined;
    this.setReachable(true);
    say.readingMessages(reading, this.options.cameras).forEach((message) => this.say.say(message));
    this.routerAddresses = reading.routerAddresses;
    const destinations = reading.destinations;
    const context = {
      now: this.now(),
      lockdownOn: this.lockdown.on,
      stopped: this.stopped,
      routerAddresses: reading.routerAddresses,
      ...(destinations?.accounting === undefined ? {} : { accounting: destinations.accounting }),
      flowsComplete: destinations !== undefined && destinations.flowsProblem === undefined,
    };
    const firstSeen: string[] = [];
    for (const [address, camera] of this.cameras) {
      const seen = reading.cameras.get(address);
      const observed = seen && camera.observe(seen, requested.get(address), context, reading.destinations?.cameras.get(address), this.options.names);
      if (observed) {
        observed.messages.forEach((message) => this.say.say(message));
        if (observed.firstSeen) {
          firstSeen.push(address);
        }
        if (observed.cameraChanged) {
          this.options.listener.cameraChanged(address);
        }
        if (observed.leakChanged) {
          this.options.listener.leakChanged(address);
        }
      }
    }
    this.askNames(reading);
    // Once per reading, not per camera: each call rewrites Homebridge's whole accessory cache.
    if (firstSeen.length > 0) {
      this.options.markSeen(firstSeen);
    }
    this.options.listener.readingTaken?.();
  }

  /**
   * Starts the reverse look-ups of the reading's destinations, and the forward look-ups of the cameras'
   * `allowDestinations` host names (both return at once: what they find serves later readings and the status).
   */
  private askNames(reading: RouterReading): void {
    const names = this.options.names;
    if (names === undefined) {
      return;
    }
    const hostNames = this.options.cameras.flatMap((camera) => (camera.allowDestinations ?? []).flatMap((entry) => (entry.kind === 'name' ? [entry.name] : [])));
    if (hostNames.length > 0) {
      names.lookUpNames?.(hostNames);
    }
    if (reading.destinations === undefined) {
      return;
    }
    const addresses = new Set<string>();
    for (const camera of reading.destinations.cameras.values()) {
      camera.attempts?.destinations.slice(0, MAX_LISTED).forEach((destination) => addresses.add(destination.address));
      camera.flows?.destinations.slice(0, MAX_LISTED).forEach((destination) => addresses.add(destination.address));
    }
    names.lookUp(addresses);
  }

  /** Says what happened to a camera, and has HomeKit show it again; for a settled request, even with nothing to say. */
  private tell(camera: GuardedCamera | undefined, message: say.Message | undefined, always = false): void {
    if (camera && (message !== undefined || always)) {
      this.say.say(message);
      this.options.listener.cameraChanged(camera.address);
    }
  }

  /** Timed access ran out while the camera is open: block it, even while the router is unreachable (retried until confirmed). */
  private closeTimed(camera: GuardedCamera): void {
    if (!this.stopped) {
      this.say.say(say.closingTimed(camera.settings));
      this.queue(camera, 'blocked');
    }
  }

  private setReachable(reachable: boolean): void {
    if (this.reachableNow !== reachable) {
      this.reachableNow = reachable;
      this.options.listener.reachabilityChanged();
    }
  }

  private queue(camera: GuardedCamera | undefined, access: Access): void {
    if (camera) {
      camera.request(access);
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
