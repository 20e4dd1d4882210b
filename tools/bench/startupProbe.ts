/**
 * Watches a real Homebridge start the plugin, from inside it, for the bench's startup figure (bench.ts,
 * startupAbsorb). startHomebridge loads this file with `--require` when the bench sets CAMERA_GUARD_STARTUP_FILE; it
 * then appends one JSON line (see StartupEvent) to that file:
 * - when Homebridge emits `didFinishLaunching` (the moment a dynamic platform starts its work);
 * - at every write of Homebridge's accessory cache (`accessories/cachedAccessories`, which Homebridge rewrites whole,
 *   synchronously, at each registerPlatformAccessories, updatePlatformAccessories and unregisterPlatformAccessories),
 *   with how many accessories it held and how many of them the plugin had marked seen on the router;
 * - just after each such write, the event loop's longest block since launch (Node's event-loop delay histogram).
 *
 * Only two things are wrapped, both as thin as can be: fs.writeFileSync (Homebridge's storage writes the cache with
 * it, through fs-extra) and, until the launch is seen, EventEmitter's emit. A few hundred microseconds a cache write
 * are the probe's own (it counts two words in the JSON written); nothing else in the process changes.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { basename } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export type StartupEvent =
  | { readonly kind: 'launched'; readonly at: number }
  | { readonly kind: 'cacheWrite'; readonly at: number; readonly tookMs: number; readonly bytes: number; readonly accessories: number; readonly seen: number; readonly write: number }
  /** The longest event-loop block (ms) from launch until just after cache write number `write`. */
  | { readonly kind: 'loop'; readonly at: number; readonly write: number; readonly longestBlockMs: number };

/** Homebridge's cache of the main bridge (a child bridge's is `cachedAccessories.<its username>`). */
const CACHE_FILE = /^cachedAccessories(\.[0-9A-F]{12})?$/;

function occurrences(text: string, word: string): number {
  let count = 0;
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + word.length)) count++;
  return count;
}

const file = process.env.CAMERA_GUARD_STARTUP_FILE;
if (file !== undefined && file !== '') {
  const clock = (): number => performance.timeOrigin + performance.now();
  // The original writer, kept before anything (graceful-fs in fs-extra copies fs when it loads) takes the wrapped one.
  const writeFileSync = fs.writeFileSync.bind(fs);
  const appendFileSync = fs.appendFileSync.bind(fs);
  const record = (event: StartupEvent): void => appendFileSync(file, `${JSON.stringify(event)}\n`);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let writes = 0;

  // Put back as it was, and always called with the emitter as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const emit = EventEmitter.prototype.emit;
  EventEmitter.prototype.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'didFinishLaunching') {
      EventEmitter.prototype.emit = emit;
      delay.reset();
      record({ kind: 'launched', at: clock() });
    }
    return emit.call(this, event, ...args);
  };

  fs.writeFileSync = (path: fs.PathOrFileDescriptor, data: string | NodeJS.ArrayBufferView, options?: fs.WriteFileOptions): void => {
    const start = clock();
    writeFileSync(path, data, options);
    if (typeof path !== 'string' || !CACHE_FILE.test(basename(path))) return;
    const tookMs = clock() - start;
    const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    const write = ++writes;
    record({ kind: 'cacheWrite', at: start, tookMs, bytes: Buffer.byteLength(text), accessories: occurrences(text, '"displayName"'), seen: occurrences(text, '"seen":true'), write });
    // After the task that wrote the cache has ended, so that its own block is in the histogram.
    setTimeout(() => record({ kind: 'loop', at: clock(), write, longestBlockMs: delay.max / 1e6 }), 0);
  };
}
