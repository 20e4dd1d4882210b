/**
 * What the guard needs from a router, whatever its make. EdgeOS is the first implementation; a VyOS, OpenWrt or
 * nftables driver would implement the same interface and leave the guard logic and HomeKit layer untouched.
 * Nothing in this layer knows about HomeKit.
 */
import type { CameraSettings } from '../config';

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

export interface CameraReading {
  readonly status: RuleStatus;
  /** What is enforced now; meaningful for `intact` and `outdated` only. */
  readonly access: Access | undefined;
  /** Undefined when the router did not report them (rules missing, counters unreadable). */
  readonly counters: EgressCounters | undefined;
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
  /** Rule blocks of cameras that are no longer configured. */
  readonly staleCameras: readonly string[];
  /** The router's own interface addresses (a camera can never have one of these). */
  readonly routerAddresses: readonly string[];
  /** Problems the owner should hear about (rules in the plugin's range that it did not write, and so on). */
  readonly warnings: readonly string[];
}

export interface ApplyOutcome {
  /** `committed`: the router accepted the whole change. `locked`: another commit was running; nothing applied. */
  readonly result: 'committed' | 'failed' | 'locked';
  /** False when the change was committed but could not be saved to the boot config. */
  readonly saved: boolean;
  /** The router's own words, for the log. */
  readonly detail: string;
}

export interface FlowCut {
  /** Connections deleted. */
  readonly flows: number;
  /** The addresses whose connections were cut. */
  readonly addresses: readonly string[];
  /** Set when the camera's other addresses could not be looked up (only its configured address was cut). */
  readonly problem?: string;
}

/** What the guard asks of a router in one transaction. */
export interface AccessChange {
  readonly camera: CameraSettings;
  readonly access: Access;
}

export interface RouterDriver {
  /** Opens (or reopens) the connection; rejects with a RouterError whose `kind` says why. */
  connect(): Promise<void>;
  readonly connected: boolean;
  /** True when the router reports hardware offload: upload volumes are then under-counted. */
  hardwareOffload(): Promise<boolean>;
  /** Reads configuration and counters for these cameras in one round trip. */
  read(cameras: readonly CameraSettings[]): Promise<RouterReading>;
  /**
   * Applies every change in one transaction, creating the ruleset and rewriting damaged or outdated rule blocks
   * as needed, and removing the rule blocks of cameras no longer in `cameras`.
   */
  apply(cameras: readonly CameraSettings[], changes: readonly AccessChange[]): Promise<ApplyOutcome>;
  /**
   * True when the active configuration may differ from the saved one (a save failed, or the connection dropped
   * mid-transaction): the next `apply`, even with no changes, saves, so a router reboot cannot bring back an old state.
   */
  readonly unsavedChanges: boolean;
  /**
   * Deletes the camera's connection-tracking entries so an upload already in progress stops: those of its
   * configured address and, for a camera with a MAC, of every address (IPv4 or IPv6) the router sees it use now.
   */
  cutFlows(camera: CameraSettings): Promise<FlowCut>;
  close(): void;
}

export type RouterErrorKind = 'unreachable' | 'auth' | 'host-key' | 'timeout' | 'protocol';

/** Every failure that reaches the guard is one of these, with a sentence fit for the owner's log. */
export class RouterError extends Error {
  constructor(
    readonly kind: RouterErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RouterError';
  }
}
