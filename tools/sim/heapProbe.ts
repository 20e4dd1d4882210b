/**
 * Measures the JavaScript heap of a Homebridge under test from inside it. startHomebridge loads this file with
 * `--require` (and runs Node with `--expose-gc`) when asked for a heap file: on SIGUSR2 it runs a full garbage
 * collection, writes a heap snapshot next to the heap file, and appends a line (see HeapSample) naming it. It
 * changes nothing else in the process; SIGUSR2 is otherwise unused by Node and Homebridge.
 *
 * Why a snapshot and not process.memoryUsage(): V8 keeps compiling (and optimising) functions for a long while as a
 * program runs, and their bytecode and feedback live in the same heap spaces as the program's objects, so the heap
 * grows for minutes without anything leaking. Only a snapshot tells the program's own values (objects, arrays,
 * closures, strings, numbers) from V8's (code, hidden classes, internal lists); see heapSnapshot.ts.
 */
import { appendFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

export interface HeapSample {
  /** When it was taken (ms since the epoch). */
  readonly at: number;
  /** False when Node ran without --expose-gc: the figures then include garbage not yet collected. */
  readonly collected: boolean;
  /** Bytes V8 uses after the collection: the program's values and V8's own (code, hidden classes). */
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly rss: number;
  /** The heap snapshot written after the collection (read and removed by the one who asked). */
  readonly snapshot: string;
}

const file = process.env.CAMERA_GUARD_HEAP_FILE;
if (file !== undefined && file !== '') {
  let taken = 0;
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    // Twice: objects with finalizers need a second pass before their memory is free.
    gc?.();
    gc?.();
    const usage = process.memoryUsage();
    const snapshot = writeHeapSnapshot(`${file}.${++taken}.heapsnapshot`);
    const sample: HeapSample = { at: Date.now(), collected: gc !== undefined, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, rss: usage.rss, snapshot };
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  });
}
