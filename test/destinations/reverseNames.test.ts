/**
 * Reverse names against a DNS server this test runs on 127.0.0.1 (a tiny UDP responder, never a real resolver): the
 * name arrives without anyone waiting on it, hostile names are cleaned where they are shown, and the cache and the
 * number of look-ups at a time stay bounded.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';

import { ReverseNames, MAX_CACHED_NAMES, MAX_CONCURRENT_LOOKUPS, NOT_FOUND_TTL_MS } from '../../src/destinations/reverseNames';
import type { ReverseResolver } from '../../src/destinations/reverseNames';
import { describeDestination } from '../../src/destinations/summary';

/** A DNS server answering PTR questions from a table (NXDOMAIN otherwise), counting the questions it got. */
async function ptrServer(names: ReadonlyMap<string, string>): Promise<{ socket: Socket; port: number; questions: string[] }> {
  const socket = createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (query, peer) => {
    // The question: labels from byte 12, then type and class.
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const length = query[at] ?? 0;
      labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
      at += 1 + length;
    }
    const questionEnd = at + 5;
    const qname = labels.join('.');
    questions.push(qname);
    const name = names.get(qname);
    const header = Buffer.from(query.subarray(0, 12));
    header.writeUInt16BE(name === undefined ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(name === undefined ? 0 : 1, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10);
    const parts = [header, query.subarray(12, questionEnd)];
    if (name !== undefined) {
      const rdata = Buffer.concat([...name.split('.').map((label) => Buffer.concat([Buffer.from([Buffer.byteLength(label, 'latin1')]), Buffer.from(label, 'latin1')])), Buffer.from([0])]);
      const answer = Buffer.alloc(12);
      answer.writeUInt16BE(0xc00c, 0);
      answer.writeUInt16BE(12, 2);
      answer.writeUInt16BE(1, 4);
      answer.writeUInt32BE(300, 6);
      answer.writeUInt16BE(rdata.length, 10);
      parts.push(answer, rdata);
    }
    socket.send(Buffer.concat(parts), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, questions };
}

describe('reverse names', () => {
  let server: Awaited<ReturnType<typeof ptrServer>> | undefined;
  let names: ReverseNames | undefined;

  afterEach(async () => {
    names?.stop();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.socket.close(() => resolve())));
    server = undefined;
    names = undefined;
  });

  it('finds a name from the DNS server without anyone waiting on it, and remembers that an address has none', async () => {
    server = await ptrServer(new Map([['2.1.96.47.in-addr.arpa', 'cam-cloud.example.cn']]));
    names = new ReverseNames({ servers: [`127.0.0.1:${server.port}`] });
    names.lookUp(['47.96.1.2', '8.8.4.4']);
    // Nothing is there at once: the poll that asked goes on.
    expect(names.nameOf('47.96.1.2')).toBeUndefined();
    await names.whenIdle();
    expect(names.nameOf('47.96.1.2')).toBe('cam-cloud.example.cn');
    expect(names.nameOf('8.8.4.4')).toBeUndefined();
    // Both answers are cached: asking again sends nothing.
    names.lookUp(['47.96.1.2', '8.8.4.4']);
    await names.whenIdle();
    expect(server.questions).toEqual(['2.1.96.47.in-addr.arpa', '4.4.8.8.in-addr.arpa']);
  });

  it('shows a hostile PTR name only cleaned: no control characters, no forged log line, bounded', async () => {
    const hostile = `evil\u001b[2J.example.${'x'.repeat(60)}`;
    server = await ptrServer(new Map([['9.113.0.203.in-addr.arpa', hostile]]));
    names = new ReverseNames({ servers: [`127.0.0.1:${server.port}`] });
    names.lookUp(['203.0.113.9']);
    await names.whenIdle();
    const name = names.nameOf('203.0.113.9');
    expect(name).toContain('evil');
    const line = describeDestination({ address: '203.0.113.9', protocol: 'tcp', port: 443, count: 2, unit: 'tries', hostName: name });
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(line).toMatch(/\[203\.0\.113\.9\] tcp\/443, 2 tries$/);
    expect(line.length).toBeLessThan(120);
  });

  it('runs at most 4 look-ups at a time, caches at most 1,000 addresses, and retries a missing name after 10 minutes', async () => {
    let now = 0;
    let most = 0;
    let running = 0;
    const pending: (() => void)[] = [];
    const resolver: ReverseResolver = {
      reverse: () => {
        running++;
        most = Math.max(most, running);
        return new Promise<string[]>((_resolve, reject) =>
          pending.push(() => {
            running--;
            reject(new Error('ENOTFOUND'));
          }),
        );
      },
      cancel: () => undefined,
    };
    names = new ReverseNames({ resolver, now: () => now });
    const addresses = Array.from({ length: MAX_CACHED_NAMES + 200 }, (_, index) => `10.0.${index >> 8}.${index & 255}`);
    names.lookUp(addresses);
    const idle = names.whenIdle();
    // Answer each look-up as it is asked; more never run at once than the bound.
    while (pending.length > 0) {
      expect(names.inFlight).toBeLessThanOrEqual(MAX_CONCURRENT_LOOKUPS);
      pending.shift()?.();
      await Promise.resolve();
      await Promise.resolve();
    }
    await idle;
    expect(most).toBe(MAX_CONCURRENT_LOOKUPS);
    expect(names.cached).toBe(MAX_CACHED_NAMES);
    const asked = (): number => running;
    names.lookUp([addresses.at(-1) as string]);
    expect(asked()).toBe(0);
    now += NOT_FOUND_TTL_MS;
    names.lookUp([addresses.at(-1) as string]);
    expect(asked()).toBe(1);
    pending.shift()?.();
    await names.whenIdle();
  });
});
