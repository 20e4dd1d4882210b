/**
 * Says in one line where a camera tried to go or went, for the owner's log, the settings page's Status view and the
 * leak trip's message: `47.96.1.2 (AS37963 Alibaba, CN) tcp/8000, 312 tries`.
 *
 * Every name here comes from outside (reverse DNS answers are whatever the address's owner publishes; network names
 * come from a data set), so each is cleaned and cut with routerWords: a hostile PTR record can neither break the log
 * line nor rewrite the owner's terminal, and the whole line is bounded.
 */
import { ROUTER_WORDS_MAX, routerWords } from '../log';
import type { TransportProtocol } from './conntrack';

/** The network holding an address, from the offline IP-to-ASN data set; every part optional. */
export interface NetworkName {
  readonly asn?: number;
  readonly name?: string;
  /** ISO 3166 alpha-2 (`CN`). */
  readonly country?: string;
}

export interface DestinationDescription {
  readonly address: string;
  readonly protocol: TransportProtocol;
  readonly protocolNumber?: number;
  readonly port?: number;
  readonly icmpType?: number;
  /** Tries (blocked: logged packets or counted drops) or flows (allowed). */
  readonly count: number;
  readonly unit: 'tries' | 'flows';
  /** What the camera sent there, when the router counts bytes. */
  readonly bytesSent?: number;
  /** The reverse DNS name, when one was found. */
  readonly hostName?: string;
  readonly network?: NetworkName;
}

/** The longest host name quoted (DNS allows 253; the owner needs far less to recognise one). */
const HOST_NAME_MAX = 64;
/** The longest network name quoted. */
const NETWORK_NAME_MAX = 40;

/** One destination in the owner's words. */
export function describeDestination(destination: DestinationDescription): string {
  const host = destination.hostName === undefined ? '' : routerWords(destination.hostName, HOST_NAME_MAX).replace(/ /g, '');
  const where = host === '' ? routerWords(destination.address, 45) : `${host} [${routerWords(destination.address, 45)}]`;
  const network = describeNetwork(destination.network);
  const count = `${destination.count} ${destination.unit === 'tries' ? (destination.count === 1 ? 'try' : 'tries') : destination.count === 1 ? 'flow' : 'flows'}`;
  const sent = destination.bytesSent === undefined ? '' : `, ${formatBytes(destination.bytesSent)} sent`;
  return `${where}${network === '' ? '' : ` (${network})`} ${describeService(destination)}, ${count}${sent}`;
}

/** `AS37963 Alibaba, CN`, or as much of it as is known; empty when nothing is. */
export function describeNetwork(network: NetworkName | undefined): string {
  if (network === undefined) {
    return '';
  }
  const asn = network.asn !== undefined && Number.isSafeInteger(network.asn) && network.asn > 0 && network.asn <= 0xffffffff ? `AS${network.asn}` : '';
  const name = network.name === undefined ? '' : routerWords(network.name, NETWORK_NAME_MAX);
  const holder = [asn, name].filter((part) => part !== '').join(' ');
  const country = network.country !== undefined && /^[A-Z]{2}$/.test(network.country) ? network.country : '';
  return [holder, country].filter((part) => part !== '').join(', ');
}

/** `tcp/8000`, `udp/123`, `icmp echo`, `protocol 47`. */
export function describeService(destination: Pick<DestinationDescription, 'protocol' | 'protocolNumber' | 'port' | 'icmpType'>): string {
  switch (destination.protocol) {
    case 'tcp':
    case 'udp':
      return destination.port === undefined ? destination.protocol : `${destination.protocol}/${destination.port}`;
    case 'icmp':
    case 'icmpv6': {
      const echo = destination.protocol === 'icmp' ? 8 : 128;
      if (destination.icmpType === undefined) {
        return destination.protocol;
      }
      return destination.icmpType === echo ? `${destination.protocol} echo` : `${destination.protocol} type ${destination.icmpType}`;
    }
    case 'other':
      return destination.protocolNumber === undefined ? 'another protocol' : `protocol ${destination.protocolNumber}`;
  }
}

/** Bytes in the owner's units (decimal, as routers and the Home app show them): `312 B`, `4.2 kB`, `1.3 GB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * Several destinations in one line, the first `shown` of them described (the caller orders them, busiest first),
 * the rest counted: `47.96.1.2 (AS37963 Alibaba, CN) tcp/8000, 312 tries; 8.8.8.8 udp/53, 2 tries; and 3 more`.
 * `others` adds destinations the caller left out of the list (a capped summary). Cut to `maxLength`.
 */
export function summariseDestinations(destinations: readonly DestinationDescription[], options: { shown?: number; others?: number; maxLength?: number } = {}): string {
  const shown = Math.max(1, options.shown ?? 3);
  const described = destinations.slice(0, shown).map(describeDestination);
  const more = destinations.length - described.length + Math.max(0, options.others ?? 0);
  if (described.length === 0) {
    return more === 0 ? 'no destinations seen' : `${more} destinations`;
  }
  const line = `${described.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  return routerWords(line, options.maxLength ?? ROUTER_WORDS_MAX);
}
