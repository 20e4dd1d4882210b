import type { ConfigLines, RouterStateStore, SimState } from './types';

/**
 * Router state held in memory. Updates run one at a time on a private copy that replaces the state only when the
 * update function succeeds, which is the contract a file-backed store (with a lock) implements between processes.
 *
 * The copies share what is large and never changed in place: the configurations (every edit and commit makes a new
 * one; they are frozen here so that a change in place throws) and the in-memory dataplane (MemoryDataplane copies it
 * before it writes). Copying them whole at every `set` made loading 100 cameras take time in the square of their rules.
 */
export class MemoryStateStore implements RouterStateStore {
  private state: SimState;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(initial: SimState) {
    this.state = copyState(structuredClone(initial));
  }

  read(): Promise<SimState> {
    return Promise.resolve(copyState(this.state));
  }

  update<T>(fn: (state: SimState) => T | Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const draft = copyState(this.state);
      const result = await fn(draft);
      this.state = draft;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Still typed as mutable, as the state's configurations are: the freeze is a guard at run time (a change in place throws). */
function frozen(config: ConfigLines): ConfigLines {
  return Object.isFrozen(config) ? config : (Object.freeze(config) as ConfigLines);
}

/** A private copy of the state whose configurations and dataplane are shared with `state` (see MemoryStateStore). */
function copyState(state: SimState): SimState {
  const { active, saved, sessions, memoryDataplane, ...rest } = state;
  const copy: SimState = { ...structuredClone(rest), active: frozen(active), saved: frozen(saved), sessions: {} };
  for (const [id, session] of Object.entries(sessions)) {
    copy.sessions[id] = { ...session, base: frozen(session.base), working: frozen(session.working) };
  }
  if (memoryDataplane !== undefined) copy.memoryDataplane = memoryDataplane;
  return copy;
}
