/**
 * Pure parsers for EdgeOS output. Each one either returns what the router said or an error that says what was
 * wrong: never a guessed number. A wrong counter would raise a false leak alarm, or hide a real one.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/**
 * Splits one `show configuration commands` line into words. EdgeOS quotes values containing spaces or special
 * characters with single quotes; VyOS 1.1 quotes every value; both are handled.
 */
export function splitConfigWords(line: string): string[] | undefined {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charAt(i);
    if (quote) {
      if (ch === quote) {
        quote = undefined;
      } else if (ch === '\\' && quote === '"' && i + 1 < line.length) {
        current += line.charAt(++i);
      } else {
        current += ch;
      }
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) {
        words.push(current);
        current = '';
        inWord = false;
      }
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) {
    return undefined;
  }
  if (inWord) {
    words.push(current);
  }
  return words;
}

/** Parses `show configuration commands` into paths (the words after `set`). Other lines are ignored. */
export function parseConfigCommands(text: string): Parsed<string[][]> {
  const paths: string[][] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (!line.startsWith('set ')) {
      // A `set` line whose first bytes were not UTF-8 would be skipped like a comment, and the setting it holds
      // (a rule's `disable`) would silently vanish.
      if (line.includes('\uFFFD')) {
        return fail(`configuration line "${printableLine(line)}" holds bytes that are not text`);
      }
      continue;
    }
    const words = splitConfigWords(line.slice(4));
    if (!words) {
      return fail(`unterminated quote in configuration line "${line.slice(0, 80)}"`);
    }
    // Bytes that were not UTF-8 arrive as U+FFFD. In a tree or setting name, a ruleset name or a rule number,
    // and anywhere in a firewall or interface line (an address, the ruleset bound to the WAN), that would
    // silently move, drop or re-bind a rule, and the plugin would "repair" rules that are fine. Descriptions and
    // the values of other trees are exempt: they are the owner's free text, and the SSH layer decodes each
    // packet on its own, so a character split across two packets shows up this way too.
    const firewallOrInterface = words[0] === 'firewall' || words[0] === 'interfaces';
    const damaged = words.some(
      (word, i) => word.includes('\uFFFD') && (i < words.length - 1 || (firewallOrInterface && words[i - 1] !== 'description')),
    );
    if (damaged) {
      return fail(`configuration line "${printableLine(line)}" holds bytes that are not text`);
    }
    paths.push(words);
  }
  // Every EdgeOS configuration has `set` lines (interfaces, system). None at all means the command failed or
  // printed something else; reading that as "an empty router" would make the plugin re-create its ruleset and
  // re-bind the WAN's out slot over the owner's own ruleset.
  if (paths.length === 0) {
    return fail(`the router printed no configuration${text.trim() === '' ? '' : ` (it said "${printableLine(text.trim().split('\n')[0] ?? '')}")`}`);
  }
  return ok(paths);
}

function printableLine(line: string): string {
  // eslint-disable-next-line no-control-regex -- control characters must not reach the owner's log.
  return line.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 80);
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
  if (!/^\s*pkts\s+bytes\s+target\s+prot\s+opt\s+in\s+out\s+source\s+destination\s*$/.test(header)) {
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
    // iptables prints plain ASCII: anything else (bytes that were not UTF-8 arrive as U+FFFD, control
    // characters) means the text was damaged, and a damaged target could turn a LOG row into a counted one.
    if (!/^[\x20-\x7e\t]*$/.test(line)) {
      return fail(`chain ${chain} has a row that is not plain text: "${printableLine(line.trim())}"`);
    }
    const fields = line.trim().split(/\s+/);
    // A row has pkts, bytes, target, prot, opt, in, out, source, destination; a rule without a target prints
    // one field fewer. Anything shorter is truncated output.
    if (fields.length < 8) {
      return fail(`chain ${chain} has a truncated row: "${line.trim().slice(0, 80)}"`);
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
      return fail(`chain ${chain} has a row with a damaged rule comment: "${line.trim().slice(0, 80)}"`);
    }
    const isLog = fields[2] === 'LOG';
    complete = !isLog && defaultPattern.test(line);
    if (!match || isLog) {
      continue;
    }
    const rule = Number(match[1]);
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
  return ok(counters);
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
    const line = rawLine.trim();
    if (/^IPv4$/i.test(line) || /^IPv6$/i.test(line)) {
      section = line.toUpperCase();
      continue;
    }
    const match = /^([A-Za-z _-]+?)\s*:\s*(\S+)/.exec(line);
    if (!match) {
      continue;
    }
    const key = (match[1] ?? '').toLowerCase();
    // The ER-X's hwnat offloads IPv4 only; Cavium models report each family's forwarding apart.
    const family = /hw ?nat/.test(key) ? 'IPV4' : key === 'forwarding' && (section === 'IPV4' || section === 'IPV6') ? section : undefined;
    if (family !== undefined) {
      const value = match[2] ?? '';
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

/** Reads the `N flow entries have been deleted.` summary that conntrack prints on stderr. */
export function parseConntrackSummary(text: string): Parsed<number> {
  const match = /(\d+) flow entries have been (?:deleted|shown)\./.exec(text);
  return match ? ok(Number(match[1])) : fail('conntrack did not report how many flows it touched');
}

/** Adds up the `N flow entries have been deleted.` summaries of several conntrack runs (one per address). */
export function sumConntrackSummaries(text: string, runs: number): Parsed<number> {
  const counts = text.split('\n').flatMap((line) => {
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
    if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(line)) {
      return fail(`the neighbour table has a line that is not plain text: "${printableLine(line)}"`);
    }
    const words = line.split(/\s+/);
    const at = words.indexOf('lladdr');
    if (words[1] !== 'dev' || words.length < 4) {
      return fail(`the neighbour table has a line it cannot read: "${line.slice(0, 80)}"`);
    }
    if (at < 0) {
      continue;
    }
    const mac = (words[at + 1] ?? '').toLowerCase();
    if (!NEIGHBOUR_MAC.test(mac)) {
      return fail(`the neighbour table has a damaged link-layer address: "${line.slice(0, 80)}"`);
    }
    neighbours.push({ address: words[0] ?? '', mac });
  }
  return ok(neighbours);
}
