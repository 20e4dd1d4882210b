/**
 * The addresses of the host names in cameras' `allowDestinations` (issue 12), looked up forward (A and AAAA) from
 * the Homebridge host. Like reverseNames.ts, nothing here is ever awaited on a HomeKit handler's path or by a poll:
 * the guard asks after a reading (`lookUp`, which returns at once) and reads whatever has arrived (`addressesOf`,
 * from the cache). Until a name resolves, the addresses it stands for are simply not expected: the upload alarm
 * counts their bytes, which is the safe side.
 *
 * Bounds: each query waits at most 2 s and is tried once; at most 4 names are looked up at a time; a name's
 * addresses are refreshed after 10 min and kept up to 1 h while refreshes fail (a name that stops resolving does not
 * at once make its server unexpected); a name that does not resolve is tried again after 5 min; at most 64 addresses
 * per name and 256 names are kept. A name that does not resolve is reported once through `onNotFound` (it is said
 * again only after it resolved in between).
 */
import { promises as dns } from 'node:dns';

import { canonicalAddress } from './address';

export const FORWARD_TIMEOUT_MS = 2_000;
export const MAX_CONCURRENT_FORWARD = 4;
/** When found addresses are looked up again. */
export const REFRESH_MS = 600_000;
/** How long found addresses are kept while refreshes fail. */
export const KEEP_MS = 3_600_000;
/** When a name that did not resolve is tried again. */
export const RETRY_MS = 300_000;
export const MAX_ADDRESSES_PER_NAME = 64;
export const MAX_NAMES = 256;

/** What forwardNames needs of a resolver: node's dns.promises.Resolver, or a test's stand-in. */
export interface ForwardResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  cancel(): void;
}

export interface ForwardNamesOptions {
  /** DNS servers (`127.0.0.1:5353`); the host's own when absent. */
  readonly servers?: readonly string[];
  readonly now?: () => number;
  readonly resolver?: ForwardResolver;
  /** Called once when a name does not resolve, with the resolver's code (`ENOTFOUND`, `ETIMEOUT`) when it gave one. */
  readonly onNotFound?: (name: string, code: string | undefined) => void;
}

interface Entry {
  /** The addresses found last, and when; empty until found. */
  addresses: readonly string[];
  foundAt: number | undefined;
  /** When the last look-up ended (found or not). */
  triedAt: number | undefined;
  /** The last look-up found nothing and that was reported. */
  reported: boolean;
}

export class ForwardNames {
  private readonly resolver: ForwardResolver;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly waiting = new Set<string>();
  private readonly running = new Set<string>();
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: ForwardNamesOptions = {}) {
    this.now = options.now ?? Date.now;
    if (options.resolver !== undefined) {
      this.resolver = options.resolver;
    } else {
      const resolver = new dns.Resolver({ timeout: FORWARD_TIMEOUT_MS, tries: 1 });
      if (options.servers !== undefined) {
        resolver.setServers([...options.servers]);
      }
      this.resolver = resolver;
    }
  }

  /** The addresses a name resolved to within KEEP_MS (canonical text); undefined while none are known. Never waits. */
  addressesOf(name: string): readonly string[] | undefined {
    const entry = this.entries.get(name.toLowerCase());
    if (entry === undefined || entry.foundAt === undefined || this.now() - entry.foundAt >= KEEP_MS || entry.addresses.length === 0) {
      return undefined;
    }
    return entry.addresses;
  }

  /** Starts looking up the names that are due (never looked up, stale, or due a retry); returns at once. */
  lookUp(names: Iterable<string>): void {
    if (this.stopped) {
      return;
    }
    const now = this.now();
    for (const raw of names) {
      const name = raw.toLowerCase();
      if (this.running.has(name) || this.waiting.has(name)) {
        continue;
      }
      const entry = this.entries.get(name);
      if (entry?.triedAt !== undefined && now - entry.triedAt < (entry.foundAt === entry.triedAt ? REFRESH_MS : RETRY_MS)) {
        continue;
      }
      if (entry === undefined && this.entries.size >= MAX_NAMES) {
        continue;
      }
      if (entry === undefined) {
        this.entries.set(name, { addresses: [], foundAt: undefined, triedAt: undefined, reported: false });
      }
      this.waiting.add(name);
    }
    this.pump();
  }

  /** How many look-ups run now (never more than MAX_CONCURRENT_FORWARD). */
  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves once no look-up runs or waits (for tests and a clean stop). */
  whenIdle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Cancels what runs and forgets what waits: no socket or timer is left behind. */
  stop(): void {
    this.stopped = true;
    this.waiting.clear();
    this.resolver.cancel();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < MAX_CONCURRENT_FORWARD && this.waiting.size > 0) {
      const next = this.waiting.values().next().value as string;
      this.waiting.delete(next);
      this.running.add(next);
      void this.resolve(next);
    }
    if (this.running.size === 0 && this.waiting.size === 0) {
      const idle = this.idle;
      this.idle = [];
      idle.forEach((resolve) => resolve());
    }
  }

  private async resolve(name: string): Promise<void> {
    // Both families at once; either may have no records (a v4-only host has no AAAA): only both failing is "not found".
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name), this.resolver.resolve6(name)]);
    this.running.delete(name);
    const entry = this.entries.get(name);
    if (!this.stopped && entry !== undefined) {
      const found = [v4, v6].flatMap((result) => (result.status === 'fulfilled' && Array.isArray(result.value) ? result.value : []));
      const addresses = [...new Set(found.flatMap((address) => (typeof address === 'string' ? (canonicalAddress(address) ?? []) : [])))].slice(0, MAX_ADDRESSES_PER_NAME);
      const now = this.now();
      entry.triedAt = now;
      if (addresses.length > 0) {
        entry.addresses = addresses;
        entry.foundAt = now;
        entry.reported = false;
      } else if (!entry.reported) {
        // A refresh that found nothing keeps the earlier addresses: they expire KEEP_MS after they were found.
        entry.reported = true;
        const failure = [v4, v6].find((result) => result.status === 'rejected');
        const code = failure?.status === 'rejected' ? (failure.reason as NodeJS.ErrnoException | undefined)?.code : undefined;
        this.options.onNotFound?.(name, typeof code === 'string' && /^[A-Z_]{1,20}$/.test(code) ? code : undefined);
      }
    }
    this.pump();
  }
}
