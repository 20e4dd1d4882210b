/**
 * Starts a real Homebridge with this plugin in a throwaway storage directory: used by `npm run demo`,
 * `npm run lab` and the end-to-end tests, so all three exercise the plugin exactly as an owner's Homebridge
 * would load it (from the built `dist/`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { COMPILED_TOOLS_DIR, PROJECT_ROOT } from '../paths';
import type { HeapSample } from './heapProbe';
import { summarizeHeapSnapshotFile } from './heapSnapshot';
import type { HeapSummary } from './heapSnapshot';
import { captureLogLine } from './logCapture';

export interface HomebridgeOptions {
  /** The CameraGuard platform block. */
  readonly platform: Record<string, unknown>;
  /** More CameraGuard platform blocks after it (each with its own `name` and `_bridge`, to run several platforms). */
  readonly morePlatforms?: readonly Record<string, unknown>[];
  /** Reuse a storage directory (to test a restart); a new one is made otherwise. */
  readonly storage?: string;
  readonly pin?: string;
  readonly username?: string;
  /** Listen and advertise on this machine's network (for pairing a phone); localhost only otherwise. */
  readonly advertiseOnLan?: boolean;
  /** Debug logging (the tests read the plugin's debug lines); on unless turned off. */
  readonly debug?: boolean;
  /** Receives every line Homebridge prints. */
  readonly onLine?: (line: string) => void;
  /** Extra Node options for the Homebridge process (`--unhandled-rejections=warn`, say). */
  readonly nodeOptions?: readonly string[];
  /** Load the heap probe (tools/sim/heapProbe.ts): `sampleHeap()` then appends a sample to this file. */
  readonly heapFile?: string;
}

export interface RunningHomebridge {
  readonly storage: string;
  readonly port: number;
  readonly pin: string;
  readonly username: string;
  readonly child: ChildProcess;
  /** Everything printed so far. */
  readonly output: string[];
  /**
   * Resolves with the first printed line that matches, among the lines from index `from` of `output` on (all of them
   * by default), as soon as Homebridge has printed it.
   */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** SIGTERM, then wait for the exit and for the last of its output to be read, so `output` has every line it printed. */
  stop(): Promise<void>;
  /**
   * With `heapFile`: a full garbage collection, then the heap figures and what the heap snapshot holds (the
   * snapshot file is removed); undefined when the probe did not answer.
   */
  sampleHeap(): Promise<(HeapSample & HeapSummary) | undefined>;
  /** Deletes the storage directory. */
  remove(): void;
}

/** A full collection and a snapshot of a Homebridge heap take a second or two; a probe silent for longer never answers. */
const HEAP_SAMPLE_TIMEOUT_MS = 30_000;

function readSamples(file: string): HeapSample[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as HeapSample);
  } catch {
    return [];
  }
}

/**
 * Every Homebridge this process started and that still runs: killed when this process exits, so a bench or test
 * stopped halfway (Ctrl-C, a signal, process.exit) leaves no Homebridge behind.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startHomebridge(options: HomebridgeOptions): Promise<RunningHomebridge> {
  const storage = options.storage ?? mkdtempSync(join(tmpdir(), 'camera-guard-hb-'));
  const pin = options.pin ?? '031-45-154';
  const username = options.username ?? '0E:C4:6A:0D:7E:A1';
  writeFileSync(
    join(storage, 'config.json'),
    JSON.stringify(
      {
        bridge: { name: 'Camera Guard Bridge', username, pin, port: 0, ...(options.advertiseOnLan === true ? {} : { bind: ['127.0.0.1'] }) },
        platforms: [{ platform: 'CameraGuard', name: 'Camera Guard', ...options.platform }, ...(options.morePlatforms ?? []).map((block) => ({ platform: 'CameraGuard', ...block }))],
      },
      null,
      2,
    ),
  );
  const homebridge = join(PROJECT_ROOT, 'node_modules', 'homebridge', 'bin', 'homebridge');
  const nodeOptions = [...(options.nodeOptions ?? []), ...(options.heapFile !== undefined ? ['--expose-gc', '--require', join(COMPILED_TOOLS_DIR, 'sim', 'heapProbe.js')] : [])];
  const child = spawn(process.execPath, [...nodeOptions, homebridge, '-U', storage, '-P', PROJECT_ROOT, '--strict-plugin-resolution', '-Q', '-T', ...(options.debug === false ? [] : ['-D'])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...(options.heapFile !== undefined ? { CAMERA_GUARD_HEAP_FILE: options.heapFile } : {}) },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const output: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let exited = false;
  const exit = new Promise<void>((done) => child.once('exit', () => ((exited = true), done())));
  // 'exit' can come before the last lines written to the pipes have been read; 'close' comes after both pipes ended.
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  // A line can arrive in two chunks: each stream keeps its unfinished last line until the rest comes (or the stream ends).
  const readLines = (stream: NodeJS.ReadableStream | null): void => {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (pending + decoder.write(chunk)).split('\n');
      pending = lines.pop() ?? '';
      onLines(lines);
    });
    stream?.on('end', () => {
      const rest = pending + decoder.end();
      pending = '';
      onLines(rest.split('\n'));
    });
  };
  const onLines = (lines: string[]): void => {
    for (const line of lines) {
      if (line.trim() === '') {
        continue;
      }
      output.push(line);
      captureLogLine(line);
      options.onLine?.(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  readLines(child.stdout);
  readLines(child.stderr);

  const waitFor = (pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<string> => {
    const seen = output.slice(from).find((line) => pattern.test(line));
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`Homebridge did not print ${String(pattern)} within ${timeoutMs} ms. Last lines:\n${output.slice(-15).join('\n')}`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string): void => {
          clearTimeout(timer);
          resolveLine(line);
        },
      };
      waiters.push(waiter);
    });
  };

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
    // The pipes end once every process holding them has gone; a grandchild keeping them open must not hang the stop.
    let closeTimer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((done) => (closeTimer = setTimeout(done, 5_000)))]);
    clearTimeout(closeTimer);
  };

  try {
    const line = await waitFor(/is running on port (\d+)/, 60_000);
    const port = Number(/is running on port (\d+)/.exec(line)?.[1]);
    const sampleHeap = async (): Promise<(HeapSample & HeapSummary) | undefined> => {
      const file = options.heapFile;
      if (file === undefined || exited) {
        return undefined;
      }
      const before = readSamples(file).length;
      child.kill('SIGUSR2');
      const deadline = Date.now() + HEAP_SAMPLE_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const sample = readSamples(file)[before];
        if (sample !== undefined) {
          try {
            return { ...sample, ...summarizeHeapSnapshotFile(sample.snapshot) };
          } finally {
            rmSync(sample.snapshot, { force: true });
          }
        }
        await new Promise((done) => setTimeout(done, 50));
      }
      return undefined;
    };
    return { storage, port, pin, username, child, output, waitFor, stop, sampleHeap, remove: () => rmSync(storage, { recursive: true, force: true }) };
  } catch (error) {
    await stop();
    throw error;
  }
}
