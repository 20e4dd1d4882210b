/**
 * One spelling per address. The router prints the same IPv6 address in two ways: conntrack compresses it
 * (`2001:db8::1`, inet_ntop), the kernel's LOG target writes all eight groups in full (`2001:0db8:0000:…:0001`,
 * printk's %pI6). Destinations are keyed, compared with the camera's addresses and looked up in the ASN data set by
 * the one form given here: dotted IPv4, and IPv6 in RFC 5952's canonical text (lower case, leading zeros dropped,
 * the longest run of two or more zero groups as `::`).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The longest address text worth looking at: a full IPv6 address with an embedded IPv4 and a zone is below this. */
const MAX_ADDRESS_LENGTH = 64;

/** The canonical text of an IPv4 or IPv6 address, or undefined when the text is not one (zones are refused). */
export function canonicalAddress(text: string): string | undefined {
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) {
    return undefined;
  }
  if (isIPv4(text)) {
    return text;
  }
  if (!isIPv6(text) || text.includes('%')) {
    return undefined;
  }
  const groups = ipv6Groups(text.toLowerCase());
  return groups === undefined ? undefined : compressIPv6(groups);
}

/** The eight 16-bit groups of an address isIPv6 accepted; an embedded IPv4 address becomes its two groups. */
function ipv6Groups(text: string): number[] | undefined {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const head = parse(halves[0] ?? '');
  const rest = halves.length > 1 ? parse(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length > 2 || missing < 0 || (halves.length === 1 && missing !== 0)) {
    return undefined;
  }
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined;
}

function compressIPv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) {
      end++;
    }
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) {
    return hex.join(':');
  }
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Which family an address in canonical text belongs to. */
export function addressFamily(address: string): 'ipv4' | 'ipv6' {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}
