/**
 * What HomeKit asked of one camera, from the request until the router confirms it, and what the Switch shows at
 * each step. A request waits for its batch (`queued`), rides a transaction (`inFlight`), and is settled by the
 * reading taken after it: confirmed, or reported as not applied, after which the Switch shows what the router has.
 *
 * | step                          | queued | inFlight | Switch shows                              |
 * |-------------------------------|--------|----------|-------------------------------------------|
 * | idle                          | -      | -        | what the router enforces (unknown: No Response) |
 * | request(a)                    | a      | -        | a                                         |
 * | begin()                       | -      | a        | a                                         |
 * | request(b) during the flight  | b      | a        | b                                         |
 * | settle(a): router has a or not | -     | -        | what the router has                       |
 * | abandon(blocked): conn lost   | blocked| -        | blocked (retried until confirmed)         |
 * | abandon(allowed): conn lost   | -      | -        | No Response, then what the router has     |
 * | dropOpening(): router down    | -      | inFlight | an opening is not applied hours later     |
 * | router unreachable            | any    | any      | No Response                               |
 *
 * A block the kernel does not enforce is shown as On: the camera's packets get out.
 */
import type { Access } from '../router/driver';

export interface Intent {
  /** Waiting for the next transaction. */
  readonly queued?: Access;
  /** Sent in the transaction now running (or waiting to be retried while the router is busy). */
  readonly inFlight?: Access;
}

export const IDLE: Intent = {};

export function request(intent: Intent, access: Access): Intent {
  return { ...intent, queued: access };
}

/** A transaction starts: what is queued rides it. */
export function begin(intent: Intent): { intent: Intent; asked: Access | undefined } {
  if (intent.queued === undefined) {
    return { intent, asked: undefined };
  }
  return { intent: { inFlight: intent.queued }, asked: intent.queued };
}

/** The reading after the transaction: was what was asked confirmed? A request made since stays queued. */
export function settle(intent: Intent, asked: Access, actual: Access | undefined): { intent: Intent; confirmed: boolean } {
  return { intent: withoutFlight(intent, asked), confirmed: actual === asked };
}

export type Abandoned = 'block-retried' | 'opening-unconfirmed' | 'superseded';

/**
 * The connection failed before the router confirmed the transaction: a block is queued again until it is
 * confirmed; an opening is not retried behind the owner's back.
 */
export function abandon(intent: Intent, asked: Access): { intent: Intent; result: Abandoned } {
  if (intent.inFlight !== asked || (intent.queued !== undefined && intent.queued !== asked)) {
    // Asked otherwise since: the newer request stands (and an opening is dropped while the router is away).
    return { intent: withoutFlight(intent, asked), result: 'superseded' };
  }
  const rest = withoutFlight(intent, asked);
  if (asked === 'blocked') {
    return { intent: { ...rest, queued: rest.queued ?? 'blocked' }, result: 'block-retried' };
  }
  return { intent: rest, result: 'opening-unconfirmed' };
}

/** The router became unreachable: an opening that waits for its batch is dropped, not applied hours later. */
export function dropOpening(intent: Intent): { intent: Intent; dropped: boolean } {
  if (intent.queued !== 'allowed') {
    return { intent, dropped: false };
  }
  return { intent: withoutQueued(intent), dropped: true };
}

/** What the Switch shows: the request while it waits or rides, else what the router enforces; undefined: No Response. */
export function shown(intent: Intent, enforced: Access | undefined, inForce: boolean, reachable: boolean): Access | undefined {
  if (!reachable) {
    return undefined;
  }
  return intent.queued ?? intent.inFlight ?? (enforced === 'blocked' && !inForce ? 'allowed' : enforced);
}

/** What was asked but not yet confirmed (reported if Homebridge stops before the router confirms it). */
export function unconfirmed(intent: Intent): Access | undefined {
  return intent.queued ?? intent.inFlight;
}

/** True when a change the router shows was (or may be) ours: asked in flight, or something is still queued. */
export function expects(intent: Intent, access: Access): boolean {
  return intent.inFlight === access || intent.queued !== undefined;
}

function withoutFlight(intent: Intent, asked: Access): Intent {
  return intent.inFlight === asked ? (intent.queued === undefined ? IDLE : { queued: intent.queued }) : intent;
}

function withoutQueued(intent: Intent): Intent {
  return intent.inFlight === undefined ? IDLE : { inFlight: intent.inFlight };
}
