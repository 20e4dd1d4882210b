/**
 * Holds: a pause the lab router makes at one point of the next configuration transaction that reaches it, so that
 * the lab's owner can inject a fault at exactly that moment (cut the connection after `begin` but before `commit`,
 * reboot while the commit holds the commit lock, stop sshd after the commit but before `save`...).
 *
 * The owner writes a request file next to the router state; the router logins (one process per SSH exec) notice
 * the points as their state updates pass them, and the first login to reach the requested point claims the request
 * by renaming it (atomic: exactly one claims it), pauses for the requested time, then removes its claim. The owner
 * sees the claim, injects its fault, and the transaction goes on into whatever the fault left of the router.
 * Nothing here changes what the router does, only when.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';

import type { RouterStateStore, SimState } from '../sim/edgeos';
import { sleep } from './system';

/**
 * `session-open`: `begin` has just opened a configuration session (nothing committed yet).
 * `commit-running`: a commit has just taken the commit lock and not yet applied anything.
 * `commit-done`: a commit has just finished and released the lock (the script's `save` and `end` come next).
 */
export const HOLD_POINTS = ['session-open', 'commit-running', 'commit-done'] as const;
export type HoldPoint = (typeof HOLD_POINTS)[number];

interface HoldRequest {
  readonly id: string;
  readonly point: HoldPoint;
  readonly ms: number;
}

/** The request and claim files of the router whose state is in `stateFile`. */
function holdFiles(stateFile: string): { requested: string; holding: string } {
  return { requested: `${stateFile}.hold`, holding: `${stateFile}.holding` };
}

async function readRequest(file: string): Promise<HoldRequest | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HoldRequest;
  } catch {
    return undefined;
  }
}

/** The point an update passed, from what it changed. */
function pointPassed(before: { sessions: number; lock: string | null }, after: SimState): HoldPoint | undefined {
  const lock = after.commitLock?.owner ?? null;
  if (before.lock === null && lock !== null) return 'commit-running';
  if (before.lock !== null && lock === null) return 'commit-done';
  if (Object.keys(after.sessions).length > before.sessions) return 'session-open';
  return undefined;
}

/** The router login's state store: the file store, pausing where the lab's owner asked for a hold. */
export class HoldingStateStore implements RouterStateStore {
  constructor(
    private readonly inner: RouterStateStore,
    private readonly stateFile: string,
  ) {}

  read(): Promise<SimState> {
    return this.inner.read();
  }

  async update<T>(fn: (state: SimState) => T | Promise<T>): Promise<T> {
    let point: HoldPoint | undefined;
    const result = await this.inner.update(async (state) => {
      const before = { sessions: Object.keys(state.sessions).length, lock: state.commitLock?.owner ?? null };
      const value = await fn(state);
      point = pointPassed(before, state);
      return value;
    });
    // Outside the state lock: the owner (and other logins) must be able to work on the router meanwhile.
    if (point !== undefined) await this.holdIfRequested(point);
    return result;
  }

  private async holdIfRequested(point: HoldPoint): Promise<void> {
    const files = holdFiles(this.stateFile);
    const request = await readRequest(files.requested);
    if (request?.point !== point) return;
    try {
      await rename(files.requested, files.holding);
    } catch {
      // Claimed by another login, or withdrawn by the owner.
      return;
    }
    const claimed = await readRequest(files.holding);
    if (claimed?.id !== request.id || claimed.point !== point) {
      // The owner replaced the request between our read and our claim: put the new one back for its own point.
      await rename(files.holding, files.requested).catch(() => undefined);
      return;
    }
    await sleep(claimed.ms);
    await unlink(files.holding).catch(() => undefined);
  }
}

/** The owner's side of one hold. */
export class RouterHold {
  private constructor(
    private readonly stateFile: string,
    readonly id: string,
  ) {}

  /** Asks the router to pause for `ms` at `point` of the next transaction that reaches it (replacing any request not yet claimed). */
  static async request(stateFile: string, point: HoldPoint, ms: number): Promise<RouterHold> {
    const files = holdFiles(stateFile);
    const hold = new RouterHold(stateFile, randomUUID());
    const temporary = `${files.requested}.${hold.id}.tmp`;
    await writeFile(temporary, JSON.stringify({ id: hold.id, point, ms } satisfies HoldRequest), { mode: 0o600 });
    await rename(temporary, files.requested);
    return hold;
  }

  /**
   * Resolves true once a transaction has claimed the request (it may have paused and gone on since: use this with a
   * pause of 0 to learn that a transaction reached the point), or false when none did within `timeoutMs`; the request
   * is then withdrawn.
   */
  async claimed(timeoutMs: number): Promise<boolean> {
    const files = holdFiles(this.stateFile);
    const deadline = Date.now() + timeoutMs;
    while ((await readRequest(files.requested))?.id === this.id) {
      if (Date.now() > deadline) {
        try {
          await unlink(files.requested);
          return false;
        } catch {
          // Claimed between our last look and the withdrawal.
          return true;
        }
      }
      await sleep(10);
    }
    return true;
  }

  /** Withdraws a request no transaction has claimed yet (one a test that failed half-way left), if there is one. */
  static async withdraw(stateFile: string): Promise<void> {
    await unlink(holdFiles(stateFile).requested).catch(() => undefined);
  }

  /**
   * Resolves true as soon as a transaction is paused at the point (inject the fault now), or false when none got
   * there within `timeoutMs` (or before `signal` aborted); the request is then withdrawn.
   */
  async reached(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const files = holdFiles(this.stateFile);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await readRequest(files.holding))?.id === this.id) return true;
      if (Date.now() > deadline || signal?.aborted === true) break;
      await sleep(10);
    }
    try {
      await unlink(files.requested);
      return false;
    } catch {
      // Claimed between our last look and the withdrawal: the transaction is paused there now.
      return true;
    }
  }
}
