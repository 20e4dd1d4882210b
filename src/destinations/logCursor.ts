/**
 * Reads only what the router's log gained since the last poll, bounded, in one shell fragment that can ride on the
 * poll's existing round trip (docs/design/destinations.md, section 4).
 *
 * The plugin keeps a cursor per router: the log file's inode and the byte offset read up to. rsyslog's rotation
 * (logrotate with `create`) renames the file to `messages.1`, keeping its inode, and starts a new one: when the inode
 * changed, the rest of the old file is read from `messages.1` (if it is still there), then the new file from the
 * start. When more than `maxBytes` arrived, only the newest `maxBytes` are read and the rest is counted as skipped,
 * so a flood costs a bounded amount of SSH traffic and memory. Every byte outside printable ASCII, tab and line feed
 * is turned into `?` on the router (`tr`), one byte for one byte: the text then decodes the same as UTF-8 or latin1,
 * and its length in characters is its length in bytes, which the offsets need.
 */

/** Where reading stopped: the log file's inode and the byte after the last whole line read. */
export interface LogCursor {
  readonly inode: number;
  readonly offset: number;
}

/** The most bytes read from each file per poll (the live log is at most ~255 KiB on EdgeOS). */
export const LOG_READ_MAX_BYTES = 64 * 1024;
/** The file EdgeOS's rsyslog writes kernel messages to. */
export const ROUTER_LOG_FILE = '/var/log/messages';
const MARK = 'camguard-log';

/** A path the fragment may name without quoting. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]{1,200}$/;

/**
 * The shell fragment (POSIX sh, coreutils `stat`, `tail`, `head`, `tr`) that reads the log from `cursor` on, in a
 * subshell so it changes nothing around it. Without a cursor it reads the newest `maxBytes`.
 *
 * `readAs: 'root'` reads the files through `sudo tail`: EdgeOS keeps /var/log/messages `root:adm 0640`, and a login
 * that is not in `adm` can only read it that way. Only `tail` is run as root (a short command line for sudo's own
 * log entry); `stat` needs no permission on the file.
 */
export function logReadScript(cursor: LogCursor | undefined, maxBytes = LOG_READ_MAX_BYTES, file = ROUTER_LOG_FILE, readAs: 'user' | 'root' = 'user'): string {
  if (!SAFE_PATH.test(file)) {
    throw new Error(`${file} is not a log path the plugin reads`);
  }
  const inode = cursor !== undefined && Number.isSafeInteger(cursor.inode) && cursor.inode > 0 ? cursor.inode : 0;
  const offset = cursor !== undefined && Number.isSafeInteger(cursor.offset) && cursor.offset > 0 ? cursor.offset : 0;
  const max = Number.isSafeInteger(maxBytes) && maxBytes > 0 ? maxBytes : LOG_READ_MAX_BYTES;
  const clean = `tr -c '\\11\\12\\40-\\176' '?'`;
  const tail = readAs === 'root' ? 'sudo tail' : 'tail';
  return [
    `( f=${file}; i0=${inode}; o=${offset}; m=${max}`,
    `  set -- $(stat -L -c '%i %s' "$f" 2>/dev/null); i=\${1:-0}; s=\${2:-0}`,
    `  if [ "$i" != "$i0" ]; then`,
    `    set -- $(stat -L -c '%i %s' "$f.1" 2>/dev/null)`,
    `    if [ "\${1:-0}" = "$i0" ] && [ "\${2:-0}" -gt "$o" ]; then n=$(($2 - o)); [ "$n" -gt "$m" ] && n=$m`,
    `      echo "${MARK} old $n"; ${tail} -c +$((o + 1)) "$f.1" | head -c "$n" | ${clean}; echo; fi`,
    `    o=0`,
    `  elif [ "$s" -lt "$o" ]; then o=0; fi`,
    // Over the bound, the read starts one byte before the newest m: if that byte ends a line, no line is lost.
    `  k=0; if [ $((s - o)) -gt "$m" ]; then k=$((s - m - 1 - o)); o=$((s - m - 1)); fi`,
    `  echo "${MARK} new $i $o $((s - o)) $k"; ${tail} -c +$((o + 1)) "$f" | head -c $((s - o)) | ${clean}; echo`,
    `  echo "${MARK} end" )`,
  ].join('\n');
}

export interface LogRead {
  /** Whole lines read, the rest of a rotated file first. */
  readonly text: string;
  /** Where the next read starts. */
  readonly cursor: LogCursor;
  /** Bytes that arrived but were not read (more than the bound), or undefined when none: the log is then incomplete. */
  readonly skippedBytes?: number;
  /** The rest of a rotated file was read (a rotation the old file of which is gone shows only as a new inode). */
  readonly rotated: boolean;
}

export type LogReadResult = { ok: true; value: LogRead } | { ok: false; error: string };

/**
 * Reads the fragment's output (it may sit among other output: everything outside its marks is ignored). Fails when
 * the marks or lengths are not what the fragment prints; the caller then keeps its old cursor and tries again.
 */
export function parseLogRead(output: string): LogReadResult {
  const fail = (error: string): LogReadResult => ({ ok: false, error });
  let text = '';
  let rotated = false;
  let at = 0;
  const readHeader = (): string[] | undefined => {
    const start = output.indexOf(`${MARK} `, at);
    if (start < 0 || (start > 0 && output.charAt(start - 1) !== '\n')) {
      return undefined;
    }
    const end = output.indexOf('\n', start);
    if (end < 0 || end - start > 100) {
      return undefined;
    }
    at = end + 1;
    return output.slice(start + MARK.length + 1, end).split(' ');
  };
  const readBody = (length: number): string | undefined => {
    if (output.charAt(at + length) !== '\n') {
      return undefined;
    }
    const body = output.slice(at, at + length);
    at += length + 1;
    return body;
  };
  const number = (word: string | undefined): number | undefined => (word !== undefined && /^[0-9]{1,15}$/.test(word) ? Number(word) : undefined);

  let header = readHeader();
  if (header?.[0] === 'old') {
    const length = number(header[1]);
    const body = length === undefined ? undefined : readBody(length);
    if (body === undefined) {
      return fail('the rotated log was not read whole');
    }
    rotated = true;
    text += wholeLines(body).lines;
    header = readHeader();
  }
  if (header?.[0] !== 'new' || header.length !== 5) {
    return fail('the log read did not report where it read');
  }
  const [inode, offset, length, skipped] = header.slice(1).map(number);
  if (inode === undefined || offset === undefined || length === undefined || skipped === undefined) {
    return fail('the log read reported a position that is not a number');
  }
  const body = readBody(length);
  if (body === undefined || readHeader()?.[0] !== 'end') {
    return fail('the log was not read whole (it may have been truncated while being read)');
  }
  // After a skip the read starts one byte before the bound, most likely inside a line: up to the first line break
  // it is a fragment (or just that line break, when the cut fell between two lines).
  const cut = skipped > 0;
  const firstWhole = cut ? body.indexOf('\n') + 1 : 0;
  const fresh = !cut ? body : firstWhole > 0 ? body.slice(firstWhole) : '';
  const dropped = cut ? (firstWhole > 0 ? firstWhole : body.length) : 0;
  const { lines, rest } = wholeLines(fresh);
  text += lines;
  // A last line without its line break is still being written: it is read next time, unless it is all there is.
  const held = rest.length < fresh.length ? rest.length : 0;
  return {
    ok: true,
    value: { text, cursor: { inode, offset: offset + length - held }, ...(cut ? { skippedBytes: skipped + dropped } : {}), rotated },
  };
}

function wholeLines(body: string): { lines: string; rest: string } {
  const last = body.lastIndexOf('\n');
  return { lines: body.slice(0, last + 1), rest: body.slice(last + 1) };
}
