import { LOCKDOWN_OFF, lockdownRefuses, switchLockdown } from '../../src/guard/lockdown';
import type { LockdownMemory } from '../../src/guard/lockdown';
import type { Access } from '../../src/router/driver';

const FRONT = '192.0.2.50';
const GARAGE = '192.0.2.51';
const PORCH = '192.0.2.52';

type Shown = Record<string, Access | undefined>;
const shownMap = (shown: Shown): ReadonlyMap<string, Access | undefined> => new Map(Object.entries(shown));

/** What turning Lockdown on or off must do: undefined when it already is so, else the requests and what is remembered. */
type Expected = { requests: Record<string, Access>; memory: LockdownMemory } | undefined;
type Row = [name: string, memory: LockdownMemory, on: boolean, shown: Shown, expected: Expected];

const rows: Row[] = [
  [
    'enter: every camera blocked, and each one remembered as its Switch shows it',
    LOCKDOWN_OFF,
    true,
    { [FRONT]: 'allowed', [GARAGE]: 'blocked' },
    { requests: { [FRONT]: 'blocked', [GARAGE]: 'blocked' }, memory: { on: true, previous: { [FRONT]: 'allowed', [GARAGE]: 'blocked' } } },
  ],
  [
    'enter: a camera whose state is unknown (No Response) is remembered as blocked',
    LOCKDOWN_OFF,
    true,
    { [FRONT]: undefined, [GARAGE]: 'allowed' },
    { requests: { [FRONT]: 'blocked', [GARAGE]: 'blocked' }, memory: { on: true, previous: { [FRONT]: 'blocked', [GARAGE]: 'allowed' } } },
  ],
  ['enter with no cameras: on, nothing to ask', LOCKDOWN_OFF, true, {}, { requests: {}, memory: { on: true, previous: {} } }],
  ['enter while already on: nothing changes', { on: true, previous: { [FRONT]: 'allowed' } }, true, { [FRONT]: 'blocked' }, undefined],
  [
    'leave: each camera back to its access from before, and nothing remembered',
    { on: true, previous: { [FRONT]: 'allowed', [GARAGE]: 'blocked' } },
    false,
    { [FRONT]: 'blocked', [GARAGE]: 'blocked' },
    { requests: { [FRONT]: 'allowed', [GARAGE]: 'blocked' }, memory: { on: false, previous: {} } },
  ],
  [
    'leave: a camera added during the lockdown (nothing remembered) stays blocked',
    { on: true, previous: { [FRONT]: 'allowed' } },
    false,
    { [FRONT]: 'blocked', [PORCH]: 'blocked' },
    { requests: { [FRONT]: 'allowed', [PORCH]: 'blocked' }, memory: { on: false, previous: {} } },
  ],
  [
    'leave: a camera removed during the lockdown is not asked for',
    { on: true, previous: { [FRONT]: 'allowed', [GARAGE]: 'allowed' } },
    false,
    { [GARAGE]: undefined },
    { requests: { [GARAGE]: 'allowed' }, memory: { on: false, previous: {} } },
  ],
  ['leave while already off: nothing changes', LOCKDOWN_OFF, false, { [FRONT]: 'allowed' }, undefined],
];
const cases = rows.map(([name, memory, on, shown, expected]) => ({ name, memory, on, shown, expected }));

describe('turning Lockdown on and off', () => {
  it.each(cases)('$name', ({ memory, on, shown, expected }) => {
    const change = switchLockdown(memory, on, shownMap(shown));
    expect(change === undefined ? undefined : { requests: Object.fromEntries(change.requests), memory: change.memory }).toEqual(expected);
  });

  it('restores the access from before after a Homebridge restart: the memory round-trips through JSON', () => {
    const entered = switchLockdown(LOCKDOWN_OFF, true, shownMap({ [FRONT]: 'allowed', [GARAGE]: undefined, [PORCH]: 'blocked' }));
    expect(entered).toBeDefined();
    const restored = JSON.parse(JSON.stringify(entered!.memory)) as LockdownMemory;
    expect(restored).toEqual({ on: true, previous: { [FRONT]: 'allowed', [GARAGE]: 'blocked', [PORCH]: 'blocked' } });
    expect(lockdownRefuses(restored, 'allowed')).toBe(true);
    const left = switchLockdown(restored, false, shownMap({ [FRONT]: 'blocked', [GARAGE]: 'blocked', [PORCH]: 'blocked' }));
    expect(Object.fromEntries(left!.requests)).toEqual({ [FRONT]: 'allowed', [GARAGE]: 'blocked', [PORCH]: 'blocked' });
    expect(JSON.parse(JSON.stringify(left!.memory))).toEqual(LOCKDOWN_OFF);
  });
});

describe('what Lockdown refuses', () => {
  type Row2 = [name: string, memory: LockdownMemory, access: Access, refused: boolean];
  const table: Row2[] = [
    ['an opening while Lockdown is on is refused', { on: true, previous: {} }, 'allowed', true],
    ['a block while Lockdown is on is not', { on: true, previous: {} }, 'blocked', false],
    ['an opening while Lockdown is off is not', LOCKDOWN_OFF, 'allowed', false],
    ['a block while Lockdown is off is not', LOCKDOWN_OFF, 'blocked', false],
  ];
  it.each(table)('%s', (_name, memory, access, refused) => {
    expect(lockdownRefuses(memory, access)).toBe(refused);
  });
});
