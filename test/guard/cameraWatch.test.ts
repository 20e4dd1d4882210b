import type { CameraSettings, LeakSettings } from '../../src/config';
import { CameraWatch } from '../../src/guard/cameraWatch';
import type { Observed } from '../../src/guard/cameraWatch';
import type { Level } from '../../src/guard/messages';
import type { Access, CameraReading, EgressCounters } from '../../src/router/driver';

const MINUTE = 60_000;
const camera: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [], allowMinutes: 30 };
const leak: LeakSettings = { attempts: 3, uploadBytes: 5_000_000, windowMs: 10 * MINUTE, quietMs: 5 * MINUTE };

const counters = (blockedPackets: number | undefined, egressPackets = 0, egressBytes = 0): EgressCounters => ({ blockedPackets, egressPackets, egressBytes });
const missing: CameraReading = { status: 'missing' };
const damaged: CameraReading = { status: 'damaged' };
const blocked = (count?: EgressCounters, extra: { notInForce?: string; timedOut?: boolean } = {}): CameraReading => ({ status: 'intact', access: 'blocked', counters: count, ...extra });
const allowed = (count?: EgressCounters, openForMs?: number): CameraReading => ({ status: 'intact', access: 'allowed', counters: count, ...(openForMs === undefined ? {} : { openForMs }) });

type Said = readonly [Level, RegExp];
type Flag = 'camera' | 'leak' | 'firstSeen' | 'access';

/** One reading, what the guard knows when it arrives, and what the watch must make of it. */
interface Step {
  readonly minute: number;
  readonly reading: CameraReading;
  /** The accesses the guard asked for (in this transaction, or still in flight or queued). */
  readonly ours?: readonly Access[];
  readonly lockdownOn?: boolean;
  readonly said: readonly Said[];
  /** The flags of `Observed` that must be true; the others must be false. */
  readonly changed: readonly Flag[];
  /** What the router enforces as the watch now has it (undefined: unknown, the Switch shows No Response). */
  readonly actual: Access | undefined;
  readonly leakDetected: boolean;
}

interface Case {
  readonly name: string;
  readonly seenBefore: boolean;
  readonly steps: readonly Step[];
}

const NEW = /^"Front Door" \(192\.0\.2\.50\) is new: its rules are being created with internet access blocked\.$/;
const DELETED = /^"Front Door": its rules were deleted on the router; re-creating them with internet access blocked\.$/;
const CHANGED = /^"Front Door": its rules were changed on the router and can no longer be trusted; re-creating them with internet access blocked\.$/;
const NOT_IN_FORCE = /^"Front Door" \(192\.0\.2\.50\) LEAK: its block is not in force: the router's configuration blocks it, but the WAN hook does not jump to CAMGUARD_OUT, so its packets get out; /;
const IN_FORCE_AGAIN = /^"Front Door" \(192\.0\.2\.50\): its block is in force in the router's firewall again\.$/;
const CLEARED = /^"Front Door": no unexpected traffic for a while; its leak sensor is clear again\.$/;
const HOOK = 'the WAN hook does not jump to CAMGUARD_OUT';

const cases: Case[] = [
  {
    name: 'a new camera (never seen): said once while its rules are created; its first reading is no outside change',
    seenBefore: false,
    steps: [
      { minute: 0, reading: missing, said: [['info', NEW]], changed: [], actual: undefined, leakDetected: false },
      { minute: 1, reading: missing, said: [], changed: [], actual: undefined, leakDetected: false },
      { minute: 2, reading: blocked(counters(0)), said: [], changed: ['camera', 'firstSeen', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 3, reading: blocked(counters(0)), said: [], changed: [], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'a camera never seen whose rules are already there: first seen, nothing said',
    seenBefore: false,
    steps: [{ minute: 0, reading: allowed(counters(undefined)), said: [], changed: ['camera', 'firstSeen', 'access'], actual: 'allowed', leakDetected: false }],
  },
  {
    name: 'rules deleted on the router: a warning once per episode, unknown (No Response) until re-created',
    seenBefore: true,
    steps: [
      { minute: 0, reading: allowed(counters(undefined)), said: [], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      { minute: 1, reading: missing, said: [['warn', DELETED]], changed: ['camera'], actual: undefined, leakDetected: false },
      { minute: 2, reading: missing, said: [], changed: [], actual: undefined, leakDetected: false },
      { minute: 3, reading: damaged, said: [], changed: [], actual: undefined, leakDetected: false },
      { minute: 4, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 5, reading: missing, said: [['warn', DELETED]], changed: ['camera'], actual: undefined, leakDetected: false },
    ],
  },
  {
    name: 'rules changed on the router: a warning once per episode',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: damaged, said: [['warn', CHANGED]], changed: ['camera'], actual: undefined, leakDetected: false },
      { minute: 2, reading: damaged, said: [], changed: [], actual: undefined, leakDetected: false },
      { minute: 3, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 4, reading: damaged, said: [['warn', CHANGED]], changed: ['camera'], actual: undefined, leakDetected: false },
    ],
  },
  {
    name: 'a change made on the router is said; one the guard asked for is not',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: allowed(counters(undefined)), said: [['warn', /^"Front Door": internet access was opened on the router, outside HomeKit\.$/]], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      { minute: 2, reading: blocked(counters(0)), ours: ['blocked'], said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 3, reading: allowed(counters(undefined)), ours: ['allowed'], said: [], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      { minute: 4, reading: blocked(counters(0)), ours: ['allowed'], said: [['warn', /^"Front Door": internet access was blocked on the router, outside HomeKit\.$/]], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 5, reading: blocked(counters(0)), said: [], changed: [], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'closed by the router at its own deadline: said as such, not as an outside change',
    seenBefore: true,
    steps: [
      { minute: 0, reading: allowed(counters(undefined), 60_000), said: [], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      {
        minute: 1,
        reading: blocked(counters(0), { timedOut: true }),
        said: [['info', /^"Front Door": internet access closed by the router itself at the end of its 30 minute\(s\) \("allowMinutes"\)\.$/]],
        changed: ['camera', 'access'],
        actual: 'blocked',
        leakDetected: false,
      },
    ],
  },
  {
    name: 'the router deadline and the guard closing at once: the guard reports it, nothing said here',
    seenBefore: true,
    steps: [
      { minute: 0, reading: allowed(counters(undefined)), said: [], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      { minute: 1, reading: blocked(counters(0), { timedOut: true }), ours: ['blocked'], said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'opened on the router during Lockdown: an outside change, and Lockdown does not override it (a block there is only an outside change)',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), lockdownOn: true, said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      {
        minute: 1,
        reading: allowed(counters(undefined)),
        lockdownOn: true,
        said: [
          ['warn', /^"Front Door": internet access was opened on the router, outside HomeKit\.$/],
          ['warn', /^"Front Door" was opened on the router although Lockdown is on; Lockdown does not override changes made on the router\.$/],
        ],
        changed: ['camera', 'access'],
        actual: 'allowed',
        leakDetected: false,
      },
      {
        minute: 2,
        reading: blocked(counters(0)),
        lockdownOn: true,
        said: [['warn', /^"Front Door": internet access was blocked on the router, outside HomeKit\.$/]],
        changed: ['camera', 'access'],
        actual: 'blocked',
        leakDetected: false,
      },
    ],
  },
  {
    name: 'a block not in force in the kernel: an error LEAK once, the sensor tripped until it is in force again',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: blocked(counters(0), { notInForce: HOOK }), said: [['error', NOT_IN_FORCE]], changed: ['camera', 'leak'], actual: 'blocked', leakDetected: true },
      { minute: 2, reading: blocked(counters(0), { notInForce: HOOK }), said: [], changed: [], actual: 'blocked', leakDetected: true },
      { minute: 3, reading: blocked(counters(0), { notInForce: 'its drop rule has no row in CAMGUARD_OUT' }), said: [], changed: ['camera', 'leak'], actual: 'blocked', leakDetected: true },
      { minute: 4, reading: blocked(counters(0)), said: [['info', IN_FORCE_AGAIN]], changed: ['camera', 'leak'], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'not in force from the first reading: the error at once',
    seenBefore: true,
    steps: [{ minute: 0, reading: blocked(counters(0), { notInForce: HOOK }), said: [['error', NOT_IN_FORCE]], changed: ['camera', 'leak', 'access'], actual: 'blocked', leakDetected: true }],
  },
  {
    name: 'blocked attempts trip the sensor (a warning), stay tripped at debug, and clear after quietMs',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: blocked(counters(2)), said: [], changed: [], actual: 'blocked', leakDetected: false },
      {
        minute: 2,
        reading: blocked(counters(5)),
        said: [['warn', /^"Front Door" \(192\.0\.2\.50\) LEAK: 5 blocked packet\(s\) toward the internet in the last 10 min while its access is off; it keeps trying to phone home\.$/]],
        changed: ['leak'],
        actual: 'blocked',
        leakDetected: true,
      },
      { minute: 3, reading: blocked(counters(9)), said: [['debug', /LEAK: 4 blocked packet\(s\)/]], changed: [], actual: 'blocked', leakDetected: true },
      { minute: 7, reading: blocked(counters(9)), said: [], changed: [], actual: 'blocked', leakDetected: true },
      { minute: 8, reading: blocked(counters(9)), said: [['info', CLEARED]], changed: ['leak'], actual: 'blocked', leakDetected: false },
      { minute: 9, reading: blocked(counters(10)), said: [], changed: [], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'a packet that gets through while blocked is an error LEAK',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0, 10, 1_000)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      {
        minute: 1,
        reading: blocked(counters(0, 11, 1_100)),
        said: [['error', /^"Front Door" \(192\.0\.2\.50\) LEAK: 1 packet\(s\) reached the internet in the last 10 min although its access is off; the block is not working, /]],
        changed: ['leak'],
        actual: 'blocked',
        leakDetected: true,
      },
    ],
  },
  {
    name: 'an upload over uploadMB while allowed is a warning LEAK',
    seenBefore: true,
    steps: [
      { minute: 0, reading: allowed(counters(undefined, 0, 0)), said: [], changed: ['camera', 'access'], actual: 'allowed', leakDetected: false },
      { minute: 1, reading: allowed(counters(undefined, 10, 4_000_000)), said: [], changed: [], actual: 'allowed', leakDetected: false },
      {
        minute: 2,
        reading: allowed(counters(undefined, 20, 6_000_000)),
        said: [['warn', /^"Front Door" \(192\.0\.2\.50\) LEAK: uploaded 6 MB in the last 10 min, more than the 5 MB allowed; check what it is sending\.$/]],
        changed: ['leak'],
        actual: 'allowed',
        leakDetected: true,
      },
    ],
  },
  {
    name: 'counters that could not be read start a new count: no alarm from the gap',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: blocked(undefined), said: [], changed: [], actual: 'blocked', leakDetected: false },
      { minute: 2, reading: blocked(counters(50)), said: [], changed: [], actual: 'blocked', leakDetected: false },
      { minute: 3, reading: blocked(counters(53)), said: [['warn', /LEAK: 3 blocked packet\(s\)/]], changed: ['leak'], actual: 'blocked', leakDetected: true },
    ],
  },
  {
    name: 'rules re-created after a deletion start a new count: no alarm from the gap',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: missing, said: [['warn', DELETED]], changed: ['camera'], actual: undefined, leakDetected: false },
      { minute: 2, reading: blocked(counters(40)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 3, reading: blocked(counters(40)), said: [], changed: [], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'traffic counted while the block was not in force raises no alarm once it is in force again',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0, 0, 0), { notInForce: HOOK }), said: [['error', NOT_IN_FORCE]], changed: ['camera', 'leak', 'access'], actual: 'blocked', leakDetected: true },
      { minute: 1, reading: blocked(counters(0, 500, 900_000)), said: [['info', IN_FORCE_AGAIN]], changed: ['camera', 'leak'], actual: 'blocked', leakDetected: false },
      { minute: 2, reading: blocked(counters(0, 500, 900_000)), said: [], changed: [], actual: 'blocked', leakDetected: false },
    ],
  },
  {
    name: 'a block not in force, then opened on the router: it is open, not "in force again"',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0), { notInForce: HOOK }), said: [['error', NOT_IN_FORCE]], changed: ['camera', 'leak', 'access'], actual: 'blocked', leakDetected: true },
      {
        minute: 1,
        reading: allowed(counters(undefined)),
        said: [['warn', /^"Front Door": internet access was opened on the router, outside HomeKit\.$/]],
        changed: ['camera', 'leak', 'access'],
        actual: 'allowed',
        leakDetected: false,
      },
    ],
  },
  {
    name: 'an alarm that runs out while the counters cannot be read is still said to clear',
    seenBefore: true,
    steps: [
      { minute: 0, reading: blocked(counters(0)), said: [], changed: ['camera', 'access'], actual: 'blocked', leakDetected: false },
      { minute: 1, reading: blocked(counters(3)), said: [['warn', /LEAK: 3 blocked packet\(s\)/]], changed: ['leak'], actual: 'blocked', leakDetected: true },
      { minute: 6, reading: blocked(undefined), said: [['info', CLEARED]], changed: ['leak'], actual: 'blocked', leakDetected: false },
    ],
  },
];

const FLAGS: Record<Flag, keyof Omit<Observed, 'messages'>> = { camera: 'cameraChanged', leak: 'leakChanged', firstSeen: 'firstSeen', access: 'accessChanged' };

describe('one camera as the router readings show it', () => {
  it.each(cases)('$name', ({ seenBefore, steps }) => {
    const watch = new CameraWatch(camera, leak, seenBefore);
    steps.forEach((step, index) => {
      const ours = step.ours ?? [];
      const observed = watch.observe(step.reading, { now: step.minute * MINUTE, ours: (access) => ours.includes(access), lockdownOn: step.lockdownOn ?? false });
      const got = {
        step: index,
        said: observed.messages.map(({ level, text }) => [level, text]),
        changed: (Object.keys(FLAGS) as Flag[]).filter((flag) => observed[FLAGS[flag]]),
        actual: watch.actual,
        leakDetected: watch.leakDetected,
      };
      expect(got).toEqual({
        step: index,
        said: step.said.map(([level, text]): [Level, unknown] => [level, expect.stringMatching(text)]),
        changed: [...step.changed].sort((a, b) => Object.keys(FLAGS).indexOf(a) - Object.keys(FLAGS).indexOf(b)),
        actual: step.actual,
        leakDetected: step.leakDetected,
      });
    });
  });
});
