/**
 * Named constants for Camera Guard. Everything an owner might wonder about ("how long do we wait for the
 * router?", "how many cameras fit in one rule range?") is answered here, in one place.
 */
import { createHash } from 'node:crypto';

/** The platform name owners put in config.json; must match `pluginAlias` in config.schema.json. */
export const PLATFORM_NAME = 'CameraGuard';

/** The npm package name, as Homebridge knows the plugin. */
export const PLUGIN_NAME = 'homebridge-camera-guard';

/**
 * Every rule the plugin creates carries this tag at the start of its description. It is how the plugin tells
 * its own rules from the owner's, so it must never change between versions.
 */
export const RULE_TAG = 'camera-guard';

/** The plugin owns `firstRule .. firstRule + RULE_RANGE_SIZE - 1` in its ruleset. */
export const RULE_RANGE_SIZE = 1000;

/**
 * Each camera gets a block of this many consecutive rule numbers: up to MAX_ALLOW_ENTRIES accept rules for its
 * allow-list, then its tries-log rule, its drop rule, and its egress counter. Fixed-size blocks keep a camera's
 * numbers stable when other cameras come and go.
 */
export const RULES_PER_CAMERA = 10;
/** Ten numbers less the tries-log, drop and counter rules (it was 8 before the tries-log rule took base + 7). */
export const MAX_ALLOW_ENTRIES = RULES_PER_CAMERA - 3;

/**
 * The tries-log rule's bound (EdgeOS `limit rate` / `limit burst`, iptables `-m limit --limit 6/minute
 * --limit-burst 5`): at most 5 lines at once, then one every 10 s, per camera and family, whatever the camera
 * sends. Packets past it fall through to the drop rule, so they are still dropped and counted, just not logged.
 * See docs/design/destinations.md sections 1 and 2 for why the router's small log needs this.
 */
export const TRIES_LOG_RATE = '6/minute';
export const TRIES_LOG_BURST = 5;
export const MAX_CAMERAS_PER_ROUTER = RULE_RANGE_SIZE / RULES_PER_CAMERA;

/**
 * HomeKit's limit of accessories on one bridge: 150 with the bridge itself, so 149 bridged ones
 * (`MAX_ACCESSORIES = 149` in @homebridge/hap-nodejs lib/Accessory.ts, whose addBridgedAccessory throws "Cannot Bridge
 * more than 149 Accessories"). Accessories restored from Homebridge's cache are bridged before the plugin launches
 * (homebridge's BridgeService.restoreCachedPlatformAccessories), so they count as much as new ones, and so do those
 * of other plugins on the same bridge. Each camera is one accessory, and each router has one more: its Lockdown switch.
 */
export const MAX_BRIDGED_ACCESSORIES = 149;

/** EdgeOS limits rule numbers to 1..9999 (10000 is the default action). */
export const MAX_RULE_NUMBER = 9999;

/** EdgeOS limits ruleset names to 28 characters. */
export const MAX_RULESET_NAME_LENGTH = 28;

/**
 * Switch changes that arrive within this window are merged into one router transaction, so a scene that locks
 * down six cameras costs one commit, not six.
 */
export const BATCH_WINDOW_MS = 250;

/** Commits and saves are slow on small routers (seconds on an ER-X, sometimes over 10 s for a save). */
export const TRANSACTION_TIMEOUT_MS = 90_000;

/** Reads (config and counters) are fast; a router that takes longer than this is treated as unreachable. */
export const READ_TIMEOUT_MS = 20_000;

/**
 * The most output (standard output and error together) one command may return; past it the plugin stops reading,
 * closes the channel and fails the command. Every command but the configuration read prints far less: the
 * neighbour table of a large LAN, a transaction's messages or the offload report are tens of kilobytes. A broken
 * or hostile router that streams without end must not cost the Homebridge machine hundreds of megabytes.
 */
export const MAX_COMMAND_OUTPUT_BYTES = 1024 * 1024;

/**
 * The cap for the configuration read, which prints `show configuration commands` and the plugin's firewall
 * counters in one command. A home router's configuration is tens of kilobytes; 5,000 firewall rules take under
 * 1 MB. 8 MB leaves room for some 40,000 rules or long address groups; a router that prints more is refused
 * (the read fails with a plain message) rather than read.
 */
export const MAX_CONFIGURATION_OUTPUT_BYTES = 8 * 1024 * 1024;

/**
 * A poll reads the router's clock and the kernel's firewall rows and counters of the plugin's chains, not the whole
 * configuration (tens of megabytes on a large owner configuration). The configuration is read again when the kernel's
 * rows changed since the last full read (a rule disabled, enabled, edited or deleted, a ruleset unbound from the WAN,
 * counters that went down), after each of the plugin's own transactions, after each (re)connection, and at least this
 * often: a change that leaves the kernel as it was (the description of a disabled rule, an interface's address) shows
 * within this time and one poll.
 */
export const CONFIG_REREAD_MS = 5 * 60_000;

/**
 * How long looking up a router's host name may take at startup (to find two entries for one router). A name that
 * does not resolve in time is compared by its spelling only; the host key check at connect still finds a twin.
 */
export const HOST_LOOKUP_TIMEOUT_MS = 5_000;

/** How long an SSH handshake (including host key check and login) may take. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** Reconnection backs off exponentially between these bounds, forever. */
export const RECONNECT_MIN_MS = 1_000;
export const RECONNECT_MAX_MS = 60_000;

/**
 * A refused login is retried far more slowly than a lost connection: a storm of failed logins trips the
 * router's (and fail2ban's) limits and locks the owner out too.
 */
export const AUTH_RETRY_MIN_MS = 30_000;
export const AUTH_RETRY_MAX_MS = 15 * 60_000;

/**
 * A repair (rules missing, damaged, a camera that must be blocked) that the router takes but that does not read
 * back as done is tried again after a delay that grows between these bounds (never sooner than the next poll):
 * every commit writes the router's flash, so a router that never reads back intact must not be rewritten in a loop.
 */
export const REPAIR_RETRY_MIN_MS = 10_000;
export const REPAIR_RETRY_MAX_MS = 10 * 60_000;

/**
 * How long a stopping guard lets a transaction in flight (and requests still in their batch) finish. Homebridge
 * exits 5 s after SIGTERM whatever is still running; this leaves time to log what the router did not confirm.
 */
export const SHUTDOWN_GRACE_MS = 4_000;

/** "Configuration system temporarily locked" commits are retried this many times, with backoff. */
export const LOCKED_COMMIT_RETRIES = 5;
export const LOCKED_COMMIT_BACKOFF_MS = 1_000;

/** Defaults for the optional configuration fields (kept in step with config.schema.json). */
export const DEFAULTS = {
  pollSeconds: 10,
  leak: { attempts: 1, uploadMB: 100, windowMinutes: 10, quietMinutes: 5 },
  router: {
    name: 'EdgeRouter',
    port: 22,
    wanInterface: 'eth0',
    ruleSet: 'CAMGUARD_OUT',
    ipv6RuleSet: 'CAMGUARD6_OUT',
    firstRule: 4000,
    saveConfig: true,
  },
} as const;

/** One megabyte in the owner's `uploadMB` setting: decimal, as routers and ISPs count. */
export const BYTES_PER_MB = 1_000_000;

/** File (under the Homebridge storage path) where first-seen router host keys are remembered. */
export const KNOWN_HOSTS_FILE = 'camera-guard-known-hosts.json';

/**
 * Remembering a host key waits while another Camera Guard platform (another process, on its own child bridge) writes
 * the known-hosts file; its lock file, once older than this, is left over from a crash and taken over. A write takes
 * milliseconds, so this is far longer than any live holder keeps it, even on a loaded machine with a slow SD card.
 */
export const KNOWN_HOSTS_LOCK_STALE_MS = 10_000;

/**
 * File (under the Homebridge storage path) where the running plugin leaves its status for the settings page. Each
 * Camera Guard platform writes its own (see statusFileName): with several platforms, each on its own child bridge,
 * they run in separate processes and must not overwrite or delete each other's status.
 */
export const STATUS_FILE = 'camera-guard-status.json';

/** The name a platform block gets when it has none (kept in step with config.schema.json). */
export const DEFAULT_PLATFORM_NAME = 'Camera Guard';

/**
 * The status file of the platform with this `name`: `camera-guard-status.json` for the default name (what a single
 * platform has always written), `camera-guard-status-<name>-<hash>.json` for any other. The hash tells apart names
 * that read the same once cut down to file-name letters ("Garage 2" and "garage-2").
 */
export function statusFileName(platformName: string | undefined): string {
  if (platformName === undefined || platformName === DEFAULT_PLATFORM_NAME) {
    return STATUS_FILE;
  }
  const readable = platformName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  const hash = createHash('sha256').update(platformName).digest('hex').slice(0, 8);
  return `camera-guard-status-${readable === '' ? 'platform' : readable}-${hash}.json`;
}

/** Every file name statusFileName can return, for the settings page, which shows the status of every platform. */
export const STATUS_FILE_PATTERN = /^camera-guard-status(-[a-z0-9-]{1,60})?\.json$/;
