/**
 * The simulated router's state in a JSON file, shared by every process that plays the router: one per SSH exec
 * (the login wrapper) plus the lab's owner, which injects faults and reboots. Updates are serialised by a lock file
 * created atomically (a hard link, which fails when the lock exists); a lock left by a process that died is broken
 * by the next one that needs it.
 */
import { randomUUID } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';

import type { RouterStateStore, SimState } from '../sim/edgeos';
import { processExists, sleep } from './system';

/** Updates are a few milliseconds of JSON work; a lock held this long belongs to a process that hangs. */
const LOCK_WAIT_MS = 15_000;
const LOCK_RETRY_MS = 5;

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

export class FileStateStore implements RouterStateStore {
  private readonly lockFile: string;
  /** Updates from this process queue here first, so they do not spin on the lock file against each other. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {
    this.lockFile = `${file}.lock`;
  }

  /** Writes a whole new state (the router's first power-on, or a reset), under the lock. */
  static async create(file: string, initial: SimState): Promise<FileStateStore> {
    const store = new FileStateStore(file);
    const release = await store.lock();
    try {
      await store.write(initial);
    } finally {
      await release();
    }
    return store;
  }

  async read(): Promise<SimState> {
    return JSON.parse(await readFile(this.file, 'utf8')) as SimState;
  }

  update<T>(fn: (state: SimState) => T | Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const release = await this.lock();
      try {
        const state = await this.read();
        const result = await fn(state);
        await this.write(state);
        return result;
      } finally {
        await release();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Replaces the file in one rename, so a reader never sees half a state. */
  private async write(state: SimState): Promise<void> {
    const temporary = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temporary, JSON.stringify(state), { mode: 0o600 });
    await rename(temporary, this.file);
  }

  private async lock(): Promise<() => Promise<void>> {
    const owner = `${process.pid} ${randomUUID()}`;
    // The lock is taken by hard-linking a file that already holds our name: link() fails if the lock exists, and a
    // lock file is never seen empty, whenever its creator dies.
    const claim = `${this.lockFile}.${process.pid}.${randomUUID()}.claim`;
    await writeFile(claim, owner, { mode: 0o600 });
    try {
      const deadline = Date.now() + LOCK_WAIT_MS;
      for (;;) {
        try {
          await link(claim, this.lockFile);
          return () => this.unlock(owner);
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) throw error;
        }
        const holder = await readFile(this.lockFile, 'utf8').catch(() => undefined);
        const holderPid = Number(holder?.split(' ')[0]);
        if (holder !== undefined && !processExists(holderPid)) {
          await this.breakStaleLock(holder);
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`the lab router's state ${this.file} stayed locked by process ${holderPid} for ${LOCK_WAIT_MS / 1000} s`);
        }
        await sleep(LOCK_RETRY_MS);
      }
    } finally {
      await unlink(claim).catch(() => undefined);
    }
  }

  private async unlock(owner: string): Promise<void> {
    // Only remove our own lock: if it was broken as stale (we hung), someone else may hold the file now.
    if ((await readFile(this.lockFile, 'utf8').catch(() => undefined)) === owner) await unlink(this.lockFile).catch(() => undefined);
  }

  /**
   * Removes a lock whose holder died. Two processes may find the same stale lock: each moves the lock file aside
   * under its own name first and checks that what it moved is the stale lock it saw; if it moved a fresh lock
   * that the other one had taken meanwhile, it puts that lock back.
   */
  private async breakStaleLock(staleContent: string): Promise<void> {
    const aside = `${this.lockFile}.${process.pid}.${randomUUID()}.stale`;
    try {
      await rename(this.lockFile, aside);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    const moved = await readFile(aside, 'utf8').catch(() => undefined);
    if (moved !== staleContent) await link(aside, this.lockFile).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }
}
