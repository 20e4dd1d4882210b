import { TimedAccess, earlierDeadline } from '../../src/guard/timedAccess';

/** The moment each row starts, on Jest's fake clock; every time below is counted from it. */
const T0 = Date.UTC(2026, 11, 2, 18, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;

/**
 * What happens to one camera with `allowMinutes`:
 * - `open` / `block`: a reading shows the router now enforces that access;
 * - `router`: a reading reports the router's own deadline, at that time;
 * - `wait`: time passes.
 */
type Event = readonly ['open'] | readonly ['block'] | readonly ['router', at: number] | readonly ['wait', ms: number];

interface Row {
  readonly name: string;
  readonly allowMinutes?: number;
  /** A deadline stored by an earlier run (a Homebridge restart). */
  readonly stored?: number;
  readonly events: readonly Event[];
  /** Every deadline handed to save(), in order (undefined: the stored deadline is removed). */
  readonly saved: ReadonlyArray<number | undefined>;
  /** When close() was called. */
  readonly closed: readonly number[];
}

const rows: Row[] = [
  { name: 'opened, none stored: closes after allowMinutes, the deadline stored', events: [['open'], ['wait', 60 * MINUTE]], saved: [10 * MINUTE], closed: [10 * MINUTE] },
  { name: 'opened: nothing closes a millisecond before the deadline', events: [['open'], ['wait', 10 * MINUTE - 1]], saved: [10 * MINUTE], closed: [] },
  {
    name: 'router deadline earlier: the earlier stands, stored, and the timer follows it',
    events: [['open'], ['wait', MINUTE], ['router', 7 * MINUTE], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE, 7 * MINUTE],
    closed: [7 * MINUTE],
  },
  {
    name: 'router deadline later: never extended',
    events: [['open'], ['wait', MINUTE], ['router', 12 * MINUTE], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE],
  },
  {
    name: 'router deadline 1.5 s earlier: the same deadline read at another moment, kept as stored',
    events: [['open'], ['router', 10 * MINUTE - 1.5 * SECOND], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE],
  },
  {
    name: 'router deadline 1.5 s later: kept as stored',
    events: [['open'], ['router', 10 * MINUTE + 1.5 * SECOND], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE],
  },
  {
    name: 'router deadline 2 s earlier: no longer the same one, the earlier stands',
    events: [['open'], ['router', 10 * MINUTE - 2 * SECOND], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE, 10 * MINUTE - 2 * SECOND],
    closed: [10 * MINUTE - 2 * SECOND],
  },
  {
    name: 'router deadline already passed: closes at once',
    events: [['open'], ['wait', 2 * MINUTE], ['router', MINUTE], ['wait', 0]],
    saved: [10 * MINUTE, MINUTE],
    closed: [2 * MINUTE],
  },
  {
    name: 'the router reports its deadline in the reading that shows the opening: that one is kept',
    events: [['router', 9 * MINUTE + 59 * SECOND], ['open'], ['wait', 60 * MINUTE]],
    saved: [9 * MINUTE + 59 * SECOND],
    closed: [9 * MINUTE + 59 * SECOND],
  },
  {
    name: 'every reading reports the router deadline again: one save, one close',
    events: [['router', 10 * MINUTE], ['open'], ['wait', 4 * MINUTE], ['router', 10 * MINUTE + SECOND], ['wait', 4 * MINUTE], ['router', 10 * MINUTE], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE],
  },
  {
    name: 'a reading that shows it open again does not extend it',
    events: [['open'], ['wait', 5 * MINUTE], ['open'], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE],
  },
  { name: 'blocked before the deadline: the timer stops and the stored deadline goes', events: [['open'], ['wait', 5 * MINUTE], ['block'], ['wait', 60 * MINUTE]], saved: [10 * MINUTE, undefined], closed: [] },
  {
    name: 'blocked, then opened again: a new opening gets its own allowMinutes',
    events: [['open'], ['wait', 5 * MINUTE], ['block'], ['wait', MINUTE], ['open'], ['wait', 60 * MINUTE]],
    saved: [10 * MINUTE, undefined, 16 * MINUTE],
    closed: [16 * MINUTE],
  },
  {
    name: 'the timer fired: the deadline is kept until the block is confirmed',
    events: [['open'], ['wait', 11 * MINUTE], ['block']],
    saved: [10 * MINUTE, undefined],
    closed: [10 * MINUTE],
  },
  {
    name: 'the timer fired and a reading still shows it open: closed again at once, never a new deadline',
    events: [['open'], ['wait', 11 * MINUTE], ['open'], ['wait', 0]],
    saved: [10 * MINUTE],
    closed: [10 * MINUTE, 11 * MINUTE],
  },
  { name: 'allowMinutes 0: stays open, nothing stored', allowMinutes: 0, events: [['open'], ['wait', 24 * 60 * MINUTE]], saved: [], closed: [] },
  { name: 'allowMinutes 0 with a deadline stored from before: the stale deadline is removed', allowMinutes: 0, stored: 3 * MINUTE, events: [['open'], ['wait', 60 * MINUTE]], saved: [undefined], closed: [] },
  { name: 'a restart after the stored deadline passed: closes at once', stored: -MINUTE, events: [['open'], ['wait', 0]], saved: [], closed: [0] },
  { name: 'a restart before the stored deadline: closes at the stored one, not allowMinutes later', stored: 3 * MINUTE, events: [['open'], ['wait', 60 * MINUTE]], saved: [], closed: [3 * MINUTE] },
  {
    name: 'a restart, the router reports a later deadline: the stored one stands',
    stored: 3 * MINUTE,
    events: [['router', 10 * MINUTE], ['open'], ['wait', 60 * MINUTE]],
    saved: [],
    closed: [3 * MINUTE],
  },
  {
    name: 'a restart, the router reports an earlier deadline: the router one stands',
    stored: 3 * MINUTE,
    events: [['open'], ['router', 2 * MINUTE], ['wait', 60 * MINUTE]],
    saved: [2 * MINUTE],
    closed: [2 * MINUTE],
  },
  { name: 'a restart, the camera is blocked now: the stored deadline goes, nothing closes', stored: 3 * MINUTE, events: [['block'], ['wait', 60 * MINUTE]], saved: [undefined], closed: [] },
  { name: 'blocked with nothing stored: nothing to save', events: [['block'], ['wait', 60 * MINUTE]], saved: [], closed: [] },
];

describe('when a timed opening closes', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it.each(rows)('$name', ({ allowMinutes = 10, stored, events, saved, closed }) => {
    const saves: Array<number | undefined> = [];
    const closes: number[] = [];
    const timed = new TimedAccess(
      allowMinutes,
      stored === undefined ? undefined : T0 + stored,
      (deadline) => saves.push(deadline === undefined ? undefined : deadline - T0),
      () => closes.push(Date.now() - T0),
      () => Date.now(),
    );
    for (const event of events) {
      switch (event[0]) {
        case 'open':
          timed.accessKnown('allowed', true);
          break;
        case 'block':
          timed.accessKnown('blocked', true);
          break;
        case 'router':
          timed.routerDeadline(T0 + event[1]);
          break;
        case 'wait':
          jest.advanceTimersByTime(event[1]);
          break;
      }
    }
    expect({ saved: saves, closed: closes }).toEqual({ saved, closed });
  });

  it('stores a new deadline before its timer starts, so a crash cannot leave the camera open for good', () => {
    const timersAtSave: number[] = [];
    const timed = new TimedAccess(10, undefined, () => timersAtSave.push(jest.getTimerCount()), () => undefined, () => Date.now());
    timed.accessKnown('allowed', true);
    expect(timersAtSave).toEqual([0]);
    expect(jest.getTimerCount()).toBe(1);
  });

  it('stores the deadline of an opening confirmed while Homebridge stops (no timer may start), so the next run closes it on time', () => {
    const saves: Array<number | undefined> = [];
    const closes: number[] = [];
    const timed = new TimedAccess(10, undefined, (deadline) => saves.push(deadline), () => closes.push(Date.now()), () => Date.now());
    timed.accessKnown('allowed', false);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(60 * MINUTE);
    expect({ saves, closes }).toEqual({ saves: [T0 + 10 * MINUTE], closes: [] });
  });

  it('stopTimer() leaves the stored deadline for the next run', () => {
    const saves: Array<number | undefined> = [];
    const closes: number[] = [];
    const timed = new TimedAccess(10, undefined, (deadline) => saves.push(deadline), () => closes.push(Date.now()), () => Date.now());
    timed.accessKnown('allowed', true);
    timed.stopTimer();
    jest.advanceTimersByTime(60 * MINUTE);
    expect({ saves, closes }).toEqual({ saves: [T0 + 10 * MINUTE], closes: [] });
  });
});

describe('the earlier of two deadlines stands', () => {
  type Row2 = [name: string, stored: number | undefined, router: number, kept: number];
  const table: Row2[] = [
    ['nothing stored: the router one', undefined, T0, T0],
    ['stored earlier: the stored one', T0, T0 + MINUTE, T0],
    ['router earlier: the router one', T0 + MINUTE, T0, T0],
    ['router 1999 ms earlier: the same deadline, the stored one', T0 + 1999, T0, T0 + 1999],
    ['router 2000 ms earlier: the router one', T0 + 2000, T0, T0],
  ];
  it.each(table)('%s', (_name, stored, router, kept) => {
    expect(earlierDeadline(stored, router)).toBe(kept);
  });
});
