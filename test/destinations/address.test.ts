import { addressFamily, canonicalAddress } from '../../src/destinations/address';

describe('one spelling per address', () => {
  it.each([
    ['192.168.1.50', '192.168.1.50'],
    // The LOG target's full form (printk %pI6) and conntrack's compressed form meet in RFC 5952's text.
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['fe80:0000:0000:0000:0000:0000:d842:501a', 'fe80::d842:501a'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    // One zero group is never shortened to `::`; of two equal runs the first is.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:1:1', '2001::1:0:0:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['64:ff9b::198.51.100.7', '64:ff9b::c633:6407'],
  ])('%s is %s', (text, canonical) => {
    expect(canonicalAddress(text)).toBe(canonical);
  });

  it.each(['', '256.1.1.1', '1.2.3', 'fe80::1%eth0', '2001:db8::1::2', 'x'.repeat(100), '2001:db8:1:2:3:4:5:6:7', 'not an address'])(
    '%j is not an address',
    (text) => {
      expect(canonicalAddress(text)).toBeUndefined();
    },
  );

  it('tells the families apart', () => {
    expect(addressFamily('10.0.0.1')).toBe('ipv4');
    expect(addressFamily('2001:db8::1')).toBe('ipv6');
  });
});
