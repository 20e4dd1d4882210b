/**
 * `/status`: what the running plugin last wrote to its status file in the storage folder (src/homekit/statusFile.ts),
 * read defensively: the page shows only fields of the expected shape, cleaned, and "not running" when there is none.
 * Several Camera Guard platforms (each on its own child bridge) write one file each: all of them are read and shown
 * together, each router with the platform it belongs to.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { routerWords } from '../log';
import { PLATFORM_NAME, STATUS_FILE_PATTERN, statusFileName } from '../settings';
import type { CameraStatus, DestinationStatus, DestinationsStatus, RouterStatus, Status } from '../ui/protocol';

const NOT_RUNNING: Status = { running: false, updatedAt: undefined, routers: [] };

function text(value: unknown, max = 400): string | undefined {
  return typeof value === 'string' && value !== '' ? routerWords(value, max) : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** At most this many destinations in each of a camera's lists (the writer keeps 20). */
const MAX_DESTINATIONS = 20;

function destination(value: unknown): DestinationStatus | undefined {
  const item = record(value);
  const address = text(item.address, 64);
  if (address === undefined) return undefined;
  const port = count(item.port);
  const bytesSent = count(item.bytesSent);
  const hostName = text(item.hostName, 255);
  const network = text(item.network, 120);
  const lastSeen = text(item.lastSeen, 40);
  return {
    address,
    protocol: text(item.protocol, 10) ?? 'other',
    ...(port === undefined ? {} : { port }),
    count: count(item.count) ?? 0,
    ...(bytesSent === undefined ? {} : { bytesSent }),
    ...(hostName === undefined ? {} : { hostName }),
    ...(network === undefined ? {} : { network }),
    ...(typeof item.expected === 'boolean' ? { expected: item.expected } : {}),
    ...(lastSeen === undefined ? {} : { lastSeen }),
    line: text(item.line) ?? '',
  };
}

function destinationList(value: unknown): DestinationStatus[] {
  return list(value)
    .slice(0, MAX_DESTINATIONS)
    .map(destination)
    .filter((item): item is DestinationStatus => item !== undefined);
}

/** A camera's destinations (issue 12); undefined in older files that have none. Every string is router/DNS text. */
function destinations(value: unknown): DestinationsStatus | undefined {
  if (value === undefined) return undefined;
  const item = record(value);
  const accounting = item.accounting === 'on' || item.accounting === 'off' ? item.accounting : 'unknown';
  return {
    blocked: destinationList(item.blocked),
    allowed: destinationList(item.allowed),
    more: count(item.more) ?? 0,
    accounting,
    updatedAt: text(item.updatedAt, 40) ?? '',
  };
}

/** One status file, cleaned; undefined when it cannot be read (gone between listing and reading, or not JSON). */
function readOne(path: string): Status | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const top = record(raw);
  const platform = text(top.platform, 80);
  const routers: RouterStatus[] = list(top.routers).map((entry) => {
    const router = record(entry);
    const cameras: CameraStatus[] = list(router.cameras).map((item) => {
      const camera = record(item);
      const enforced = camera.enforced === 'allowed' || camera.enforced === 'blocked' ? camera.enforced : 'unknown';
      const seen = destinations(camera.destinations);
      return {
        ...(seen === undefined ? {} : { destinations: seen }),
        name: text(camera.name, 80) ?? '?',
        address: text(camera.address, 80) ?? '?',
        enforced,
        blockedPackets: count(camera.blockedPackets),
        egressBytes: count(camera.egressBytes),
        leak: camera.leak === true,
        lastLeakTrip: text(camera.lastLeakTrip, 40),
      };
    });
    const status: RouterStatus = { name: text(router.name, 80) ?? '?', lastPoll: text(router.lastPoll, 40), problem: text(router.problem), cameras };
    return platform === undefined ? status : { ...status, platform };
  });
  const configErrors = list(top.configErrors)
    .map((error) => text(error))
    .filter((error) => error !== undefined)
    .map((error) => (platform === undefined ? error : `${platform}: ${error}`));
  const networkNames = list(top.networkNames)
    .slice(0, 4)
    .map((line) => text(line))
    .filter((line) => line !== undefined);
  return { running: true, updatedAt: text(top.updatedAt, 40), routers, configErrors, ...(networkNames.length === 0 ? {} : { networkNames }), ...(top.networkCredit === true ? { networkCredit: true } : {}) };
}

/**
 * The status files of the Camera Guard platforms config.json holds now, or undefined when it cannot be read. A file
 * of a platform since renamed or removed, left behind by a process that did not stop cleanly, is not shown.
 */
function configuredFiles(storagePath: string): Set<string> | undefined {
  try {
    const platforms = (JSON.parse(readFileSync(join(storagePath, 'config.json'), 'utf8')) as { platforms?: unknown } | null)?.platforms;
    if (!Array.isArray(platforms)) return undefined;
    return new Set(
      platforms
        .filter((block: unknown) => (block as { platform?: unknown } | null)?.platform === PLATFORM_NAME)
        .map((block: unknown) => {
          const name = (block as { name?: unknown }).name;
          return statusFileName(typeof name === 'string' && name !== '' ? name : undefined);
        }),
    );
  } catch {
    return undefined;
  }
}

export function readStatus(storagePath: string): Status {
  let names: string[];
  const configured = configuredFiles(storagePath);
  try {
    names = readdirSync(storagePath)
      .filter((name) => STATUS_FILE_PATTERN.test(name) && (configured === undefined || configured.has(name)))
      .sort();
  } catch {
    return NOT_RUNNING;
  }
  const statuses = names.map((name) => readOne(join(storagePath, name))).filter((status) => status !== undefined);
  if (statuses.length === 0) {
    return NOT_RUNNING;
  }
  if (statuses.length === 1) {
    return statuses[0] as Status;
  }
  // ISO times sort as text; a file without one makes the whole status of unknown age.
  const times = statuses.map((status) => status.updatedAt);
  const updatedAt = times.includes(undefined) ? undefined : (times as string[]).sort()[0];
  return {
    running: true,
    updatedAt,
    routers: statuses.flatMap((status) => status.routers),
    configErrors: statuses.flatMap((status) => status.configErrors ?? []),
    // Platforms with the same data set say it once.
    networkNames: [...new Set(statuses.flatMap((status) => status.networkNames ?? []))],
    ...(statuses.some((status) => status.networkCredit === true) ? { networkCredit: true } : {}),
  };
}
