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
      continue;
    }
    const words = splitConfigWords(line.slice(4));
    if (!words) {
      return fail(`unterminated quote in configuration line "${line.slice(0, 80)}"`);
    }
    paths.push(words);
  }
  return ok(paths);
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
 */
export function parseChainCounters(text: string, chain: string): Parsed<Map<number, RuleCounter>> {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const chainLine = lines.findIndex((line) => line.startsWith(`Chain ${chain} `));
  if (chainLine < 0) {
    return fail(`the listing does not contain chain ${chain}`);
  }
  const header = lines[chainLine + 1] ?? '';
  if (!/^\s*pkts\s+bytes\s+target\s+prot\s+opt\s+in\s+out\s+source\s+destination\s*$/.test(header)) {
    return fail(`chain ${chain} has no counter header (was the listing made with -v -n -x?)`);
  }
  const counters = new Map<number, RuleCounter>();
  const commentPattern = new RegExp(`/\\* ${escapeRegExp(chain)}-(\\d+)(?: [^*]*)? \\*/`);
  for (const line of lines.slice(chainLine + 2)) {
    if (line.trim() === '') {
      break;
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
    if (!match || fields[2] === 'LOG') {
      continue;
    }
    const rule = Number(match[1]);
    const previous = counters.get(rule);
    counters.set(rule, { packets: (previous?.packets ?? 0) + packets, bytes: (previous?.bytes ?? 0) + bytes });
  }
  return ok(counters);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Reads `show ubnt offload`. Hardware offload of IPv4 forwarding (Cavium `forwarding: enabled`, ER-X `hwnat`)
 * makes accepted flows bypass iptables counters.
 */
export function parseOffload(text: string): Parsed<{ ipv4Forwarding: boolean }> {
  if (!/offload/i.test(text)) {
    return fail('the router did not describe its offload settings');
  }
  let section = '';
  let on = false;
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
    const enabled = /^enabled?$/i.test(match[2] ?? '');
    if ((section === 'IPV4' && key === 'forwarding' && enabled) || (/hw ?nat/.test(key) && enabled)) {
      on = true;
    }
    if (/module$/.test(key)) {
      section = '';
    }
  }
  return ok({ ipv4Forwarding: on });
}

/** Reads the `N flow entries have been deleted.` summary that conntrack prints on stderr. */
export function parseConntrackSummary(text: string): Parsed<number> {
  const match = /(\d+) flow entries have been (?:deleted|shown)\./.exec(text);
  return match ? ok(Number(match[1])) : fail('conntrack did not report how many flows it touched');
}
