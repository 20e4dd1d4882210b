/**
 * Lockdown: every camera blocked at once, and each one's access from before restored when it ends.
 *
 * | action        | when               | requests                                     | remembered                 |
 * |---------------|--------------------|----------------------------------------------|----------------------------|
 * | enter         | off                | every camera blocked                         | on, each camera's shown access (unknown → blocked) |
 * | leave         | on                 | each camera back to its remembered access (none → blocked) | off, nothing |
 * | enter / leave | already so         | none                                         | unchanged                  |
 * | open a camera | on                 | refused                                      | unchanged                  |
 *
 * Pure: the guard queues the requests and stores the memory (it survives a Homebridge restart).
 */
import type { Access } from '../router/driver';

/** Remembered across Homebridge restarts by the HomeKit layer (in the accessory cache). */
export interface LockdownMemory {
  readonly on: boolean;
  /** Each camera's access before the lockdown, restored when it ends. */
  readonly previous: Readonly<Record<string, Access>>;
}

export interface LockdownChange {
  readonly memory: LockdownMemory;
  /** Camera address → the access to ask for. */
  readonly requests: ReadonlyMap<string, Access>;
}

export const LOCKDOWN_OFF: LockdownMemory = { on: false, previous: {} };

/** Turns Lockdown on or off; undefined when it already is. `shown` is what each camera's switch shows now. */
export function switchLockdown(memory: LockdownMemory, on: boolean, shown: ReadonlyMap<string, Access | undefined>): LockdownChange | undefined {
  if (on === memory.on) {
    return undefined;
  }
  if (on) {
    // A camera whose state is unknown comes back blocked when the lockdown ends.
    const previous = Object.fromEntries([...shown].map(([address, access]) => [address, access ?? 'blocked']));
    return { memory: { on: true, previous }, requests: new Map([...shown.keys()].map((address) => [address, 'blocked'])) };
  }
  const requests = new Map([...shown.keys()].map((address): [string, Access] => [address, memory.previous[address] ?? 'blocked']));
  return { memory: LOCKDOWN_OFF, requests };
}

/** True when Lockdown refuses this request (a camera may not be opened while it is on). */
export function lockdownRefuses(memory: LockdownMemory, access: Access): boolean {
  return memory.on && access === 'allowed';
}
