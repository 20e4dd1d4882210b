/**
 * The one logger shape every layer uses. Homebridge's logger satisfies it; tests pass a recorder. Each message is
 * one sentence for the owner: what happened and what to do.
 */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** Prefixes every line with the router's or camera's name, so the owner knows which one it is about. */
export function withPrefix(log: Log, prefix: string): Log {
  return {
    info: (message) => log.info(`${prefix}: ${message}`),
    warn: (message) => log.warn(`${prefix}: ${message}`),
    error: (message) => log.error(`${prefix}: ${message}`),
    debug: (message) => log.debug(`${prefix}: ${message}`),
  };
}

/**
 * Characters that break or disguise a log line: C0 and C1 controls, line and paragraph separators, and the
 * invisible bidi controls that can make a line read differently from what it holds.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced.
export const LOG_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Terminal escape sequences (CSI `ESC [ … letter` and OSC `ESC ] … BEL`), removed whole so no fragment is left. */
// eslint-disable-next-line no-control-regex -- escape sequences are exactly what is removed.
const TERMINAL_ESCAPE = /\u001b\[[0-9;?]{0,64}[ -/]{0,8}[@-~]|\u001b\][^\u0007\u001b]{0,256}(?:\u0007|\u001b\\)?/g;

/** The longest piece of router text a log line quotes. */
export const ROUTER_WORDS_MAX = 200;

/**
 * Text that came from the router, made fit for the owner's log: terminal escapes removed, other control characters
 * and line breaks turned into spaces, runs of blanks squeezed, cut to `max` characters (never inside a surrogate
 * pair). A hostile or broken router can then neither flood the log nor rewrite the owner's terminal.
 */
export function routerWords(text: string, max = ROUTER_WORDS_MAX): string {
  // Only the head can show, so a huge answer costs no more than its first few kilobytes.
  const head = text.slice(0, max * 8);
  const clean = head.replace(TERMINAL_ESCAPE, '').replace(LOG_UNSAFE, ' ').replace(/ {2,}/g, ' ').trim();
  if (clean.length <= max) {
    return clean;
  }
  const cut = clean.slice(0, max - 3);
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}...`;
}
