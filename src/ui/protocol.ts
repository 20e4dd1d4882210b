/**
 * What the plugin's settings page (homebridge-ui/public) and its server side (src/ui/server.ts, started by the
 * Homebridge UI through homebridge-ui/server.js) say to each other through `homebridge.request(path, body)`.
 * The server never sends a secret back: no password, passphrase or private key appears in any response.
 * A request that cannot be answered rejects with a RequestError whose message is one sentence for the owner.
 */

/** A router entry exactly as it stands in the page's config (the raw JSON the owner edits). */
export type RawRouterEntry = Record<string, unknown>;
/** The whole platform block as the page holds it (`{ platform: 'CameraGuard', routers: [...] , ... }`). */
export type RawPlatformConfig = Record<string, unknown>;

/** `/keys/generate` (body `{}`): makes the key pair once in the Homebridge storage folder; later calls return it. */
export interface GeneratedKey {
  /** Absolute path of the private key (mode 0600), for the router entry's `privateKeyFile`. */
  readonly privateKeyFile: string;
  /** The OpenSSH public key line (`ssh-ed25519 AAAA... camera-guard`). */
  readonly publicKey: string;
  /** False when an existing key pair was returned. */
  readonly created: boolean;
}

/** `/router/commands` (body `{ username, publicKey }`): the EdgeOS commands to paste on the router. */
export interface RouterCommands {
  /** One command per line, in order, ready to paste into an SSH session on the router. */
  readonly commands: readonly string[];
  /** What they do, in one or two sentences. */
  readonly explanation: string;
}

export type CheckName = 'address' | 'reach' | 'host-key' | 'login' | 'admin' | 'router';

export interface CheckResult {
  readonly check: CheckName;
  readonly ok: boolean;
  /** One sentence: what was found, or what went wrong and what to do. */
  readonly message: string;
}

/** `/router/test` (body `{ router: RawRouterEntry }`): tries the settings as entered, changing nothing anywhere. */
export interface ConnectionTest {
  readonly ok: boolean;
  /** In order; stops at the first failure. */
  readonly checks: readonly CheckResult[];
  /** Present once the router answered the SSH handshake. */
  readonly hostKey?: {
    readonly fingerprint: string;
    /** `pinned`: matches the entry's hostKey. `unpinned`: the entry has none. `mismatch`: not the pinned key. */
    readonly status: 'pinned' | 'unpinned' | 'mismatch';
  };
  /** Present after a successful login. */
  readonly router?: {
    readonly version: string | undefined;
    readonly model: string | undefined;
    readonly hardwareOffload: boolean;
    /** Interfaces that carry the default route or are named as the WAN in the entry. */
    readonly wanInterfaces: readonly string[];
    /** What the WAN interface's firewall `out` slot holds. */
    readonly outSlot:
      | { readonly kind: 'free' }
      | { readonly kind: 'ours'; readonly ruleSet: string }
      | { readonly kind: 'owner'; readonly ruleSet: string };
  };
}

/** `/cameras/discover` (body `{ router: RawRouterEntry, cameras: [{ address, mac }] }`). */
export interface DiscoveredDevice {
  /** The DHCP client name, when the router knows one. */
  readonly name: string | undefined;
  /** IPv4 first, then IPv6. */
  readonly addresses: readonly string[];
  /** Lower case, colon separated. */
  readonly mac: string | undefined;
  /** The MAC's registered maker (offline OUI list), when known. */
  readonly vendor: string | undefined;
  /** True when the vendor is a known camera or NVR maker. */
  readonly camera: boolean;
  /** True when a camera in the body already has this MAC or one of these addresses. */
  readonly configured: boolean;
}
export interface Discovery {
  readonly devices: readonly DiscoveredDevice[];
}

/** `/preview` (body `{ config: RawPlatformConfig }`): what saving these settings would send, per router. */
export interface RouterPreview {
  readonly router: string;
  /** The exact script the plugin would send (empty when nothing would change). */
  readonly script: string;
  /** Each change in words. */
  readonly steps: readonly string[];
  /** One line per rule of the owner's that is left alone. */
  readonly leftAlone: readonly string[];
  /** Set when this router could not be previewed (unreachable, refused login, ...), in plain words. */
  readonly problem?: string;
}
export interface Preview {
  readonly routers: readonly RouterPreview[];
}

/**
 * `/validate` (body `{ config: RawPlatformConfig, earlier?: RawPlatformConfig[] }`): the config reader's verdict; the page
 * saves only when `ok`. `earlier` holds the Camera Guard platforms before this one in config.json: a router one of
 * them lists is refused here too, as the running plugin would skip it.
 */
export interface Validation {
  readonly ok: boolean;
  /** One sentence per refused value or skipped entry, naming the field. */
  readonly errors: readonly string[];
}

/** `/status` (body `{}`): what the running plugin last wrote to `camera-guard-status.json` in the storage folder. */
export interface CameraStatus {
  readonly name: string;
  readonly address: string;
  /** What the router enforces now; `unknown` while it cannot be read or the rules are missing or damaged. */
  readonly enforced: 'allowed' | 'blocked' | 'unknown';
  readonly blockedPackets: number | undefined;
  readonly egressBytes: number | undefined;
  readonly leak: boolean;
  /** ISO time of the last leak trip, if any since Homebridge started. */
  readonly lastLeakTrip: string | undefined;
  /** Where the camera tried to go or went (issue 12); absent from older files and before the first reading. */
  readonly destinations?: DestinationsStatus;
}
/** One destination of a camera, as raw fields plus the line the owner reads (`describeDestination`). */
export interface DestinationStatus {
  readonly address: string;
  /** `tcp`, `udp`, `icmp`, `icmpv6` or `other`. */
  readonly protocol: string;
  readonly port?: number;
  /** Blocked: tries logged (a sample: the log is rate-limited). Allowed: flows seen. */
  readonly count: number;
  /** Allowed, with accounting on: bytes the camera sent there. */
  readonly bytesSent?: number;
  readonly hostName?: string;
  /** `AS37963 Alibaba, CN`, when the owner's network data names it. */
  readonly network?: string;
  /** True when the destination is in the camera's `allowDestinations` (or is the router, for DNS). */
  readonly expected?: boolean;
  /** ISO time it was last seen. */
  readonly lastSeen?: string;
  /** The whole line, as the log would say it. */
  readonly line: string;
}
export interface DestinationsStatus {
  /** Tries while blocked, the most first, over the last 24 hours; at most 20. */
  readonly blocked: readonly DestinationStatus[];
  /** Where it sends while allowed (and through its allow-list while blocked), from the last reading; at most 20. */
  readonly allowed: readonly DestinationStatus[];
  /** Destinations left out of the two lists. */
  readonly more: number;
  /** Whether the router counts bytes per connection (`nf_conntrack_acct`). */
  readonly accounting: 'on' | 'off' | 'unknown';
  /** ISO time of the reading the lists come from. */
  readonly updatedAt: string;
}
export interface RouterStatus {
  readonly name: string;
  /** The Camera Guard platform (its `name`) that guards the router, when there are several platforms. */
  readonly platform?: string;
  /** ISO time of the last successful poll. */
  readonly lastPoll: string | undefined;
  /** The current problem, in the log's words; undefined when all is well. */
  readonly problem: string | undefined;
  readonly cameras: readonly CameraStatus[];
}
export interface Status {
  /** False when the plugin has not written a status (not running, or not yet). */
  readonly running: boolean;
  /** ISO time the plugin wrote it (with several platforms, the oldest of their files: each is at least this fresh). */
  readonly updatedAt: string | undefined;
  /** The platform's `name` (in a status file; absent from older files and for the default name). */
  readonly platform?: string;
  readonly routers: readonly RouterStatus[];
  /** The running plugin's verdict on its config: one sentence per skipped router or camera (absent from older files). */
  readonly configErrors?: readonly string[];
  /** Where destinations' network names come from, and the data's credit, a sentence per platform (absent from older files). */
  readonly networkNames?: readonly string[];
  /** True when some of those names come from the bundled data set, whose credit (with links) the page shows. */
  readonly networkCredit?: boolean;
}
