/**
 * A test DNS server on the lab's own network, for the names of where cameras go: it answers PTR queries for the
 * addresses it is given, with the names it is given, says "no such name" (NXDOMAIN) for every other PTR and refuses
 * anything else. It never asks another server: a name comes from here or from nowhere.
 *
 * It listens on one address of this machine (the lab's own end of the LAN, HOMEBRIDGE_HOST, or loopback) on a port
 * the system picks; the plugin is pointed at it with its `nameServers` setting (`198.51.100.254:<port>`).
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const TYPE_PTR = 12;
const CLASS_IN = 1;
const TTL_SECONDS = 60;
const RCODE_NXDOMAIN = 3;
const RCODE_REFUSED = 5;

/** The full IPv6 address as 32 hex digits. */
function ipv6Nibbles(address: string): string {
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const groups = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = address.includes('::') ? [...groups(head), ...Array<string>(missing).fill('0'), ...groups(tail)] : groups(head);
  return all.map((group) => group.padStart(4, '0')).join('');
}

/** The name a PTR query for `address` asks about: `10.113.0.203.in-addr.arpa`, or the nibbles under `ip6.arpa`. */
export function reverseQueryName(address: string): string {
  if (isIPv6(address)) return `${[...ipv6Nibbles(address)].reverse().join('.')}.ip6.arpa`;
  return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
}

function encodeName(name: string): Buffer {
  const labels = name.split('.').filter((label) => label !== '');
  return Buffer.concat([...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])), Buffer.from([0])]);
}

/** The question of a query: its name (lower case), type and class, and where it ends; undefined when it is none. */
function questionOf(query: Buffer): { name: string; type: number; end: number } | undefined {
  if (query.length < 17 || (query.readUInt16BE(2) & 0x8000) !== 0 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query[at] ?? 0;
    if (length > 63 || at + 1 + length > query.length) return undefined;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('ascii').toLowerCase());
    at += length + 1;
  }
  if (at + 5 > query.length) return undefined;
  return { name: labels.join('.'), type: query.readUInt16BE(at + 1), end: at + 5 };
}

/** The answer to one query: one PTR record, NXDOMAIN or REFUSED. Undefined for a message that is not a query. */
export function reverseAnswer(query: Buffer, names: ReadonlyMap<string, string>): Buffer | undefined {
  const question = questionOf(query);
  if (question === undefined) return undefined;
  const name = question.type === TYPE_PTR ? names.get(question.name) : undefined;
  const rcode = name !== undefined ? 0 : question.type === TYPE_PTR ? RCODE_NXDOMAIN : RCODE_REFUSED;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // A response, authoritative, recursion desired and available, and the rcode.
  header.writeUInt16BE(0x8580 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(name === undefined ? 0 : 1, 6);
  const parts = [header, query.subarray(12, question.end)];
  if (name !== undefined) {
    const data = encodeName(name);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(TYPE_PTR, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SECONDS, 6);
    record.writeUInt16BE(data.length, 10);
    parts.push(record, data);
  }
  return Buffer.concat(parts);
}

export class ReverseNameServer {
  /** The addresses asked about, in order (one entry per query answered with a name). */
  readonly answered: string[] = [];

  private constructor(
    private readonly socket: Socket,
    /** `address:port`, as the plugin's `nameServers` takes it. */
    readonly server: string,
  ) {}

  /** Starts answering on `address` (a port the system picks) with `names`: IP address → host name. */
  static async start(address: string, names: Readonly<Record<string, string>>): Promise<ReverseNameServer> {
    const byQuery = new Map(Object.entries(names).map(([ip, name]) => [reverseQueryName(ip), name]));
    const byName = new Map(Object.keys(names).map((ip) => [reverseQueryName(ip), ip]));
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const port = socket.address().port;
    const server = new ReverseNameServer(socket, isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`);
    socket.on('error', () => undefined);
    socket.on('message', (query, peer) => {
      const answer = reverseAnswer(query, byQuery);
      if (answer === undefined) return;
      const asked = byName.get(questionOf(query)?.name ?? '');
      if (asked !== undefined) server.answered.push(asked);
      socket.send(answer, peer.port, peer.address);
    });
    return server;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
