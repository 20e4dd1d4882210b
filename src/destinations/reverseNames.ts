/**
 * Reverse DNS names of the addresses cameras try to reach, looked up from the Homebridge host (issue 12). Nothing
 * here is ever awaited on a HomeKit handler's path or by a poll: the guard asks for names after a poll (`lookUp`,
 * which returns at once) and reads whatever has arrived (`nameOf`, from the cache). A name is whatever the
 * address's owner publishes: it is kept as text, bounded, and cleaned where it is shown (summary.ts's
 * describeDestination).
 *
 * Bounds: each look-up waits at most 2 s and is tried once; at most 4 run at a time; found names are kept 1 h and
 * "no name" 10 min; at most 1,000 addresses are cached and as many wait their turn (the oldest go first).
 */
import { promises as dns } from 'node:dns';

import { canonicalAddress } from './address';

export const LOOKUP_TIMEOUT_MS = 2_000;
export const MAX_CONCURRENT_LOOKUPS = 4;
export const FOUND_TTL_MS = 3_600_000;
export const NOT_FOUND_TTL_MS = 600_000;
export const MAX_CACHED_NAMES = 1_000;
/** DNS names are at most 253 characters; anything longer is cut. */
const MAX_NAME_LENGTH = 253;

/** What reverseNames needs of a resolver: node's dns.promises.Resolver, or a test's stand-in. */
export interface ReverseResolver {
  reverse(address: string): Promise<string[]>;
  cancel(): void;
}

export interface ReverseNamesOptions {
  /** DNS servers (`127.0.0.1:5353`); the host's own when absent. */
  readonly servers?: readonly string[];
  readonly now?: () => number;
  readonly resolver?: ReverseResolver;
}

interface Cached {
  readonly name: string | undefined;
  readonly until: number;
}

export class ReverseNames {
  private readonly resolver: ReverseResolver;
  private readonly now: () => number;
  private readonly cache = new Map<string, Cached>();
  private readonly waiting = new Set<string>();
  private readonly running = new Set<string>();
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(options: ReverseNamesOptions = {}) {
    this.now = options.now ?? Date.now;
    if (options.resolver !== undefined) {
      this.resolver = options.resolver;
    } else {
      const resolver = new dns.Resolver({ timeout: LOOKUP_TIMEOUT_MS, tries: 1 });
      if (options.servers !== undefined) {
        resolver.setServers([...options.servers]);
      }
      this.resolver = resolver;
    }
  }

  /** The name found for an address, if one is cached and fresh; never waits. */
  nameOf(address: string): string | undefined {
    const key = canonicalAddress(address);
    const cached = key === undefined ? undefined : this.cache.get(key);
    return cached !== undefined && cached.until > this.now() ? cached.name : undefined;
  }

  /** Starts looking up the addresses not cached yet (or gone stale); returns at once. */
  lookUp(addresses: Iterable<string>): void {
    if (this.stopped) {
      return;
    }
    for (const address of addresses) {
      const key = canonicalAddress(address);
      if (key === undefined || this.running.has(key) || this.waiting.has(key)) {
        continue;
      }
      const cached = this.cache.get(key);
      if (cached !== undefined && cached.until > this.now()) {
        continue;
      }
      if (this.waiting.size >= MAX_CACHED_NAMES) {
        const oldest = this.waiting.values().next().value;
        if (oldest !== undefined) {
          this.waiting.delete(oldest);
        }
      }
      this.waiting.add(key);
    }
    this.pump();
  }

  /** How many look-ups run now (never more than MAX_CONCURRENT_LOOKUPS). */
  get inFlight(): number {
    return this.running.size;
  }

  /** How many addresses are cached (never more than MAX_CACHED_NAMES). */
  get cached(): number {
    return this.cache.size;
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
    while (!this.stopped && this.running.size < MAX_CONCURRENT_LOOKUPS && this.waiting.size > 0) {
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

  private async resolve(address: string): Promise<void> {
    let name: string | undefined;
    try {
      const names = await this.resolver.reverse(address);
      const first = names.find((each) => typeof each === 'string' && each !== '');
      name = first?.slice(0, MAX_NAME_LENGTH);
    } catch {
      // No name (NXDOMAIN, a time-out, a refused query, a cancel): remembered as such for a while.
      name = undefined;
    }
    this.running.delete(address);
    if (!this.stopped) {
      this.remember(address, name);
    }
    this.pump();
  }

  private remember(address: string, name: string | undefined): void {
    this.cache.delete(address);
    this.cache.set(address, { name, until: this.now() + (name === undefined ? NOT_FOUND_TTL_MS : FOUND_TTL_MS) });
    while (this.cache.size > MAX_CACHED_NAMES) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.cache.delete(oldest);
    }
  }
}
