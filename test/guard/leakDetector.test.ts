import type { LeakSettings } from '../../src/config';
import { LeakDetector } from '../../src/guard/leakDetector';
import type { LeakReason } from '../../src/guard/leakDetector';
import type { Access } from '../../src/router/driver';

const MINUTE = 60_000;
const settings: LeakSettings = { attempts: 3, uploadBytes: 100_000_000, windowMs: 10 * MINUTE, quietMs: 5 * MINUTE };

/**
 * One reading per row: minute, access, epoch, blocked packets (undefined while allowed), egress packets, egress bytes.
 * A new epoch means something happened between two readings that makes their counters incomparable (the access was
 * switched and switched back, the rules rewritten): the guard then calls `resetBaseline`.
 */
type Row = [minute: number, access: Access, epoch: number, blocked: number | undefined, egressPackets: number, egressBytes: number];

interface Case {
  name: string;
  rows: Row[];
  /** The trip reason expected after each row ('-' = no trip), and whether the sensor shows a leak. */
  expect: Array<[trip: LeakReason | '-', detected: boolean]>;
  settings?: Partial<LeakSettings>;
}

const cases: Case[] = [
  {
    name: 'blocked camera that keeps phoning home trips once it reaches the attempts threshold',
    rows: [
      [0, 'blocked', 0, 0, 0, 0],
      [1, 'blocked', 0, 2, 0, 0],
      [2, 'blocked', 0, 3, 0, 0],
    ],
    expect: [['-', false], ['-', false], ['blocked-attempts', true]],
  },
  {
    name: 'attempts spread wider than the window never add up',
    rows: [
      [0, 'blocked', 0, 0, 0, 0],
      [5, 'blocked', 0, 2, 0, 0],
      [16, 'blocked', 0, 4, 0, 0],
    ],
    expect: [['-', false], ['-', false], ['-', false]],
  },
  {
    name: 'a counter that goes down (router reboot) is a new baseline, not an alarm',
    rows: [
      [0, 'blocked', 0, 500, 0, 0],
      [1, 'blocked', 0, 0, 0, 0],
      [2, 'blocked', 0, 1, 0, 0],
    ],
    expect: [['-', false], ['-', false], ['-', false]],
  },
  {
    name: 'a reset in the middle of a burst keeps the rises on both sides and nothing negative',
    rows: [
      [0, 'blocked', 0, 100, 0, 0],
      [1, 'blocked', 0, 102, 0, 0],
      [2, 'blocked', 0, 0, 0, 0],
      [3, 'blocked', 0, 1, 0, 0],
    ],
    expect: [['-', false], ['-', false], ['-', false], ['blocked-attempts', true]],
  },
  {
    name: 'an allowed camera uploading more than uploadMB in the window trips; less does not',
    rows: [
      [0, 'allowed', 0, undefined, 0, 0],
      [4, 'allowed', 0, undefined, 40_000, 60_000_000],
      [8, 'allowed', 0, undefined, 80_000, 100_000_000],
      [9, 'allowed', 0, undefined, 90_000, 100_000_001],
    ],
    expect: [['-', false], ['-', false], ['-', false], ['upload', true]],
  },
  {
    name: 'uploadMB 0 turns upload alarms off',
    settings: { uploadBytes: 0 },
    rows: [
      [0, 'allowed', 0, undefined, 0, 0],
      [1, 'allowed', 0, undefined, 1e6, 9e9],
    ],
    expect: [['-', false], ['-', false]],
  },
  {
    name: 'egress while blocked means the block is not working, even for one packet',
    rows: [
      [0, 'blocked', 0, 0, 10, 1000],
      [1, 'blocked', 0, 0, 11, 1060],
    ],
    expect: [['-', false], ['block-bypassed', true]],
  },
  {
    name: 'traffic across an access change belongs to neither side: no alarm',
    rows: [
      [0, 'allowed', 0, undefined, 0, 0],
      [1, 'blocked', 1, 0, 900_000, 500_000_000],
      [2, 'blocked', 1, 0, 900_000, 500_000_000],
    ],
    expect: [['-', false], ['-', false], ['-', false]],
  },
  {
    name: 'blocked, opened and blocked again between two readings (new epoch) is no bypass',
    rows: [
      [0, 'blocked', 0, 0, 0, 0],
      [1, 'blocked', 2, 0, 5000, 9_000_000],
    ],
    expect: [['-', false], ['-', false]],
  },
  {
    name: 'the alarm clears after quietMinutes without a new trigger, and a new trigger keeps it on',
    rows: [
      [0, 'blocked', 0, 0, 0, 0],
      [1, 'blocked', 0, 3, 0, 0],
      [4, 'blocked', 0, 6, 0, 0],
      [8, 'blocked', 0, 6, 0, 0],
      [9, 'blocked', 0, 6, 0, 0],
    ],
    expect: [['-', false], ['blocked-attempts', true], ['blocked-attempts', true], ['-', true], ['-', false]],
  },
  {
    name: 'one burst trips once: the same packets are not counted again',
    rows: [
      [0, 'blocked', 0, 0, 0, 0],
      [1, 'blocked', 0, 3, 0, 0],
      [2, 'blocked', 0, 4, 0, 0],
      [3, 'blocked', 0, 5, 0, 0],
    ],
    expect: [['-', false], ['blocked-attempts', true], ['-', true], ['-', true]],
  },
];

describe('leak detection table', () => {
  it.each(cases)('$name', ({ rows, expect: expected, settings: override }) => {
    const detector = new LeakDetector({ ...settings, ...override });
    let lastEpoch = 0;
    rows.forEach(([minute, access, epoch, blocked, egressPackets, egressBytes], index) => {
      if (epoch !== lastEpoch) {
        detector.resetBaseline();
        lastEpoch = epoch;
      }
      const trip = detector.observe({
        at: minute * MINUTE,
        access,
        counters: { blockedPackets: blocked, egressPackets, egressBytes },
      });
      expect([trip?.reason ?? '-', detector.detected]).toEqual(expected[index]);
    });
  });

  it('reports the numbers it tripped on', () => {
    const detector = new LeakDetector(settings);
    detector.observe({ at: 0, access: 'allowed', counters: { blockedPackets: undefined, egressPackets: 0, egressBytes: 0 } });
    const trip = detector.observe({ at: MINUTE, access: 'allowed', counters: { blockedPackets: undefined, egressPackets: 9, egressBytes: 123_456_789 } });
    expect(trip).toEqual({ reason: 'upload', amount: 123_456_789, windowMs: 10 * MINUTE });
  });
});
