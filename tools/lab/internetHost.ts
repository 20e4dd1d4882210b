/**
 * The lab's internet host, run inside its namespace: `node internetHost.js <address> [<address>...]` (its IPv4
 * and IPv6 addresses, each served alike). It plays every server
 * the cameras and the NVR talk to (see SERVICE_PORTS) and reports what it received as JSON lines on standard
 * output. It exits when its standard input closes, so it never outlives the lab process that started it.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

import { SERVICE_PORTS, SMTP_BANNER, dnsAnswer, ntpReply } from './services';
import type { InternetEvent } from './services';

/** A connection that sends nothing for this long is dropped (a blocked upload never finishes on its own). */
const IDLE_TIMEOUT_MS = 60_000;
const UPLOAD_REPORT_MS = 100;

function report(event: InternetEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function sourceOf(socket: Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function listen(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
}

/** Counts what a camera uploads and tells it, every 100 ms, how much has arrived. */
function uploadSink(): Server {
  return createServer((socket) => {
    const from = sourceOf(socket);
    let received = 0;
    let reported = 0;
    const timer = setInterval(() => {
      if (received !== reported && socket.writable) {
        reported = received;
        socket.write(`${received}\n`);
      }
    }, UPLOAD_REPORT_MS);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      report({ event: 'upload-closed', from, bytes: received });
    });
  });
}

/** DNS over TCP: each message is preceded by its length. */
function dnsTcpServer(address: string): Server {
  return createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + query.length);
        const answer = dnsAnswer(query, address);
        if (answer === undefined) continue;
        const length = Buffer.alloc(2);
        length.writeUInt16BE(answer.length);
        socket.write(Buffer.concat([length, answer]));
        report({ event: 'answered', service: 'dns', from: sourceOf(socket) });
      }
    });
  });
}

function smtpServer(): Server {
  return createServer((socket) => {
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.write(`${SMTP_BANNER}\r\n`);
    report({ event: 'answered', service: 'smtp', from: sourceOf(socket) });
    socket.on('data', (chunk: Buffer) => {
      if (/^QUIT/im.test(chunk.toString('latin1'))) socket.end('221 Bye\r\n');
      else socket.write('250 OK\r\n');
    });
  });
}

/** A UDP service: `handle` reports the datagram and returns the reply, or undefined to stay silent. */
function udpService(address: string, port: number, handle: (message: Buffer, from: string) => Buffer | undefined): Promise<void> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (message, peer) => {
    const reply = handle(message, peer.address);
    if (reply !== undefined) socket.send(reply, peer.port, peer.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => resolve());
  });
}

function answered(service: 'dns' | 'ntp', from: string, reply: Buffer | undefined): Buffer | undefined {
  if (reply !== undefined) report({ event: 'answered', service, from });
  return reply;
}

/** The name DNS resolves to: the internet host's IPv4 address (an A record), whichever address was asked. */
function serve(address: string, answerAddress: string): Promise<void>[] {
  return [
    listen(uploadSink(), address, SERVICE_PORTS.upload),
    listen(dnsTcpServer(answerAddress), address, SERVICE_PORTS.dns),
    listen(smtpServer(), address, SERVICE_PORTS.smtp),
    udpService(address, SERVICE_PORTS.dns, (query, from) => answered('dns', from, dnsAnswer(query, answerAddress))),
    udpService(address, SERVICE_PORTS.ntp, (request, from) => answered('ntp', from, ntpReply(request, new Date()))),
    udpService(address, SERVICE_PORTS.udpSink, (datagram, from) => {
      report({ event: 'udp-received', from, bytes: datagram.length });
      return undefined;
    }),
  ];
}

async function main(): Promise<void> {
  const addresses = process.argv.slice(2);
  const answerAddress = addresses.find((address) => !address.includes(':'));
  if (answerAddress === undefined) throw new Error('usage: internetHost.js <IPv4 address> [<IPv6 address>...]');
  await Promise.all(addresses.flatMap((address) => serve(address, answerAddress)));
  process.stdin.once('end', () => process.exit(0));
  process.stdin.resume();
  report({ event: 'ready' });
}

main().catch((error: unknown) => {
  console.error(`internet host: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
