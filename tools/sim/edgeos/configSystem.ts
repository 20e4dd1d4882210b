/**
 * What `vyatta-cfg-cmd-wrapper` does: configuration sessions, set/delete on the working configuration, and the
 * locked commit that validates, applies to the dataplane and replaces the active configuration.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareLines, deletePath, lineKey, sameConfig, setPath, validateSetPath } from './configTree';
import { changedRuleKeys, validateFirewall } from './firewall';
import type { CommandResult, CommitFaultKind, ConfigLine, ConfigLines, ConfigSession, Dataplane, RouterStateStore, SimState } from './types';

export const COMMIT_LOCKED = 'Configuration system temporarily locked due to another commit in progress\n';
const COMMIT_FAILED = 'Commit failed\n';

const result = (stdout: string, code = 0, stderr = ''): CommandResult => ({ stdout, stderr, code });
/** The lines of `config` that are not in `other` (by key: a scan of `other` per line took minutes for a few thousand rules). */
const minus = (config: ConfigLines, other: ConfigLines): ConfigLines => {
  const keys = new Set(other.map(lineKey));
  return config.filter((line) => !keys.has(lineKey(line)));
};

/**
 * The session's view of the configuration. Like the union mount EdgeOS uses, a session holds only its own changes
 * (here: its working copy against the active configuration it started from), replayed over whatever is active now,
 * so a commit never reverts what another session committed in the meantime.
 */
function sessionView(active: ConfigLines, session: ConfigSession): ConfigLines {
  // Nothing was committed since the session's last edit (which rebased it on the active configuration): its working
  // copy is the view. Replaying every earlier edit at each new one took time in the cube of their number. Only a
  // store that shares configurations between its copies (the memory store) can tell by identity; others replay.
  if (session.base === active) return session.working;
  const removed = minus(session.base, session.working);
  const added = minus(session.working, session.base);
  const kept = minus(active, removed);
  return added.reduce((view, line) => setPath(view, line).config, kept);
}

/** Changed lines grouped per rule (or per other node), in tree order: the units a partial commit applies some of. */
function changeUnits(before: ConfigLines, after: ConfigLines): ConfigLine[] {
  const changed = [...minus(before, after), ...minus(after, before)];
  const unitOf = (line: ConfigLine): ConfigLine => (line[3] === 'rule' ? line.slice(0, 5) : line.slice(0, -1));
  const units = new Map(changed.map((line) => [unitOf(line).join(' '), unitOf(line)]));
  return [...units.values()].sort(compareLines);
}

/** `before` with the changes of `units` taken from `after`. */
function applyUnits(before: ConfigLines, after: ConfigLines, units: ConfigLine[]): ConfigLines {
  // By the keys of each line's prefixes: a scan of every unit for each line took time in the square of the rules.
  const unitKeys = new Set(units.map(lineKey));
  const inUnits = (line: ConfigLine): boolean => line.some((_, i) => unitKeys.has(lineKey(line.slice(0, i + 1))));
  return [...before.filter((line) => !inUnits(line)), ...after.filter(inUnits)].sort(compareLines);
}

interface CommitPlan {
  active: ConfigLines;
  desired: ConfigLines;
  fault: CommitFaultKind | undefined;
  delayMs: number;
}

export class ConfigSystem {
  constructor(
    private readonly store: RouterStateStore,
    private readonly dataplane: Dataplane,
  ) {}

  begin(sessionId: string): Promise<CommandResult> {
    return this.store.update((state) => {
      state.sessions[sessionId] ??= { base: state.active, working: state.active, openedAt: new Date().toISOString() };
      return result('');
    });
  }

  end(sessionId: string): Promise<CommandResult> {
    return this.store.update((state) => {
      delete state.sessions[sessionId];
      return result('');
    });
  }

  /** `set` or `delete` in the session. */
  edit(sessionId: string, operation: 'set' | 'delete', path: ConfigLine): Promise<CommandResult> {
    return this.inSession(sessionId, (state, session) => {
      if (state.configBrokenUntilReboot) return result(operation === 'set' ? 'Set failed\n' : 'Delete failed\n', 1);
      const refused = state.faults.refuseEdits?.find((text) => path.join(' ').includes(text));
      if (refused !== undefined) {
        return result(`simulated refusal: "${path.join(' ')}" is not valid here\nValue validation failed\n${operation === 'set' ? 'Set' : 'Delete'} failed\n`, 1);
      }
      const view = sessionView(state.active, session);
      let edited: ConfigLines;
      if (operation === 'set') {
        const invalid = validateSetPath(path);
        if (invalid !== null) return result(invalid, 1);
        const outcome = setPath(view, path);
        if (outcome.alreadyExists) return result('The specified configuration node already exists\n');
        edited = outcome.config;
      } else {
        const remaining = deletePath(view, path);
        if (remaining === null) return result('Nothing to delete (the specified node does not exist)\n', 1);
        edited = remaining;
      }
      state.sessions[sessionId] = { ...session, base: state.active, working: edited };
      return result('');
    });
  }

  discard(sessionId: string): Promise<CommandResult> {
    return this.inSession(sessionId, (state, session) => {
      state.sessions[sessionId] = { ...session, base: state.active, working: state.active };
      return result(sameConfig(sessionView(state.active, session), state.active) ? 'No changes have been discarded\n' : 'Changes have been discarded\n');
    });
  }

  save(): Promise<CommandResult> {
    return this.store.update((state) => {
      state.saved = state.active;
      return result("Saving configuration to '/config/config.boot'...\nDone\n");
    });
  }

  /** The session's view of the configuration (the active one outside a session). */
  async view(sessionId: string): Promise<ConfigLines> {
    const state = await this.store.read();
    const session = state.sessions[sessionId];
    return session === undefined ? state.active : sessionView(state.active, session);
  }

  /**
   * Commits the session. Only one commit runs at a time: the lock is taken in the state (so it also holds between
   * processes) and kept for the configured commit delay, which is when a second commit sees it.
   */
  async commit(sessionId: string): Promise<CommandResult> {
    const owner = randomUUID();
    const plan = await this.inSession<CommitPlan | CommandResult>(sessionId, (state, session) => {
      if (state.configBrokenUntilReboot) return result(COMMIT_FAILED, 1);
      if (state.faults.pendingCommitFaults[0] === 'locked') {
        state.faults.pendingCommitFaults.shift();
        return result(COMMIT_LOCKED, 1);
      }
      if (state.commitLock !== null) return result(COMMIT_LOCKED, 1);
      const desired = sessionView(state.active, session);
      if (sameConfig(desired, state.active)) return result('No configuration changes to commit\n');
      state.commitLock = { owner, since: new Date().toISOString() };
      return { active: state.active, desired, fault: state.faults.pendingCommitFaults.shift(), delayMs: state.faults.commitDelayMs };
    });
    if (!('desired' in plan)) return plan;
    try {
      await sleep(plan.delayMs);
      return await this.apply(sessionId, plan, owner);
    } finally {
      await this.store.update((state) => {
        if (state.commitLock?.owner === owner) state.commitLock = null;
      });
    }
  }

  private async apply(sessionId: string, plan: CommitPlan, owner: string): Promise<CommandResult> {
    const errors = validateFirewall(plan.desired);
    if (errors !== '') return result(`${errors}${COMMIT_FAILED}`, 1);
    const units = changeUnits(plan.active, plan.desired);
    const failedUnits = plan.fault === 'fail' ? units : plan.fault === 'partial' ? units.slice(Math.ceil(units.length / 2)) : [];
    const target = applyUnits(plan.active, plan.desired, units.slice(0, units.length - failedUnits.length));
    // A reboot while the commit waited released the lock and reset the configuration: this commit is void.
    if ((await this.store.read()).commitLock?.owner !== owner) return result(COMMIT_FAILED, 1);
    if (!sameConfig(target, plan.active)) {
      await this.dataplane.applyFirewall(target, changedRuleKeys(plan.active, target));
    }
    await this.store.update((state) => {
      state.active = target;
      const session = state.sessions[sessionId];
      if (session !== undefined && failedUnits.length === 0) state.sessions[sessionId] = { ...session, base: target, working: target };
    });
    const failures = failedUnits.map((unit) => `[ ${unit.join(' ')} ]\nsimulated failure: the configuration script of this node exited with status 1\n\n`);
    return failures.length > 0 ? result(`${failures.join('')}${COMMIT_FAILED}`, 1) : result('');
  }

  private inSession<T>(sessionId: string, fn: (state: SimState, session: ConfigSession) => T | CommandResult): Promise<T | CommandResult> {
    return this.store.update((state) => {
      const session = state.sessions[sessionId];
      if (session === undefined) {
        return result('', 1, 'vyatta-cfg-cmd-wrapper: not in a configuration session: run `begin` first, in the same shell\n');
      }
      return fn(state, session);
    });
  }
}
