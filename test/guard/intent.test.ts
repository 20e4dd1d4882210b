import * as intents from '../../src/guard/intent';
import type { Abandoned, Intent } from '../../src/guard/intent';
import type { Access } from '../../src/router/driver';

/**
 * The table in the header of src/guard/intent.ts, row by row: a camera's intent goes through these steps, then the
 * router is as `router` says, and the Switch must show `shown` (undefined: "No Response").
 */
type Step =
  | readonly ['request', Access]
  | readonly ['begin']
  | readonly ['settle', asked: Access, actual: Access | undefined]
  | readonly ['abandon', asked: Access]
  | readonly ['dropOpening'];

/** What the last step reported: what rode the transaction, whether it was confirmed, abandoned how, dropped or not. */
type Reported = { asked: Access | undefined } | { confirmed: boolean } | { result: Abandoned } | { dropped: boolean } | undefined;

interface Router {
  /** What the router's configuration enforces; undefined while unknown (rules missing or damaged, not read yet). */
  readonly enforced: Access | undefined;
  /** False when the configuration blocks the camera but the kernel does not (its packets get out). */
  readonly inForce: boolean;
  readonly reachable: boolean;
}

const BLOCKED: Router = { enforced: 'blocked', inForce: true, reachable: true };
const ALLOWED: Router = { enforced: 'allowed', inForce: true, reachable: true };
const UNKNOWN: Router = { enforced: undefined, inForce: true, reachable: true };

type Row = [name: string, steps: readonly Step[], router: Router, queued: Access | undefined, inFlight: Access | undefined, shown: Access | undefined, reported?: Reported];

const rows: Row[] = [
  ['idle: the Switch shows what the router enforces (blocked)', [], BLOCKED, undefined, undefined, 'blocked'],
  ['idle: the Switch shows what the router enforces (allowed)', [], ALLOWED, undefined, undefined, 'allowed'],
  ['idle, router state unknown: No Response', [], UNKNOWN, undefined, undefined, undefined],
  ['request(allowed) waits for its batch and the Switch shows it at once', [['request', 'allowed']], BLOCKED, 'allowed', undefined, 'allowed'],
  ['begin(): the queued request rides the transaction', [['request', 'allowed'], ['begin']], BLOCKED, undefined, 'allowed', 'allowed', { asked: 'allowed' }],
  ['begin() with nothing queued asks nothing', [['begin']], BLOCKED, undefined, undefined, 'blocked', { asked: undefined }],
  ['request(blocked) during the flight of allowed: queued, and the Switch shows the newer one', [['request', 'allowed'], ['begin'], ['request', 'blocked']], BLOCKED, 'blocked', 'allowed', 'blocked'],
  ['a second request before the batch replaces the first', [['request', 'allowed'], ['request', 'blocked']], ALLOWED, 'blocked', undefined, 'blocked'],
  ['settle(allowed), router has it: confirmed, the Switch shows the router', [['request', 'allowed'], ['begin'], ['settle', 'allowed', 'allowed']], ALLOWED, undefined, undefined, 'allowed', { confirmed: true }],
  ['settle(allowed), router still blocks: not confirmed, the Switch goes back to what the router has', [['request', 'allowed'], ['begin'], ['settle', 'allowed', 'blocked']], BLOCKED, undefined, undefined, 'blocked', { confirmed: false }],
  ['settle(blocked), rules unreadable after: not confirmed, No Response', [['request', 'blocked'], ['begin'], ['settle', 'blocked', undefined]], UNKNOWN, undefined, undefined, undefined, { confirmed: false }],
  ['settle of the flight keeps a request made since queued', [['request', 'allowed'], ['begin'], ['request', 'blocked'], ['settle', 'allowed', 'allowed']], ALLOWED, 'blocked', undefined, 'blocked', { confirmed: true }],
  ['begin() after a settle sends the request made during the flight', [['request', 'allowed'], ['begin'], ['request', 'blocked'], ['settle', 'allowed', 'allowed'], ['begin']], ALLOWED, undefined, 'blocked', 'blocked', { asked: 'blocked' }],
  ['abandon(blocked), connection lost: queued again, the Switch keeps showing blocked', [['request', 'blocked'], ['begin'], ['abandon', 'blocked']], ALLOWED, 'blocked', undefined, 'blocked', { result: 'block-retried' }],
  ['abandon(blocked) then the retry rides the next transaction', [['request', 'blocked'], ['begin'], ['abandon', 'blocked'], ['begin']], ALLOWED, undefined, 'blocked', 'blocked', { asked: 'blocked' }],
  ['abandon(allowed), connection lost: not retried, the Switch shows what the router has', [['request', 'allowed'], ['begin'], ['abandon', 'allowed']], BLOCKED, undefined, undefined, 'blocked', { result: 'opening-unconfirmed' }],
  ['abandon(allowed) with a block asked during the flight: superseded, the block stays queued', [['request', 'allowed'], ['begin'], ['request', 'blocked'], ['abandon', 'allowed']], ALLOWED, 'blocked', undefined, 'blocked', { result: 'superseded' }],
  ['abandon(blocked) with an opening asked during the flight: superseded, no retry promised for the block', [['request', 'blocked'], ['begin'], ['request', 'allowed'], ['abandon', 'blocked']], ALLOWED, 'allowed', undefined, 'allowed', { result: 'superseded' }],
  ['abandon of something no longer in flight: superseded, nothing changes', [['request', 'allowed'], ['begin'], ['settle', 'allowed', 'allowed'], ['abandon', 'allowed']], ALLOWED, undefined, undefined, 'allowed', { result: 'superseded' }],
  ['abandon of another access than the one in flight: superseded', [['request', 'blocked'], ['begin'], ['abandon', 'allowed']], ALLOWED, undefined, 'blocked', 'blocked', { result: 'superseded' }],
  ['dropOpening(): an opening waiting for its batch is dropped, not applied hours later', [['request', 'allowed'], ['dropOpening']], BLOCKED, undefined, undefined, 'blocked', { dropped: true }],
  ['dropOpening() keeps what is in flight', [['request', 'blocked'], ['begin'], ['request', 'allowed'], ['dropOpening']], ALLOWED, undefined, 'blocked', 'blocked', { dropped: true }],
  ['dropOpening() never drops a queued block', [['request', 'blocked'], ['dropOpening']], ALLOWED, 'blocked', undefined, 'blocked', { dropped: false }],
  ['dropOpening() leaves an opening in flight to its transaction', [['request', 'allowed'], ['begin'], ['dropOpening']], BLOCKED, undefined, 'allowed', 'allowed', { dropped: false }],
  ['router unreachable, idle: No Response', [], { ...BLOCKED, reachable: false }, undefined, undefined, undefined],
  ['router unreachable, a block queued: No Response all the same', [['request', 'blocked']], { ...BLOCKED, reachable: false }, 'blocked', undefined, undefined],
  ['router unreachable, an opening in flight: No Response', [['request', 'allowed'], ['begin']], { ...ALLOWED, reachable: false }, undefined, 'allowed', undefined],
  ['block not in force in the kernel: the Switch shows On (allowed), its packets get out', [], { ...BLOCKED, inForce: false }, undefined, undefined, 'allowed'],
  ['block not in force, a block queued: the Switch shows the request', [['request', 'blocked']], { ...BLOCKED, inForce: false }, 'blocked', undefined, 'blocked'],
  ['block not in force and settled confirmed: the Switch shows On again', [['request', 'blocked'], ['begin'], ['settle', 'blocked', 'blocked']], { ...BLOCKED, inForce: false }, undefined, undefined, 'allowed', { confirmed: true }],
  ['an allowed camera is shown allowed whatever inForce says', [], { ...ALLOWED, inForce: false }, undefined, undefined, 'allowed'],
];

function run(steps: readonly Step[]): { intent: Intent; reported: Reported } {
  let intent: Intent = intents.IDLE;
  let reported: Reported;
  for (const step of steps) {
    switch (step[0]) {
      case 'request':
        intent = intents.request(intent, step[1]);
        reported = undefined;
        break;
      case 'begin': {
        const began = intents.begin(intent);
        intent = began.intent;
        reported = { asked: began.asked };
        break;
      }
      case 'settle': {
        const settled = intents.settle(intent, step[1], step[2]);
        intent = settled.intent;
        reported = { confirmed: settled.confirmed };
        break;
      }
      case 'abandon': {
        const abandoned = intents.abandon(intent, step[1]);
        intent = abandoned.intent;
        reported = { result: abandoned.result };
        break;
      }
      case 'dropOpening': {
        const drop = intents.dropOpening(intent);
        intent = drop.intent;
        reported = { dropped: drop.dropped };
        break;
      }
    }
  }
  return { intent, reported };
}

describe('a camera intent from request to confirmation, and what the Switch shows', () => {
  // Rows without a report leave it unchecked (Jest would take a missing last argument for a `done` callback).
  const cases = rows.map(([name, steps, router, queued, inFlight, shown, reported]) => ({ name, steps, router, queued, inFlight, shown, reported }));
  it.each(cases)('$name', ({ steps, router, queued, inFlight, shown, reported }) => {
    const { intent, reported: got } = run(steps);
    expect({ queued: intent.queued, inFlight: intent.inFlight, shown: intents.shown(intent, router.enforced, router.inForce, router.reachable) }).toEqual({ queued, inFlight, shown });
    if (reported !== undefined) {
      expect(got).toEqual(reported);
    }
  });
});

describe('what the guard reads off an intent', () => {
  type Row2 = [name: string, steps: readonly Step[], unconfirmed: Access | undefined, expectsAllowed: boolean, expectsBlocked: boolean];
  const table: Row2[] = [
    ['idle: nothing unconfirmed, no change on the router is ours', [], undefined, false, false],
    ['queued opening: unconfirmed at a stop; any change may be ours', [['request', 'allowed']], 'allowed', true, true],
    ['a block in flight: unconfirmed; only a block is ours', [['request', 'blocked'], ['begin']], 'blocked', false, true],
    ['an opening in flight with a block queued: the block is what is unconfirmed', [['request', 'allowed'], ['begin'], ['request', 'blocked']], 'blocked', true, true],
    ['settled: nothing unconfirmed, a change on the router is not ours', [['request', 'allowed'], ['begin'], ['settle', 'allowed', 'allowed']], undefined, false, false],
  ];
  it.each(table)('%s', (_name, steps, unconfirmed, expectsAllowed, expectsBlocked) => {
    const { intent } = run(steps);
    expect([intents.unconfirmed(intent), intents.expects(intent, 'allowed'), intents.expects(intent, 'blocked')]).toEqual([unconfirmed, expectsAllowed, expectsBlocked]);
  });
});
