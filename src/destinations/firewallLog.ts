/**
 * Reads the kernel's firewall log lines for the plugin's own rules: where a blocked camera tried to go.
 *
 * With `log enable` on a rule, EdgeOS's firewall compiler puts a LOG row before the rule's action row, with the
 * prefix `[<RULESET>-<N>-<A|D|R>]` (the ruleset name cut to 19 characters). The kernel writes one line per logged
 * packet, the prefix glued to the packet's description, and rsyslog files it in /var/log/messages:
 *
 *     Dec  3 12:00:01 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC=… SRC=192.168.1.50
 *         DST=47.96.1.2 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF PROTO=TCP SPT=40000 DPT=8000 WINDOW=29200
 *         RES=0x00 SYN URGP=0
 *
 * IPv6 lines carry `SRC=`/`DST=` with all eight groups written out, `TC= HOPLIMIT= FLOWLBL=`, and
 * `PROTO=ICMPv6 TYPE= CODE=`; an ICMP error quotes the packet it is about in `[…]`, which is not read.
 * See docs/design/destinations.md for the sources.
 *
 * The log is the router's and holds every daemon's lines: lines without one of the wanted prefixes are passed over;
 * a wanted line that is too long, holds bytes the kernel never writes, or lacks an address, is skipped and counted.
 * Nothing here throws.
 */
import { addressFamily, canonicalAddress } from './address';
import type { TransportProtocol } from './conntrack';
import { forEachLine } from './lines';

/** The longest log line read: the kernel's LOG lines stay under 1 KiB (printk's line limit). */
export const MAX_LOG_LINE_LENGTH = 2048;
/** The most attempts read from one chunk of log; the chunk itself is bounded on the router (see logCursor). */
export const MAX_ATTEMPTS = 20_000;
/** The most destinations kept per rule (the most tried first); the rest are counted. */
export const MAX_ATTEMPT_DESTINATIONS = 200;

/** How much of a ruleset's name EdgeOS keeps in a log prefix (ubnt-fw's Rule::get_log_prefix). */
export const LOG_PREFIX_NAME_LENGTH = 19;

/** The prefix EdgeOS gives the LOG row of rule `rule` of `ruleSet`, as it appears in the log. */
export function logPrefixOf(ruleSet: string, rule: number, action: 'accept' | 'drop' | 'reject'): string {
  return `[${ruleSet.slice(0, LOG_PREFIX_NAME_LENGTH)}-${rule}-${action.charAt(0).toUpperCase()}]`;
}

/** One logged packet of a wanted rule. */
export interface LoggedPacket {
  /** The rule's prefix as logged, e.g. `[CAMGUARD_OUT-4017-D]`. */
  readonly prefix: string;
  /** The syslog time stamp as written (`Dec  3 12:00:01`, or rsyslog's ISO form); undefined when there is none. */
  readonly time?: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly protocol: TransportProtocol;
  /** The IP protocol number, where the line names it or gives it as a number; undefined for AH/ESP/UDP-Lite names. */
  readonly protocolNumber?: number;
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface FirewallLogReading {
  readonly packets: LoggedPacket[];
  /** Lines with a wanted prefix that could not be read. */
  readonly skipped: number;
  /** More than MAX_ATTEMPTS packets: the rest were not read. */
  readonly truncated: boolean;
}

const PRINTABLE = /^[\x20-\x7e\t]*$/;
const SYSLOG_TIME = /^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}/;
const ISO_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,15}(Z|[+-][0-9]{2}:[0-9]{2})?/;
const NAMED_PROTOCOLS: Readonly<Record<string, { protocol: TransportProtocol; number?: number }>> = {
  TCP: { protocol: 'tcp', number: 6 },
  UDP: { protocol: 'udp', number: 17 },
  UDPLITE: { protocol: 'other', number: 136 },
  ICMP: { protocol: 'icmp', number: 1 },
  ICMPv6: { protocol: 'icmpv6', number: 58 },
  AH: { protocol: 'other', number: 51 },
  ESP: { protocol: 'other', number: 50 },
};

/**
 * The packets logged under any of `prefixes` (exact prefixes, as logPrefixOf makes them) in a chunk of the router's
 * log. Lines of other rules and other daemons are passed over without being looked at further.
 */
export function parseFirewallLog(text: string, prefixes: readonly string[]): FirewallLogReading {
  const wanted = new Set(prefixes);
  const packets: LoggedPacket[] = [];
  let skipped = 0;
  let truncated = false;
  forEachLine(text, (line) => {
    const found = findPrefix(line);
    if (found === undefined || !wanted.has(found.prefix)) {
      return true;
    }
    if (packets.length >= MAX_ATTEMPTS) {
      truncated = true;
      return false;
    }
    const packet = line.length > MAX_LOG_LINE_LENGTH || !PRINTABLE.test(line) ? undefined : readPacket(line, found);
    if (packet === undefined) {
      skipped++;
    } else {
      packets.push(packet);
    }
    return true;
  });
  return { packets, skipped, truncated };
}

interface FoundPrefix {
  readonly prefix: string;
  /** Where the packet's description (`IN=…`) starts. */
  readonly body: number;
  /** Where the prefix starts. */
  readonly start: number;
}

/** The LOG prefix of a line: the `[…]` right before the first `IN=` (glued to it, or one space apart). */
function findPrefix(line: string): FoundPrefix | undefined {
  // Only the head is searched: a prefix is at most 31 characters after a time stamp, a host name and `kernel:`.
  const head = line.length > MAX_LOG_LINE_LENGTH ? line.slice(0, 512) : line;
  const body = head.indexOf('IN=');
  if (body < 2) {
    return undefined;
  }
  const close = head.charAt(body - 1) === ']' ? body - 1 : head.charAt(body - 1) === ' ' && head.charAt(body - 2) === ']' ? body - 2 : -1;
  if (close < 0) {
    return undefined;
  }
  const start = head.lastIndexOf('[', close);
  if (start < 0 || close - start > 40) {
    return undefined;
  }
  return { prefix: head.slice(start, close + 1), body, start };
}

function readPacket(line: string, found: FoundPrefix): LoggedPacket | undefined {
  // The packet's own fields end where an ICMP error starts quoting the packet it is about.
  const quote = line.indexOf('[', found.body);
  const fields = new Map<string, string>();
  for (const word of line.slice(found.body, quote < 0 ? line.length : quote).split(' ')) {
    const equals = word.indexOf('=');
    if (equals > 0 && !fields.has(word.slice(0, equals))) {
      fields.set(word.slice(0, equals), word.slice(equals + 1));
    }
  }
  const src = canonicalAddress(fields.get('SRC') ?? '');
  const dst = canonicalAddress(fields.get('DST') ?? '');
  const protoText = fields.get('PROTO');
  if (src === undefined || dst === undefined || protoText === undefined || addressFamily(src) !== addressFamily(dst)) {
    return undefined;
  }
  const family = addressFamily(src);
  const named = Object.hasOwn(NAMED_PROTOCOLS, protoText) ? NAMED_PROTOCOLS[protoText] : undefined;
  const number = /^[0-9]{1,3}$/.test(protoText) ? Number(protoText) : undefined;
  if ((named === undefined && (number === undefined || number > 255)) || (named?.protocol === 'icmp' && family !== 'ipv4') || (named?.protocol === 'icmpv6' && family !== 'ipv6')) {
    return undefined;
  }
  const protocol = named?.protocol ?? 'other';
  const protocolNumber = named?.number ?? number;
  const field = (name: string, max: number): number | undefined | null => {
    const value = fields.get(name);
    if (value === undefined) {
      return undefined;
    }
    const parsed = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
    return parsed <= max ? parsed : null;
  };
  const sport = field('SPT', 65535);
  const dport = field('DPT', 65535);
  const icmpType = field('TYPE', 255);
  const icmpCode = field('CODE', 255);
  if (sport === null || dport === null || icmpType === null || icmpCode === null) {
    return undefined;
  }
  // A TCP or UDP line without ports is a fragment or a truncated packet: its destination port is unknown, and it is
  // kept as such. An ICMP line without a type is kept the same way.
  const time = timeOf(line.slice(0, found.start));
  return {
    prefix: found.prefix,
    ...(time === undefined ? {} : { time }),
    family,
    protocol,
    ...(protocolNumber === undefined ? {} : { protocolNumber }),
    src,
    dst,
    ...(protocol === 'tcp' || protocol === 'udp' ? { ...(sport === undefined ? {} : { sport }), ...(dport === undefined ? {} : { dport }) } : {}),
    ...(protocol === 'icmp' || protocol === 'icmpv6' ? { ...(icmpType === undefined ? {} : { icmpType }), ...(icmpCode === undefined ? {} : { icmpCode }) } : {}),
  };
}

function timeOf(head: string): string | undefined {
  const match = SYSLOG_TIME.exec(head) ?? ISO_TIME.exec(head);
  return match?.[0];
}

/** Where a blocked camera tried to go, under one rule, added up. */
export interface AttemptedDestination {
  readonly address: string;
  readonly protocol: TransportProtocol;
  readonly protocolNumber?: number;
  /** The destination port (TCP/UDP) when the lines gave it. */
  readonly port?: number;
  /** The ICMP type, for ICMP and ICMPv6. */
  readonly icmpType?: number;
  /** Logged packets: with a rate-limited log, a lower bound of the tries (the rule's counter has the exact sum). */
  readonly logged: number;
  readonly firstSeen?: string;
  readonly lastSeen?: string;
}

export interface RuleAttempts {
  /** The most logged first, at most MAX_ATTEMPT_DESTINATIONS. */
  readonly destinations: AttemptedDestination[];
  readonly otherDestinations: number;
  readonly logged: number;
}

/** The logged packets added up per rule prefix, then per destination address, protocol and port (or ICMP type). */
export function attemptsPerRule(packets: readonly LoggedPacket[]): Map<string, RuleAttempts> {
  const perRule = new Map<string, Map<string, { destination: Omit<AttemptedDestination, 'logged' | 'lastSeen'>; logged: number; lastSeen?: string }>>();
  for (const packet of packets) {
    let sums = perRule.get(packet.prefix);
    if (sums === undefined) {
      sums = new Map();
      perRule.set(packet.prefix, sums);
    }
    const port = packet.protocol === 'icmp' || packet.protocol === 'icmpv6' ? undefined : packet.dport;
    const key = `${packet.protocol} ${packet.protocolNumber ?? ''} ${packet.dst} ${port ?? ''} ${packet.icmpType ?? ''}`;
    const sum = sums.get(key);
    if (sum === undefined) {
      sums.set(key, {
        destination: {
          address: packet.dst,
          protocol: packet.protocol,
          ...(packet.protocolNumber === undefined ? {} : { protocolNumber: packet.protocolNumber }),
          ...(port === undefined ? {} : { port }),
          ...(packet.icmpType === undefined ? {} : { icmpType: packet.icmpType }),
          ...(packet.time === undefined ? {} : { firstSeen: packet.time }),
        },
        logged: 1,
        ...(packet.time === undefined ? {} : { lastSeen: packet.time }),
      });
    } else {
      sum.logged++;
      if (packet.time !== undefined) {
        sum.lastSeen = packet.time;
      }
    }
  }
  const result = new Map<string, RuleAttempts>();
  for (const [prefix, sums] of perRule) {
    const all = [...sums.values()].map(({ destination, logged, lastSeen }) => ({ ...destination, logged, ...(lastSeen === undefined ? {} : { lastSeen }) }));
    all.sort((a, b) => b.logged - a.logged || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) || (a.port ?? 0) - (b.port ?? 0));
    result.set(prefix, {
      destinations: all.slice(0, MAX_ATTEMPT_DESTINATIONS),
      otherDestinations: Math.max(0, all.length - MAX_ATTEMPT_DESTINATIONS),
      logged: all.reduce((total, destination) => total + destination.logged, 0),
    });
  }
  return result;
}
