import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { COMPILED_TOOLS_DIR } from '../../tools/paths';
import { summarizeHeapSnapshot } from '../../tools/sim/heapSnapshot';

jest.setTimeout(60_000);

/**
 * In a fresh Node process (a Jest worker's heap also holds what earlier test files left behind, some of it only
 * weakly reachable, which a snapshot still lists until it is collected): the summary of a snapshot before and after
 * keeping 50,000 small objects, using the built module as the heap probe's reader does.
 */
function measureInFreshProcess(directory: string): { before: ReturnType<typeof summarizeHeapSnapshot>; after: ReturnType<typeof summarizeHeapSnapshot> } {
  const reader = join(COMPILED_TOOLS_DIR, 'sim', 'heapSnapshot.js');
  const script = `
    const { writeHeapSnapshot } = require('node:v8');
    const { summarizeHeapSnapshotFile } = require(${JSON.stringify(reader)});
    const before = summarizeHeapSnapshotFile(writeHeapSnapshot(${JSON.stringify(join(directory, 'before.heapsnapshot'))}));
    globalThis.kept = Array.from({ length: 50000 }, (_, i) => ({ camera: i, access: i % 2 === 0 ? 'allowed' : 'blocked' }));
    const after = summarizeHeapSnapshotFile(writeHeapSnapshot(${JSON.stringify(join(directory, 'after.heapsnapshot'))}));
    process.stdout.write(JSON.stringify({ before, after }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as ReturnType<typeof measureInFreshProcess>;
}

describe('reading a V8 heap snapshot', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cg-heap-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('counts values the program keeps reachable as values, apart from V8\'s own code and shapes', () => {
    const { before, after } = measureInFreshProcess(directory);
    // 50,000 small objects (and the array holding them): at least 50,000 × 3 pointer-sized fields more of values.
    expect(after.valueBytes - before.valueBytes).toBeGreaterThan(50_000 * 3 * 4);
    expect(after.bytesByType.object! - before.bytesByType.object!).toBeGreaterThan(50_000 * 12);
    // V8's own part is there, and is not where the objects went.
    expect(before.engineBytes).toBeGreaterThan(0);
    expect(Math.abs(after.engineBytes - before.engineBytes)).toBeLessThan(after.valueBytes - before.valueBytes);
  });

  it('refuses what is not a snapshot', () => {
    expect(() => summarizeHeapSnapshot('{"snapshot":{"meta":{"node_fields":[],"node_types":[[]]}},"nodes":[]}')).toThrow(/not a V8 heap snapshot/);
    expect(() => summarizeHeapSnapshot('not json')).toThrow();
  });
});
