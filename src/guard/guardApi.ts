/** What the HomeKit layer sees of a RouterGuard: how it is made, what it asks, and what it hears. */
import type { CameraSettings, LeakSettings } from '../config';
import type { DestinationDescription, NetworkName } from '../destinations/summary';
import type { Log } from '../log';
import type { RouterDriver } from '../router/driver';
import type { LockdownMemory } from './lockdown';

/** What the HomeKit layer hears about; each call means "read the guard's state again and show it". */
export interface GuardListener {
  cameraChanged(address: string): void;
  leakChanged(address: string): void;
  reachabilityChanged(): void;
  lockdownChanged(): void;
  /** A poll or a transaction read the router (its time and counters changed); optional, for the status view. */
  readingTaken?(): void;
}

/** What the guard knows of one camera now, for the owner's status view. */
export interface CameraSnapshot {
  readonly name: string;
  readonly address: string;
  /** What the router enforces now; undefined while that is not known (unreachable, rules missing or not in force). */
  readonly enforced: 'allowed' | 'blocked' | undefined;
  readonly blockedPackets: number | undefined;
  readonly egressBytes: number | undefined;
  readonly leak: boolean;
  /** Epoch ms of the last leak trip since Homebridge started. */
  readonly lastLeakTrip: number | undefined;
  /** Where it tried to go or went; undefined until a reading carried destinations. */
  readonly destinations?: DestinationsSnapshot;
}

/** One destination of a camera, as summary.ts describes it, with when it was last seen (epoch ms). */
export interface SnapshotDestination extends DestinationDescription {
  readonly lastSeen?: number;
  /** True when the camera is expected to reach it (the router, or its `allowDestinations`); false otherwise. */
  readonly expected?: boolean;
}

/** A camera's destinations for the status view: at most 20 in each list. */
export interface DestinationsSnapshot {
  /** Logged tries while blocked over the last 24 hours, the most first. */
  readonly blocked: readonly SnapshotDestination[];
  /** Its flows in the latest reading that read them (allowed, or through a blocked camera's allow-list). */
  readonly allowed: readonly SnapshotDestination[];
  /** Destinations left out of the two lists. */
  readonly more: number;
  /** Whether the router counts bytes per flow; undefined when that could not be read. */
  readonly accounting: boolean | undefined;
  /** Epoch ms of the reading the lists come from. */
  readonly updatedAt: number;
}

/** What the guard knows of its router now. */
export interface GuardSnapshot {
  /** Epoch ms of the last successful reading of the router. */
  readonly lastPoll: number | undefined;
  /** Why the router is not guarded right now, in the log's words; undefined while it answers. */
  readonly problem: string | undefined;
  readonly cameras: readonly CameraSnapshot[];
}

/** What the guard needs of a name source: start look-ups (returns at once), and read what has arrived. */
export interface DestinationNames {
  lookUp(addresses: Iterable<string>): void;
  nameOf(address: string): string | undefined;
  /** The network holding the address, when the owner's network data names it (loaded on first use). */
  networkOf?(address: string): NetworkName | undefined;
  /** Starts forward look-ups of `allowDestinations` host names (returns at once; forwardNames.ts). */
  lookUpNames?(names: Iterable<string>): void;
  /** The addresses a host name resolved to, once they have arrived. */
  addressesOfName?(name: string): readonly string[] | undefined;
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
  /** Called once per reading with every camera seen for the first time in it (each call is one write of Homebridge's accessory cache). */
  readonly markSeen: (addresses: readonly string[]) => void;
  /** Deadlines of timed access from an earlier run (camera address → epoch ms), so a restart cannot extend them. */
  readonly openUntil?: ReadonlyMap<string, number>;
  /** Stores a camera's timed-access deadline (undefined: none), where it survives a restart. */
  readonly saveOpenUntil?: (address: string, deadline: number | undefined) => void;
  /** Reverse DNS names of destinations (reverseNames.ts): asked after each reading, read from its cache, never awaited. */
  readonly names?: DestinationNames;
  readonly now?: () => number;
  /** For backoff jitter; tests pass a fixed one. */
  readonly random?: () => number;
}
