/**
 * The lab's test DNS server: it must answer the plugin's reverse look-ups (node's resolver, as ReverseNames uses it)
 * with the names it was given, IPv4 and IPv6, and nothing for any other address, so a lab test's names can only come
 * from it. Runs on loopback, without root.
 */
import { promises as dns } from 'node:dns';

import { ReverseNameServer, reverseQueryName } from '../../tools/lab/reverseNameServer';

describe('the lab\'s reverse name server', () => {
  let server: ReverseNameServer;
  let resolver: dns.Resolver;

  beforeEach(async () => {
    server = await ReverseNameServer.start('127.0.0.1', { '203.0.113.11': 'relay-one.camera-lab.example', '2001:db8:ffff::11': 'relay-six.camera-lab.example' });
    resolver = new dns.Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([server.server]);
  });

  afterEach(async () => {
    resolver.cancel();
    await server.close();
  });

  it('asks the names the kernel and the resolver use for an address', () => {
    expect(reverseQueryName('203.0.113.11')).toBe('11.113.0.203.in-addr.arpa');
    expect(reverseQueryName('2001:db8:ffff::11')).toBe(`1.1.0.0.${'0.'.repeat(16)}f.f.f.f.8.b.d.0.1.0.0.2.ip6.arpa`);
  });

  it('answers node\'s reverse look-ups with the names it holds, IPv4 and IPv6, and records who was asked about', async () => {
    expect(await resolver.reverse('203.0.113.11')).toEqual(['relay-one.camera-lab.example']);
    expect(await resolver.reverse('2001:db8:ffff::11')).toEqual(['relay-six.camera-lab.example']);
    expect(server.answered).toEqual(['203.0.113.11', '2001:db8:ffff::11']);
  });

  it('has no name for any other address, and looks nothing up elsewhere', async () => {
    await expect(resolver.reverse('203.0.113.12')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4('cloud.camera-lab.example')).rejects.toMatchObject({ code: 'EREFUSED' });
    expect(server.answered).toEqual([]);
  });
});
