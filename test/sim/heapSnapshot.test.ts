import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

import { summarizeHeapSnapshot, summarizeHeapSnapshotFile } from '../../src/sim/heapSnapshot';

jest.setTimeout(60_000);

describe('reading a V8 heap snapshot', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cg-heap-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('counts values the program keeps reachable as values, apart from V8\'s own code and shapes', () => {
    const before = summarizeHeapSnapshotFile(writeHeapSnapshot(join(directory, 'before.heapsnapshot')));
    // 50,000 small objects kept reachable: at least 50,000 × 3 pointer-sized fields more of values.
    const kept = Array.from({ length: 50_000 }, (_, i) => ({ camera: i, access: i % 2 === 0 ? 'allowed' : 'blocked' }));
    const after = summarizeHeapSnapshotFile(writeHeapSnapshot(join(directory, 'after.heapsnapshot')));
    expect(after.valueBytes - before.valueBytes).toBeGreaterThan(50_000 * 3 * 4);
    expect(after.bytesByType.object! - before.bytesByType.object!).toBeGreaterThan(50_000 * 12);
    // V8's own part is there, and is not where the objects went.
    expect(before.engineBytes).toBeGreaterThan(0);
    expect(Math.abs(after.engineBytes - before.engineBytes)).toBeLessThan(after.valueBytes - before.valueBytes);
    expect(kept.length).toBe(50_000);
  });

  it('refuses what is not a snapshot', () => {
    expect(() => summarizeHeapSnapshot('{"snapshot":{"meta":{"node_fields":[],"node_types":[[]]}},"nodes":[]}')).toThrow(/not a V8 heap snapshot/);
    expect(() => summarizeHeapSnapshot('not json')).toThrow();
  });
});
