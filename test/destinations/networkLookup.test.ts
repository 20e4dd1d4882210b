import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MAX_RANGES, NetworkLookup, RangeTableBuilder, loadRangeFile, lookUpIn } from '../../src/destinations/networkLookup';
import { describeNetwork } from '../../src/destinations/summary';

const FIXTURES = join(__dirname, '../fixtures/destinations');
const FILES = {
  asnIpv4: join(FIXTURES, 'asn-ipv4-num.csv'),
  asnIpv6: join(FIXTURES, 'asn-ipv6-num.csv'),
  countryIpv4: join(FIXTURES, 'asn-country-ipv4-num.csv'),
  countryIpv6: join(FIXTURES, 'asn-country-ipv6-num.csv'),
};

describe('which network holds an address', () => {
  it('finds the range by binary search, at its bounds and inside, and nothing between ranges', async () => {
    const { table, report } = await loadRangeFile(FILES.asnIpv4, 'ipv4');
    expect(report).toEqual({ ranges: 5, skipped: 0, truncated: false });
    expect(lookUpIn(table, '47.96.1.2')).toEqual({ asn: 37963, name: 'Alibaba' });
    expect(lookUpIn(table, '47.96.0.0')).toEqual({ asn: 37963, name: 'Alibaba' });
    expect(lookUpIn(table, '47.127.255.255')).toEqual({ asn: 37963, name: 'Alibaba' });
    expect(lookUpIn(table, '47.128.0.0')).toBeUndefined();
    expect(lookUpIn(table, '0.0.0.1')).toBeUndefined();
    expect(lookUpIn(table, '255.255.255.255')).toBeUndefined();
    expect(lookUpIn(table, '1.0.0.7')).toEqual({ asn: 13335, name: 'Example Edge, Inc.' });
    expect(lookUpIn(table, '192.0.2.1')).toEqual({ asn: 64496, name: 'Doc "Quoted" Net' });
    expect(lookUpIn(table, '192.0.2.200')).toEqual({ asn: 64497 });
    expect(lookUpIn(table, '2001:db8::1')).toBeUndefined();
    expect(lookUpIn(table, 'not an address')).toBeUndefined();
  });

  it('reads IPv6 ranges, whatever spelling the address comes in', async () => {
    const { table } = await loadRangeFile(FILES.asnIpv6, 'ipv6');
    expect(lookUpIn(table, '2001:db8::50')).toEqual({ asn: 64499, name: 'Doc Six' });
    expect(lookUpIn(table, '2001:0db8:0001:0000:0000:0000:0000:0050')).toEqual({ asn: 64500, name: 'Six, Two' });
    expect(lookUpIn(table, '2a00:1450:4001::5')).toEqual({ asn: 15169, name: 'Example Search' });
    expect(lookUpIn(table, '2001:db8:2::1')).toBeUndefined();
    expect(lookUpIn(table, '::1')).toBeUndefined();
    expect(lookUpIn(table, '47.96.1.2')).toBeUndefined();
  });

  it('merges the ASN and country tables, loading them on first use and answering nothing until then', async () => {
    const loaded: string[] = [];
    const lookup = new NetworkLookup(FILES, { onLoaded: (file) => loaded.push(file) });
    expect(lookup.lookUp('47.96.1.2')).toBeUndefined();
    await lookup.load();
    expect(loaded).toHaveLength(4);
    expect(describeNetwork(lookup.lookUp('47.96.1.2'))).toBe('AS37963 Alibaba, CN');
    expect(describeNetwork(lookup.lookUp('2a00:1450:4001::5'))).toBe('AS15169 Example Search, US');
    expect(lookup.lookUp('203.0.113.1')).toBeUndefined();
  });

  it('names an IPv4-mapped IPv6 address (::ffff:47.96.1.2) by the IPv4 address it carries', async () => {
    const lookup = new NetworkLookup(FILES);
    await lookup.load();
    expect(describeNetwork(lookup.lookUp('::ffff:47.96.1.2'))).toBe('AS37963 Alibaba, CN');
    expect(describeNetwork(lookup.lookUp('::FFFF:2F60:0102'))).toBe('AS37963 Alibaba, CN');
    // Not mapped: ::47.96.1.2 (IPv4-compatible, long deprecated) and 64:ff9b::/96 are IPv6 addresses of their own.
    expect(lookup.lookUp('::2f60:102')).toBeUndefined();
    expect(lookup.lookUp('::ffff:1:2f60:102')).toBeUndefined();
  });

  it('answers without a file it could not read, says why, and says once when it is done how many it read', async () => {
    const errors: string[] = [];
    const done: [number, number][] = [];
    const lookup = new NetworkLookup({ asnIpv4: join(FIXTURES, 'missing.csv'), countryIpv4: FILES.countryIpv4 }, { onError: (file) => errors.push(file), onDone: (read, failed) => done.push([read, failed]) });
    await Promise.all([lookup.load(), lookup.load()]);
    await lookup.load();
    expect(done).toEqual([[1, 1]]);
    expect(errors).toEqual([join(FIXTURES, 'missing.csv')]);
    expect(lookup.lookUp('47.96.1.2')).toEqual({ country: 'CN' });
  });

  it('skips rows that are not ranges, out of order, overlapping or too big for the family', () => {
    const builder = new RangeTableBuilder('ipv4');
    for (const line of [
      '100,200,64496,One',
      'garbage',
      '150,300,64497,Overlaps',
      '50,60,64497,Out of order',
      '300,250,64497,Backwards',
      '400,500,99999999999,Too big an AS',
      '400,500,64498,"Unclosed',
      '400,500,64498,Bad"Quote',
      '400,500,CN',
      '4294967296,4294967297,64499,Not IPv4',
      `600,700,64500,${'x'.repeat(600)}`,
      '800,900,64501,Two',
      '',
    ]) {
      builder.add(line);
    }
    expect(builder.report()).toEqual({ ranges: 2, skipped: 10, truncated: false });
    const table = builder.build();
    expect(lookUpIn(table, '0.0.0.150')).toEqual({ asn: 64496, name: 'One' });
    expect(lookUpIn(table, '0.0.3.100')).toEqual({ asn: 64501, name: 'Two' });
  });

  it('reads a file line by line across its chunks: CRLF, no last newline, a line split between chunks, and an overlong line passed over whole', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'cg-ranges-'));
    try {
      const rows = Array.from({ length: 30_000 }, (_, i) => `${i * 10},${i * 10 + 9},${64_000 + (i % 500)},"Net ${i % 500}, Inc."`);
      // A line of 600 KiB (several chunks) in the middle, with digits and commas that must not be read as a range.
      rows.splice(15_000, 0, `${'9'.repeat(10)},${'1,'.repeat(300 * 1024)}`);
      const path = join(folder, 'asn.csv');
      writeFileSync(path, rows.join('\r\n'));
      const { table, report } = await loadRangeFile(path, 'ipv4');
      // Every range but the overlong line, which is one skipped row (not one per chunk it spans).
      expect(report).toEqual({ ranges: 30_000, skipped: 1, truncated: false });
      expect(lookUpIn(table, '0.0.0.5')).toEqual({ asn: 64_000, name: 'Net 0, Inc.' });
      const at = (i: number): string => {
        const n = i * 10 + 3;
        return [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255].join('.');
      };
      for (const i of [1, 6_553, 14_999, 15_000, 29_999]) {
        expect(lookUpIn(table, at(i))).toEqual({ asn: 64_000 + (i % 500), name: `Net ${i % 500}, Inc.` });
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('stops at its range bound (MAX_RANGES unless told) and says so', () => {
    expect(MAX_RANGES).toBeGreaterThan(412_000);
    const builder = new RangeTableBuilder('ipv4', 1000);
    for (let i = 0; i <= 1000; i++) {
      builder.add(`${i * 2},${i * 2},1,N`);
    }
    expect(builder.report()).toEqual({ ranges: 1000, skipped: 0, truncated: true });
  });
});
