/**
 * Reverse DNS names of the addresses cameras try to reach, looked up from the Homebridge host (issue 12). Nothing
 * here is ever awaited on a HomeKit handler's path or by a poll: the guard asks for names after a poll (`lookUp`,
 * which returns at once) and reads whatever has arrived (`nameOf`, from the cache). A name is whatever the
 * address's owner publishes: it is kept as text, bounded, and cleaned where it is shown (summary.ts's
 * describeDestination).
 *
 * Bounds: each look-up waits at most 2 s and is tried once; at most 4 run at a time; found names are kept 1 h and
 * "no name" 10 min; at most 1,000 addresses are cached and as many wait their turn (the oldest go first). The queue
 * and its cache are lookupQueue.ts's, shared with forwardNames.ts.
 */
import { canonicalAddress } from './address';
import { dnsResolver, LookupQueue } from './lookupQueue';

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

export class ReverseNames {
  private readonly resolver: ReverseResolver;
  private readonly queue: LookupQueue<string>;

  constructor(options: ReverseNamesOptions = {}) {
    this.resolver = options.resolver ?? dnsResolver(LOOKUP_TIMEOUT_MS, options.servers);
    this.queue = new LookupQueue({
      find: (address) => this.find(address),
      maxConcurrent: MAX_CONCURRENT_LOOKUPS,
      maxEntries: MAX_CACHED_NAMES,
      // Addresses come and go with the cameras' traffic: the newest answers push out the oldest.
      whenFull: 'forgetOldest',
      refreshMs: FOUND_TTL_MS,
      keepMs: FOUND_TTL_MS,
      retryMs: NOT_FOUND_TTL_MS,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /** The name found for an address, if one is cached and fresh; never waits. */
  nameOf(address: string): string | undefined {
    const key = canonicalAddress(address);
    return key === undefined ? undefined : this.queue.valueOf(key);
  }

  /** Starts looking up the addresses not cached yet (or gone stale); returns at once. */
  lookUp(addresses: Iterable<string>): void {
    this.queue.lookUp(Array.from(addresses, (address) => canonicalAddress(address) ?? []).flat());
  }

  /** How many look-ups run now (never more than MAX_CONCURRENT_LOOKUPS). */
  get inFlight(): number {
    return this.queue.inFlight;
  }

  /** How many addresses are cached (never more than MAX_CACHED_NAMES). */
  get cached(): number {
    return this.queue.size;
  }

  /** Resolves once no look-up runs or waits (for tests and a clean stop). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** Cancels what runs and forgets what waits: no socket or timer is left behind. */
  stop(): void {
    this.queue.stop();
    this.resolver.cancel();
  }

  /** The address's first name, or undefined (or a rejection: NXDOMAIN, a time-out, a cancel) when it has none. */
  private async find(address: string): Promise<string | undefined> {
    const names = await this.resolver.reverse(address);
    return names.find((each) => typeof each === 'string' && each !== '')?.slice(0, MAX_NAME_LENGTH);
  }
}
