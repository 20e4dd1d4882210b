/**
 * Reads `conntrack -L` (conntrack-tools) output into flows, and adds a camera's flows up per destination: where an
 * allowed camera sends, and how much.
 *
 * The text comes from the router and is read as hostile: a line that is too long, holds bytes conntrack never prints
 * or does not have the shape below is skipped and counted, never guessed at, and nothing here throws. The shape
 * (conntrack-tools' default output, with `-o extended` adding the network layer in front):
 *
 *     [ipv4 2 | ipv6 10] tcp 6 431970 ESTABLISHED src=… dst=… sport=… dport=… [packets=… bytes=…] [UNREPLIED]
 *         src=… dst=… sport=… dport=… [packets=… bytes=…] [ASSURED] mark=0 use=1 [id=…]
 *
 * ICMP tuples carry `type= code= id=` instead of ports. `packets=`/`bytes=` are there only when the router counts
 * bytes per flow (`net.netfilter.nf_conntrack_acct=1`, off by default): without them a flow's volume is unknown,
 * and is reported as such rather than as zero.
 */
import { addressFamily, canonicalAddress } from './address';
import { forEachLine } from './lines';

/** The longest line read (conntrack's lines are a few hundred characters; a longer one is damaged or hostile). */
export const MAX_CONNTRACK_LINE_LENGTH = 4096;
/** The most flows read from one listing: a small router tracks a few thousand; more is not worth the memory. */
export const MAX_FLOWS = 20_000;
/** The most destinations one camera's summary keeps (the busiest first); the rest are counted, not listed. */
export const MAX_DESTINATIONS = 200;

export type TransportProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'other';

export interface FlowTuple {
  readonly src: string;
  readonly dst: string;
  /** TCP, UDP, SCTP, DCCP, UDP-Lite. */
  readonly sport?: number;
  readonly dport?: number;
  /** ICMP and ICMPv6. */
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** Only with accounting on. */
  readonly packets?: number;
  readonly bytes?: number;
}

export interface ConntrackFlow {
  readonly family: 'ipv4' | 'ipv6';
  /** The transport as the owner reads it; `protocolNumber` tells the `other` ones apart. */
  readonly protocol: TransportProtocol;
  readonly protocolNumber: number;
  /** TCP's state (`ESTABLISHED`, `SYN_SENT`, …); undefined for protocols without one. */
  readonly state?: string;
  /** As the sender sent it: for a camera's outgoing flow, camera → internet host, before NAT. */
  readonly original: FlowTuple;
  /** As the answer comes back: internet host → the router's WAN address, after NAT. */
  readonly reply: FlowTuple;
  /** No packet has come back yet (`[UNREPLIED]`): for a blocked camera, an attempt that went nowhere. */
  readonly unreplied: boolean;
}

export interface ConntrackListing {
  readonly flows: ConntrackFlow[];
  /** Lines that were not a flow nor conntrack's summary, and were left out. */
  readonly skipped: number;
  /** More than MAX_FLOWS flows: the rest were not read. */
  readonly truncated: boolean;
}

const PROTOCOLS: Readonly<Record<string, TransportProtocol>> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', icmpv6: 'icmpv6' };
/** What conntrack prints for a transport it has no name for, and the named ones it tracks besides TCP/UDP/ICMP. */
const OTHER_PROTOCOL_NAMES = new Set(['unknown', 'sctp', 'dccp', 'udplite', 'gre']);
/** A line conntrack-tools may print among the flows, on stderr, that is no flow and no damage. */
const SUMMARY = /^conntrack v[0-9.]{1,16} \(conntrack-tools\): [0-9]{1,9} flow entries have been (shown|deleted)\.$/;
/** What a line conntrack prints may hold: printable ASCII and blanks. */
const PRINTABLE = /^[\x20-\x7e\t]*$/;
const DIGITS = /^[0-9]{1,20}$/;
const STATE = /^[A-Z][A-Z0-9_]{0,15}$/;

/** Parses a whole `conntrack -L` listing. */
export function parseConntrack(text: string): ConntrackListing {
  const flows: ConntrackFlow[] = [];
  let skipped = 0;
  let truncated = false;
  forEachLine(text, (line) => {
    if (flows.length >= MAX_FLOWS) {
      truncated = true;
      return false;
    }
    const trimmed = line.trim();
    if (trimmed === '' || SUMMARY.test(trimmed)) {
      return true;
    }
    const flow = line.length > MAX_CONNTRACK_LINE_LENGTH || !PRINTABLE.test(line) ? undefined : parseConntrackLine(trimmed);
    if (flow === undefined) {
      skipped++;
    } else {
      flows.push(flow);
    }
    return true;
  });
  return { flows, skipped, truncated };
}

interface TupleReading {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  packets?: number;
  bytes?: number;
}

/** One flow line (already trimmed, printable, of bounded length), or undefined when it is not one. */
export function parseConntrackLine(line: string): ConntrackFlow | undefined {
  const words = line.split(/[ \t]+/);
  let at = 0;
  let declaredFamily: 'ipv4' | 'ipv6' | undefined;
  if (words[0] === 'ipv4' || words[0] === 'ipv6') {
    declaredFamily = words[0];
    if (words[1] !== (declaredFamily === 'ipv4' ? '2' : '10')) {
      return undefined;
    }
    at = 2;
  }
  const name = words[at];
  const numberText = words[at + 1];
  const timeout = words[at + 2];
  if (name === undefined || numberText === undefined || timeout === undefined || !/^[0-9]{1,3}$/.test(numberText) || !DIGITS.test(timeout)) {
    return undefined;
  }
  const protocolNumber = Number(numberText);
  const protocol = Object.hasOwn(PROTOCOLS, name) ? PROTOCOLS[name] : OTHER_PROTOCOL_NAMES.has(name) ? 'other' : undefined;
  if (protocol === undefined || protocolNumber > 255) {
    return undefined;
  }
  at += 3;
  let state: string | undefined;
  if (words[at] !== undefined && STATE.test(words[at]!)) {
    state = words[at];
    at++;
  }
  const tuples: TupleReading[] = [];
  let unreplied = false;
  for (; at < words.length; at++) {
    const word = words[at]!;
    if (word.startsWith('[') && word.endsWith(']')) {
      unreplied ||= word === '[UNREPLIED]';
      continue;
    }
    const equals = word.indexOf('=');
    if (equals <= 0) {
      return undefined;
    }
    const key = word.slice(0, equals);
    const value = word.slice(equals + 1);
    if (key === 'src') {
      if (tuples.length === 2) {
        return undefined;
      }
      tuples.push({});
    }
    const tuple = tuples[tuples.length - 1];
    if (tuple === undefined) {
      // Before the first tuple only a flow's own fields (`zone=`, `mark=`) could stand; conntrack prints none there.
      return undefined;
    }
    if (!readTupleField(tuple, key, value)) {
      return undefined;
    }
  }
  const [original, reply] = tuples;
  if (original === undefined || reply === undefined) {
    return undefined;
  }
  const originalTuple = finishTuple(original, protocol);
  const replyTuple = finishTuple(reply, protocol);
  if (originalTuple === undefined || replyTuple === undefined) {
    return undefined;
  }
  const family = addressFamily(originalTuple.src);
  if ((declaredFamily !== undefined && declaredFamily !== family) || [originalTuple.dst, replyTuple.src, replyTuple.dst].some((address) => addressFamily(address) !== family)) {
    return undefined;
  }
  if ((protocol === 'icmp' && family !== 'ipv4') || (protocol === 'icmpv6' && family !== 'ipv6')) {
    return undefined;
  }
  return { family, protocol, protocolNumber, ...(state === undefined ? {} : { state }), original: originalTuple, reply: replyTuple, unreplied };
}

/**
 * Records one `key=value` of a tuple; false when the value is not what conntrack prints. Keys a tuple does not use
 * (a GRE flow's `srckey=`, the flow's `mark=`, `use=`, `id=`, `zone=`, `secctx=`, `delta-time=`) are passed over.
 */
function readTupleField(tuple: TupleReading, key: string, value: string): boolean {
  const seen = (field: keyof TupleReading): boolean => tuple[field] !== undefined;
  switch (key) {
    case 'src':
    case 'dst': {
      const address = canonicalAddress(value);
      if (address === undefined || seen(key)) {
        return false;
      }
      tuple[key] = address;
      return true;
    }
    case 'sport':
    case 'dport':
    case 'type':
    case 'code': {
      const limit = key === 'sport' || key === 'dport' ? 65535 : 255;
      const field = key === 'type' ? 'icmpType' : key === 'code' ? 'icmpCode' : key;
      const number = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(number <= limit) || seen(field)) {
        return false;
      }
      tuple[field] = number;
      return true;
    }
    case 'packets':
    case 'bytes': {
      const number = DIGITS.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(number) || seen(key)) {
        return false;
      }
      tuple[key] = number;
      return true;
    }
    default:
      return /^[a-z][a-z0-9_-]{0,31}$/.test(key);
  }
}

function finishTuple(tuple: TupleReading, protocol: TransportProtocol): FlowTuple | undefined {
  const { src, dst } = tuple;
  if (src === undefined || dst === undefined) {
    return undefined;
  }
  const hasPorts = tuple.sport !== undefined && tuple.dport !== undefined;
  if ((protocol === 'tcp' || protocol === 'udp') && !hasPorts) {
    return undefined;
  }
  if ((protocol === 'icmp' || protocol === 'icmpv6') && (tuple.icmpType === undefined || tuple.icmpCode === undefined)) {
    return undefined;
  }
  // Counters come in pairs; one without the other is not what conntrack prints.
  if ((tuple.packets === undefined) !== (tuple.bytes === undefined)) {
    return undefined;
  }
  return { ...tuple, src, dst };
}

/** What one camera did with one destination, added up over its flows. */
export interface FlowDestination {
  /** The internet host (canonical text). */
  readonly address: string;
  readonly protocol: TransportProtocol;
  readonly protocolNumber: number;
  /** The port served: the host's (outgoing: where the camera sends to) or the camera's own (incoming: what the host reached). */
  readonly port?: number;
  /** Outgoing: the camera opened the flow. Incoming: the host did (a port forward to the camera). */
  readonly direction: 'outgoing' | 'incoming';
  readonly flows: number;
  /** Flows that never got an answer. */
  readonly unreplied: number;
  /** What the camera sent and received, when every flow here was counted; undefined with accounting off. */
  readonly traffic?: { readonly bytesSent: number; readonly bytesReceived: number; readonly packetsSent: number; readonly packetsReceived: number };
}

export interface CameraFlows {
  /** The busiest destinations first (most bytes sent, then most flows), at most MAX_DESTINATIONS. */
  readonly destinations: FlowDestination[];
  /** Destinations left out of the list above. */
  readonly otherDestinations: number;
  /** 'on' when every flow of the camera carried counters, 'off' when none did, 'partly' in between; 'unknown' with no flows. */
  readonly accounting: 'on' | 'off' | 'partly' | 'unknown';
}

/**
 * The flows of one camera (any of its addresses, IPv4 or IPv6), added up per destination, protocol and port.
 * A flow whose original sender is the camera is outgoing, keyed on where it went; one whose answer comes from the
 * camera (the camera was the target, behind a port forward) is incoming, keyed on who opened it.
 */
export function destinationsOfCamera(flows: readonly ConntrackFlow[], cameraAddresses: readonly string[]): CameraFlows {
  const camera = new Set(cameraAddresses.flatMap((address) => canonicalAddress(address) ?? []));
  interface Sum {
    address: string;
    protocol: TransportProtocol;
    protocolNumber: number;
    port?: number;
    direction: 'outgoing' | 'incoming';
    flows: number;
    unreplied: number;
    counted: number;
    bytesSent: number;
    bytesReceived: number;
    packetsSent: number;
    packetsReceived: number;
  }
  const sums = new Map<string, Sum>();
  let counted = 0;
  let seen = 0;
  for (const flow of flows) {
    const outgoing = camera.has(flow.original.src);
    if (!outgoing && !camera.has(flow.reply.src)) {
      continue;
    }
    seen++;
    const peer = outgoing ? flow.original.dst : flow.original.src;
    const port = outgoing ? flow.original.dport : flow.reply.sport;
    const sent = outgoing ? flow.original : flow.reply;
    const received = outgoing ? flow.reply : flow.original;
    const direction = outgoing ? 'outgoing' : 'incoming';
    const key = `${direction} ${flow.protocolNumber} ${peer} ${port ?? ''}`;
    let sum = sums.get(key);
    if (sum === undefined) {
      sum = { address: peer, protocol: flow.protocol, protocolNumber: flow.protocolNumber, ...(port === undefined ? {} : { port }), direction, flows: 0, unreplied: 0, counted: 0, bytesSent: 0, bytesReceived: 0, packetsSent: 0, packetsReceived: 0 };
      sums.set(key, sum);
    }
    sum.flows++;
    if (flow.unreplied) {
      sum.unreplied++;
    }
    if (sent.bytes !== undefined && received.bytes !== undefined) {
      counted++;
      sum.counted++;
      sum.bytesSent += sent.bytes;
      sum.bytesReceived += received.bytes;
      sum.packetsSent += sent.packets ?? 0;
      sum.packetsReceived += received.packets ?? 0;
    }
  }
  const all: FlowDestination[] = [...sums.values()].map((sum) => ({
    address: sum.address,
    protocol: sum.protocol,
    protocolNumber: sum.protocolNumber,
    ...(sum.port === undefined ? {} : { port: sum.port }),
    direction: sum.direction,
    flows: sum.flows,
    unreplied: sum.unreplied,
    ...(sum.counted === sum.flows
      ? { traffic: { bytesSent: sum.bytesSent, bytesReceived: sum.bytesReceived, packetsSent: sum.packetsSent, packetsReceived: sum.packetsReceived } }
      : {}),
  }));
  all.sort((a, b) => (b.traffic?.bytesSent ?? -1) - (a.traffic?.bytesSent ?? -1) || b.flows - a.flows || compareText(a.address, b.address) || (a.port ?? 0) - (b.port ?? 0));
  const accounting = seen === 0 ? 'unknown' : counted === seen ? 'on' : counted === 0 ? 'off' : 'partly';
  return { destinations: all.slice(0, MAX_DESTINATIONS), otherDestinations: Math.max(0, all.length - MAX_DESTINATIONS), accounting };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The command that makes the router count bytes per connection (until its next reboot), as the owner is told it. */
export const ACCOUNTING_ON_COMMAND = 'sudo sysctl -w net.netfilter.nf_conntrack_acct=1';

/**
 * Reads `/proc/sys/net/netfilter/nf_conntrack_acct` (`0` or `1`): whether the router counts bytes per flow. The
 * definite answer, where flows without counters can only suggest it is off.
 */
export function parseConntrackAccounting(text: string): boolean | undefined {
  const value = text.trim();
  return value === '1' ? true : value === '0' ? false : undefined;
}
