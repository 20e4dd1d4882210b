/** What the HomeKit layer sees of a RouterGuard: how it is made, what it asks, and what it hears. */
import type { CameraSettings, LeakSettings } from '../config';
import type { Log } from '../log';
import type { RouterDriver } from '../router/driver';
import type { LockdownMemory } from './lockdown';

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
