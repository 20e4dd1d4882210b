/**
 * Router text on its way to the owner's log: a hostile or broken router must neither rewrite the owner's terminal
 * (escape sequences), nor break lines, nor flood the log.
 */
import { ROUTER_WORDS_MAX, routerWords } from '../src/log';
import { ROUTER_ERROR_MAX, RouterError } from '../src/router/driver';

// eslint-disable-next-line no-control-regex -- what must never reach the log.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe('routerWords', () => {
  it('removes terminal escapes whole (colours, clear screen, window titles), leaving no fragment', () => {
    expect(routerWords('Set \u001b[31mfailed\u001b[0m\u001b[2J \u001b]0;owned\u0007now')).toBe('Set failed now');
    expect(routerWords('title \u001b]2;owned\u001b\\ end')).toBe('title end');
  });

  it('turns line breaks and other control characters into single spaces', () => {
    expect(routerWords('Commit failed\r\nINFO fake log line\u0000\u0008\u2028x')).toBe('Commit failed INFO fake log line x');
    // The 8-bit CSI and bidi overrides too: a line must read as what it holds.
    expect(routerWords('a\u009b2Jb \u202eevil')).toBe('a 2Jb evil');
  });

  it('cuts long text to the limit, never inside a surrogate pair, and reads only the head of a huge answer', () => {
    const long = routerWords('A'.repeat(1_000_000));
    expect(long).toHaveLength(ROUTER_WORDS_MAX);
    expect(long.endsWith('...')).toBe(true);
    const emoji = routerWords(`${'a'.repeat(196)}😀😀`, 200);
    expect(emoji.length).toBeLessThanOrEqual(200);
    expect(/[\ud800-\udbff]\.\.\.$/.test(emoji)).toBe(false);
  });
});

describe('RouterError', () => {
  it('carries no control characters and no more than its limit, whatever the router put in it', () => {
    const error = new RouterError('protocol', `the router's answer was cut short (\u001b[2J${'x'.repeat(50_000)}\nFAKE LINE)`);
    expect(error.message.length).toBeLessThanOrEqual(ROUTER_ERROR_MAX);
    expect(UNSAFE.test(error.message)).toBe(false);
    expect(error.message.startsWith("the router's answer was cut short (x")).toBe(true);
  });
});
