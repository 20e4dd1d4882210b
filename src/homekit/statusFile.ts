/**
 * The running plugin's status for the settings page: each router's last poll and problem, each camera's enforced
 * state, counters and last leak trip, and the config entries that were skipped. Written to
 * `camera-guard-status.json` in the Homebridge storage folder (one file per Camera Guard platform, named after the
 * platform: see statusFileName), which the page's server side reads, all of them (`/status`).
 *
 * The file is removed when Homebridge stops. It is rewritten whole (a temporary file renamed over it, so a reader never sees half of one) soon after
 * something the owner would notice changes, and at most once a minute when only poll times and counters moved:
 * Homebridge often runs from an SD card, and a write every poll would wear it for nothing.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describeDestination, describeNetwork } from '../destinations/summary';
import type { DestinationsSnapshot, SnapshotDestination } from '../guard/guardApi';
import type { GuardSnapshot } from '../guard/routerGuard';
import type { Log } from '../log';
import { statusFileName } from '../settings';
import type { CameraStatus, DestinationStatus, DestinationsStatus, RouterStatus, Status } from '../ui/protocol';

/** How soon a change the owner would notice is written. */
const CHANGE_DELAY_MS = 1_000;
/** How often a status whose only news is poll times and counters is written. */
const ROUTINE_INTERVAL_MS = 60_000;

export interface StatusSource {
  readonly name: string;
  snapshot(): GuardSnapshot;
}

/** The file's content: what `/status` answers, without `running` (the page decides that from `updatedAt`). */
export type StatusFileContent = Omit<Status, 'running'>;

export class StatusFile {
  private readonly path: string;
  private readonly sources: StatusSource[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the pending write is due (epoch ms). */
  private due = 0;
  private lastWrite = 0;
  private failed = false;
  private stopped = false;

  constructor(
    storagePath: string,
    private readonly configErrors: readonly string[],
    private readonly log: Log,
    private readonly now: () => number = Date.now,
    /** The platform's `name`; undefined for the default. */
    private readonly platformName?: string,
    /** Where the network names of destinations come from (`networkData`): a sentence, and whether to credit the bundled data. */
    private readonly networkNames?: { readonly note: string; readonly credit: boolean },
  ) {
    this.path = join(storagePath, statusFileName(platformName));
  }

  add(source: StatusSource): void {
    this.sources.push(source);
  }

  /** Something the owner would notice changed: written within a second. */
  changed(): void {
    this.schedule(CHANGE_DELAY_MS);
  }

  /** Only poll times and counters moved: written at the routine interval. */
  polled(): void {
    this.schedule(Math.max(CHANGE_DELAY_MS, this.lastWrite + ROUTINE_INTERVAL_MS - this.now()));
  }

  /** Homebridge is shutting down: the status goes, so the page says the plugin is not running rather than show an old one. */
  stop(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.stopped = true;
    try {
      rmSync(this.path, { force: true });
    } catch {
      // Left behind: its updatedAt tells the page how old it is.
    }
  }

  content(): StatusFileContent {
    const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
    const routers: RouterStatus[] = this.sources.map((source) => {
      const snapshot = source.snapshot();
      const cameras: CameraStatus[] = snapshot.cameras.map((camera) => ({
        name: camera.name,
        address: camera.address,
        enforced: camera.enforced ?? 'unknown',
        blockedPackets: camera.blockedPackets,
        egressBytes: camera.egressBytes,
        leak: camera.leak,
        lastLeakTrip: iso(camera.lastLeakTrip),
        ...(camera.destinations === undefined ? {} : { destinations: destinationsStatus(camera.destinations) }),
      }));
      return { name: source.name, lastPoll: iso(snapshot.lastPoll), problem: snapshot.problem, cameras };
    });
    return { updatedAt: iso(this.now()), platform: this.platformName, routers, configErrors: this.configErrors, ...(this.networkNames === undefined ? {} : { networkNames: [this.networkNames.note], networkCredit: this.networkNames.credit }) };
  }

  write(): void {
    if (this.stopped) {
      return;
    }
    this.lastWrite = this.now();
    // Unique per process: two platforms' files never share a temporary one.
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, `${JSON.stringify(this.content(), null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.path);
      this.failed = false;
    } catch (error) {
      // Said once per run of failures: the guard works without it, only the settings page's status view goes stale.
      if (!this.failed) {
        this.failed = true;
        this.log.warn(
          `could not write the status for the settings page to ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
            'the cameras are still guarded, but the page shows an old status until the storage folder is writable again.',
        );
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) {
      return;
    }
    // A pending write that comes sooner covers this news too; one that comes later is brought forward.
    const due = this.now() + delayMs;
    if (this.timer) {
      if (this.due <= due) {
        return;
      }
      clearTimeout(this.timer);
    }
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, delayMs);
    this.timer.unref();
  }
}

/** The most destinations written per list (the page shows no more). */
const STATUS_DESTINATIONS_MAX = 20;

/** A camera's destinations as the page reads them: raw fields plus the line the log would say. */
function destinationsStatus(snapshot: DestinationsSnapshot): DestinationsStatus {
  const entry = (destination: SnapshotDestination): DestinationStatus => ({
    address: destination.address,
    protocol: destination.protocol,
    ...(destination.port === undefined ? {} : { port: destination.port }),
    count: destination.count,
    ...(destination.bytesSent === undefined ? {} : { bytesSent: destination.bytesSent }),
    ...(destination.hostName === undefined ? {} : { hostName: destination.hostName }),
    ...(destination.network === undefined || describeNetwork(destination.network) === '' ? {} : { network: describeNetwork(destination.network) }),
    ...(destination.expected === undefined ? {} : { expected: destination.expected }),
    ...(destination.lastSeen === undefined ? {} : { lastSeen: new Date(destination.lastSeen).toISOString() }),
    line: describeDestination(destination),
  });
  const blocked = snapshot.blocked.slice(0, STATUS_DESTINATIONS_MAX);
  const allowed = snapshot.allowed.slice(0, STATUS_DESTINATIONS_MAX);
  return {
    blocked: blocked.map(entry),
    allowed: allowed.map(entry),
    more: snapshot.more + (snapshot.blocked.length - blocked.length) + (snapshot.allowed.length - allowed.length),
    accounting: snapshot.accounting === undefined ? 'unknown' : snapshot.accounting ? 'on' : 'off',
    updatedAt: new Date(snapshot.updatedAt).toISOString(),
  };
}
