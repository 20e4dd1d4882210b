/**
 * IPv6 addresses as the netfilter tools read and print them: parsing (inet_pton), printing (glibc inet_ntop) and
 * prefix matching. ip6tables stores a rule's address already masked and prints it with its prefix length, except
 * that a host address (/128) prints bare (libxtables since 1.4.x: "we don't want to see /128").
 */

const WORDS = 8;
const ALL_ONES = (1n << 128n) - 1n;

function parseIpv4Tail(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return undefined;
  const [a = 0, b = 0, c = 0, d = 0] = parts.map(Number);
  return [a * 256 + b, c * 256 + d];
}

function parseWords(text: string): number[] | undefined {
  if (text === '') return [];
  const groups = text.split(':');
  const words: number[] = [];
  for (const [index, group] of groups.entries()) {
    if (index === groups.length - 1 && group.includes('.')) {
      const tail = parseIpv4Tail(group);
      if (tail === undefined) return undefined;
      words.push(...tail);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      words.push(parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  return words;
}

/** The address as a 128-bit number, or undefined when `text` is not an IPv6 address (as inet_pton decides). */
export function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseWords(halves[0] ?? '');
  const tail = halves.length === 2 ? parseWords(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = WORDS - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail].reduce((sum, word) => (sum << 16n) | BigInt(word), 0n);
}

/** glibc `inet_ntop(AF_INET6)`: lowercase, the longest run (first on a tie) of two or more zero words as `::`. */
export function formatIpv6(value: bigint): string {
  const words = Array.from({ length: WORDS }, (_, i) => Number((value >> BigInt(16 * (WORDS - 1 - i))) & 0xffffn));
  let best = { base: -1, len: 0 };
  let current = { base: -1, len: 0 };
  for (const [i, word] of words.entries()) {
    if (word === 0) {
      current = current.base === -1 ? { base: i, len: 1 } : { base: current.base, len: current.len + 1 };
      if (current.len > best.len) best = current;
    } else {
      current = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let text = '';
  for (let i = 0; i < WORDS; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) text += ':';
      continue;
    }
    if (i !== 0) text += ':';
    // IPv4-compatible and IPv4-mapped addresses end in dotted quad.
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      const low = Number(value & 0xffffffffn);
      text += [low >>> 24, (low >>> 16) & 255, (low >>> 8) & 255, low & 255].join('.');
      break;
    }
    text += (words[i] ?? 0).toString(16);
  }
  if (best.base !== -1 && best.base + best.len === WORDS) text += ':';
  return text;
}

/** The address in the text form inet_ntop gives it, or undefined when it is not an IPv6 address. */
export function canonicalIpv6(text: string): string | undefined {
  const value = parseIpv6(text);
  return value === undefined ? undefined : formatIpv6(value);
}

export interface Ipv6Prefix {
  address: bigint;
  bits: number;
  inverted: boolean;
}

/** `addr`, `addr/len`, either prefixed with `!` (EdgeOS negation). The address is masked, as ip6tables stores it. */
export function parseIpv6Prefix(spec: string): Ipv6Prefix | undefined {
  const inverted = spec.startsWith('!');
  const [addressText = '', bitsText, ...rest] = (inverted ? spec.slice(1) : spec).split('/');
  if (rest.length > 0 || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText))) return undefined;
  const bits = bitsText === undefined ? 128 : Number(bitsText);
  const address = parseIpv6(addressText);
  if (address === undefined || bits > 128) return undefined;
  return { address: address & prefixMask(bits), bits, inverted };
}

function prefixMask(bits: number): bigint {
  return bits === 0 ? 0n : (ALL_ONES << BigInt(128 - bits)) & ALL_ONES;
}

/** The address column `ip6tables -L -n` prints for a rule address: `::/0`, `2001:db8::/64`, a host bare. */
export function ip6tablesAddress(spec: string): string | undefined {
  const prefix = parseIpv6Prefix(spec);
  if (prefix === undefined) return undefined;
  return `${prefix.inverted ? '!' : ''}${formatIpv6(prefix.address)}${prefix.bits === 128 ? '' : `/${prefix.bits}`}`;
}

/** Whether `ip` (an IPv6 address) is inside `spec` (see parseIpv6Prefix); false when either does not parse. */
export function ipv6Matches(spec: string, ip: string): boolean {
  const prefix = parseIpv6Prefix(spec);
  const address = parseIpv6(ip);
  if (prefix === undefined || address === undefined) return false;
  const inside = (address & prefixMask(prefix.bits)) === prefix.address;
  return inside !== prefix.inverted;
}
