/**
 * `/status`: what the running plugin last wrote to its status file in the storage folder (src/homekit/statusFile.ts),
 * read defensively: the page shows only fields of the expected shape, cleaned, and "not running" when there is none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { routerWords } from '../log';
import { STATUS_FILE } from '../settings';
import type { CameraStatus, RouterStatus, Status } from '../ui/protocol';

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

export function readStatus(storagePath: string): Status {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(storagePath, STATUS_FILE), 'utf8'));
  } catch {
    return NOT_RUNNING;
  }
  const top = record(raw);
  const routers: RouterStatus[] = list(top.routers).map((entry) => {
    const router = record(entry);
    const cameras: CameraStatus[] = list(router.cameras).map((item) => {
      const camera = record(item);
      const enforced = camera.enforced === 'allowed' || camera.enforced === 'blocked' ? camera.enforced : 'unknown';
      return {
        name: text(camera.name, 80) ?? '?',
        address: text(camera.address, 80) ?? '?',
        enforced,
        blockedPackets: count(camera.blockedPackets),
        egressBytes: count(camera.egressBytes),
        leak: camera.leak === true,
        lastLeakTrip: text(camera.lastLeakTrip, 40),
      };
    });
    return { name: text(router.name, 80) ?? '?', lastPoll: text(router.lastPoll, 40), problem: text(router.problem), cameras };
  });
  const configErrors = list(top.configErrors).map((error) => text(error)).filter((error) => error !== undefined);
  return { running: true, updatedAt: text(top.updatedAt, 40), routers, configErrors };
}
