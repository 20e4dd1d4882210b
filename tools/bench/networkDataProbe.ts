/**
 * Run by the bench in a Node process of its own, with --expose-gc (the bench's own heap would blur the figure):
 * what reading the network data set installed with the plugin costs, and its floors. Prints one JSON line.
 *
 * - load: the time NetworkLookup takes to read the four tables; floor: reading the same files' bytes alone;
 * - the event loop's longest hold while it reads (HomeKit is answered between chunks);
 * - memory: what stays after full collections (heap and typed arrays), against the floor of the tables' typed
 *   arrays alone (8 bytes a range's bounds for IPv4, 32 for IPv6, 8 for its value and name index); the process's
 *   RSS at its peak and once settled, from the same process before.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { bundledNetworkData } from '../../src/destinations/bundledNetworkData';
import { NetworkLookup } from '../../src/destinations/networkLookup';
import type { LoadReport } from '../../src/destinations/networkLookup';

const gc = (globalThis as { gc?: () => void }).gc;

/** Full collections a second apart for 10 s: V8 gives freed pages back to the system over seconds, not at once. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function readAll(files: readonly string[]): void {
  const buffer = Buffer.alloc(1024 * 1024);
  for (const file of files) {
    const fd = openSync(file, 'r');
    try {
      while (readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  const data = bundledNetworkData();
  if (data.missing.length > 0) throw new Error(`not installed: ${data.missing.join(', ')}`);
  const files = Object.values(data.files) as string[];
  const diskBytes = [...new Set(files.map((file) => dirname(file)))].reduce(
    (total, folder) => total + readdirSync(folder).reduce((sum, name) => sum + statSync(`${folder}/${name}`).size, 0),
    0,
  );
  // The floor: the files' bytes read through one 1 MiB buffer, nothing parsed; read twice, the first to have them
  // in the page cache, as the load below then finds them.
  readAll(files);
  const readStart = performance.now();
  readAll(files);
  const readMs = performance.now() - readStart;

  await settle();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
  const reports = new Map<string, LoadReport>();
  const lookup = new NetworkLookup(data.files, { onLoaded: (file, report) => reports.set(file, report) });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  await lookup.load();
  const loadMs = performance.now() - start;
  loop.disable();
  clearInterval(sampler);
  await settle();
  const after = process.memoryUsage();
  const ranges = (file: string): number => reports.get(file)?.ranges ?? 0;
  const v4 = ranges(data.files.asnIpv4 as string) + ranges(data.files.countryIpv4 as string);
  const v6 = ranges(data.files.asnIpv6 as string) + ranges(data.files.countryIpv6 as string);
  // Touch the lookup after the measurement, so nothing lets it be collected before.
  const named = lookup.lookUp('8.8.8.8');
  process.stdout.write(
    `${JSON.stringify({
      dated: data.dated,
      diskBytes,
      readMs,
      loadMs,
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      rangesV4: v4,
      rangesV6: v6,
      floorBytes: v4 * 16 + v6 * 40,
      heapBytes: after.heapUsed - before.heapUsed,
      arrayBufferBytes: after.arrayBuffers - before.arrayBuffers,
      rssBefore: before.rss,
      rssPeak: peakRss,
      rssAfter: after.rss,
      named: named?.asn,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
