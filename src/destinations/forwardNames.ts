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
 * again only after it resolved in between). The queue and its cache are lookupQueue.ts's, shared with reverseNames.ts.
 */
import { canonicalAddress } from './address';
import { dnsResolver, LookupQueue } from './lookupQueue';

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

export class ForwardNames {
  private readonly resolver: ForwardResolver;
  private readonly queue: LookupQueue<readonly string[]>;

  constructor(options: ForwardNamesOptions = {}) {
    this.resolver = options.resolver ?? dnsResolver(FORWARD_TIMEOUT_MS, options.servers);
    const onNotFound = options.onNotFound;
    this.queue = new LookupQueue({
      find: (name) => this.find(name),
      maxConcurrent: MAX_CONCURRENT_FORWARD,
      maxEntries: MAX_NAMES,
      // The names come from the owner's settings: a name past the cap is left out rather than pushing out another.
      whenFull: 'refuseNew',
      refreshMs: REFRESH_MS,
      keepMs: KEEP_MS,
      retryMs: RETRY_MS,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(onNotFound === undefined ? {} : { onNotFound: (name: string, reason: unknown) => onNotFound(name, resolverCode(reason)) }),
    });
  }

  /** The addresses a name resolved to within KEEP_MS (canonical text); undefined while none are known. Never waits. */
  addressesOf(name: string): readonly string[] | undefined {
    return this.queue.valueOf(name.toLowerCase());
  }

  /** Starts looking up the names that are due (never looked up, stale, or due a retry); returns at once. */
  lookUp(names: Iterable<string>): void {
    this.queue.lookUp(Array.from(names, (name) => name.toLowerCase()));
  }

  /** How many look-ups run now (never more than MAX_CONCURRENT_FORWARD). */
  get inFlight(): number {
    return this.queue.inFlight;
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

  private async find(name: string): Promise<readonly string[] | undefined> {
    // Both families at once; either may have no records (a v4-only host has no AAAA): only both failing is "not found".
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name), this.resolver.resolve6(name)]);
    const found = [v4, v6].flatMap((result) => (result.status === 'fulfilled' && Array.isArray(result.value) ? result.value : []));
    const addresses = [...new Set(found.flatMap((address) => (typeof address === 'string' ? (canonicalAddress(address) ?? []) : [])))].slice(0, MAX_ADDRESSES_PER_NAME);
    if (addresses.length > 0) {
      return addresses;
    }
    const failure = [v4, v6].find((result) => result.status === 'rejected');
    if (failure?.status === 'rejected') {
      throw failure.reason;
    }
    return undefined;
  }
}

/** The resolver's code for a failure (`ENOTFOUND`, `ETIMEOUT`), when it gave a plain one. */
function resolverCode(reason: unknown): string | undefined {
  const code = (reason as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^[A-Z_]{1,20}$/.test(code) ? code : undefined;
}
