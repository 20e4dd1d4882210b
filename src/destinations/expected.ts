/**
 * A camera's expected destinations (`allowDestinations`, issue 12): where an allowed camera may send without the
 * upload alarm counting it, and where DNS may go besides the router. Pure: parsing an owner's entry, and deciding
 * whether one address is expected given what the name look-ups have found so far.
 *
 * An entry is an IPv4 or IPv6 address, a CIDR of either family, or a DNS host name. A destination is expected when
 * its address is in an address or CIDR entry, is one of the addresses a named entry resolved to (forwardNames.ts),
 * or its reverse name is a named entry (the guard trusts that last one for marking only: a PTR record is whatever
 * the address's owner publishes). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address it carries, on
 * either side. Wildcards (`*.example.com`) are refused: a name is matched only whole.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { canonicalAddress } from './address';

/** The most entries a camera's `allowDestinations` holds. */
export const MAX_EXPECTED_DESTINATIONS = 32;
/** DNS's limits (RFC 1035): a name of at most 253 characters, labels of 1 to 63. */
const MAX_NAME_LENGTH = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** An address or a CIDR: the network's bytes (16 for IPv6, 4 for IPv4) and its prefix length. */
export interface AddressRange {
  readonly kind: 'range';
  /** The owner's entry, cleaned (`1.1.1.1`, `2001:db8::/32`). */
  readonly label: string;
  readonly bytes: readonly number[];
  readonly prefix: number;
}

/** A DNS host name, lower case, without a trailing dot. */
export interface HostName {
  readonly kind: 'name';
  readonly label: string;
  readonly name: string;
}

export type ExpectedDestination = AddressRange | HostName;

export type ParsedExpected = { readonly ok: true; readonly entry: ExpectedDestination } | { readonly ok: false; readonly problem: string };

/** What the owner may write, for the refusals. */
export const EXPECTED_HINT = 'an IPv4 or IPv6 address (1.1.1.1), a CIDR (203.0.113.0/24, 2001:db8::/32) or a host name (firmware.example.com)';

/** Reads one `allowDestinations` entry, or the words that refuse it (without the entry itself: the caller quotes it). */
export function parseExpectedDestination(value: unknown): ParsedExpected {
  if (typeof value !== 'string' || value.trim() === '') {
    return { ok: false, problem: `must be ${EXPECTED_HINT}` };
  }
  const text = value.trim().toLowerCase();
  if (text.startsWith('*')) {
    return { ok: false, problem: `is a wildcard, which is not supported: list each host name whole (firmware.example.com), or the network's CIDR` };
  }
  const slash = text.indexOf('/');
  if (slash >= 0 || isIPv4(text) || isIPv6(text)) {
    return parseRange(text, slash);
  }
  if (/^[0-9.]+$/.test(text)) {
    return { ok: false, problem: `is not a valid IPv4 address (each of the four parts is 0 to 255)` };
  }
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length > MAX_NAME_LENGTH) {
    return { ok: false, problem: `is longer than the ${MAX_NAME_LENGTH} characters a host name may have` };
  }
  const labels = name.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return { ok: false, problem: `is not a host name: use labels of 1 to 63 letters, digits or "-" (not at either end), separated by dots, such as firmware.example.com; or ${EXPECTED_HINT}` };
  }
  return { ok: true, entry: { kind: 'name', label: name, name } };
}

function parseRange(text: string, slash: number): ParsedExpected {
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : undefined;
  const bytes = addressBytes(addressText);
  if (bytes === undefined || addressText.includes('%')) {
    return { ok: false, problem: `is not a valid address or CIDR; use ${EXPECTED_HINT}` };
  }
  const bits = bytes.length * 8;
  if (prefixText !== undefined && !/^[0-9]{1,3}$/.test(prefixText)) {
    return { ok: false, problem: `has no valid prefix length after "/" (0 to ${bits})` };
  }
  let prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) {
    return { ok: false, problem: `has a prefix length above ${bits}, the most an ${bits === 32 ? 'IPv4' : 'IPv6'} address has` };
  }
  let network = bytes;
  // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it carries (10.0.0.0/8).
  if (network.length === 16 && isMapped(network) && prefix >= 96) {
    network = network.slice(12);
    prefix -= 96;
  }
  if (!Number.isInteger(prefix) || prefix < 0) {
    return { ok: false, problem: `has no valid prefix length after "/"` };
  }
  if (!sameNetwork(network, masked(network, prefix), network.length * 8)) {
    return { ok: false, problem: `has bits set beyond its /${prefix} prefix; write the network's first address (${formatRange(masked(network, prefix), prefix)})` };
  }
  return { ok: true, entry: { kind: 'range', label: formatRange(network, prefix), bytes: network, prefix } };
}

/** The bytes of an IPv4 or IPv6 address text, or undefined. */
function addressBytes(text: string): number[] | undefined {
  const canonical = canonicalAddress(text);
  if (canonical === undefined) {
    return undefined;
  }
  if (isIPv4(canonical)) {
    return canonical.split('.').map(Number);
  }
  const halves = canonical.split('::');
  const groups = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return all.flatMap((group) => [group >> 8, group & 0xff]);
}

function isMapped(bytes: readonly number[]): boolean {
  return bytes.length === 16 && bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function masked(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((byte, index) => {
    const bitsHere = Math.max(0, Math.min(8, prefix - index * 8));
    return byte & ((0xff << (8 - bitsHere)) & 0xff);
  });
}

function sameNetwork(a: readonly number[], b: readonly number[], prefix: number): boolean {
  const ma = masked(a, prefix);
  const mb = masked(b, prefix);
  return ma.length === mb.length && ma.every((byte, index) => byte === mb[index]);
}

function formatRange(bytes: readonly number[], prefix: number): string {
  const address =
    bytes.length === 4
      ? bytes.join('.')
      : (canonicalAddress(
          Array.from({ length: 8 }, (_, index) => (((bytes[index * 2] ?? 0) << 8) | (bytes[index * 2 + 1] ?? 0)).toString(16)).join(':'),
        ) ?? '');
  return prefix === bytes.length * 8 ? address : `${address}/${prefix}`;
}

/** The bytes to match an address on: IPv4-mapped IPv6 as its IPv4 address. */
function matchBytes(address: string): number[] | undefined {
  const bytes = addressBytes(address);
  return bytes !== undefined && isMapped(bytes) ? bytes.slice(12) : bytes;
}

/** True for an IPv4 address, written as such or IPv4-mapped in IPv6 (`::ffff:1.2.3.4`). */
export function carriesIPv4(address: string): boolean {
  return matchBytes(address)?.length === 4;
}

/** What the look-ups have found so far; each answers from a cache and never waits. */
export interface ExpectedLookups {
  /** The addresses a host name resolved to (A and AAAA); undefined while not (yet) resolved. */
  addressesOf?(name: string): readonly string[] | undefined;
  /** The reverse name of an address, when one has arrived. */
  nameOf?(address: string): string | undefined;
}

/** Which entry makes the address expected; undefined when none does. */
export function expectedBy(address: string, entries: readonly ExpectedDestination[], lookups: ExpectedLookups = {}): ExpectedDestination | undefined {
  const bytes = matchBytes(address);
  if (bytes === undefined) {
    return undefined;
  }
  const key = bytes.length === 4 ? bytes.join('.') : canonicalAddress(address);
  let reverse: string | undefined;
  let reverseRead = false;
  for (const entry of entries) {
    if (entry.kind === 'range') {
      if (bytes.length === entry.bytes.length && sameNetwork(bytes, entry.bytes, entry.prefix)) {
        return entry;
      }
      continue;
    }
    const resolved = lookups.addressesOf?.(entry.name);
    if (resolved?.some((each) => {
      const other = matchBytes(each);
      return other !== undefined && (other.length === 4 ? other.join('.') : canonicalAddress(each)) === key;
    })) {
      return entry;
    }
    if (!reverseRead) {
      reverseRead = true;
      const name = lookups.nameOf?.(address)?.toLowerCase();
      reverse = name?.endsWith('.') ? name.slice(0, -1) : name;
    }
    if (reverse !== undefined && reverse === entry.name) {
      return entry;
    }
  }
  return undefined;
}

/**
 * True for an address on the public internet: not private, shared (CGNAT), loopback, link-local, multicast,
 * reserved or unique-local. Only bytes to such addresses left by the WAN, so only they may be exempted from the
 * upload alarm's count; a LAN address in `allowDestinations` (a NAS) never reduces it.
 */
export function isPublicAddress(address: string): boolean {
  const bytes = matchBytes(address);
  if (bytes === undefined) {
    return false;
  }
  if (bytes.length === 4) {
    const [a = 0, b = 0] = bytes;
    return !(a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168));
  }
  const [first = 0] = bytes;
  // Only global unicast (2000::/3) leaves by the WAN: this excludes ::, ::1, fc00::/7, fe80::/10 and ff00::/8.
  return (first & 0xe0) === 0x20;
}
