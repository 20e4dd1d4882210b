/**
 * Traffic from a LAN host of the lab (a camera or the NVR), run inside the host's namespace:
 *
 *   ip netns exec cglab-cam1 node build/tools/lab/cameraTraffic.js connect 203.0.113.10 443
 *   … dns 203.0.113.10 | ntp 203.0.113.10 | smtp 203.0.113.10
 *   … upload 203.0.113.10 <bytes, 0 = until stopped> [bytes per second, 0 = as fast as it goes]
 *   … udp 203.0.113.10 <datagrams> [size]
 *
 * The internet address may be IPv6 (2001:db8:ffff::10): the traffic then goes out over IPv6, from the camera's
 * global address (or `--from <address>`, one of its others, as a privacy address would be picked).
 *
 * It writes JSON lines (see TrafficReport): upload progress as the internet host acknowledges it, then the outcome.
 * The exit status is 0 when the service answered (or the upload arrived), 1 when it did not.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

import { DNS_QUERY_NAME, SERVICE_PORTS, SMTP_BANNER, dnsAnswerAddress, dnsQuery, ntpReplyTime, ntpRequest } from './services';
import type { TrafficReport } from './services';

const ANSWER_TIMEOUT_MS = 2_000;
const UPLOAD_CHUNK_BYTES = 16 * 1024;
const UPLOAD_TICK_MS = 50;
/** A finite upload that has not been acknowledged in full after this long has failed. */
const UPLOAD_TIMEOUT_MS = 60_000;

class Failure extends Error {}

function emit(report: TrafficReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function withTimeout<T>(what: string, ms: number, start: (settle: (value: T) => void, fail: (error: Error) => void) => () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let cleanup: () => void = () => undefined;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Failure(`${what}: no answer within ${ms} ms`));
    }, ms);
    cleanup = start(
      (value) => {
        clearTimeout(timer);
        cleanup();
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        cleanup();
        reject(new Failure(`${what}: ${error.message}`));
      },
    );
  });
}

/** The source address the traffic must leave from (`--from`), or the system's choice. */
let localAddress: string | undefined;

function udpFamily(host: string): 'udp4' | 'udp6' {
  return host.includes(':') ? 'udp6' : 'udp4';
}

function tcpConnect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Failure(`TCP connect to ${host}:${port}: no answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Failure(`TCP connect to ${host}:${port}: ${error.message}`));
    });
  });
}

/** Binds a UDP socket to the `--from` address, if one was given. */
function bound(socket: ReturnType<typeof createSocket>): Promise<void> {
  if (localAddress === undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, localAddress, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

async function udpExchange(host: string, port: number, request: Buffer, what: string, accept: (reply: Buffer) => string | undefined): Promise<string> {
  const socket = createSocket(udpFamily(host));
  await bound(socket);
  return withTimeout<string>(what, ANSWER_TIMEOUT_MS, (settle, fail) => {
    socket.on('message', (reply) => {
      const detail = accept(reply);
      if (detail !== undefined) settle(detail);
    });
    socket.once('error', fail);
    socket.send(request, port, host);
    return () => socket.close();
  });
}

async function dns(server: string): Promise<string> {
  const id = Math.floor(Math.random() * 0xffff);
  const address = await udpExchange(server, SERVICE_PORTS.dns, dnsQuery(id, DNS_QUERY_NAME), `DNS query to ${server}`, (reply) => dnsAnswerAddress(reply, id));
  return `${DNS_QUERY_NAME} is ${address}`;
}

async function ntp(server: string): Promise<string> {
  const time = await udpExchange(server, SERVICE_PORTS.ntp, ntpRequest(), `NTP request to ${server}`, (reply) => ntpReplyTime(reply)?.toISOString());
  return `server time ${time}`;
}

async function smtp(server: string): Promise<string> {
  const socket = await tcpConnect(server, SERVICE_PORTS.smtp);
  try {
    const banner = await withTimeout<string>(`SMTP banner from ${server}`, ANSWER_TIMEOUT_MS, (settle) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.includes('\r\n')) settle(text.split('\r\n')[0] ?? '');
      });
      return () => socket.removeAllListeners('data');
    });
    if (banner !== SMTP_BANNER) throw new Failure(`unexpected SMTP banner: ${banner}`);
    socket.end('QUIT\r\n');
    return banner;
  } finally {
    socket.destroy();
  }
}

async function tcpConnectOnly(server: string, port: number): Promise<string> {
  const socket = await tcpConnect(server, port);
  socket.destroy();
  return `connected to ${server}:${port}`;
}

/**
 * Uploads to the sink, at a steady rate when one is given, and reports the sink's acknowledgements as they come.
 * With `total` 0 it never ends by itself: that is the long upload a blocked camera must have cut.
 */
async function upload(server: string, total: number, bytesPerSecond: number): Promise<string> {
  const socket = await tcpConnect(server, SERVICE_PORTS.upload);
  let acked = 0;
  let pending = '';
  const finished = new Promise<string>((resolve, reject) => {
    const timer = total > 0 ? setTimeout(() => reject(new Failure(`the sink acknowledged ${acked} of ${total} bytes within ${UPLOAD_TIMEOUT_MS} ms`)), UPLOAD_TIMEOUT_MS) : undefined;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const last = lines.pop();
      if (last === undefined) return;
      acked = Number(last);
      emit({ acked });
      if (total > 0 && acked >= total) {
        clearTimeout(timer);
        resolve(`uploaded ${acked} bytes`);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Failure(`upload: ${error.message}`));
    });
  });
  const chunk = Buffer.alloc(UPLOAD_CHUNK_BYTES, 0x5a);
  let sent = 0;
  const perTick = bytesPerSecond > 0 ? Math.max(1, Math.round((bytesPerSecond * UPLOAD_TICK_MS) / 1000)) : Infinity;
  const send = (): void => {
    let budget = perTick;
    while (budget > 0 && (total === 0 || sent < total) && socket.writable) {
      const size = Math.min(chunk.length, budget, total === 0 ? Infinity : total - sent);
      sent += size;
      budget -= size;
      if (!socket.write(chunk.subarray(0, size))) {
        socket.once('drain', send);
        return;
      }
    }
    if (total === 0 || sent < total) setTimeout(send, bytesPerSecond > 0 ? UPLOAD_TICK_MS : 0);
  };
  send();
  try {
    return await finished;
  } finally {
    socket.destroy();
  }
}

async function udpBurst(server: string, count: number, size: number): Promise<string> {
  const socket = createSocket(udpFamily(server));
  await bound(socket);
  const datagram = Buffer.alloc(size, 0x5a);
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => socket.send(datagram, SERVICE_PORTS.udpSink, server, (error) => (error ? reject(error) : resolve())));
    }
  } finally {
    socket.close();
  }
  return `sent ${count} datagrams of ${size} bytes`;
}

function numberArgument(value: string | undefined, fallback: number): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Failure(`not a number: ${value}`);
  return parsed;
}

function perform(args: string[]): Promise<string> {
  const [command, server = '', ...rest] = args;
  switch (command) {
    case 'connect':
      return tcpConnectOnly(server, numberArgument(rest[0], SERVICE_PORTS.upload));
    case 'dns':
      return dns(server);
    case 'ntp':
      return ntp(server);
    case 'smtp':
      return smtp(server);
    case 'upload':
      return upload(server, numberArgument(rest[0], 0), numberArgument(rest[1], 0));
    case 'udp':
      return udpBurst(server, numberArgument(rest[0], 10), numberArgument(rest[1], 1000));
    default:
      return Promise.reject(new Failure('usage: cameraTraffic.js connect|dns|ntp|smtp|upload|udp <internet address> [arguments]'));
  }
}

/** Takes `--from <address>` out of the arguments. */
function withoutFrom(args: string[]): string[] {
  const at = args.indexOf('--from');
  if (at < 0) return args;
  localAddress = args[at + 1];
  return [...args.slice(0, at), ...args.slice(at + 2)];
}

perform(withoutFrom(process.argv.slice(2))).then(
  (detail) => {
    emit({ ok: true, detail });
    process.exit(0);
  },
  (error: unknown) => {
    emit({ ok: false, detail: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
