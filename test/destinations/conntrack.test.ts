import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import {
  MAX_CONNTRACK_LINE_LENGTH,
  MAX_DESTINATIONS,
  MAX_FLOWS,
  destinationsOfCamera,
  parseConntrack,
  parseConntrackAccounting,
} from '../../src/destinations/conntrack';

/** The verbatim conntrack-tools sample, its notes (lines starting with `#`) left out. */
const SAMPLE = readFileSync(join(__dirname, '../fixtures/edgeos/generic_conntrack_L_conntrack-tools.txt'), 'utf8')
  .split('\n')
  .filter((line) => !line.startsWith('#'))
  .join('\n');

/**
 * Lines in the shape conntrack-tools prints for the cases the public sample lacks (IPv6, ICMP, ICMPv6, `-o extended`,
 * a GRE flow), written after conntrack-tools' printer; the lab must capture the real ones (docs/design/destinations.md).
 */
const CONSTRUCTED = [
  'icmp     1 29 src=192.168.1.50 dst=8.8.8.8 type=8 code=0 id=4711 src=8.8.8.8 dst=203.0.113.2 type=0 code=0 id=4711 mark=0 use=1',
  'icmpv6   58 29 src=2001:db8:1::50 dst=2606:4700::1111 type=128 code=0 id=9 [UNREPLIED] src=2606:4700::1111 dst=2001:db8:1::50 type=129 code=0 id=9 mark=0 use=1',
  'ipv6     10 tcp      6 299 ESTABLISHED src=2001:db8:1::50 dst=2a00:1450:4001::5 sport=50000 dport=443 packets=10 bytes=2000 src=2a00:1450:4001::5 dst=2001:db8:1::50 sport=443 dport=50000 packets=8 bytes=900 [ASSURED] mark=0 use=1',
  'ipv4     2 udp      17 29 src=192.168.1.50 dst=47.96.1.2 sport=40001 dport=8000 [UNREPLIED] src=47.96.1.2 dst=203.0.113.2 sport=8000 dport=40001 mark=0 use=1',
  // The kernel's TCP state names include SYN_SENT2 (simultaneous open).
  'tcp      6 120 SYN_SENT2 src=192.168.1.50 dst=198.51.100.9 sport=5000 dport=5000 src=198.51.100.9 dst=203.0.113.2 sport=5000 dport=5000 mark=0 use=1',
  'gre      47 179 src=192.168.1.50 dst=198.51.100.9 srckey=0x0 dstkey=0x0 src=198.51.100.9 dst=203.0.113.2 srckey=0x0 dstkey=0x0 mark=0 use=1',
].join('\n');

describe('reading conntrack -L', () => {
  it('reads every flow of the public sample, with counters only where accounting was on, and passes over the stderr summary', () => {
    const listing = parseConntrack(SAMPLE);
    expect(listing.skipped).toBe(0);
    expect(listing.truncated).toBe(false);
    expect(listing.flows).toHaveLength(4);
    const [first, , counted, udp] = listing.flows;
    expect(first).toEqual({
      family: 'ipv4',
      protocol: 'tcp',
      protocolNumber: 6,
      state: 'ESTABLISHED',
      original: { src: '10.0.2.2', dst: '10.0.2.15', sport: 49911, dport: 22 },
      reply: { src: '10.0.2.15', dst: '10.0.2.2', sport: 22, dport: 49911 },
      unreplied: false,
    });
    expect(counted!.original).toEqual({ src: '192.168.35.116', dst: '216.58.213.227', sport: 49862, dport: 443, packets: 11, bytes: 1337 });
    expect(counted!.reply).toEqual({ src: '216.58.213.227', dst: '192.168.35.116', sport: 443, dport: 49862, packets: 8, bytes: 716 });
    expect(udp).toMatchObject({ protocol: 'udp', unreplied: true, original: { dst: '1.1.1.1', dport: 53 } });
    expect(udp!.state).toBeUndefined();
  });

  it('reads ICMP, ICMPv6, IPv6, the extended form and other transports', () => {
    const { flows, skipped } = parseConntrack(CONSTRUCTED);
    expect(skipped).toBe(0);
    expect(flows.map((flow) => [flow.family, flow.protocol, flow.protocolNumber])).toEqual([
      ['ipv4', 'icmp', 1],
      ['ipv6', 'icmpv6', 58],
      ['ipv6', 'tcp', 6],
      ['ipv4', 'udp', 17],
      ['ipv4', 'tcp', 6],
      ['ipv4', 'other', 47],
    ]);
    expect(flows[4]!.state).toBe('SYN_SENT2');
    expect(flows[0]!.original).toEqual({ src: '192.168.1.50', dst: '8.8.8.8', icmpType: 8, icmpCode: 0 });
    expect(flows[1]!.unreplied).toBe(true);
  });

  it('skips and counts what conntrack never prints, without throwing', () => {
    const bad = [
      'garbage',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=99999 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=2001:db8::1 sport=1 dport=2 src=2001:db8::1 dst=10.0.0.1 sport=2 dport=1',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 packets=1 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 bytes=99999999999999999999 packets=1 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 src=1.1.1.1',
      'constructor 6 10 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1',
      'icmp 1 10 src=2001:db8::1 dst=2001:db8::2 type=8 code=0 id=1 src=2001:db8::2 dst=2001:db8::1 type=0 code=0 id=1',
      `tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 ${'x'.repeat(MAX_CONNTRACK_LINE_LENGTH)}`,
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=\u001b[2J',
      'tcp 6 10 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 use=1 h\u00e9',
    ];
    const listing = parseConntrack([...bad, 'udp 17 29 src=10.0.0.5 dst=1.1.1.1 sport=40000 dport=53 [UNREPLIED] src=1.1.1.1 dst=10.0.0.5 sport=53 dport=40000 mark=0 use=1'].join('\r\n'));
    expect(listing.skipped).toBe(bad.length);
    expect(listing.flows).toHaveLength(1);
  });

  it('stops at MAX_FLOWS flows and says so', () => {
    const line = 'udp 17 29 src=10.0.0.5 dst=1.1.1.1 sport=40000 dport=53 src=1.1.1.1 dst=10.0.0.5 sport=53 dport=40000 mark=0 use=1\n';
    const listing = parseConntrack(line.repeat(MAX_FLOWS + 10));
    expect(listing.flows).toHaveLength(MAX_FLOWS);
    expect(listing.truncated).toBe(true);
  });

  it('never throws on arbitrary text', () => {
    const words = fc.constantFrom('tcp', '6', '10', 'src=10.0.0.1', 'dst=::1', 'sport=1', 'dport=2', '[UNREPLIED]', 'packets=1', 'bytes=2', '=', '[', 'src=', 'type=8', 'code=0', '\n', ' ');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.array(words, { maxLength: 60 }).map((parts) => parts.join(' '))), (text) => {
        const listing = parseConntrack(text);
        expect(listing.flows.length + listing.skipped).toBeLessThanOrEqual(text.split('\n').length);
      }),
    );
  });
});

describe('a camera’s flows per destination', () => {
  const flows = parseConntrack(
    [
      'tcp 6 300 ESTABLISHED src=192.168.1.50 dst=47.96.1.2 sport=40000 dport=8000 packets=10 bytes=5000 src=47.96.1.2 dst=203.0.113.2 sport=8000 dport=40000 packets=5 bytes=400 [ASSURED] mark=0 use=1',
      'tcp 6 300 ESTABLISHED src=192.168.1.50 dst=47.96.1.2 sport=40002 dport=8000 packets=2 bytes=1000 src=47.96.1.2 dst=203.0.113.2 sport=8000 dport=40002 packets=1 bytes=100 [ASSURED] mark=0 use=1',
      'udp 17 29 src=192.168.1.50 dst=192.168.1.1 sport=5353 dport=53 packets=1 bytes=70 src=192.168.1.1 dst=192.168.1.50 sport=53 dport=5353 packets=1 bytes=140 mark=0 use=1',
      'tcp 6 300 ESTABLISHED src=2001:db8:1::50 dst=2a00:1450:4001::5 sport=50000 dport=443 packets=3 bytes=9000 src=2a00:1450:4001::5 dst=2001:db8:1::50 sport=443 dport=50000 packets=3 bytes=300 [ASSURED] mark=0 use=1',
      // A port forward to the camera: the internet host opened it, the camera answers.
      'tcp 6 300 ESTABLISHED src=198.51.100.20 dst=203.0.113.2 sport=61000 dport=8443 packets=4 bytes=400 src=192.168.1.50 dst=198.51.100.20 sport=443 dport=61000 packets=6 bytes=60000 [ASSURED] mark=0 use=1',
      'tcp 6 300 ESTABLISHED src=192.168.1.77 dst=47.96.1.2 sport=40000 dport=8000 packets=1 bytes=1 src=47.96.1.2 dst=203.0.113.2 sport=8000 dport=40000 packets=1 bytes=1 mark=0 use=1',
    ].join('\n'),
  ).flows;

  it('adds up flows, bytes and packets per destination, busiest first, over the camera’s IPv4 and IPv6 addresses', () => {
    const summary = destinationsOfCamera(flows, ['192.168.1.50', '2001:0db8:0001:0000:0000:0000:0000:0050']);
    expect(summary.accounting).toBe('on');
    expect(summary.otherDestinations).toBe(0);
    expect(summary.destinations).toEqual([
      { address: '198.51.100.20', protocol: 'tcp', protocolNumber: 6, port: 443, direction: 'incoming', flows: 1, unreplied: 0, traffic: { bytesSent: 60000, bytesReceived: 400, packetsSent: 6, packetsReceived: 4 } },
      { address: '2a00:1450:4001::5', protocol: 'tcp', protocolNumber: 6, port: 443, direction: 'outgoing', flows: 1, unreplied: 0, traffic: { bytesSent: 9000, bytesReceived: 300, packetsSent: 3, packetsReceived: 3 } },
      { address: '47.96.1.2', protocol: 'tcp', protocolNumber: 6, port: 8000, direction: 'outgoing', flows: 2, unreplied: 0, traffic: { bytesSent: 6000, bytesReceived: 500, packetsSent: 12, packetsReceived: 6 } },
      { address: '192.168.1.1', protocol: 'udp', protocolNumber: 17, port: 53, direction: 'outgoing', flows: 1, unreplied: 0, traffic: { bytesSent: 70, bytesReceived: 140, packetsSent: 1, packetsReceived: 1 } },
    ]);
  });

  it('says accounting is off, and gives no volume, when the flows carry no counters', () => {
    const summary = destinationsOfCamera(parseConntrack(SAMPLE).flows, ['10.0.0.5']);
    expect(summary.accounting).toBe('off');
    expect(summary.destinations).toEqual([{ address: '1.1.1.1', protocol: 'udp', protocolNumber: 17, port: 53, direction: 'outgoing', flows: 1, unreplied: 1 }]);
  });

  it('says accounting is unknown for a camera without flows', () => {
    expect(destinationsOfCamera(flows, ['192.168.1.99'])).toEqual({ destinations: [], otherDestinations: 0, accounting: 'unknown' });
  });

  it('keeps the busiest MAX_DESTINATIONS destinations and counts the rest', () => {
    const many = Array.from({ length: MAX_DESTINATIONS + 5 }, (_, i) => `udp 17 29 src=10.0.0.5 dst=198.51.${Math.floor(i / 250)}.${i % 250} sport=4000 dport=53 src=198.51.${Math.floor(i / 250)}.${i % 250} dst=10.0.0.5 sport=53 dport=4000 mark=0 use=1`);
    const summary = destinationsOfCamera(parseConntrack(many.join('\n')).flows, ['10.0.0.5']);
    expect(summary.destinations).toHaveLength(MAX_DESTINATIONS);
    expect(summary.otherDestinations).toBe(5);
  });

  it('reads the router’s accounting switch', () => {
    expect(parseConntrackAccounting('1\n')).toBe(true);
    expect(parseConntrackAccounting('0')).toBe(false);
    expect(parseConntrackAccounting('cat: /proc/sys/net/netfilter/nf_conntrack_acct: No such file or directory')).toBeUndefined();
  });
});
