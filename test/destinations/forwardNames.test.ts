/**
 * Forward look-ups of the host names in `allowDestinations`: nobody waits on them, a name that does not resolve is
 * said once and tried again later, the number at a time is bounded, and a server that never answers times out
 * (against a silent UDP socket on 127.0.0.1, never a real resolver).
 */
import { createSocket } from 'node:dgram';

import { ForwardNames, KEEP_MS, MAX_CONCURRENT_FORWARD, REFRESH_MS, RETRY_MS } from '../../src/destinations/forwardNames';
import type { ForwardResolver } from '../../src/destinations/forwardNames';

/** A resolver answering from tables, each question held until the test lets it go. */
function stubResolver(v4: Map<string, string[]>, v6: Map<string, string[]> = new Map()) {
  const pending: Array<() => void> = [];
  let asked = 0;
  const answer = (table: Map<string, string[]>, name: string): Promise<string[]> => {
    asked++;
    return new Promise((resolve, reject) =>
      pending.push(() => {
        const found = table.get(name);
        if (found === undefined) reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' }));
        else resolve(found);
      }),
    );
  };
  const resolver: ForwardResolver = { resolve4: (name) => answer(v4, name), resolve6: (name) => answer(v6, name), cancel: () => undefined };
  return {
    resolver,
    get asked() {
      return asked;
    },
    get waiting() {
      return pending.length;
    },
    release: () => pending.splice(0).forEach((go) => go()),
  };
}

describe('forward names', () => {
  it('finds A and AAAA addresses without anyone waiting, and says a name that does not resolve once, trying it again later', async () => {
    let now = 1_000_000;
    const notFound: string[] = [];
    const stub = stubResolver(new Map([['firmware.example.com', ['198.51.100.5']]]), new Map([['firmware.example.com', ['2001:0db8::5']]]));
    const names = new ForwardNames({ resolver: stub.resolver, now: () => now, onNotFound: (name, code) => notFound.push(`${name} ${code}`) });
    names.lookUp(['Firmware.Example.com', 'gone.example.com']);
    expect(names.addressesOf('firmware.example.com')).toBeUndefined();
    stub.release();
    await names.whenIdle();
    expect(names.addressesOf('firmware.example.com')).toEqual(['198.51.100.5', '2001:db8::5']);
    expect(names.addressesOf('gone.example.com')).toBeUndefined();
    expect(notFound).toEqual(['gone.example.com ENOTFOUND']);

    // Asked again at once: nothing is looked up (cached found, and the failure waits RETRY_MS).
    const before = stub.asked;
    names.lookUp(['firmware.example.com', 'gone.example.com']);
    expect(stub.asked).toBe(before);
    now += RETRY_MS;
    names.lookUp(['firmware.example.com', 'gone.example.com']);
    expect(stub.asked).toBe(before + 2);
    stub.release();
    await names.whenIdle();
    expect(notFound).toEqual(['gone.example.com ENOTFOUND']);
    now += REFRESH_MS - RETRY_MS;
    names.lookUp(['firmware.example.com']);
    expect(stub.asked).toBe(before + 4);
    stub.release();
    await names.whenIdle();
    names.stop();
  });

  it('keeps addresses found while refreshes fail, up to an hour, then forgets them', async () => {
    let now = 0;
    const table = new Map([['fw.example.com', ['203.0.113.1']]]);
    const stub = stubResolver(table);
    const names = new ForwardNames({ resolver: stub.resolver, now: () => now });
    names.lookUp(['fw.example.com']);
    stub.release();
    await names.whenIdle();
    table.clear();
    now = REFRESH_MS;
    names.lookUp(['fw.example.com']);
    stub.release();
    await names.whenIdle();
    expect(names.addressesOf('fw.example.com')).toEqual(['203.0.113.1']);
    now = KEEP_MS;
    expect(names.addressesOf('fw.example.com')).toBeUndefined();
    names.stop();
  });

  it(`runs at most ${MAX_CONCURRENT_FORWARD} look-ups at a time`, async () => {
    const stub = stubResolver(new Map());
    const names = new ForwardNames({ resolver: stub.resolver });
    names.lookUp(Array.from({ length: 10 }, (_, index) => `host${index}.example.com`));
    expect(names.inFlight).toBe(MAX_CONCURRENT_FORWARD);
    for (let round = 0; round < 3; round++) {
      stub.release();
      await new Promise((resolve) => setImmediate(resolve));
      expect(names.inFlight).toBeLessThanOrEqual(MAX_CONCURRENT_FORWARD);
    }
    stub.release();
    await names.whenIdle();
    stub.release();
    await names.whenIdle();
    names.stop();
  });

  it('gives up on a server that never answers after its timeout, and says so once', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const notFound: string[] = [];
    const names = new ForwardNames({ servers: [`127.0.0.1:${silent.address().port}`], onNotFound: (name, code) => notFound.push(`${name} ${code}`) });
    try {
      const started = Date.now();
      names.lookUp(['fw.example.com']);
      await names.whenIdle();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(notFound).toEqual(['fw.example.com ETIMEOUT']);
      expect(names.addressesOf('fw.example.com')).toBeUndefined();
    } finally {
      names.stop();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 20_000);
});
