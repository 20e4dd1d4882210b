/**
 * Where the cameras tried to go or went, from the destinations parts of a read (issue 12, docs/design/destinations.md
 * section 9): the router's log since the last read (the tries-log rules' LOG lines), whether the kernel counts bytes
 * per connection, and the cameras' connections. Pure: the read's sections in, a DestinationsReading out.
 *
 * Every part may be missing or broken on its own (no permission to read /var/log/messages, no conntrack): it then
 * says so in one sentence and leaves the rest, and the guarding, untouched.
 */
import { parseConntrack, parseConntrackAccounting, destinationsOfCamera } from '../../destinations/conntrack';
import type { ConntrackListing } from '../../destinations/conntrack';
import { MAX_ATTEMPT_DESTINATIONS, attemptsPerRule, logPrefixOf, parseFirewallLog } from '../../destinations/firewallLog';
import type { AttemptedDestination, RuleAttempts } from '../../destinations/firewallLog';
import { ROUTER_LOG_FILE, parseLogRead } from '../../destinations/logCursor';
import type { LogCursor } from '../../destinations/logCursor';
import type { CameraDestinations, DestinationsReading } from '../driver';
import { FLOWS_READ_MAX_BYTES, FLOWS_UNAVAILABLE, MARK } from './commands';

/**
 * A camera's tries-log rule (drop, `log enable`, limited) sits at this offset in its block, just before its block rule
 * (RuleSetLayout.triesRule; destinations.md section 1): its LOG row's prefix names the lines to read.
 */
export const TRIES_LOG_OFFSET = 7;

/** One camera whose destinations a read reports. */
export interface CameraQuery {
  /** Its configured address: the key of RouterReading.cameras. */
  readonly address: string;
  /** The log prefixes of its tries-log rules (IPv4, and IPv6 for a camera with a MAC). */
  readonly prefixes: readonly string[];
  /** The addresses its connections come from (its configured one, and any others the driver knows it uses). */
  readonly flowAddresses: readonly string[];
}

/** The prefixes of a camera's tries-log rule whose block starts at `blockBase`, in `ruleSet` and (MAC cameras) `ruleSet6`. */
export function triesLogPrefixes(blockBase: number, ruleSet: string, ruleSet6: string | undefined): string[] {
  const rule = blockBase + TRIES_LOG_OFFSET;
  return [logPrefixOf(ruleSet, rule, 'drop'), ...(ruleSet6 === undefined ? [] : [logPrefixOf(ruleSet6, rule, 'drop')])];
}

export interface DestinationsRead {
  readonly reading: DestinationsReading;
  /** Where the next read of the log starts; undefined when this one could not be read (keep the old cursor). */
  readonly cursor: LogCursor | undefined;
}

/**
 * Reads the destinations parts of one read. `sections` are the marked sections before the log (splitSections of
 * splitLogPart's head), `logOutput` what followed the log's mark (undefined when it never started), `flowsAsked`
 * whether the script listed connections at all.
 */
export function readDestinations(sections: ReadonlyMap<string, string>, logOutput: string | undefined, cameras: readonly CameraQuery[], flowsAsked: boolean): DestinationsRead {
  const accounting = sections.has(MARK.accountingFailed) ? undefined : parseConntrackAccounting(sections.get(MARK.accounting) ?? '');

  const flows = flowsAsked ? readFlows(sections) : { listing: undefined, problem: undefined };
  const log = readLog(logOutput, cameras);

  const perCamera = new Map<string, CameraDestinations>();
  for (const camera of cameras) {
    perCamera.set(camera.address, {
      attempts: log.attempts === undefined ? undefined : mergeAttempts(camera.prefixes.map((prefix) => log.attempts?.get(prefix))),
      flows: flows.listing === undefined ? undefined : destinationsOfCamera(flows.listing.flows, camera.flowAddresses),
    });
  }
  return {
    reading: {
      cameras: perCamera,
      accounting,
      logSkippedBytes: log.skippedBytes,
      ...(log.problem === undefined ? {} : { logProblem: log.problem }),
      ...(flows.problem === undefined ? {} : { flowsProblem: flows.problem }),
    },
    cursor: log.cursor,
  };
}

function readFlows(sections: ReadonlyMap<string, string>): { listing: ConntrackListing | undefined; problem: string | undefined } {
  const text = sections.get(MARK.flows);
  if (text === undefined || !sections.has(MARK.flowsEnd)) {
    return { listing: undefined, problem: "the router's connection table did not arrive whole, so where the cameras send is not shown this time." };
  }
  if (text.split('\n').some((line) => line.trim() === FLOWS_UNAVAILABLE)) {
    return {
      listing: undefined,
      problem: "the router would not list its connections (conntrack failed, or the plugin's login may not run it with sudo), so where the cameras send is not shown; give the login sudo for conntrack.",
    };
  }
  const listing = parseConntrack(text);
  // The listing is cut on the router at FLOWS_READ_MAX_BYTES: what was read is shown, and said to be a part.
  const cut = text.length >= FLOWS_READ_MAX_BYTES || listing.truncated;
  return {
    listing,
    problem: cut ? `the cameras had more connections than one read brings back (${FLOWS_READ_MAX_BYTES / 1024} KiB), so only some of them are shown.` : undefined,
  };
}

interface LogPart {
  readonly attempts: Map<string, RuleAttempts> | undefined;
  readonly cursor: LogCursor | undefined;
  readonly skippedBytes: number;
  readonly problem: string | undefined;
}

function readLog(output: string | undefined, cameras: readonly CameraQuery[]): LogPart {
  const unread = (problem: string): LogPart => ({ attempts: undefined, cursor: undefined, skippedBytes: 0, problem });
  if (output === undefined) {
    return unread("the router's log was not read (the read ended before it), so the tries of blocked cameras are not named this time.");
  }
  const parsed = parseLogRead(output);
  if (!parsed.ok) {
    // The likeliest reason on EdgeOS: the login may not read the file (root:adm 0640) and has no sudo for `tail`.
    return unread(
      `could not read the router's log ${ROUTER_LOG_FILE} (${parsed.error}), so the tries of blocked cameras are not named; ` +
        "the cameras are still guarded. Give the plugin's login sudo (an admin user) so it can read the log.",
    );
  }
  const prefixes = cameras.flatMap((camera) => camera.prefixes);
  const packets = parseFirewallLog(parsed.value.text, prefixes).packets;
  return { attempts: attemptsPerRule(packets), cursor: parsed.value.cursor, skippedBytes: parsed.value.skippedBytes ?? 0, problem: undefined };
}

/** One camera's tries over its rules (IPv4 and IPv6): different families, so no destination appears twice. */
function mergeAttempts(parts: readonly (RuleAttempts | undefined)[]): RuleAttempts {
  const all: AttemptedDestination[] = parts.flatMap((part) => part?.destinations ?? []);
  all.sort((a, b) => b.logged - a.logged || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) || (a.port ?? 0) - (b.port ?? 0));
  const others = parts.reduce((total, part) => total + (part?.otherDestinations ?? 0), 0);
  return {
    destinations: all.slice(0, MAX_ATTEMPT_DESTINATIONS),
    otherDestinations: others + Math.max(0, all.length - MAX_ATTEMPT_DESTINATIONS),
    logged: parts.reduce((total, part) => total + (part?.logged ?? 0), 0),
  };
}
