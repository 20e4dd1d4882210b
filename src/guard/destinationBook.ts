/**
 * Where one camera tried to go or went, added up over the readings the guard takes (issue 12; see
 * docs/design/destinations.md). Pure: no I/O, no clock of its own; the guard hands it each reading once, polls and
 * the reads of transactions alike.
 *
 * - Tries (a blocked camera's logged packets) are added up twice: over the current leak episode, for the trip's log
 *   line, and over a rolling 24 hours, for the status view. Logged tries are a sample of a rate-limited log: the
 *   exact total is always the block counter's.
 * - Flows (where an allowed camera sends, and what a blocked camera's allow-list lets through) are a snapshot: the
 *   latest reading's, replacing the one before.
 *
 * Memory is bounded whatever the router sends: at most MAX_KEPT destinations per hour of the day and per episode,
 * 24 hours kept, and at most MAX_LISTED reported.
 */
import type { CameraFlows, FlowDestination, TransportProtocol } from '../destinations/conntrack';
import type { RuleAttempts } from '../destinations/firewallLog';
import type { DestinationDescription } from '../destinations/summary';
import type { CameraDestinations } from '../router/driver';

/** The most destinations a list reports (the status file's bound). */
export const MAX_LISTED = 20;
/** The most destinations kept per hour and per episode: enough for the top 20 to be right in all but contrived cases. */
export const MAX_KEPT = 200;
const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;

/** Tries toward one destination, added up. */
export interface TriedDestination {
  readonly address: string;
  readonly protocol: TransportProtocol;
  readonly protocolNumber?: number;
  readonly port?: number;
  readonly icmpType?: number;
  /** Logged tries (a sample). */
  readonly logged: number;
  /** When a reading last carried it (the guard's clock, ms). */
  readonly lastSeen: number;
}

export interface TriedList {
  /** The most tries first, at most MAX_LISTED. */
  readonly destinations: readonly TriedDestination[];
  /** Destinations left out of the list. */
  readonly others: number;
  /** Every logged try counted (listed or not). */
  readonly logged: number;
}

export interface FlowSnapshot {
  readonly flows: CameraFlows;
  /** The guard's clock when it was read. */
  readonly at: number;
}

type Sums = Map<string, TriedDestination>;

function keyOf(destination: Pick<TriedDestination, 'address' | 'protocol' | 'protocolNumber' | 'port' | 'icmpType'>): string {
  return `${destination.protocol} ${destination.protocolNumber ?? ''} ${destination.address} ${destination.port ?? ''} ${destination.icmpType ?? ''}`;
}

/** Adds one reading's attempts into sums, keeping at most MAX_KEPT destinations (the fewest tries go first). */
function addInto(sums: Sums, attempts: RuleAttempts, at: number): void {
  for (const attempt of attempts.destinations) {
    if (!Number.isSafeInteger(attempt.logged) || attempt.logged <= 0) {
      continue;
    }
    const key = keyOf(attempt);
    const before = sums.get(key);
    sums.set(key, {
      address: attempt.address,
      protocol: attempt.protocol,
      ...(attempt.protocolNumber === undefined ? {} : { protocolNumber: attempt.protocolNumber }),
      ...(attempt.port === undefined ? {} : { port: attempt.port }),
      ...(attempt.icmpType === undefined ? {} : { icmpType: attempt.icmpType }),
      logged: (before?.logged ?? 0) + attempt.logged,
      lastSeen: at,
    });
  }
  if (sums.size > MAX_KEPT) {
    const fewest = [...sums].sort(([, a], [, b]) => a.logged - b.logged || a.lastSeen - b.lastSeen);
    fewest.slice(0, sums.size - MAX_KEPT).forEach(([key]) => sums.delete(key));
  }
}

function listOf(sums: Iterable<TriedDestination>, extraLogged = 0): TriedList {
  const all = [...sums];
  all.sort((a, b) => b.logged - a.logged || b.lastSeen - a.lastSeen || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) || (a.port ?? 0) - (b.port ?? 0));
  return {
    destinations: all.slice(0, MAX_LISTED),
    others: Math.max(0, all.length - MAX_LISTED),
    logged: all.reduce((total, destination) => total + destination.logged, 0) + extraLogged,
  };
}

export class DestinationBook {
  /** Hour index (at / HOUR_MS) → that hour's sums. */
  private readonly hours = new Map<number, Sums>();
  private episodeSums: Sums = new Map();
  /** Logged tries beyond the listed destinations of a reading (the driver's `otherDestinations`), this episode. */
  private episodeUnlisted = 0;
  private lastFlows: FlowSnapshot | undefined;
  /** When the episode's first tries arrived; undefined while it has none. */
  private episodeStart: number | undefined;

  /** Takes one camera's part of one reading. */
  add(at: number, destinations: CameraDestinations | undefined): void {
    if (destinations === undefined) {
      return;
    }
    if (destinations.attempts !== undefined) {
      const hour = Math.floor(at / HOUR_MS);
      let sums = this.hours.get(hour);
      if (sums === undefined) {
        sums = new Map();
        this.hours.set(hour, sums);
      }
      addInto(sums, destinations.attempts, at);
      this.episodeStart ??= at;
      addInto(this.episodeSums, destinations.attempts, at);
      const valid = (count: number): number => (Number.isSafeInteger(count) && count > 0 ? count : 0);
      const listed = destinations.attempts.destinations.reduce((total, destination) => total + valid(destination.logged), 0);
      this.episodeUnlisted += Math.max(0, valid(destinations.attempts.logged) - listed);
      this.expire(at);
    }
    if (destinations.flows !== undefined) {
      this.lastFlows = { flows: destinations.flows, at };
    }
  }

  /** The sensor cleared (or a new episode starts): the next trip names only what came after. */
  endEpisode(): void {
    this.episodeSums = new Map();
    this.episodeUnlisted = 0;
    this.episodeStart = undefined;
  }

  /** When the current episode's first tries arrived. */
  get episodeSince(): number | undefined {
    return this.episodeStart;
  }

  /** Tries logged since the episode began, the most first. */
  episode(): TriedList {
    return listOf(this.episodeSums.values(), this.episodeUnlisted);
  }

  /** Tries logged over the last 24 hours, the most first. */
  day(now: number): TriedList {
    this.expire(now);
    const total: Sums = new Map();
    for (const sums of this.hours.values()) {
      for (const [key, destination] of sums) {
        const before = total.get(key);
        total.set(key, before === undefined ? destination : { ...destination, logged: before.logged + destination.logged, lastSeen: Math.max(before.lastSeen, destination.lastSeen) });
      }
    }
    return listOf(total.values());
  }

  /** The latest reading's flows; undefined until one was read. */
  flows(): FlowSnapshot | undefined {
    return this.lastFlows;
  }

  private expire(now: number): void {
    const oldest = Math.floor(now / HOUR_MS) - (DAY_HOURS - 1);
    for (const hour of this.hours.keys()) {
      if (hour < oldest) {
        this.hours.delete(hour);
      }
    }
  }
}

/** A list entry as summary.ts describes it. */
export function triedDescription(destination: TriedDestination, names?: { hostName?: string }): DestinationDescription {
  return {
    address: destination.address,
    protocol: destination.protocol,
    ...(destination.protocolNumber === undefined ? {} : { protocolNumber: destination.protocolNumber }),
    ...(destination.port === undefined ? {} : { port: destination.port }),
    ...(destination.icmpType === undefined ? {} : { icmpType: destination.icmpType }),
    count: destination.logged,
    unit: 'tries',
    ...(names?.hostName === undefined ? {} : { hostName: names.hostName }),
  };
}

/** A flow destination as summary.ts describes it. */
export function flowDescription(destination: FlowDestination): DestinationDescription {
  return {
    address: destination.address,
    protocol: destination.protocol,
    protocolNumber: destination.protocolNumber,
    ...(destination.port === undefined ? {} : { port: destination.port }),
    count: destination.flows,
    unit: 'flows',
    ...(destination.traffic === undefined ? {} : { bytesSent: destination.traffic.bytesSent }),
  };
}
