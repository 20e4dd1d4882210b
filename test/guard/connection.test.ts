import { Connection } from '../../src/guard/connection';
import type { Level, Message } from '../../src/guard/messages';
import { RouterError } from '../../src/router/driver';
import type { RouterErrorKind } from '../../src/router/driver';
import {
  AUTH_RETRY_MAX_MS,
  AUTH_RETRY_MIN_MS,
  DEFAULTS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  REPAIR_RETRY_MAX_MS,
  REPAIR_RETRY_MIN_MS,
} from '../../src/settings';

const POLL_MS = DEFAULTS.pollSeconds * 1000;
/** The jitter the tests use: 0.5 puts every delay at 90% of its base (the jitter takes off up to 20%). */
const RANDOM = 0.5;

/** The delay of the attempt-th failure (0 = first) of a backoff between min and max, with the tests' jitter. */
function delay(minMs: number, maxMs: number, attempt: number): number {
  return Math.round(Math.min(maxMs, minMs * 2 ** attempt) * (0.8 + 0.2 * RANDOM));
}
const connect = (attempt: number): number => delay(RECONNECT_MIN_MS, RECONNECT_MAX_MS, attempt);
const login = (attempt: number): number => delay(AUTH_RETRY_MIN_MS, AUTH_RETRY_MAX_MS, attempt);
/** Errors after a good login are retried as slowly as a refused login. */
const session = login;
const repair = (attempt: number, pollMs = POLL_MS): number => delay(Math.max(pollMs, REPAIR_RETRY_MIN_MS), Math.max(pollMs, REPAIR_RETRY_MAX_MS), attempt);

/**
 * What happens to the connection: `connect:KIND` a connection attempt fails, `session:KIND` an error after login,
 * `connected` a login succeeds, `answered` a read succeeds, `repair` a repair does not take, `repaired` the router
 * needs no repair.
 */
type Event = `connect:${RouterErrorKind}` | `session:${RouterErrorKind}` | 'connected' | 'answered' | 'repair' | 'repaired';

function errorFor(kind: RouterErrorKind): RouterError {
  const words: Record<RouterErrorKind, string> = {
    unreachable: 'the router at 192.0.2.1 cannot be reached (connect ECONNREFUSED).',
    timeout: 'the router at 192.0.2.1 did not answer within 15 s.',
    auth: 'the router at 192.0.2.1 refused the login of "homebridge"; check the key or password.',
    'host-key': 'the router at 192.0.2.1 presented host key SHA256:other, not the pinned SHA256:pinned.',
    config: 'the router has no interface "eth0.100"; it has eth0, eth1, switch0.',
    protocol: 'the router answered something the plugin cannot read.',
  };
  return new RouterError(kind, words[kind]);
}

interface Outcome {
  /** The delays the failing events asked for, in order. */
  readonly delays: number[];
  /** The messages every event returned, in order. */
  readonly messages: Message[];
}

function play(events: readonly Event[], options: { pollMs?: number; random?: () => number } = {}): Outcome & { connection: Connection } {
  const connection = new Connection(options.pollMs ?? POLL_MS, options.random ?? ((): number => RANDOM));
  const delays: number[] = [];
  const messages: Message[] = [];
  let now = 0;
  for (const event of events) {
    now += 1000;
    if (event === 'connected') {
      messages.push(connection.connected());
    } else if (event === 'answered') {
      const said = connection.answered();
      if (said !== undefined) {
        messages.push(said);
      }
    } else if (event === 'repair') {
      const setback = connection.repairFailed(now, 'its rules still do not read back intact');
      delays.push(setback.delayMs);
      messages.push(setback.message);
    } else if (event === 'repaired') {
      connection.repaired();
    } else {
      const [where, kind] = event.split(':') as ['connect' | 'session', RouterErrorKind];
      const setback = where === 'connect' ? connection.connectFailed(errorFor(kind)) : connection.sessionFailed(errorFor(kind));
      delays.push(setback.delayMs);
      messages.push(setback.message);
    }
  }
  return { connection, delays, messages };
}

describe('which backoff applies, and what resets it', () => {
  type Row = [name: string, events: readonly Event[], delays: readonly number[], pollMs?: number];
  const rows: Row[] = [
    ['an unreachable router: connect backoff, doubling', ['connect:unreachable', 'connect:unreachable', 'connect:unreachable'], [connect(0), connect(1), connect(2)]],
    ['a connect timeout is the connect backoff too, capped at its maximum', Array<Event>(9).fill('connect:timeout'), [0, 1, 2, 3, 4, 5, 6, 7, 8].map(connect)],
    ['a protocol error while connecting: connect backoff', ['connect:protocol', 'connect:protocol'], [connect(0), connect(1)]],
    ['a refused login: login backoff, never a login storm', ['connect:auth', 'connect:auth', 'connect:auth'], [login(0), login(1), login(2)]],
    ['a refused login is capped at its maximum', Array<Event>(7).fill('connect:auth'), [0, 1, 2, 3, 4, 5, 6].map(login)],
    ['an impostor host key and a missing setting share the login backoff', ['connect:host-key', 'connect:config', 'connect:host-key'], [login(0), login(1), login(2)]],
    ['connect and login backoffs grow separately', ['connect:unreachable', 'connect:auth', 'connect:unreachable', 'connect:auth'], [connect(0), login(0), connect(1), login(1)]],
    ['a connection lost after login: the connect backoff', ['session:unreachable', 'session:timeout', 'session:unreachable'], [connect(0), connect(1), connect(2)]],
    ['a protocol, config or auth error after login: the session backoff, as slow as a refused login', ['session:protocol', 'session:config', 'session:auth'], [session(0), session(1), session(2)]],
    ['a login does not reset the connect backoff: a router that drops every session is not hammered', ['connect:unreachable', 'connected', 'session:unreachable', 'connected', 'session:timeout'], [connect(0), connect(1), connect(2)]],
    ['a login does not reset the session backoff: a session that fails after every login is retried ever more slowly', ['session:protocol', 'connected', 'session:protocol', 'connected', 'session:protocol'], [session(0), session(1), session(2)]],
    ['a login resets the login backoff', ['connect:auth', 'connect:auth', 'connected', 'connect:auth'], [login(0), login(1), login(0)]],
    ['a read that succeeds resets the connect backoff', ['connect:unreachable', 'connect:unreachable', 'connected', 'answered', 'session:unreachable'], [connect(0), connect(1), connect(0)]],
    ['a read that succeeds resets the session backoff', ['session:protocol', 'session:protocol', 'answered', 'session:protocol'], [session(0), session(1), session(0)]],
    ['a read that succeeds does not reset the login backoff', ['connect:auth', 'connect:auth', 'answered', 'connect:auth'], [login(0), login(1), login(2)]],
    ['a repair that does not take: repair backoff, doubling, capped', Array<Event>(8).fill('repair'), [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => repair(attempt))],
    ['a reading that needs no repair resets the repair backoff', ['repair', 'repair', 'repaired', 'repair'], [repair(0), repair(1), repair(0)]],
    ['a read or a login does not reset the repair backoff', ['repair', 'answered', 'connected', 'repair'], [repair(0), repair(1)]],
    ['repaired() does not reset the connect backoff', ['connect:unreachable', 'repaired', 'connect:unreachable'], [connect(0), connect(1)]],
    ['a repair never runs sooner than the next poll', ['repair', 'repair'], [repair(0, 60_000), repair(1, 60_000)], 60_000],
    ['a poll slower than the repair maximum: every repair waits one poll', ['repair', 'repair', 'repair'], [repair(0, 20 * 60_000), repair(1, 20 * 60_000), repair(2, 20 * 60_000)], 20 * 60_000],
  ];
  const cases = rows.map(([name, events, delays, pollMs]) => ({ name, events, delays, pollMs }));

  it.each(cases)('$name', ({ events, delays, pollMs }) => {
    expect(play(events, pollMs === undefined ? {} : { pollMs }).delays).toEqual(delays);
  });

  it('the bounds are those of src/settings.ts (a lost connection is retried soon, a refused login slowly)', () => {
    expect(play(['connect:unreachable']).delays).toEqual([Math.round(RECONNECT_MIN_MS * 0.9)]);
    expect(play(Array<Event>(20).fill('connect:unreachable')).delays.at(-1)).toBe(Math.round(RECONNECT_MAX_MS * 0.9));
    expect(play(['connect:auth']).delays).toEqual([Math.round(AUTH_RETRY_MIN_MS * 0.9)]);
    expect(play(Array<Event>(20).fill('connect:auth')).delays.at(-1)).toBe(Math.round(AUTH_RETRY_MAX_MS * 0.9));
    expect(play(['repair']).delays).toEqual([Math.round(Math.max(POLL_MS, REPAIR_RETRY_MIN_MS) * 0.9)]);
    expect(play(Array<Event>(20).fill('repair')).delays.at(-1)).toBe(Math.round(REPAIR_RETRY_MAX_MS * 0.9));
  });

  it.each([
    [0, 0.8],
    [0.999999, 1],
  ])('the jitter takes off at most 20%%: random() = %p gives %p of the base', (random, factor) => {
    const { delays } = play(['connect:unreachable', 'connect:auth', 'session:protocol', 'repair'], { random: () => random });
    expect(delays).toEqual([RECONNECT_MIN_MS, AUTH_RETRY_MIN_MS, AUTH_RETRY_MIN_MS, Math.max(POLL_MS, REPAIR_RETRY_MIN_MS)].map((ms) => Math.round(ms * factor)));
  });
});

describe('one outage is one episode in the log', () => {
  type Said = [level: Level, text: RegExp];
  const lost = (seconds: number): RegExp => new RegExp(`cannot be reached .*"No Response".*retrying in ${seconds} s\\.$`);
  const again: Said = ['info', /^connected to the router again; guarding resumes\.$/];
  const login: Said = ['debug', /^connected to the router\.$/];
  type Row = [name: string, events: readonly Event[], said: readonly Said[]];
  const rows: Row[] = [
    ['a first login with no outage is a debug line, and a good read says nothing', ['connected', 'answered'], [login]],
    [
      'an unreachable router: a warning when it starts, debug while it lasts, info when a read succeeds again',
      ['connect:unreachable', 'connect:unreachable', 'connect:unreachable', 'connected', 'answered'],
      [['warn', lost(1)], ['debug', lost(2)], ['debug', lost(4)], login, again],
    ],
    [
      'a symptom that changes (unreachable, then timeout, then a protocol error) stays one outage',
      ['connect:unreachable', 'connect:timeout', 'connect:protocol', 'connected', 'answered'],
      [['warn', lost(1)], ['debug', /did not answer within 15 s/], ['debug', /cannot read/], login, again],
    ],
    [
      'a refused login is an error, once',
      ['connect:auth', 'connect:auth', 'connected', 'answered'],
      [['error', /refused the login of "homebridge"; check the key or password\. .*retrying in 27 s\.$/], ['debug', /refused the login/], login, again],
    ],
    ['an impostor host key is an error', ['connect:host-key', 'connect:host-key'], [['error', /SHA256:other, not the pinned SHA256:pinned/], ['debug', /SHA256:other/]]],
    ['a setting the router lacks is an error', ['connect:config'], [['error', /has no interface "eth0\.100"/]]],
    [
      'a refused login during an outage that started as unreachable is still worth its own error',
      ['connect:unreachable', 'connect:auth', 'connect:unreachable', 'connect:auth', 'connected', 'answered'],
      [['warn', lost(1)], ['error', /refused the login/], ['debug', /cannot be reached/], ['debug', /refused the login/], login, again],
    ],
    [
      'a connection lost after login starts an outage too, ended by the next good read',
      ['connected', 'answered', 'session:unreachable', 'session:timeout', 'connected', 'answered'],
      [login, ['warn', lost(1)], ['debug', /did not answer/], login, again],
    ],
    [
      'a router that drops every session right after login is one outage, not one warning per login',
      ['connected', 'answered', 'session:unreachable', 'connected', 'session:unreachable', 'connected', 'session:unreachable', 'connected', 'answered'],
      [login, ['warn', lost(1)], login, ['debug', lost(2)], login, ['debug', lost(4)], login, again],
    ],
    ['an error after login that is not a lost connection: a warning, then debug', ['session:protocol', 'session:protocol'], [['warn', /cannot read.*retrying in 27 s\./], ['debug', /retrying in 54 s\./]]],
    [
      'two outages are two episodes',
      ['connect:unreachable', 'connected', 'answered', 'connect:unreachable', 'connected', 'answered', 'connected', 'answered'],
      [['warn', lost(1)], login, again, ['warn', lost(1)], login, again, login],
    ],
  ];
  const cases = rows.map(([name, events, said]) => ({ name, events, said }));

  it.each(cases)('$name', ({ events, said }) => {
    const { messages } = play(events);
    expect(messages.map(({ level, text }) => [level, text])).toEqual(said.map(([level, text]): [Level, unknown] => [level, expect.stringMatching(text)]));
  });

  it('down lasts from the first failure until a read succeeds, not merely a login', () => {
    const connection = new Connection(POLL_MS, () => RANDOM);
    expect(connection.down).toBe(false);
    connection.connectFailed(errorFor('unreachable'));
    expect(connection.down).toBe(true);
    connection.connected();
    expect(connection.down).toBe(true);
    connection.answered();
    expect(connection.down).toBe(false);
    connection.sessionFailed(errorFor('protocol'));
    expect(connection.down).toBe(true);
  });
});

describe('a repair that does not take', () => {
  it('is a warning each time, with the reason and the wait, and holds the next repair back until then', () => {
    const connection = new Connection(POLL_MS, () => RANDOM);
    expect(connection.untilRepair(5_000)).toBeLessThanOrEqual(0);
    const first = connection.repairFailed(5_000, 'the router took it, but its rules still do not read back intact');
    expect(first.message).toEqual({
      level: 'warn',
      text: expect.stringMatching(new RegExp(`did not take \\(the router took it, but its rules still do not read back intact\\).*tried again in ${Math.round(repair(0) / 1000)} s\\.$`)),
    });
    expect(connection.untilRepair(5_000)).toBe(repair(0));
    expect(connection.untilRepair(5_000 + repair(0))).toBe(0);
    const second = connection.repairFailed(6_000, 'Commit failed');
    expect(second.message.level).toBe('warn');
    expect(connection.untilRepair(6_000)).toBe(repair(1));
    connection.repaired();
    expect(connection.untilRepair(6_000)).toBeLessThanOrEqual(0);
  });
});
