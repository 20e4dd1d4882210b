/**
 * The connection to one router, as the owner sees it: one outage is one episode, logged once when it starts (an
 * error for a refused login, an impostor host key or a setting the router lacks; a warning otherwise) and once
 * when it ends, at the first read that succeeds (a login alone does not end it: a router that drops every session
 * right after login is one outage, not one a minute); everything in between is debug. And which backoff applies:
 *
 * | event                                   | backoff                    | reset by                        |
 * |-----------------------------------------|----------------------------|---------------------------------|
 * | connect fails: unreachable, timeout     | connect (1 s → 60 s)       | a read that succeeds            |
 * | connect fails: auth, host-key, config   | login (30 s → 15 min)      | a login that succeeds           |
 * | after login: connection lost, timeout   | connect                    | a read that succeeds            |
 * | after login: protocol, config, auth     | session (30 s → 15 min)    | a read that succeeds            |
 * | a repair that does not take             | repair (10 s → 10 min)     | a reading that needs no repair  |
 *
 * (The repair backoff never waits less than one poll interval.)
 *
 * A router that drops every session right after login is therefore never logged in to again at once.
 * Pure: no I/O, no timers; the guard acts on what it returns.
 */
import type { ApplyOutcome, RouterError } from '../router/driver';
import {
  AUTH_RETRY_MAX_MS,
  AUTH_RETRY_MIN_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  REPAIR_RETRY_MAX_MS,
  REPAIR_RETRY_MIN_MS,
} from '../settings';
import { Backoff } from './backoff';
import * as say from './messages';
import type { Message } from './messages';

export interface Setback {
  /** How long to wait before the next attempt. */
  readonly delayMs: number;
  readonly message: Message;
}

export class Connection {
  private readonly connectBackoff: Backoff;
  private readonly loginBackoff: Backoff;
  private readonly sessionBackoff: Backoff;
  private readonly repairBackoff: Backoff;
  /** The problem the current outage started with; undefined while the router answers. */
  private problem: string | undefined;
  private repairDueAt = 0;

  constructor(pollMs: number, random: () => number = Math.random) {
    this.connectBackoff = new Backoff(RECONNECT_MIN_MS, RECONNECT_MAX_MS, random);
    this.loginBackoff = new Backoff(AUTH_RETRY_MIN_MS, AUTH_RETRY_MAX_MS, random);
    this.sessionBackoff = new Backoff(AUTH_RETRY_MIN_MS, AUTH_RETRY_MAX_MS, random);
    this.repairBackoff = new Backoff(Math.max(pollMs, REPAIR_RETRY_MIN_MS), Math.max(pollMs, REPAIR_RETRY_MAX_MS), random);
  }

  /** True while an outage lasts (from the first failure until a read succeeds). */
  get down(): boolean {
    return this.problem !== undefined;
  }

  connectFailed(error: RouterError): Setback {
    const slow = error.kind === 'auth' || error.kind === 'host-key' || error.kind === 'config';
    const delayMs = slow ? this.loginBackoff.next() : this.connectBackoff.next();
    return { delayMs, message: this.report(error, delayMs) };
  }

  /** A login succeeded (the outage, if any, ends at the first read that succeeds). */
  connected(): Message {
    this.loginBackoff.reset();
    return say.connected();
  }

  /** An error after login: a lost connection is retried soon; anything else as slowly as a refused login. */
  sessionFailed(error: RouterError): Setback {
    const lost = error.kind === 'unreachable' || error.kind === 'timeout';
    const delayMs = lost ? this.connectBackoff.next() : this.sessionBackoff.next();
    return { delayMs, message: this.report(error, delayMs) };
  }

  /** A read or transaction succeeded; says so when it ends an outage. */
  answered(): Message | undefined {
    this.connectBackoff.reset();
    this.sessionBackoff.reset();
    if (this.problem === undefined) {
      return undefined;
    }
    this.problem = undefined;
    return say.reconnected();
  }

  /** A repair did not take: when the next may run, and what to tell the owner. */
  repairFailed(now: number, why: string): Setback {
    const delayMs = this.repairBackoff.next();
    this.repairDueAt = now + delayMs;
    return { delayMs, message: say.repairDidNotTake(why, delayMs) };
  }

  /**
   * After a transaction: `needsMore` when the router still needs something nobody asked for. A transaction that was
   * a repair (or a save) and did not take backs off, longer each time, instead of writing the router's flash in a
   * loop; a failed save was already reported on its own. Returns what to tell the owner.
   */
  afterTransaction(now: number, needsMore: boolean, wasRepair: boolean, outcome: ApplyOutcome | undefined, rulesToRepair: readonly string[]): Message[] {
    if (!needsMore) {
      this.repaired();
      return [];
    }
    if (outcome === undefined || !wasRepair) {
      return [];
    }
    const why = outcome.result === 'committed' ? 'the router took it, but its rules still do not read back intact' : outcome.detail;
    const setback = this.repairFailed(now, why);
    return rulesToRepair.length > 0 ? [setback.message, say.stillToRepair(rulesToRepair)] : [];
  }

  /** The router needs no repair. */
  repaired(): void {
    this.repairBackoff.reset();
    this.repairDueAt = 0;
  }

  /** How long until a repair may run (0 or less: now). */
  untilRepair(now: number): number {
    return this.repairDueAt - now;
  }

  /** One outage is one warning, however its symptoms change (lost, then refused); a login or host key problem is always worth its own error, once. */
  private report(error: RouterError, retryMs: number): Message {
    const key = `${error.kind}:${error.message}`;
    const serious = error.kind === 'host-key' || error.kind === 'auth' || error.kind === 'config';
    if (this.problem === key || (this.problem !== undefined && !serious)) {
      return say.routerProblem(error, retryMs, 'debug');
    }
    this.problem = key;
    return say.routerProblem(error, retryMs, serious ? 'error' : 'warn');
  }
}
