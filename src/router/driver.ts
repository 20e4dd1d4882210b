/**
 * What the guard needs from a router, whatever its make. EdgeOS is the first implementation; a VyOS, OpenWrt or
 * nftables driver would implement the same interface and leave the guard logic and HomeKit layer untouched.
 * Nothing in this layer knows about HomeKit.
 */
import type { CameraSettings } from '../config';
import type { CameraFlows } from '../destinations/conntrack';
import type { RuleAttempts } from '../destinations/firewallLog';
import { routerWords } from '../log';

/** A camera's internet access as enforced by the router. */
export type Access = 'allowed' | 'blocked';

/**
 * How a camera's rules look on the router.
 * - `allowed` / `blocked`: all rules present and as the plugin wrote them.
 * - `outdated`: the block and counter rules are intact but other details (allow-list, description) differ from
 *   the configuration; `access` still tells what is enforced.
 * - `missing`: none of the camera's rules exist (a new camera, or all its rules deleted on the router).
 * - `damaged`: some rules are missing or were changed so that the block can no longer be trusted.
 */
export type RuleStatus = 'intact' | 'outdated' | 'missing' | 'damaged';

export interface EgressCounters {
  /** Packets dropped by the camera's block rule; undefined while the block is disabled (the rule is absent). */
  readonly blockedPackets: number | undefined;
  /** Packets and bytes that passed the camera's egress counter rule (traffic that reached the internet). */
  readonly egressPackets: number;
  readonly egressBytes: number;
}

/** A camera whose rules enforce its access: intact, or outdated in details that do not change what they enforce. */
interface EnforcedReading {
  readonly status: 'intact' | 'outdated';
  /** Undefined when the router did not report them (counters unreadable). */
  readonly counters: EgressCounters | undefined;
}

/** A camera whose rules let it out. */
export interface AllowedReading extends EnforcedReading {
  readonly access: 'allowed';
  /** While a timed opening runs on the router: how long it has left when read (ms); the router closes it then. */
  readonly openForMs?: number;
  readonly notInForce?: never;
  readonly timedOut?: never;
}

/** A camera whose configuration blocks it. */
export interface BlockedReading extends EnforcedReading {
  readonly access: 'blocked';
  /**
   * Set when the configuration blocks the camera but the kernel's firewall does not (its ruleset is not hooked to
   * the WAN, or its drop rule has no row): why its packets still get out.
   */
  readonly notInForce?: string;
  /** True when a timed opening ended on the router by itself at its deadline. */
  readonly timedOut?: boolean;
  readonly openForMs?: never;
}

/** A camera whose rules cannot be trusted to enforce anything: none exist (`missing`) or some were changed (`damaged`). */
export interface BrokenReading {
  readonly status: 'missing' | 'damaged';
  // Absent by construction (declared so a reader can ask without first narrowing): nothing is enforced, nothing counted.
  readonly access?: never;
  readonly counters?: never;
  readonly notInForce?: never;
  readonly openForMs?: never;
  readonly timedOut?: never;
}

/** How the router has a camera: what it enforces exists only where something is enforced. */
export type CameraReading = AllowedReading | BlockedReading | BrokenReading;

/** What a camera's reading enforces; undefined when its rules are missing or damaged. */
export function enforcedAccess(reading: CameraReading | undefined): Access | undefined {
  return reading?.access;
}

/**
 * Where one camera tried to go or went, as the router saw it during this read (issue 12; docs/design/destinations.md).
 * Every part is optional: a router whose log or connection table cannot be read still guards, it only names less.
 */
export interface CameraDestinations {
  /**
   * The tries its tries-log rule logged since the previous read (IPv4 and IPv6 together), per destination. With a
   * rate-limited log these are a sample: the exact total is the block counter's. Undefined when the log was not read.
   */
  readonly attempts: RuleAttempts | undefined;
  /** Its connections now, per destination, from the router's connection table. Undefined when the table was not read. */
  readonly flows: CameraFlows | undefined;
}

/** What the router could tell about destinations during one read, for every camera at once. */
export interface DestinationsReading {
  /** Keyed by camera address (the same keys as RouterReading.cameras); a camera not here had nothing read. */
  readonly cameras: ReadonlyMap<string, CameraDestinations>;
  /** `nf_conntrack_acct` on the router: true = bytes per flow are counted; undefined = could not be read. */
  readonly accounting: boolean | undefined;
  /** Log bytes that arrived since the previous read but were passed over (a flood beyond the per-read bound). */
  readonly logSkippedBytes: number;
  /** Why the router's log could not be read this time, in a sentence for the owner; undefined when it was read. */
  readonly logProblem?: string;
  /** Why the connection table could not be read this time; undefined when it was (or nothing needed it). */
  readonly flowsProblem?: string;
}

export interface RouterReading {
  /** Keyed by camera address. */
  readonly cameras: ReadonlyMap<string, CameraReading>;
  /** The ruleset the plugin's rules live in (its own, or the owner's one that it adopted). */
  readonly ruleSet: string;
  /** True when the plugin's rules live in a ruleset the owner made. */
  readonly adopted: boolean;
  /** True when the ruleset exists and is bound to the WAN's `out` slot: the rules are actually in force. */
  readonly enforced: boolean;
  /** The plugin's rules of cameras that are not configured (removed, or their entry skipped), and what becomes of them. */
  readonly unlisted: readonly UnlistedCamera[];
  /** What a transaction would repair now even if nothing were asked (empty when the router is as it should be). */
  readonly repairs: readonly string[];
  /** The router's own interface addresses (a camera can never have one of these). */
  readonly routerAddresses: readonly string[];
  /** Problems the owner should hear about (rules in the plugin's range that it did not write, and so on). */
  readonly warnings: readonly string[];
  /** Things worth a debug line (configuration lines outside the parts the plugin uses that it could not read). */
  readonly notes: readonly string[];
  /**
   * True when the active configuration may differ from the saved one (a save failed, or the connection dropped
   * mid-transaction): the plan made on this reading saves, so a router reboot cannot bring back an old state.
   */
  readonly unsaved: boolean;
  /** Where cameras tried to go or went; undefined when the driver does not read destinations. */
  readonly destinations?: DestinationsReading;
}

/** What becomes of the rules of a camera that is not (or no longer) configured. */
export type UnlistedFate =
  /** Its block is enforced, or is being made so: a camera removed by mistake must not get out. */
  | 'kept-blocked'
  /** Its entry was skipped for a bad setting: left exactly as it is. */
  | 'kept-as-is'
  /** Left exactly as it is because a skipped entry could not be matched to its rules. */
  | 'frozen'
  /** Deleted: the owner listed it in `forget`. */
  | 'forgotten'
  /** Its block rule is gone; nothing the plugin could enforce is left. */
  | 'no-block-rule';

export interface UnlistedCamera {
  /** The address or MAC its rules match. */
  readonly source: string | undefined;
  /** The camera's name as its rule descriptions give it. */
  readonly name: string | undefined;
  readonly firstRule: number;
  readonly lastRule: number;
  /** What its rules enforced when read; undefined when its block rule is gone. */
  readonly access: Access | undefined;
  readonly fate: UnlistedFate;
}

/** `full`: everything is read from the router now. `poll`: the guard's periodic read (see RouterDriver.read). */
export type ReadKind = 'full' | 'poll';

/** Camera address → the access HomeKit asks for. */
export type Requests = ReadonlyMap<string, Access>;

/**
 * What one transaction changes, decided by the driver's planner from one reading and the requests: the one place
 * that decides whether anything has to be sent.
 */
export interface Plan {
  /** The reading it was made on: when the plan is empty, this reading is the confirmation. */
  readonly reading: RouterReading;
  readonly requests: Requests;
  /** Each rule block to create, rewrite, switch or remove, and why, in words for a debug line. */
  readonly steps: readonly string[];
  /** True when nothing has to be sent to the router: not a rule, not a save. */
  readonly empty: boolean;
  /** The steps nobody asked for: repairs the reading calls for (and a pending save). */
  readonly repairs: readonly string[];
}

export interface ApplyOutcome {
  /** `committed`: the router accepted the whole change. `locked`: another commit was running; nothing applied. */
  readonly result: 'committed' | 'failed' | 'locked';
  /** False when the change was committed but could not be saved to the boot config. */
  readonly saved: boolean;
  /** The router's own words (cleaned and cut), for the log. */
  readonly detail: string;
}

/** What a plan would send, for an owner to read before anything is sent (the settings page's preview). */
export interface PlanScript {
  /** The exact script the transaction would send to the router; empty when the plan is empty. */
  readonly script: string;
  /** One line per rule of the owner's, in the rulesets the plugin writes to, that the plan leaves alone. */
  readonly leftAlone: readonly string[];
}

export interface FlowCut {
  /** Connections deleted. */
  readonly flows: number;
  /** The addresses whose connections were cut. */
  readonly addresses: readonly string[];
  /** Set when the camera's other addresses could not be looked up (only its configured address was cut). */
  readonly problem?: string;
}

export interface RouterDriver {
  /** Opens (or reopens) the connection; rejects with a RouterError whose `kind` says why. */
  connect(): Promise<void>;
  readonly connected: boolean;
  /** True when the router reports hardware offload: upload volumes are then under-counted. */
  hardwareOffload(): Promise<boolean>;
  /**
   * Reads what the router enforces for these cameras, with their counters. A `full` read (the default, and what every
   * transaction is planned on) reads the configuration too. A `poll` may instead rest on the configuration of the last
   * full read while the router's firewall shows no change since; the driver reads it again when it does, and at a slow
   * cadence. Either is one round trip when nothing changed, and means the same.
   */
  read(cameras: readonly CameraSettings[], kind?: ReadKind): Promise<RouterReading>;
  /**
   * Pure: what a transaction must change on the router this reading describes, for these requests, creating the
   * ruleset and rewriting damaged or outdated rule blocks as needed. Only readings this driver made can be planned on.
   */
  plan(reading: RouterReading, requests: Requests): Plan;
  /** Pure: the script `apply` would send for this plan, and the owner's rules it leaves alone. */
  describe(plan: Plan): PlanScript;
  /** Sends the plan as one transaction that the router takes whole or not at all; I/O only, it decides nothing. */
  apply(plan: Plan): Promise<ApplyOutcome>;
  /**
   * Deletes the cameras' connection-tracking entries so an upload already in progress stops: those of each one's
   * configured address and, for a camera with a MAC, of every address (IPv4 or IPv6) the router sees it use now. All
   * cameras in one round trip (two with a MAC: the neighbour table is read first). Keyed by camera address: what was
   * cut, or why that camera's cut cannot be confirmed; rejects when nothing could be sent.
   */
  cutFlows(cameras: readonly CameraSettings[]): Promise<ReadonlyMap<string, FlowCut | RouterError>>;
  close(): void;
}

/** What the settings page's connection test reports about a router, once logged in. */
export interface RouterIdentity {
  /** The firmware version (`v2.0.9-hotfix.7`), when the router told it. */
  readonly version: string | undefined;
  /** The hardware model (`EdgeRouter X 5-Port`), when the router told it. */
  readonly model: string | undefined;
  /** True when the login may use sudo without a password (an admin): the plugin needs it for counters and flows. */
  readonly admin: boolean;
  readonly hardwareOffload: boolean;
  /** The interfaces the router's default routes leave by: where the internet is. */
  readonly defaultRouteInterfaces: readonly string[];
}

/** A device on the router's LAN, from its DHCP leases and neighbour tables. */
export interface LanDevice {
  /** The name the device gave its DHCP server, when it gave one. */
  readonly name: string | undefined;
  /** Lower case, colons. */
  readonly mac: string;
  /** IPv4 addresses first, then IPv6. */
  readonly addresses: readonly string[];
}

/** What setting a router up needs beyond guarding it: the settings page's connection test and camera discovery. */
export interface SetupProbe {
  identify(): Promise<RouterIdentity>;
  /** The devices the router sees on its LAN now (never those on the interfaces that lead to the internet). */
  lanDevices(): Promise<readonly LanDevice[]>;
}

/**
 * `config`: the router does not have what the settings name (the WAN interface, say): nothing is changed until
 * the owner fixes the setting.
 */
export type RouterErrorKind = 'unreachable' | 'auth' | 'host-key' | 'timeout' | 'protocol' | 'config';

/** Every failure that reaches the guard is one of these, with a sentence fit for the owner's log. */
/** The longest message a RouterError carries (they reach the log, and may quote the router). */
export const ROUTER_ERROR_MAX = 800;

export class RouterError extends Error {
  constructor(
    readonly kind: RouterErrorKind,
    message: string,
  ) {
    // Messages quote the router's words (its stderr, ssh2's account of a disconnect): cleaned and cut here, once, so
    // no caller can forget it.
    super(routerWords(message, ROUTER_ERROR_MAX));
    this.name = 'RouterError';
  }
}
