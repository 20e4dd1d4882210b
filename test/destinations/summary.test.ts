import { ROUTER_WORDS_MAX } from '../../src/log';
import { describeDestination, describeNetwork, formatBytes, summariseDestinations, type DestinationDescription } from '../../src/destinations/summary';

const ALIBABA: DestinationDescription = { address: '47.96.1.2', protocol: 'tcp', port: 8000, count: 312, unit: 'tries', network: { asn: 37963, name: 'Alibaba', country: 'CN' } };

describe('one destination in the owner’s words', () => {
  it('names the address, its network, the service and the tries', () => {
    expect(describeDestination(ALIBABA)).toBe('47.96.1.2 (AS37963 Alibaba, CN) tcp/8000, 312 tries');
  });

  it.each<[DestinationDescription, string]>([
    [{ address: '8.8.8.8', protocol: 'udp', port: 53, count: 1, unit: 'tries' }, '8.8.8.8 udp/53, 1 try'],
    [{ address: '8.8.8.8', protocol: 'icmp', icmpType: 8, count: 2, unit: 'tries' }, '8.8.8.8 icmp echo, 2 tries'],
    [{ address: '2606:4700::1111', protocol: 'icmpv6', icmpType: 1, count: 2, unit: 'tries' }, '2606:4700::1111 icmpv6 type 1, 2 tries'],
    [{ address: '198.51.100.1', protocol: 'other', protocolNumber: 47, count: 5, unit: 'flows' }, '198.51.100.1 protocol 47, 5 flows'],
    [{ address: '47.96.1.2', protocol: 'udp', count: 1, unit: 'flows', bytesSent: 1_340_000 }, '47.96.1.2 udp, 1 flow, 1.3 MB sent'],
    [
      { address: '2a00:1450:4001::5', protocol: 'tcp', port: 443, count: 3, unit: 'flows', hostName: 'fra16s48-in-x05.1e100.net', network: { asn: 15169, country: 'US' }, bytesSent: 912 },
      'fra16s48-in-x05.1e100.net [2a00:1450:4001::5] (AS15169, US) tcp/443, 3 flows, 912 B sent',
    ],
  ])('%j', (destination, line) => {
    expect(describeDestination(destination)).toBe(line);
  });

  it('cleans and cuts names that came from outside: a hostile PTR record or data set entry', () => {
    const line = describeDestination({
      ...ALIBABA,
      hostName: `evil\u001b[2J\u001b]0;owned\u0007.example\n${'a'.repeat(500)}`,
      network: { asn: -1, name: `Bad\u202eName ${'b'.repeat(200)}`, country: 'cn\n' },
    });
    // eslint-disable-next-line no-control-regex -- control characters are what must not be there.
    expect(line).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
    expect(line.length).toBeLessThan(200);
    expect(line).toMatch(/^evil\.example\S* \[47\.96\.1\.2\] \(Bad Name b+\.\.\.\) tcp\/8000, 312 tries$/);
  });

  it('says nothing of a network it knows nothing of', () => {
    expect(describeNetwork(undefined)).toBe('');
    expect(describeNetwork({})).toBe('');
    expect(describeNetwork({ country: 'DE' })).toBe('DE');
  });

  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [45_600, '46 kB'],
    [3_200_000_000, '3.2 GB'],
  ])('%d bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('several destinations in one line', () => {
  const others: DestinationDescription[] = [
    { address: '8.8.8.8', protocol: 'udp', port: 53, count: 2, unit: 'tries' },
    { address: '1.1.1.1', protocol: 'udp', port: 53, count: 1, unit: 'tries' },
    { address: '9.9.9.9', protocol: 'udp', port: 53, count: 1, unit: 'tries' },
  ];

  it('describes the first few and counts the rest, including those the caller left out', () => {
    expect(summariseDestinations([ALIBABA, ...others], { shown: 2, others: 4 })).toBe('47.96.1.2 (AS37963 Alibaba, CN) tcp/8000, 312 tries; 8.8.8.8 udp/53, 2 tries; and 6 more');
    expect(summariseDestinations([ALIBABA])).toBe('47.96.1.2 (AS37963 Alibaba, CN) tcp/8000, 312 tries');
  });

  it('says when there is nothing to name', () => {
    expect(summariseDestinations([])).toBe('no destinations seen');
    expect(summariseDestinations([], { others: 3 })).toBe('3 destinations');
  });

  it('stays within the log’s bound however many are shown', () => {
    const many = Array.from({ length: 50 }, (_, i): DestinationDescription => ({ ...ALIBABA, address: `47.96.1.${i}` }));
    expect(summariseDestinations(many, { shown: 50 }).length).toBeLessThanOrEqual(ROUTER_WORDS_MAX);
    expect(summariseDestinations(many, { shown: 50, maxLength: 80 })).toHaveLength(80);
  });
});
