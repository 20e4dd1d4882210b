/**
 * One camera as the router's readings show it: what it enforces, whether its rules were ever seen, whether its
 * damage was reported, whether its block is in force in the kernel, its leak detector and its timed-access deadline.
 * `observe` takes one reading and returns what changed and what to tell the owner; it does no I/O.
 *
 * | reading                                  | access shown       | said                                       |
 * |------------------------------------------|--------------------|--------------------------------------------|
 * | missing, never seen                      | unknown            | info: new, created blocked (once per episode) |
 * | missing, seen before                     | unknown            | warn: deleted on the router, re-created blocked |
 * | damaged                                  | unknown            | warn: changed on the router, re-created blocked |
 * | intact, access changed, expected by us   | the new access     | nothing (the transaction reports it)       |
 * | intact, access changed, not ours         | the new access     | warn: changed outside HomeKit (+ Lockdown note) |
 * | allowed → blocked by its router deadline | blocked            | info: closed by the router itself          |
 * | blocked, not in force in the kernel      | allowed (its packets get out) | error LEAK, sensor tripped       |
 * | counters                                 | -                  | leak trips and clears (see leakDetector)   |
 */
import type { CameraSettings, LeakSettings } from '../config';
import { canonicalAddress } from '../destinations/address';
import type { FlowDestination } from '../destinations/conntrack';
import { carriesIPv4, expectedBy, isPublicAddress } from '../destinations/expected';
import type { Access, CameraDestinations, CameraReading, EgressCounters } from '../router/driver';
import { DestinationBook } from './destinationBook';
import type { DestinationNames } from './guardApi';
import { LeakDetector } from './leakDetector';
import * as say from './messages';
import type { Message } from './messages';
import { UploadExemption } from './uploadExemption';

export interface Observed {
  readonly messages: readonly Message[];
  /** The Switch or the fault may show something else now. */
  readonly cameraChanged: boolean;
  readonly leakChanged: boolean;
  /** Its rules were seen on the router for the first time (remember it across restarts). */
  readonly firstSeen: boolean;
  /** Its enforced access changed (timed access must follow). */
  readonly accessChanged: boolean;
}

export interface ObserveContext {
  readonly now: number;
  /** True when the guard asked for this access (in this transaction, or in one still in flight or queued). */
  readonly ours: (access: Access) => boolean;
  readonly lockdownOn: boolean;
  /** Reverse names that have arrived, for the trip line. */
  readonly names?: DestinationNames;
  /** The router's own addresses (where DNS may go). */
  readonly routerAddresses?: readonly string[];
  /** `nf_conntrack_acct` on the router, from this reading; undefined when unknown (or not read). */
  readonly accounting?: boolean;
  /** False when the reading's connection listing was cut: only some connections arrived. */
  readonly flowsComplete?: boolean;
}

export class CameraWatch {
  /** What the router enforces, from the last reading; undefined until known, and while its rules are missing or damaged. */
  actual: Access | undefined;
  /** Set while the configuration blocks it but the kernel's firewall does not: why its packets get out. */
  notInForce: string | undefined;
  /** When the sensor last tripped (epoch ms), for the settings page's status view. */
  lastTripAt: number | undefined;
  /** The counters of the last reading that had them. */
  counters: EgressCounters | undefined;
  private seen: boolean;
  private damageReported = false;
  private readonly detector: LeakDetector;
  /** Where it tried to go or went, over the readings. */
  readonly book = new DestinationBook();
  /** Bytes to its expected destinations, left out of the upload alarm's count. */
  private readonly exemption = new UploadExemption();

  constructor(
    readonly settings: CameraSettings,
    private readonly leak: LeakSettings,
    seenBefore: boolean,
  ) {
    this.seen = seenBefore;
    this.detector = new LeakDetector(leak);
  }

  get leakDetected(): boolean {
    return this.detector.detected || this.notInForce !== undefined;
  }

  observe(reading: CameraReading, context: ObserveContext, destinations?: CameraDestinations): Observed {
    const messages: Message[] = [];
    // An episode that never tripped the sensor ends with the leak window: a trip names only the tries within it.
    const since = this.book.episodeSince;
    if (!this.detector.detected && since !== undefined && context.now - since >= this.leak.windowMs) {
      this.book.endEpisode();
    }
    this.book.add(context.now, destinations);
    const camera = this.settings;
    if (reading.access === undefined) {
      // Missing or damaged: nothing known is enforced.
      this.counters = undefined;
      this.resetBaseline();
      const changed = this.actual !== undefined;
      // Nothing trustworthy is enforced now; the repair is about to make it blocked.
      this.actual = undefined;
      if (!this.damageReported) {
        this.damageReported = true;
        messages.push(!this.seen ? say.newCamera(camera) : reading.status === 'missing' ? say.rulesDeleted(camera) : say.rulesChanged(camera));
      }
      return { messages, cameraChanged: changed, leakChanged: false, firstSeen: false, accessChanged: false };
    }
    this.damageReported = false;
    const firstSeen = !this.seen;
    this.seen = true;
    const access = reading.access;
    let cameraChanged = false;
    let leakChanged = false;
    const accessChanged = access !== this.actual;
    if (accessChanged) {
      const before = this.actual;
      this.actual = access;
      cameraChanged = true;
      const ours = context.ours(access);
      if (before === 'allowed' && access === 'blocked' && reading.timedOut === true && !ours) {
        messages.push(say.closedByRouter(camera));
      } else if (before !== undefined && !ours) {
        messages.push(say.changedOnRouter(camera, access));
        if (access === 'allowed' && context.lockdownOn) {
          messages.push(say.openedDespiteLockdown(camera));
        }
      }
    }
    const notInForce = reading.access === 'blocked' ? reading.notInForce : undefined;
    if (notInForce !== this.notInForce) {
      if (notInForce === undefined) {
        // Said only of a camera still blocked: one opened since is not "in force again", it is open.
        if (access === 'blocked') {
          messages.push(say.inForceAgain(camera));
        }
      } else if (this.notInForce === undefined) {
        messages.push(say.notInForce(camera, notInForce));
      }
      this.notInForce = notInForce;
      // Traffic counted while the block was (not) in force says nothing about the other side of the change.
      this.resetBaseline();
      cameraChanged = true;
      leakChanged = true;
    }
    const dns = this.foreignDns(destinations, context.routerAddresses ?? [], context.names);
    if (dns !== undefined) {
      const wasDetected = this.detector.detected;
      this.detector.trip(context.now);
      this.lastTripAt = context.now;
      messages.push(say.foreignDns(camera, dns, wasDetected, context.names));
      leakChanged ||= !wasDetected;
    }
    if (reading.counters !== undefined) {
      const wasDetected = this.detector.detected;
      this.counters = reading.counters;
      const exemption = this.exemption.next({
        flows: destinations?.flows,
        accounting: context.accounting,
        complete: context.flowsComplete !== false,
        exempt: (address) => this.exempt(address, context.routerAddresses ?? [], context.names),
      });
      if (exemption.accountingOff && access === 'allowed' && (camera.allowDestinations?.length ?? 0) > 0 && this.leak.uploadBytes > 0) {
        messages.push(say.exemptionNeedsAccounting(camera));
      }
      const trip = this.detector.observe({ at: context.now, access, counters: reading.counters, exemptBytes: exemption.bytes });
      if (trip) {
        this.lastTripAt = context.now;
        const expected = (address: string): boolean => this.isExpected(address, context.routerAddresses ?? [], context.names);
        // Only a camera with expected destinations has its lines marked: for the others, nothing was ever expected.
        const marks = (camera.allowDestinations?.length ?? 0) > 0 ? { expected } : {};
        messages.push(say.leak(camera, trip, this.leak.uploadBytes, wasDetected, { tried: this.book.episode(), sentMost: this.sentMost(expected), names: context.names, ...marks }));
      }
      if (wasDetected !== this.detector.detected) {
        if (!this.detector.detected) {
          this.book.endEpisode();
          messages.push(say.leakCleared(camera));
        }
        leakChanged = true;
      }
    } else {
      this.counters = undefined;
      this.resetBaseline();
      if (this.detector.expire(context.now)) {
        this.book.endEpisode();
        messages.push(say.leakCleared(camera));
        leakChanged = true;
      }
    }
    return { messages, cameraChanged, leakChanged, firstSeen, accessChanged };
  }

  /** Forgets the counters' baselines, the detector's and the exemption's together: they must stay comparable. */
  private resetBaseline(): void {
    this.detector.resetBaseline();
    this.exemption.reset();
  }

  /**
   * True when the camera is expected to reach the address: one of the router's own, or matched by its
   * `allowDestinations` (an address or CIDR entry, a name's resolved addresses, or, with `byReverseName`, an equal
   * reverse name). A reverse name is whatever the address's owner publishes, so a hostile server can claim the
   * owner's name: it marks a destination expected in the status and the log, but never spares bytes from the
   * upload count nor DNS from `tripOnForeignDns` (those take only addresses, CIDRs and forward look-ups).
   */
  isExpected(address: string, routerAddresses: readonly string[], names: DestinationNames | undefined, byReverseName = true): boolean {
    const canonical = canonicalAddress(address) ?? address;
    if (routerAddresses.some((router) => (canonicalAddress(router) ?? router) === canonical)) {
      return true;
    }
    return this.expectedByList(address, names, byReverseName);
  }

  private expectedByList(address: string, names: DestinationNames | undefined, byReverseName: boolean): boolean {
    const entries = this.settings.allowDestinations ?? [];
    if (entries.length === 0) {
      return false;
    }
    const lookups = {
      ...(names?.addressesOfName === undefined ? {} : { addressesOf: (name: string) => names.addressesOfName?.(name) }),
      ...(names === undefined || !byReverseName ? {} : { nameOf: (each: string) => names.nameOf(each) }),
    };
    return expectedBy(address, entries, lookups) !== undefined;
  }

  /**
   * True when bytes to the address may be left out of the upload count: expected by the list (not merely the
   * router), public (LAN traffic never passes the egress counter), and in a family the counter counts (IPv6 only for
   * a camera with a MAC, whose IPv6 rules count it).
   */
  private exempt(address: string, routerAddresses: readonly string[], names: DestinationNames | undefined): boolean {
    const canonical = canonicalAddress(address);
    if (canonical === undefined || !isPublicAddress(canonical) || routerAddresses.some((router) => (canonicalAddress(router) ?? router) === canonical)) {
      return false;
    }
    if (!carriesIPv4(canonical) && this.settings.mac === undefined) {
      return false;
    }
    return this.expectedByList(canonical, names, false);
  }

  /**
   * With `tripOnForeignDns`: the first DNS flow of this reading to anything but the router or an expected destination
   * (the owner's resolvers in `allowDestinations`); undefined when none.
   */
  private foreignDns(destinations: CameraDestinations | undefined, routerAddresses: readonly string[], names: DestinationNames | undefined): FlowDestination | undefined {
    if (this.settings.tripOnForeignDns !== true || destinations?.flows === undefined) {
      return undefined;
    }
    return destinations.flows.destinations.find(
      (destination) =>
        destination.direction === 'outgoing' &&
        (destination.protocol === 'udp' || destination.protocol === 'tcp') &&
        (destination.port === 53 || destination.port === 853) &&
        !this.isExpected(destination.address, routerAddresses, names, false),
    );
  }

  /**
   * The outgoing destination of the latest flows it sent the most bytes to (or, without byte counts, had most flows
   * with), an unexpected one first: the upload alarm names what stands out.
   */
  private sentMost(expected: (address: string) => boolean): FlowDestination | undefined {
    const outgoing = this.book.flows()?.flows.destinations.filter((destination) => destination.direction === 'outgoing') ?? [];
    const unexpected = outgoing.filter((destination) => !expected(destination.address));
    const weight = (destination: FlowDestination): number => destination.traffic?.bytesSent ?? -1 / (destination.flows + 1);
    const pool = unexpected.length > 0 ? unexpected : outgoing;
    return pool.reduce<FlowDestination | undefined>((best, destination) => (best === undefined || weight(destination) > weight(best) ? destination : best), undefined);
  }
}
