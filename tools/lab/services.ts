/**
 * The services of the lab's internet host, and the few bytes of DNS, NTP and SMTP both ends need to agree on. Each
 * service answers in its own protocol, so a test can tell which allow-listed service got through, not only that
 * some packet did.
 */

export const SERVICE_PORTS = {
  /** A camera cloud: a TCP sink that reports, every 100 ms, how many bytes it has received on the connection. */
  upload: 443,
  /** A UDP sink (a video stream), which never answers. */
  udpSink: 5004,
  dns: 53,
  ntp: 123,
  smtp: 25,
} as const;

export const DNS_QUERY_NAME = 'cloud.camera.example';
export const SMTP_BANNER = '220 mail.internet.example ESMTP camera-guard lab';

/** One event of the internet host, written as a JSON line on its standard output. */
export type InternetEvent =
  | { event: 'ready' }
  | { event: 'upload-closed'; from: string; bytes: number }
  | { event: 'udp-received'; from: string; bytes: number }
  | { event: 'answered'; service: 'dns' | 'ntp' | 'smtp'; from: string };

/** A DNS query for an A record, with recursion desired. */
export function dnsQuery(id: number, name: string): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The answer to a query: its question, and one A record with `address`. Undefined for a message that is not a query. */
export function dnsAnswer(query: Buffer, address: string): Buffer | undefined {
  if (query.length < 17 || (query.readUInt16BE(2) & 0x8000) !== 0 || query.readUInt16BE(4) !== 1) return undefined;
  let end = 12;
  while (end < query.length && query[end] !== 0) end += (query[end] ?? 0) + 1;
  const question = query.subarray(12, end + 5);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(1, 2);
  record.writeUInt16BE(1, 4);
  record.writeUInt32BE(60, 6);
  record.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
  return Buffer.concat([header, question, record]);
}

/** The address of the first A record of an answer to query `id`, or undefined when it is no such answer. */
export function dnsAnswerAddress(message: Buffer, id: number): string | undefined {
  if (message.length < 12 || message.readUInt16BE(0) !== id || (message.readUInt16BE(2) & 0x8000) === 0 || message.readUInt16BE(6) < 1) return undefined;
  return [...message.subarray(message.length - 4)].join('.');
}

/** An SNTP client request (version 4, mode 3). */
export function ntpRequest(): Buffer {
  const packet = Buffer.alloc(48);
  packet.writeUInt8(0x23, 0);
  return packet;
}

const NTP_EPOCH_OFFSET_SECONDS = 2_208_988_800;

/** A server reply (version 4, mode 4, stratum 2) carrying the current time; undefined for a packet that is no request. */
export function ntpReply(request: Buffer, now: Date): Buffer | undefined {
  if (request.length < 48 || ((request[0] ?? 0) & 0x07) !== 3) return undefined;
  const packet = Buffer.alloc(48);
  packet.writeUInt8(0x24, 0);
  packet.writeUInt8(2, 1);
  request.copy(packet, 24, 40, 48);
  const seconds = Math.floor(now.getTime() / 1000) + NTP_EPOCH_OFFSET_SECONDS;
  packet.writeUInt32BE(seconds, 32);
  packet.writeUInt32BE(seconds, 40);
  return packet;
}

/** The server time in a reply, or undefined when the packet is not a server reply. */
export function ntpReplyTime(packet: Buffer): Date | undefined {
  if (packet.length < 48 || ((packet[0] ?? 0) & 0x07) !== 4) return undefined;
  return new Date((packet.readUInt32BE(40) - NTP_EPOCH_OFFSET_SECONDS) * 1000);
}

/** What the camera traffic tool writes: upload progress lines, then one outcome line. */
export type TrafficReport = { acked: number } | { ok: boolean; detail: string };
