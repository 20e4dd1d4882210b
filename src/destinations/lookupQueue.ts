/**
 * The bounded look-up queue behind forwardNames.ts and reverseNames.ts (issue 12): a cache of what was found and
 * what was not, each with its lifetime, fed by look-ups that nobody awaits. Callers ask for keys (`lookUp`, which
 * returns at once) and read whatever has arrived (`valueOf`, from the cache); a poll or a HomeKit handler never
 * waits on the network.
 *
 * Bounds: at most `maxConcurrent` look-ups run at a time; at most `maxEntries` keys are cached and as many wait
 * their turn (the oldest waiting go first). A found value is looked up again after `refreshMs` and kept up to
 * `keepMs` after it was found while refreshes find nothing; a key that was not found is tried again after `retryMs`.
 */
import { promises as dns } from 'node:dns';

/** The host's resolver (or one asking `servers`, `127.0.0.1:5353`), waiting `timeoutMs` for each query, tried once. */
export function dnsResolver(timeoutMs: number, servers: readonly string[] | undefined): dns.Resolver {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 1 });
  if (servers !== undefined) {
    resolver.setServers([...servers]);
  }
  return resolver;
}

export interface LookupQueueOptions<Value> {
  /** Looks one key up: the value found, or undefined (or a rejection, passed to `onNotFound`) when there is none. */
  readonly find: (key: string) => Promise<Value | undefined>;
  readonly maxConcurrent: number;
  readonly maxEntries: number;
  /**
   * What a new key gets when `maxEntries` keys are cached: `refuseNew` leaves it out (its place is taken as soon as
   * it is asked for, so a full cache never looks anything new up: for a set the owner configured), `forgetOldest`
   * forgets the key stored longest ago when the new one's answer arrives (for keys that come and go with traffic).
   */
  readonly whenFull: 'refuseNew' | 'forgetOldest';
  /** When a found value is looked up again. */
  readonly refreshMs: number;
  /** How long a found value is kept after it was found, while refreshes find nothing (at least refreshMs). */
  readonly keepMs: number;
  /** When a key that was not found is tried again. */
  readonly retryMs: number;
  readonly now?: () => number;
  /** Called once when a key is not found (again only after it was found in between), with the rejection if any. */
  readonly onNotFound?: (key: string, reason: unknown) => void;
}

interface Entry<Value> {
  /** The value found last, and when; undefined until found. */
  value: Value | undefined;
  foundAt: number | undefined;
  /** When the last look-up ended (found or not); undefined while the first one is still to come. */
  triedAt: number | undefined;
  /** The last look-up found nothing and that was reported. */
  reported: boolean;
}

export class LookupQueue<Value> {
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry<Value>>();
  private readonly waiting = new Set<string>();
  private readonly running = new Set<string>();
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: LookupQueueOptions<Value>) {
    this.now = options.now ?? Date.now;
  }

  /** The value found for a key within keepMs; undefined while none is known. Never waits. */
  valueOf(key: string): Value | undefined {
    const entry = this.entries.get(key);
    return entry?.foundAt !== undefined && this.now() - entry.foundAt < this.options.keepMs ? entry.value : undefined;
  }

  /** Starts looking up the keys that are due (never looked up, stale, or due a retry); returns at once. */
  lookUp(keys: Iterable<string>): void {
    if (this.stopped) {
      return;
    }
    const { maxEntries, refreshMs, retryMs, whenFull } = this.options;
    const now = this.now();
    for (const key of keys) {
      if (this.running.has(key) || this.waiting.has(key)) {
        continue;
      }
      const entry = this.entries.get(key);
      if (entry?.triedAt !== undefined && now - entry.triedAt < (entry.foundAt === entry.triedAt ? refreshMs : retryMs)) {
        continue;
      }
      if (entry === undefined && whenFull === 'refuseNew') {
        if (this.entries.size >= maxEntries) {
          continue;
        }
        this.entries.set(key, { value: undefined, foundAt: undefined, triedAt: undefined, reported: false });
      }
      if (this.waiting.size >= maxEntries) {
        const oldest = this.waiting.values().next().value;
        if (oldest !== undefined) {
          this.waiting.delete(oldest);
        }
      }
      this.waiting.add(key);
    }
    this.pump();
  }

  /** How many look-ups run now (never more than maxConcurrent). */
  get inFlight(): number {
    return this.running.size;
  }

  /** How many keys are cached (never more than maxEntries). */
  get size(): number {
    return this.entries.size;
  }

  /** Resolves once no look-up runs or waits (for tests and a clean stop). */
  whenIdle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Forgets what waits and ignores the answers of what runs (the caller cancels those: its resolver's cancel()). */
  stop(): void {
    this.stopped = true;
    this.waiting.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.options.maxConcurrent && this.waiting.size > 0) {
      const next = this.waiting.values().next().value as string;
      this.waiting.delete(next);
      this.running.add(next);
      void this.settle(next);
    }
    if (this.running.size === 0 && this.waiting.size === 0) {
      const idle = this.idle;
      this.idle = [];
      idle.forEach((resolve) => resolve());
    }
  }

  private async settle(key: string): Promise<void> {
    let value: Value | undefined;
    let reason: unknown;
    try {
      value = await this.options.find(key);
    } catch (error) {
      // Nothing found (NXDOMAIN, a time-out, a refused query, a cancel): remembered as such for a while.
      reason = error;
    }
    this.running.delete(key);
    if (!this.stopped) {
      this.remember(key, value, reason);
    }
    this.pump();
  }

  private remember(key: string, value: Value | undefined, reason: unknown): void {
    const now = this.now();
    const entry = this.entries.get(key) ?? { value: undefined, foundAt: undefined, triedAt: undefined, reported: false };
    entry.triedAt = now;
    let report = false;
    if (value !== undefined) {
      entry.value = value;
      entry.foundAt = now;
      entry.reported = false;
    } else if (!entry.reported) {
      // A refresh that found nothing keeps the value found earlier: it expires keepMs after it was found.
      entry.reported = true;
      report = true;
    }
    // Stored anew, so the keys stored longest ago are first in line to be forgotten.
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.entries.delete(oldest);
    }
    if (report) {
      this.options.onNotFound?.(key, reason);
    }
  }
}
