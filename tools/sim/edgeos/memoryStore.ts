import type { RouterStateStore, SimState } from './types';

/**
 * Router state held in memory. Updates run one at a time on a private copy that replaces the state only when the
 * update function succeeds, which is the contract a file-backed store (with a lock) implements between processes.
 */
export class MemoryStateStore implements RouterStateStore {
  private state: SimState;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(initial: SimState) {
    this.state = structuredClone(initial);
  }

  read(): Promise<SimState> {
    return Promise.resolve(structuredClone(this.state));
  }

  update<T>(fn: (state: SimState) => T | Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const draft = structuredClone(this.state);
      const result = await fn(draft);
      this.state = draft;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
