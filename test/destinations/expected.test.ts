/** Which destinations are expected (issue 12): CIDRs of both families, IPv4-mapped IPv6, resolved and reverse names. */
import { expectedBy, isPublicAddress, parseExpectedDestination } from '../../src/destinations/expected';
import type { ExpectedDestination } from '../../src/destinations/expected';

function entries(...texts: string[]): ExpectedDestination[] {
  return texts.map((text) => {
    const parsed = parseExpectedDestination(text);
    if (!parsed.ok) throw new Error(`${text}: ${parsed.problem}`);
    return parsed.entry;
  });
}

describe('expected destinations', () => {
  it.each([
    ['203.0.113.7', '203.0.113.0/24', true],
    ['203.0.114.7', '203.0.113.0/24', false],
    ['1.1.1.1', '1.1.1.1', true],
    ['1.1.1.2', '1.1.1.1', false],
    ['0.0.0.1', '0.0.0.0/0', true],
    ['2001:db8:ffff::1', '2001:db8::/32', true],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::/32', true],
    ['2001:db9::1', '2001:db8::/32', false],
    ['2001:db8::1', '2001:db8::/127', true],
    ['2001:db8::2', '2001:db8::/127', false],
    ['2606:4700:4700::1111', '2606:4700:4700::1111', true],
    ['::ffff:203.0.113.9', '203.0.113.0/24', true],
    ['::ffff:cb00:7109', '203.0.113.0/24', true],
    ['203.0.113.9', '::ffff:203.0.113.0/120', true],
    ['1.1.1.1', '::/0', false],
    ['2001:db8::1', '0.0.0.0/0', false],
  ])('%s against %s: %s', (address, entry, expected) => {
    expect(expectedBy(address, entries(entry)) !== undefined).toBe(expected);
  });

  it('matches a name by the addresses it resolved to (A and AAAA), and by an equal reverse name, never by a suffix', () => {
    const list = entries('firmware.example.com');
    const addressesOf = (name: string): readonly string[] | undefined => (name === 'firmware.example.com' ? ['198.51.100.5', '2001:db8::5'] : undefined);
    expect(expectedBy('198.51.100.5', list, { addressesOf })?.label).toBe('firmware.example.com');
    expect(expectedBy('2001:db8:0:0::5', list, { addressesOf })).toBeDefined();
    expect(expectedBy('::ffff:198.51.100.5', list, { addressesOf })).toBeDefined();
    expect(expectedBy('198.51.100.6', list, { addressesOf })).toBeUndefined();
    expect(expectedBy('198.51.100.6', list)).toBeUndefined();
    expect(expectedBy('198.51.100.6', list, { nameOf: () => 'Firmware.Example.com.' })).toBeDefined();
    expect(expectedBy('198.51.100.6', list, { nameOf: () => 'evil.firmware.example.com' })).toBeUndefined();
    expect(expectedBy('198.51.100.6', list, { nameOf: () => 'firmware.example.com.evil.net' })).toBeUndefined();
  });

  it('tells addresses that leave by the WAN from LAN and special ones', () => {
    expect(['1.1.1.1', '203.0.113.9', '2606:4700::1', '2001:db8::1', '::ffff:8.8.8.8'].map(isPublicAddress)).toEqual([true, true, true, true, true]);
    expect(['10.0.0.1', '172.16.0.1', '192.168.1.10', '100.64.0.1', '127.0.0.1', '169.254.1.1', '224.0.0.1', 'fd00::1', 'fe80::1', '::1', 'ff02::1', '::ffff:192.168.1.1', 'junk'].map(isPublicAddress)).toEqual(
      new Array(13).fill(false),
    );
  });
});
