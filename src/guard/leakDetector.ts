/**
 * When does a camera's leak sensor trip? From the router's per-rule counters, read once per poll:
 *
 * | access  | counter that rises                         | verdict                                     |
 * |---------|--------------------------------------------|---------------------------------------------|
 * | blocked | block rule, >= `attempts` packets in window | leak: it keeps trying to phone home         |
 * | allowed | egress rule, > `uploadBytes` in window      | leak: unexpected upload (off when 0)        |
 * | blocked | egress rule, any packet                     | leak: the block is not working (an error)   |
 *
 * While allowed, bytes the camera sent to its expected destinations (`allowDestinations`) in the interval, as the
 * caller worked them out from the connection table (uploadExemption.ts), are taken off the egress rise: never more
 * than the rise itself, so the count never goes negative, and nothing at all when there is no rise to take them from.
 *
 * The sensor clears after `quietMs` without a new trigger. A counter that goes down (rule re-inserted, router
 * rebooted, counters cleared) starts a new baseline: never a negative delta, never a false alarm. A change of
 * access between two readings also starts a new baseline, since nobody can tell which side of the change the
 * traffic in between belongs to: the detector sees it in the readings themselves, so nobody has to tell it.
 * Anything else that makes the counters incomparable (rules rewritten, the block not in force) calls
 * `resetBaseline`.
 */
import type { LeakSettings } from '../config';
import type { Access, EgressCounters } from '../router/driver';

export interface CounterSample {
  /** Milliseconds, from any monotonic-enough clock. */
  readonly at: number;
  readonly access: Access;
  readonly counters: EgressCounters;
  /** Bytes of the egress rise since the previous sample that went to expected destinations; 0 or absent: none known. */
  readonly exemptBytes?: number;
}

export type LeakReason = 'blocked-attempts' | 'upload' | 'block-bypassed';

export interface LeakTrip {
  readonly reason: LeakReason;
  /** Packets (blocked attempts, bypass) or bytes (upload) counted within the window. */
  readonly amount: number;
  readonly windowMs: number;
}

interface Delta {
  readonly at: number;
  readonly access: Access;
  readonly blockedPackets: number;
  readonly egressPackets: number;
  readonly egressBytes: number;
}

export class LeakDetector {
  private previous: CounterSample | undefined;
  private deltas: Delta[] = [];
  private lastTriggerAt: number | undefined;

  constructor(private readonly settings: LeakSettings) {}

  get detected(): boolean {
    return this.lastTriggerAt !== undefined;
  }

  /**
   * Takes one reading; returns the trip it causes, if any. A trip while already detected extends the alarm
   * (and is returned again so the caller can log it at debug level).
   */
  observe(sample: CounterSample): LeakTrip | undefined {
    const previous = this.previous;
    this.previous = sample;
    this.expire(sample.at);
    if (!previous || previous.access !== sample.access || sample.at <= previous.at) {
      return undefined;
    }
    this.deltas.push({
      at: sample.at,
      access: sample.access,
      blockedPackets: rise(previous.counters.blockedPackets, sample.counters.blockedPackets),
      egressPackets: rise(previous.counters.egressPackets, sample.counters.egressPackets),
      egressBytes: countedBytes(rise(previous.counters.egressBytes, sample.counters.egressBytes), sample.access === 'allowed' ? sample.exemptBytes : undefined),
    });
    const windowStart = sample.at - this.settings.windowMs;
    this.deltas = this.deltas.filter((delta) => delta.at > windowStart);

    const trip = this.evaluate(sample.access);
    if (trip) {
      this.lastTriggerAt = sample.at;
      // The evidence is used up: the next trip needs new traffic, so a single burst trips the sensor once.
      this.deltas = [];
    }
    return trip;
  }

  /** Trips the sensor on evidence other than the counters (DNS sent past the router); extends an alarm already on. */
  trip(at: number): void {
    this.lastTriggerAt = at;
  }

  /** Forgets the baseline (counters could not be read, rules rewritten): the next reading starts afresh. */
  resetBaseline(): void {
    this.previous = undefined;
  }

  /** Clears the alarm once `quietMs` passed without a trigger; returns true when it just cleared. */
  expire(now: number): boolean {
    if (this.lastTriggerAt !== undefined && now - this.lastTriggerAt >= this.settings.quietMs) {
      this.lastTriggerAt = undefined;
      return true;
    }
    return false;
  }

  private evaluate(access: Access): LeakTrip | undefined {
    const sum = (pick: (delta: Delta) => number): number =>
      this.deltas.filter((delta) => delta.access === access).reduce((total, delta) => total + pick(delta), 0);
    const windowMs = this.settings.windowMs;
    if (access === 'blocked') {
      const bypass = sum((delta) => delta.egressPackets);
      if (bypass > 0) {
        return { reason: 'block-bypassed', amount: bypass, windowMs };
      }
      const attempts = sum((delta) => delta.blockedPackets);
      return attempts >= this.settings.attempts ? { reason: 'blocked-attempts', amount: attempts, windowMs } : undefined;
    }
    const uploaded = sum((delta) => delta.egressBytes);
    return this.settings.uploadBytes > 0 && uploaded > this.settings.uploadBytes ? { reason: 'upload', amount: uploaded, windowMs } : undefined;
  }
}

/** The egress rise less what went to expected destinations: never below 0, never more taken off than is known. */
function countedBytes(rose: number, exempt: number | undefined): number {
  if (exempt === undefined || !Number.isSafeInteger(exempt) || exempt <= 0) {
    return rose;
  }
  return rose - Math.min(rose, exempt);
}

/** How much a counter rose; a counter that went down (or vanished) restarted, so it counts as no rise. */
function rise(before: number | undefined, after: number | undefined): number {
  if (before === undefined || after === undefined || after < before) {
    return 0;
  }
  return after - before;
}
