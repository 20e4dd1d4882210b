/**
 * Every command the plugin sends to an EdgeRouter is built here, from checked values only.
 *
 * A configuration change is one shell script run by one `vbash` process: the config wrapper keys its session on
 * the parent process, so `begin`, `set`, `commit` and `end` sent on separate channels could land in different
 * sessions. The script always ends its session, discards whatever a failed commit left in the working config,
 * and saves only after a successful commit.
 */
import { LOG_READ_MAX_BYTES, ROUTER_LOG_FILE, logReadScript } from '../../destinations/logCursor';
import type { LogCursor } from '../../destinations/logCursor';
import type { RuleSpec } from './ruleSetLayout';

export const CFG_WRAPPER = '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper';
const OP_WRAPPER = '/opt/vyatta/bin/vyatta-op-cmd-wrapper';

/**
 * Configuration must run with group vyattacfg (never through sudo, which breaks later configuration until a
 * reboot); admin users belong to it, `sg` makes it their group for this process.
 */
export const TRANSACTION_COMMAND = "sg vyattacfg -c '/bin/vbash -s'";
/** Reads need no special group. */
export const READ_COMMAND = '/bin/vbash -s';

/** Lines the scripts print so the plugin can tell the router's output apart from its own progress marks. */
export const MARK = {
  op: '@@camera-guard op',
  edited: '@@camera-guard edited',
  committed: '@@camera-guard committed',
  saved: '@@camera-guard saved',
  done: '@@camera-guard done',
  config: '@@camera-guard config',
  counters: '@@camera-guard counters',
  countersFailed: '@@camera-guard counters unavailable',
  counters6: '@@camera-guard counters6',
  counters6Failed: '@@camera-guard counters6 unavailable',
  clock: '@@camera-guard clock',
  hook: '@@camera-guard hook',
  hookFailed: '@@camera-guard hook unavailable',
  hook6: '@@camera-guard hook6',
  hook6Failed: '@@camera-guard hook6 unavailable',
  end: '@@camera-guard end',
  cut: '@@camera-guard cut',
  accounting: '@@camera-guard accounting',
  accountingFailed: '@@camera-guard accounting unavailable',
  flows: '@@camera-guard flows',
  flowsEnd: '@@camera-guard flows end',
  log: '@@camera-guard log',
} as const;

/** Printed in the connection table's place when `conntrack` failed (let through the address filter on purpose). */
export const FLOWS_UNAVAILABLE = 'camguard-flows unavailable';
/** The most bytes of the connection table one read brings back (a few hundred bytes a flow). */
export const FLOWS_READ_MAX_BYTES = 256 * 1024;
/** Where the kernel says whether it counts bytes per connection. */
export const CONNTRACK_ACCOUNTING_FILE = '/proc/sys/net/netfilter/nf_conntrack_acct';

/** What a read asks about destinations (issue 12): the log from `logCursor` on, and the flows of `flowAddresses`. */
export interface DestinationsQuery {
  /** Where the last read of the router's log stopped; undefined reads the newest LOG_READ_MAX_BYTES. */
  readonly logCursor: LogCursor | undefined;
  /** The camera addresses (IPv4 or IPv6, canonical text) whose connections are listed; none lists nothing. */
  readonly flowAddresses: readonly string[];
}

export type ConfigOp = { readonly op: 'set' | 'delete'; readonly path: readonly string[] };

const BARE_WORD = /^[A-Za-z0-9_.:/,@+=-]+$/;
/**
 * Printable ASCII only, minus what could end or escape the single quotes (or be expanded, should a script down
 * the line re-evaluate the word). Everything the plugin sends is ASCII (descriptions are reduced to ASCII by descriptionName),
 * so refusing tabs, other control characters and non-ASCII costs nothing, and keeps invisible or
 * line-breaking characters (U+2028, bidi overrides) out of the router's configuration and its logs.
 */
const QUOTABLE_WORD = /^[\x20-\x7e]*$/;
const UNQUOTABLE = /['\\$`]/;

/**
 * Quotes one word for the shell. Values are validated long before they get here; this is the last line of
 * defence: a word that could escape its quotes is refused outright rather than sent.
 */
export function shellWord(word: string): string {
  if (BARE_WORD.test(word)) {
    return word;
  }
  if (!QUOTABLE_WORD.test(word) || UNQUOTABLE.test(word)) {
    throw new Error(`refusing to send an unsafe word to the router: ${JSON.stringify(word.slice(0, 40))}`);
  }
  return `'${word}'`;
}

function commandLine(words: readonly string[]): string {
  return words.map(shellWord).join(' ');
}

/** EdgeOS keeps IPv4 rulesets under `firewall name` and IPv6 ones under `firewall ipv6-name`. */
export type Family = 4 | 6;

export function ruleSetNode(family: Family): 'name' | 'ipv6-name' {
  return family === 4 ? 'name' : 'ipv6-name';
}

/** The `set` paths that create one rule from its spec. */
export function ruleSetPaths(ruleSet: string, spec: RuleSpec, family: Family = 4): string[][] {
  const rule = ['firewall', ruleSetNode(family), ruleSet, 'rule', String(spec.number)];
  const paths = [
    [...rule, 'action', spec.action],
    [...rule, 'description', spec.description],
    spec.sourceMac === undefined ? [...rule, 'source', 'address', spec.sourceAddress ?? ''] : [...rule, 'source', 'mac-address', spec.sourceMac],
  ];
  if (spec.protocol) {
    paths.push([...rule, 'protocol', spec.protocol]);
  }
  if (spec.destinationPort) {
    paths.push([...rule, 'destination', 'port', spec.destinationPort]);
  }
  if (spec.log === true) {
    paths.push([...rule, 'log', 'enable']);
  }
  if (spec.limit !== undefined) {
    paths.push([...rule, 'limit', 'rate', spec.limit.rate], [...rule, 'limit', 'burst', String(spec.limit.burst)]);
  }
  if (spec.disabled) {
    paths.push([...rule, 'disable']);
  }
  if (spec.startDate !== undefined) {
    paths.push([...rule, 'time', 'startdate', spec.startDate], [...rule, 'time', 'utc']);
  }
  return paths;
}

export function rulePath(ruleSet: string, rule: number, family: Family = 4): string[] {
  return ['firewall', ruleSetNode(family), ruleSet, 'rule', String(rule)];
}

/**
 * If the SSH connection is cut mid-transaction, the shell gets SIGHUP (or SIGPIPE on its next write): end the
 * session anyway, since an abandoned session leaves a mount behind on the router. Output goes to /dev/null
 * because the channel that would carry it is gone.
 */
const SESSION_CLEANUP_TRAP =
  `trap '${CFG_WRAPPER} discard >/dev/null 2>&1; ${CFG_WRAPPER} end >/dev/null 2>&1; exit 129' HUP TERM PIPE`;

/**
 * One `begin … commit [save] end` transaction that stops at the first `set` or `delete` the router refuses.
 *
 * EdgeOS's engine commits whatever did get set: a drop rule whose `source address` was refused commits as a bare
 * `-j DROP` that cuts the whole LAN off the internet, and an accept rule without its source lets everyone past the
 * owner's later rules. So every edit is chained with `&&` to the commit: after a refusal nothing more is edited,
 * nothing is committed, and the session's changes are discarded. A mark before each edit tells which one the router
 * refused.
 */
export function transactionScript(ops: readonly ConfigOp[], save: boolean): string {
  const lines = [SESSION_CLEANUP_TRAP, `${CFG_WRAPPER} begin &&`];
  ops.forEach(({ op, path }, index) => {
    lines.push(`echo '${MARK.op} ${index}' &&`);
    lines.push(`${CFG_WRAPPER} ${op} ${commandLine(path)} &&`);
  });
  lines.push(`echo '${MARK.edited}' &&`);
  const commit = `${CFG_WRAPPER} commit && echo '${MARK.committed}'`;
  lines.push(save ? `${commit} && ${CFG_WRAPPER} save && echo '${MARK.saved}'` : commit);
  // After a successful commit there is nothing to discard; after a refused edit, or a failed or partial commit,
  // this throws away whatever was not applied, so the next transaction starts clean.
  lines.push(`${CFG_WRAPPER} discard`);
  lines.push(`${CFG_WRAPPER} end`);
  lines.push(`echo '${MARK.done}'`);
  return `${lines.join('\n')}\n`;
}

/**
 * Saves the active configuration on its own (after a commit whose save failed, and once after each start). It
 * opens a session too, so it ends it the same way when the connection is cut.
 */
export function saveScript(): string {
  return `${SESSION_CLEANUP_TRAP}\n${CFG_WRAPPER} begin\n${CFG_WRAPPER} save && echo '${MARK.saved}'\n${CFG_WRAPPER} end\necho '${MARK.done}'\n`;
}

/** The chain EdgeOS jumps to each interface's `firewall out` ruleset from. */
export const OUT_HOOK_CHAIN = 'VYATTA_FW_OUT_HOOK';

/**
 * The rulesets' chains (counters, and the DROP rows really in the kernel) and the out hook (whether the kernel
 * really sends the WAN's traffic through them): the configuration alone does not prove a block is in force.
 */
function counterLines(chain: string, chain6: string | undefined): string[] {
  const lines = [
    `echo '${MARK.counters}'`,
    `sudo /sbin/iptables -t filter -L ${shellWord(chain)} -v -n -x || echo '${MARK.countersFailed}'`,
    `echo '${MARK.hook}'`,
    `sudo /sbin/iptables -t filter -L ${OUT_HOOK_CHAIN} -v -n -x || echo '${MARK.hookFailed}'`,
  ];
  if (chain6 !== undefined) {
    lines.push(
      `echo '${MARK.counters6}'`,
      `sudo /sbin/ip6tables -t filter -L ${shellWord(chain6)} -v -n -x || echo '${MARK.counters6Failed}'`,
      `echo '${MARK.hook6}'`,
      `sudo /sbin/ip6tables -t filter -L ${OUT_HOOK_CHAIN} -v -n -x || echo '${MARK.hook6Failed}'`,
    );
  }
  return lines;
}

/**
 * Whether the kernel counts bytes per connection, and the cameras' connections: one walk of the connection table,
 * filtered on the router to the lines that name a camera address as a source (`src=` of either tuple: what the camera
 * opened, and what was opened to it through a port forward), and cut at FLOWS_READ_MAX_BYTES. A `conntrack` that fails
 * (missing, or not allowed) prints FLOWS_UNAVAILABLE instead of an empty table, which would read as "no connections".
 */
function flowLines(addresses: readonly string[]): string[] {
  const lines = [`echo '${MARK.accounting}'`, `cat ${CONNTRACK_ACCOUNTING_FILE} 2>/dev/null || echo '${MARK.accountingFailed}'`];
  if (addresses.length > 0) {
    const patterns = [FLOWS_UNAVAILABLE, ...addresses.map((address) => `src=${address} `)].map((pattern) => `-e ${shellWord(pattern)}`).join(' ');
    lines.push(
      `echo '${MARK.flows}'`,
      `(sudo /usr/sbin/conntrack -L -o extended 2>/dev/null || echo '${FLOWS_UNAVAILABLE}') | grep -F ${patterns} | head -c ${FLOWS_READ_MAX_BYTES}`,
      // A cut listing ends inside a line: the line break keeps the mark on a line of its own.
      'echo',
      `echo '${MARK.flowsEnd}'`,
    );
  }
  return lines;
}

/**
 * The router's log since the last read, after the end mark: its text is whatever the router's daemons wrote, so it
 * comes last, and the sections are split only on what precedes it (see splitLogPart). Its own marks and lengths tell
 * whether it arrived whole; a log that cannot be read leaves everything before it as it was. Read through `sudo tail`:
 * /var/log/messages is `root:adm 0640` on EdgeOS.
 */
function logLines(cursor: LogCursor | undefined): string[] {
  return [`echo '${MARK.log}'`, logReadScript(cursor, LOG_READ_MAX_BYTES, ROUTER_LOG_FILE, 'root')];
}

function destinationLines(destinations: DestinationsQuery | undefined): { before: string[]; after: string[] } {
  return destinations === undefined ? { before: [], after: [] } : { before: flowLines(destinations.flowAddresses), after: logLines(destinations.logCursor) };
}

/**
 * The full read: the router's clock, the kernel's rows and counters, then the whole configuration. The kernel is
 * listed first on purpose: a commit that lands between the two listings then shows as a change of the kernel's rows
 * at the next poll (see pollScript), which reads the configuration again, instead of going unseen. With
 * `destinations`, the connection table and the log ride on the same round trip.
 */
export function readScript(chain: string, chain6?: string, destinations?: DestinationsQuery): string {
  const { before, after } = destinationLines(destinations);
  return [
    `echo '${MARK.clock}'`,
    // The router's clock decides when a timed opening (`time startdate`) ends: read it, not ours.
    'date -u +%s',
    ...counterLines(chain, chain6),
    `echo '${MARK.config}'`,
    `${OP_WRAPPER} show configuration commands`,
    ...before,
    `echo '${MARK.end}'`,
    ...after,
    '',
  ].join('\n');
}

/**
 * A poll between full reads: the router's clock and the kernel's rows and counters of the plugin's chains and the out
 * hook, without the configuration. Its size grows with the cameras (and the owner's rules in an adopted ruleset), not
 * with the rest of the owner's configuration; the destinations parts are bounded on the router (64 KiB of log per
 * file, 256 KiB of connections).
 */
export function pollScript(chain: string, chain6?: string, destinations?: DestinationsQuery): string {
  const { before, after } = destinationLines(destinations);
  return [`echo '${MARK.clock}'`, 'date -u +%s', ...counterLines(chain, chain6), ...before, `echo '${MARK.end}'`, ...after, ''].join('\n');
}

/**
 * Splits a read's output at the log's mark: the marked sections before it (for splitSections), and the log read's
 * own output after it (for parseLogRead), or undefined when the read asked for no log or it never started. The first
 * mark is the script's own: everything before it is printed by the plugin's commands, not by the log's writers.
 */
export function splitLogPart(stdout: string): { head: string; log: string | undefined } {
  const fence = `${MARK.log}\n`;
  const after = stdout.indexOf(`\n${fence}`);
  const start = stdout.startsWith(fence) ? 0 : after < 0 ? -1 : after + 1;
  if (start < 0) {
    return { head: stdout, log: undefined };
  }
  return { head: stdout.slice(0, start), log: stdout.slice(start + fence.length) };
}

/** The kernel's rows and counters alone, for a read that found the plugin's rules in other chains than it listed. */
export function countersScript(chain: string, chain6?: string): string {
  return [...counterLines(chain, chain6), `echo '${MARK.end}'`, ''].join('\n');
}

export const OFFLOAD_COMMAND = `${OP_WRAPPER} show ubnt offload`;

/**
 * Deletes a host's connection-tracking entries. conntrack must be told that an address is IPv6 (`-f ipv6`);
 * without it, it looks in the IPv4 table only.
 */
export function cutFlowsCommand(address: string): string {
  const family = address.includes(':') ? '-f ipv6 ' : '';
  return `sudo /usr/sbin/conntrack -D ${family}-s ${shellWord(address)}`;
}

/** One script that cuts the flows of every address a camera has (see EdgeOsRouter.cutFlows). */
export function cutFlowsScript(addresses: readonly string[]): string {
  return `${addresses.map(cutFlowsCommand).join('\n')}\n`;
}

/**
 * One script that cuts the flows of several cameras (each a list of addresses), so a scene that blocks fifty cameras
 * costs one round trip, not fifty. conntrack reports on standard error, so each camera's commands follow a mark there
 * (`@@camera-guard cut <index>`): a camera whose cut the router does not report on is told apart from the others.
 */
export function cutManyFlowsScript(cameras: readonly (readonly string[])[]): string {
  return cameras.map((addresses, index) => `echo '${MARK.cut} ${index}' >&2\n${cutFlowsScript(addresses)}`).join('');
}

/** Splits the standard error of cutManyFlowsScript into what each camera's commands printed, by index. */
export function splitCutReports(stderr: string, count: number): string[] {
  const reports = Array.from({ length: count }, () => '');
  let current: number | undefined;
  for (const line of stderr.split('\n')) {
    const clean = line.replace(/\r$/, '');
    const mark = clean.startsWith(`${MARK.cut} `) ? /^\d{1,6}$/.exec(clean.slice(MARK.cut.length + 1)) : null;
    if (mark) {
      const index = Number(mark[0]);
      current = index < count ? index : undefined;
    } else if (current !== undefined) {
      reports[current] = `${reports[current] ?? ''}${clean}\n`;
    }
  }
  return reports;
}

/** The router's ARP and IPv6 neighbour tables: which addresses each MAC on the LAN is using now. Needs no sudo. */
export const NEIGHBOURS_COMMAND = '/sbin/ip neigh show';

export interface TransactionReport {
  /** Every edit was accepted (the commit was attempted). */
  readonly edited: boolean;
  /** The index of the edit the router refused (nothing was committed), when one was. */
  readonly refused: number | undefined;
  readonly committed: boolean;
  readonly saved: boolean;
  /** Another commit held the lock; nothing was applied. */
  readonly locked: boolean;
  /** The router's error lines, for the owner's log (not yet cleaned: see routerWords). */
  readonly errors: readonly string[];
}

const HARMLESS = [/^The specified configuration node already exists$/, /^No configuration changes to commit$/, /^No changes have been discarded$/, /^Changes have been discarded$/, /^Saving configuration to/, /^Done$/, /^\s*$/];

export function parseTransactionOutput(stdout: string, stderr: string): TransactionReport {
  const lines = `${stdout}\n${stderr}`.split('\n').map((line) => line.replace(/\r$/, ''));
  const has = (mark: string): boolean => lines.includes(mark);
  const errors = lines.filter((line) => !line.startsWith('@@camera-guard') && !HARMLESS.some((pattern) => pattern.test(line)));
  const edited = has(MARK.edited);
  let lastOp: number | undefined;
  for (const line of stdout.split('\n')) {
    const match = /^@@camera-guard op (\d{1,9})\r?$/.exec(line);
    if (match) {
      lastOp = Number(match[1]);
    }
  }
  return {
    edited,
    refused: edited ? undefined : lastOp,
    committed: edited && has(MARK.committed),
    saved: has(MARK.saved),
    locked: lines.some((line) => line.includes('temporarily locked')),
    errors,
  };
}

/** Splits a read script's output into its marked sections. */
export function splitSections(stdout: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let body: string[] = [];
  for (const line of stdout.split('\n')) {
    const clean = line.replace(/\r$/, '');
    if (clean.startsWith('@@camera-guard ')) {
      if (current !== undefined) {
        sections.set(current, body.join('\n'));
      }
      current = clean;
      body = [];
    } else {
      body.push(clean);
    }
  }
  if (current !== undefined) {
    sections.set(current, body.join('\n'));
  }
  return sections;
}
