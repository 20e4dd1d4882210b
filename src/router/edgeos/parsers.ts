/**
 * Pure parsers for EdgeOS output. Each one either returns what the router said or an error that says what was
 * wrong: never a guessed number. A wrong counter would raise a false leak alarm, or hide a real one.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/**
 * The longest line any parser reads. EdgeOS prints nothing near this long (a description is at most a few hundred
 * characters); a longer line is damaged or hostile output, and is treated as unreadable rather than scanned.
 */
export const MAX_LINE_LENGTH = 64 * 1024;

/** How many unreadable configuration lines a read reports one by one (the rest are counted in a last entry). */
export const MAX_SKIPPED_REPORTED = 50;

/** How long a quoted router line may be in a log or error message. */
const LOG_LINE_LENGTH = 80;

/** A configuration line the parser could not read, as it may be logged: cleaned of control characters and cut short. */
export interface SkippedLine {
  readonly line: string;
  readonly reason: string;
}

export interface ConfigListing {
  /** The words after `set` of every line read. */
  readonly paths: string[][];
  /** Lines outside the firewall and interfaces trees that could not be read and were left out. */
  readonly skipped: SkippedLine[];
}

/** The words of a line, or why it cannot be read; `words` holds the words read before the problem. */
type WordsRead = { words: string[]; problem?: string };

/**
 * Reads the words of one `show configuration commands` line (without its `set `), the way EdgeOS's engine prints
 * them: words separated by spaces; a word that is empty or holds a space, a control character or one of
 * `* } { [ ] ; & ` ! $ > < | ? # \ ~ ( ) :` in single quotes, with nothing inside escaped (a backslash, a `$`, a tab
 * or raw UTF-8 stand for themselves); every other word bare. VyOS 1.1, which quotes every value, reads the same way.
 *
 * The engine refuses `'`, `"` and line breaks in values, so none of them can be part of a word it printed: a double
 * quote anywhere, a single quote inside a word, text glued to a closing quote or an unquoted control character means
 * the line is not what EdgeOS prints, and guessing where its words end could move a value to another setting.
 */
function readWords(text: string): WordsRead {
  const words: string[] = [];
  let at = 0;
  while (at < text.length) {
    if (text.charCodeAt(at) === 0x20) {
      at++;
      continue;
    }
    if (text.charAt(at) === "'") {
      const close = text.indexOf("'", at + 1);
      if (close < 0) {
        return { words, problem: 'a quote that is never closed' };
      }
      const next = text.charAt(close + 1);
      if (next !== '' && next !== ' ') {
        return { words, problem: 'text right after a closing quote' };
      }
      const word = text.slice(at + 1, close);
      if (word.includes('"')) {
        return { words, problem: 'a double quote, which EdgeOS never prints' };
      }
      words.push(word);
      at = close + 1;
      continue;
    }
    let end = text.indexOf(' ', at);
    if (end < 0) {
      end = text.length;
    }
    const word = text.slice(at, end);
    const problem = bareWordProblem(word);
    if (problem !== undefined) {
      return { words, problem };
    }
    words.push(word);
    at = end;
  }
  return { words };
}

function bareWordProblem(word: string): string | undefined {
  for (let i = 0; i < word.length; i++) {
    const code = word.charCodeAt(i);
    if (code === 0x27) {
      return 'a quote inside a word';
    }
    if (code === 0x22) {
      return 'a double quote, which EdgeOS never prints';
    }
    if (code < 0x20 || code === 0x7f) {
      return 'a control character outside quotes';
    }
  }
  return undefined;
}

/**
 * Splits one `show configuration commands` line (without its `set `) into words, as EdgeOS prints them (see
 * readWords); undefined when the line cannot be read that way.
 */
export function splitConfigWords(line: string): string[] | undefined {
  const read = readWords(line);
  return read.problem === undefined ? read.words : undefined;
}

/** The trees whose every line the plugin must see: a lost firewall line could hide a rule's `disable`. */
const GUARDED_TREES = new Set(['firewall', 'interfaces']);
/** What a tree name looks like; a first word of any other shape could be a damaged `firewall`. */
const TREE_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** The text after `set` of a line that starts like a `set` command, however it is spaced; undefined for others. */
function setCommandBody(line: string): string | undefined {
  const match = /^[ \t]*set[ \t]+/.exec(line);
  return match === null ? undefined : line.slice(match[0].length);
}

/**
 * Parses `show configuration commands` into paths (the words after `set`).
 *
 * A line that cannot be read fails the whole read when it is (or may be) in the firewall or interfaces tree: that is
 * where the plugin's rules, the owner's rules and the WAN's bindings live, and a line left out there could hide a
 * rule's `disable` or the owner's ruleset on the WAN. Anywhere else (a host name, a DHCP option) it is left out and
 * reported in `skipped`, so an odd value in a part of the router the plugin never touches cannot stop it guarding.
 * Blank lines are ignored; other lines that are not `set` commands are reported in `skipped`.
 */
export function parseConfigCommands(text: string): Parsed<ConfigListing> {
  const paths: string[][] = [];
  const skipped: SkippedLine[] = [];
  let unreported = 0;
  const skip = (line: string, reason: string): void => {
    if (skipped.length < MAX_SKIPPED_REPORTED) {
      skipped.push({ line: printableLine(line), reason });
    } else {
      unreported++;
    }
  };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    let tree: string | undefined;
    let problem: string;
    if (line.startsWith('set ') && line.length <= MAX_LINE_LENGTH) {
      const read = readWords(line.slice(4));
      tree = read.words[0];
      const trouble = read.problem ?? (tree === undefined ? 'no words after "set"' : damage(read.words));
      if (trouble === undefined) {
        paths.push(read.words);
        continue;
      }
      problem = trouble;
    } else if (setCommandBody(line.slice(0, 100)) !== undefined) {
      // Only the head is read (a tree name is all that is needed): a line that is too long, or a `set` after blanks or
      // before a tab, which EdgeOS never prints, but whose setting must not slip by unseen.
      tree = readWords(setCommandBody(line.slice(0, 100)) ?? '').words[0];
      problem = line.length > MAX_LINE_LENGTH ? `longer than ${MAX_LINE_LENGTH} characters` : 'spacing that EdgeOS never prints';
    } else {
      // A `set` line whose first bytes were not UTF-8 would read like any other stray line, and the setting it
      // holds (a rule's `disable`) would silently vanish.
      if (line.includes('\uFFFD')) {
        return fail(`configuration line "${printableLine(line)}" holds bytes that are not text`);
      }
      if (line.trim() !== '') {
        skip(line, 'not a set command');
      }
      continue;
    }
    // A line whose tree cannot be told (its first word is unreadable or damaged) may be a firewall line.
    if (tree === undefined || GUARDED_TREES.has(tree) || !TREE_NAME.test(tree)) {
      return fail(`configuration line "${printableLine(line)}" cannot be read (${problem})`);
    }
    skip(line, problem);
  }
  if (unreported > 0) {
    skipped.push({ line: '', reason: `and ${unreported} more lines that could not be read` });
  }
  // Every EdgeOS configuration has `set` lines (interfaces, system). None at all means the command failed or
  // printed something else; reading that as "an empty router" would make the plugin re-create its ruleset and
  // re-bind the WAN's out slot over the owner's own ruleset.
  if (paths.length === 0) {
    return fail(`the router printed no configuration${text.trim() === '' ? '' : ` (it said "${printableLine(text.trim().split('\n')[0] ?? '')}")`}`);
  }
  return ok({ paths, skipped });
}

/**
 * Bytes that were not UTF-8 arrive as U+FFFD. In a tree or setting name, a ruleset name or a rule number, and
 * anywhere in a firewall or interface line (an address, the ruleset bound to the WAN), that would silently move,
 * drop or re-bind a rule, and the plugin would "repair" rules that are fine. Descriptions and the values of other
 * trees are exempt: they are the owner's free text, and the SSH layer decodes each packet on its own, so a
 * character split across two packets shows up this way too.
 */
function damage(words: readonly string[]): string | undefined {
  const guarded = GUARDED_TREES.has(words[0] ?? '');
  const damaged = words.some((word, i) => word.includes('\uFFFD') && (i < words.length - 1 || (guarded && words[i - 1] !== 'description')));
  return damaged ? 'bytes that are not text' : undefined;
}

/**
 * Characters that break or disguise a log line: C0 and C1 controls, line and paragraph separators, and the
 * invisible bidi controls that can make a line read differently from what it holds.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced.
const LOG_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A router line as an owner's log may show it: unsafe characters replaced, cut short (never inside a surrogate pair). */
function printableLine(line: string): string {
  const clean = line.slice(0, LOG_LINE_LENGTH + 1).replace(LOG_UNSAFE, '?');
  if (clean.length <= LOG_LINE_LENGTH) {
    return clean;
  }
  const cut = clean.slice(0, LOG_LINE_LENGTH - 3);
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}...`;
}

export interface RuleCounter {
  readonly packets: number;
  readonly bytes: number;
}

const UINT64_MAX = (1n << 64n) - 1n;

function counterValue(text: string): number | string {
  if (!/^\d{1,20}$/.test(text)) {
    return `"${text.slice(0, 24)}" is not a counter`;
  }
  const value = BigInt(text);
  if (value > UINT64_MAX) {
    return `counter ${text} is larger than 64 bits`;
  }
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    return `counter ${text} is too large to count exactly`;
  }
  return Number(value);
}

/**
 * Parses `iptables -t filter -L <chain> -v -n -x` into per-rule counters keyed by EdgeOS rule number, from the
 * `/* <chain>-<N> *\/` comments. Rows sharing a comment (tcp_udp, log) are summed, except LOG rows, which see
 * the same packets as the rule they precede. Numbers are split on whitespace: wide counters overflow their
 * columns.
 *
 * The listing must be complete: it must end with the chain's default action (`<chain>-10000`, which EdgeOS
 * always compiles last), or be followed by the next chain of a longer listing. A listing cut between the two
 * rows of a tcp_udp rule would otherwise give that rule half its count, and a cut before a rule's only row
 * would make its counter vanish (and come back later as a "rise").
 */
export function parseChainCounters(text: string, chain: string): Parsed<Map<number, RuleCounter>> {
  const listing = parseChainListing(text, chain);
  return listing.ok ? ok(listing.value.counters) : listing;
}

/** A chain's per-rule counters, and the DROP rows the kernel really has, by rule number (each row's fields). */
export interface ChainListing {
  readonly counters: Map<number, RuleCounter>;
  /** The DROP rows of each rule: a blocked camera's block is in force only if its drop rule has one. */
  readonly drops: Map<number, DropRow[]>;
}

export interface DropRow {
  /** The `source` column. */
  readonly source: string;
  /** The source MAC of `-m mac --mac-source`, in lower case, when the row has one. */
  readonly mac: string | undefined;
}

/** As parseChainCounters, and also the DROP rows of each rule. */
export function parseChainListing(text: string, chain: string): Parsed<ChainListing> {
  const drops = new Map<number, DropRow[]>();
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const chainLines = lines.flatMap((line, index) => (line.startsWith(`Chain ${chain} `) ? [index] : []));
  const chainLine = chainLines[0];
  if (chainLine === undefined) {
    return fail(`the listing does not contain chain ${chain}`);
  }
  // One chain listed twice (output mixed up, or two listings concatenated): no way to tell which is current.
  if (chainLines.length > 1) {
    return fail(`the listing contains chain ${chain} more than once`);
  }
  const header = lines[chainLine + 1] ?? '';
  if (header.length > MAX_LINE_LENGTH || !/^\s*pkts\s+bytes\s+target\s+prot\s+opt\s+in\s+out\s+source\s+destination\s*$/.test(header)) {
    return fail(`chain ${chain} has no counter header (was the listing made with -v -n -x?)`);
  }
  const counters = new Map<number, RuleCounter>();
  const commentPattern = new RegExp(`/\\* ${escapeRegExp(chain)}-(\\d{1,5})(?: [^*]*)? \\*/`);
  const defaultPattern = new RegExp(`/\\* ${escapeRegExp(chain)}-10000 default-action [a-z]+ \\*/`);
  const ownComment = `/* ${chain}-`;
  let complete = false;
  let index = chainLine + 2;
  for (; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '') {
      break;
    }
    if (line.length > MAX_LINE_LENGTH) {
      return fail(`chain ${chain} has a row longer than ${MAX_LINE_LENGTH} characters, which iptables never prints`);
    }
    // iptables prints plain ASCII: anything else (bytes that were not UTF-8 arrive as U+FFFD, control
    // characters) means the text was damaged, and a damaged target could turn a LOG row into a counted one.
    if (!/^[\x20-\x7e\t]*$/.test(line)) {
      return fail(`chain ${chain} has a row that is not plain text: "${printableLine(line.trim())}"`);
    }
    const fields = line.trim().split(/\s+/);
    // A row has pkts, bytes, target, prot, opt, in, out, source, destination; a rule without a target prints
    // one field fewer. Anything shorter is truncated output.
    if (fields.length < 8) {
      return fail(`chain ${chain} has a truncated row: "${printableLine(line.trim())}"`);
    }
    const packets = counterValue(fields[0] ?? '');
    const bytes = counterValue(fields[1] ?? '');
    if (typeof packets === 'string' || typeof bytes === 'string') {
      return fail(`chain ${chain}: ${typeof packets === 'string' ? packets : (bytes as string)}`);
    }
    const match = commentPattern.exec(line);
    // A row that carries this chain's comment marker but not a well-formed comment was cut or garbled: skipping
    // it would under-count its rule.
    if (!match && line.includes(ownComment)) {
      return fail(`chain ${chain} has a row with a damaged rule comment: "${printableLine(line.trim())}"`);
    }
    const isLog = fields[2] === 'LOG';
    complete = !isLog && defaultPattern.test(line);
    if (!match || isLog) {
      continue;
    }
    const rule = Number(match[1]);
    if (fields[2] === 'DROP') {
      const mac = /\bMAC ([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i.exec(line)?.[1]?.toLowerCase();
      drops.set(rule, [...(drops.get(rule) ?? []), { source: fields[7] ?? '', mac }]);
    }
    const previous = counters.get(rule);
    const sum = { packets: (previous?.packets ?? 0) + packets, bytes: (previous?.bytes ?? 0) + bytes };
    // Each row is below 2^53, but two rows of one rule can add up past what a double counts exactly.
    if (!Number.isSafeInteger(sum.packets) || !Number.isSafeInteger(sum.bytes)) {
      return fail(`chain ${chain}: the counters of rule ${rule} add up to more than can be counted exactly`);
    }
    counters.set(rule, sum);
  }
  // After a blank line, a multi-chain listing goes on with the next chain: then this one was printed whole.
  const nextChainFollows = lines.slice(index).find((line) => line.trim() !== '')?.startsWith('Chain ') ?? false;
  if (!complete && !(index < lines.length && nextChainFollows)) {
    return fail(`the listing of chain ${chain} stops before its default action: it was cut short`);
  }
  // Only this chain's rows carry its comments. One outside its block means the output was mixed up, and the
  // rule it belongs to would be under-counted.
  if ([...lines.slice(0, chainLine), ...lines.slice(index)].some((line) => line.includes(ownComment))) {
    return fail(`rows of chain ${chain} appear outside its listing`);
  }
  return ok({ counters, drops });
}

/** A jump from a hook chain (`VYATTA_FW_OUT_HOOK`) to a ruleset's chain, for one output interface. */
export interface HookJump {
  readonly target: string;
  /** The `out` column: the interface the jump applies to (`*` for any). */
  readonly out: string;
}

/**
 * Parses `iptables -t filter -L VYATTA_FW_OUT_HOOK -v -n -x`: the jumps EdgeOS compiled for each `firewall out`
 * binding (`-o <interface> -j <ruleset>`). The listing must be the whole chain (a header, then rows up to the end or
 * a blank line); anything else is an error, so a damaged listing can never read as "the ruleset is hooked".
 */
export function parseHookJumps(text: string, chain: string): Parsed<HookJump[]> {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const at = lines.findIndex((line) => line.startsWith(`Chain ${chain} `));
  if (at < 0) {
    return fail(`the listing does not contain chain ${chain}`);
  }
  const header = lines[at + 1] ?? '';
  if (header.length > MAX_LINE_LENGTH || !/^\s*pkts\s+bytes\s+target\s+prot\s+opt\s+in\s+out\s+source\s+destination\s*$/.test(header)) {
    return fail(`chain ${chain} has no counter header (was the listing made with -v -n -x?)`);
  }
  const jumps: HookJump[] = [];
  for (let index = at + 2; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '') {
      break;
    }
    if (line.length > MAX_LINE_LENGTH || !/^[\x20-\x7e\t]*$/.test(line)) {
      return fail(`chain ${chain} has a row that is not plain text or too long`);
    }
    // Split on whitespace, and find the columns from the source address (always an address with a prefix under
    // -n): a row may lack its target (a counting rule) and ip6tables may leave `opt` blank, so positions vary.
    const fields = line.trim().split(/\s+/);
    const source = fields.findIndex((field, at) => at >= 5 && /^[0-9a-f:.]+\/\d{1,3}$/i.test(field));
    const opt = /^(--|-f|!f)$/;
    if (source < 0 || source > 7 || !/^\d+$/.test(fields[0] ?? '') || !/^\d+$/.test(fields[1] ?? '')) {
      return fail(`chain ${chain} has a row it cannot read: "${printableLine(line.trim())}"`);
    }
    const hasTarget = source === 7 || (source === 6 && !opt.test(fields[3] ?? ''));
    if (hasTarget) {
      jumps.push({ target: fields[2] ?? '', out: fields[source - 1] ?? '' });
    }
  }
  return ok(jumps);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Reads `show ubnt offload`. Hardware offload of IPv4 forwarding (Cavium `forwarding: enabled`, ER-X `hwnat`)
 * makes accepted flows bypass iptables counters.
 *
 * An answer is given only when the output says it: an IPv4 `forwarding` (or `hwnat`) line with a value that
 * reads as enabled or disabled. Output cut before that line, or worded in a way we do not know, is an error
 * rather than a confident "off".
 */
export function parseOffload(text: string): Parsed<{ ipv4Forwarding: boolean; ipv6Forwarding: boolean }> {
  if (!/offload/i.test(text)) {
    return fail('the router did not describe its offload settings');
  }
  let section = '';
  const on = { IPV4: false, IPV6: false };
  let stated = false;
  for (const rawLine of text.split('\n')) {
    // A line this long could be hiding the forwarding line; it is not something the router prints.
    if (rawLine.length > MAX_LINE_LENGTH) {
      return fail(`the router's offload report has a line longer than ${MAX_LINE_LENGTH} characters`);
    }
    const line = rawLine.trim();
    if (/^IPv4$/i.test(line) || /^IPv6$/i.test(line)) {
      section = line.toUpperCase();
      continue;
    }
    const setting = offloadSetting(line);
    if (setting === undefined) {
      continue;
    }
    const { key, value } = setting;
    // The ER-X's hwnat offloads IPv4 only; Cavium models report each family's forwarding apart.
    const family = /hw ?nat/.test(key) ? 'IPV4' : key === 'forwarding' && (section === 'IPV4' || section === 'IPV6') ? section : undefined;
    if (family !== undefined) {
      if (/^enabled?$/i.test(value)) {
        on[family] = true;
      } else if (!/^disabled?$/i.test(value)) {
        return fail(`the router's offload report says "${printableLine(line)}", which is neither enabled nor disabled`);
      }
      stated ||= family === 'IPV4';
    }
    if (/module$/.test(key)) {
      section = '';
    }
  }
  if (!stated) {
    return fail('the router\'s offload report does not say whether IPv4 forwarding is offloaded');
  }
  return ok({ ipv4Forwarding: on.IPV4, ipv6Forwarding: on.IPV6 });
}

/**
 * One `name: value` line of the offload report (`forwarding: enabled`, `hwnat      : disabled`): the name in lower
 * case and the first word of the value, or undefined for any other line.
 *
 * Found by position, not by a regular expression: `^([A-Za-z _-]+?)\s*:\s*(\S+)` backtracks through every way to
 * split a long run of letters and blanks, and a 40,000-character line without a colon kept the event loop for
 * seconds.
 */
function offloadSetting(line: string): { key: string; value: string } | undefined {
  const colon = line.indexOf(':');
  const name = line.slice(0, Math.max(colon, 0)).trimEnd();
  if (name === '' || !/^[A-Za-z _-]+$/.test(name)) {
    return undefined;
  }
  const rest = line.slice(colon + 1).trimStart();
  const end = rest.search(/\s/);
  const value = end < 0 ? rest : rest.slice(0, end);
  return value === '' ? undefined : { key: name.toLowerCase(), value };
}

const CONNTRACK_SUMMARY = ' flow entries have been ';
/** More flows than a router tracks (its table holds at most a few million): the number was not printed by conntrack. */
const MAX_FLOW_DIGITS = 9;

/**
 * Reads the `N flow entries have been deleted.` summary that conntrack prints on stderr.
 *
 * Found by position, not by a regular expression: `(\d+) flow entries …` tries every start inside a long run of
 * digits, and a 40,000-digit line kept the event loop for seconds.
 */
export function parseConntrackSummary(text: string): Parsed<number> {
  for (let at = text.indexOf(CONNTRACK_SUMMARY); at >= 0; at = text.indexOf(CONNTRACK_SUMMARY, at + 1)) {
    const after = at + CONNTRACK_SUMMARY.length;
    if (!text.startsWith('deleted.', after) && !text.startsWith('shown.', after)) {
      continue;
    }
    let start = at;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) {
      start--;
    }
    if (start === at) {
      continue;
    }
    if (at - start > MAX_FLOW_DIGITS) {
      return fail('conntrack reported more flows than a router can track');
    }
    return ok(Number(text.slice(start, at)));
  }
  return fail('conntrack did not report how many flows it touched');
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Adds up the `N flow entries have been deleted.` summaries of several conntrack runs (one per address). */
export function sumConntrackSummaries(text: string, runs: number): Parsed<number> {
  const counts = text.split('\n').flatMap((line) => {
    // A line this long is not a summary conntrack printed.
    if (line.length > MAX_LINE_LENGTH) {
      return [];
    }
    const summary = parseConntrackSummary(line);
    return summary.ok ? [summary.value] : [];
  });
  if (counts.length !== runs) {
    return fail(`conntrack reported on ${counts.length} of ${runs} addresses`);
  }
  return ok(counts.reduce((sum, count) => sum + count, 0));
}

export interface Neighbour {
  /** As `ip neigh` prints it: an IPv4 address, or an IPv6 one (possibly link-local). */
  readonly address: string;
  /** Lower case, colons. */
  readonly mac: string;
  /** The interface it was seen on (`switch0`, `eth1.20`). */
  readonly device: string;
}

const NEIGHBOUR_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * Reads `ip neigh show` (the router's ARP and IPv6 neighbour tables in one): `<address> dev <if> lladdr <mac>
 * [router] <STATE>`. Entries without a link-layer address (INCOMPLETE, FAILED) are skipped: they name no host.
 */
export function parseNeighbours(text: string): Parsed<Neighbour[]> {
  const neighbours: Neighbour[] = [];
  for (const raw of text.split('\n')) {
    // iproute2 starts each entry with its address and separates words with spaces (it may end with one): a tab, a
    // leading space or any other byte means the text was damaged, and a damaged address is another device's.
    const line = raw.replace(/\r$/, '').trimEnd();
    if (line === '') {
      continue;
    }
    if (line.length > MAX_LINE_LENGTH) {
      return fail(`the neighbour table has a line longer than ${MAX_LINE_LENGTH} characters, which ip never prints`);
    }
    if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(line)) {
      return fail(`the neighbour table has a line that is not plain text: "${printableLine(line)}"`);
    }
    const words = line.split(/\s+/);
    const at = words.indexOf('lladdr');
    if (words[1] !== 'dev' || words.length < 4) {
      return fail(`the neighbour table has a line it cannot read: "${printableLine(line)}"`);
    }
    if (at < 0) {
      continue;
    }
    const mac = (words[at + 1] ?? '').toLowerCase();
    if (!NEIGHBOUR_MAC.test(mac)) {
      return fail(`the neighbour table has a damaged link-layer address: "${printableLine(line)}"`);
    }
    neighbours.push({ address: words[0] ?? '', mac, device: words[2] ?? '' });
  }
  return ok(neighbours);
}

/**
 * What the kernel's listings of a read hold, split into the rows without their counters (what the kernel enforces)
 * and the counters in row order. Two polls whose rows are equal and whose counters did not go down saw the same
 * rules: EdgeOS deletes and re-inserts a rule's row, its counters at 0, whenever anything under the rule changes.
 */
export interface KernelRows {
  readonly rows: string;
  readonly counts: readonly number[];
}

/** The rows of the kernel sections (their marks included, so a listing that failed differs from one that did not). */
export function kernelRows(sections: ReadonlyMap<string, string>, marks: readonly string[]): KernelRows {
  const rows: string[] = [];
  const counts: number[] = [];
  for (const mark of marks) {
    const text = sections.get(mark);
    if (text === undefined) continue;
    rows.push(mark);
    for (const line of text.split('\n')) {
      const counted = /^\s*(\d{1,20})\s+(\d{1,20})(\s.*)?$/.exec(line);
      if (counted) {
        counts.push(Number(counted[1]), Number(counted[2]));
        rows.push(counted[3] ?? '');
      } else {
        rows.push(line);
      }
    }
  }
  return { rows: rows.join('\n'), counts };
}

/**
 * True when the kernel's rules may have changed between two listings: a row came, went or changed, or a counter went
 * down (its row was re-inserted: a rule edited, the counters cleared, the router rebooted).
 */
export function kernelRowsChanged(before: KernelRows, after: KernelRows): boolean {
  return before.rows !== after.rows || after.counts.some((count, index) => count < (before.counts[index] ?? 0));
}
