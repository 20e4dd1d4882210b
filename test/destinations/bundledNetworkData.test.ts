/**
 * The network data set installed with the plugin (issue 12: "an offline IP-to-ASN/country data set from the npm
 * registry, refreshed with the package"): where its files are, how old it is, what is missing, and that the real
 * tables name real networks. The oracle for the names is the published data (Google's AS15169, Cloudflare's
 * AS13335, Alibaba's AS37963), which anyone can check in a whois, not the project's own fixtures.
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BUNDLED_PACKAGES, bundledNetworkData, dataDate } from '../../src/destinations/bundledNetworkData';
import { NetworkLookup } from '../../src/destinations/networkLookup';
import type { LoadReport } from '../../src/destinations/networkLookup';
import { describeNetwork } from '../../src/destinations/summary';

jest.setTimeout(60_000);

describe('the date of the data', () => {
  it("reads ip-location-db's build time from the version, and nothing from any other shape", () => {
    expect(dataDate('2.3.2026061719')).toBe('2026-06-17');
    expect(dataDate('3.0.2027010100')).toBe('2027-01-01');
    expect(dataDate('2.3.2026023119')).toBeUndefined(); // 31 February
    expect(dataDate('2.3.2026130119')).toBeUndefined(); // month 13
    expect(dataDate('1.0.0')).toBeUndefined();
    expect(dataDate('2.3.2026061719-beta')).toBeUndefined();
    expect(dataDate(42)).toBeUndefined();
    expect(dataDate(undefined)).toBeUndefined();
  });
});

describe('finding the packages', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cg-bundled-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A package folder with this package.json text, as npm would unpack it. */
  const fakePackage = (name: string, manifest: string): string => {
    const folder = join(root, 'node_modules', name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'package.json'), manifest);
    return join(folder, 'package.json');
  };

  it('gives the table files of each package, dated by the older of the two', () => {
    const paths = new Map([
      ['@ip-location-db/asn', fakePackage('@ip-location-db/asn', '{"version":"2.3.2026061719"}')],
      ['@ip-location-db/asn-country', fakePackage('@ip-location-db/asn-country', '{"version":"2.3.2026052019"}')],
    ]);
    const found = bundledNetworkData((name) => paths.get(name) as string);
    expect(found).toEqual({
      files: {
        asnIpv4: join(root, 'node_modules/@ip-location-db/asn/asn-ipv4-num.csv'),
        asnIpv6: join(root, 'node_modules/@ip-location-db/asn/asn-ipv6-num.csv'),
        countryIpv4: join(root, 'node_modules/@ip-location-db/asn-country/asn-country-ipv4-num.csv'),
        countryIpv6: join(root, 'node_modules/@ip-location-db/asn-country/asn-country-ipv6-num.csv'),
      },
      dated: '2026-05-20',
      missing: [],
    });
  });

  it('says which package is missing or has an unreadable package.json, and keeps the other', () => {
    const country = fakePackage('@ip-location-db/asn-country', '{"version":"0.0.1"}');
    const broken = fakePackage('@ip-location-db/asn', '{ not json');
    expect(bundledNetworkData((name) => (name === '@ip-location-db/asn-country' ? country : broken))).toEqual({
      files: { countryIpv4: expect.stringMatching(/asn-country-ipv4-num\.csv$/), countryIpv6: expect.stringMatching(/asn-country-ipv6-num\.csv$/) },
      missing: ['@ip-location-db/asn'],
    });
    const none = bundledNetworkData(() => {
      throw new Error('Cannot find module');
    });
    expect(none).toEqual({ files: {}, missing: ['@ip-location-db/asn', '@ip-location-db/asn-country'] });
  });
});

describe('the data set npm installed with the plugin', () => {
  const installed = bundledNetworkData();
  let lookup: NetworkLookup;
  const reports = new Map<string, LoadReport>();
  const errors: unknown[] = [];

  beforeAll(async () => {
    lookup = new NetworkLookup(installed.files, { onLoaded: (file, report) => reports.set(file, report), onError: (_file, error) => errors.push(error) });
    await lookup.load();
  });

  it('is installed with every table file, with a date', () => {
    expect(installed.missing).toEqual([]);
    expect(installed.dated).toMatch(/^20\d\d-\d\d-\d\d$/);
    const expected = Object.values(BUNDLED_PACKAGES).flatMap((entry) => Object.keys(entry.files));
    expect(Object.keys(installed.files).sort()).toEqual(expected.sort());
    for (const file of Object.values(installed.files)) {
      expect(existsSync(file as string) && statSync(file as string).size > 1_000_000).toBe(true);
    }
  });

  it('reads whole: hundreds of thousands of ranges, next to none skipped, none cut', () => {
    expect(errors).toEqual([]);
    expect(reports.size).toBe(4);
    for (const [file, report] of reports) {
      expect({ file, truncated: report.truncated }).toEqual({ file, truncated: false });
      expect(report.ranges).toBeGreaterThan(50_000);
      // ip-location-db's ASN table has one overlapping row (a data bug); skipping it is right, skipping many is not.
      expect(report.skipped).toBeLessThan(report.ranges / 10_000);
    }
  });

  it('names the networks of well-known addresses, IPv4 and IPv6, as their whois records do', () => {
    const named = (address: string): string => describeNetwork(lookup.lookUp(address));
    expect(named('8.8.8.8')).toBe('AS15169 Google LLC, US');
    expect(named('2001:4860:4860::8888')).toBe('AS15169 Google LLC, US');
    expect(named('::ffff:8.8.8.8')).toBe('AS15169 Google LLC, US');
    expect(named('104.16.0.1')).toMatch(/^AS13335 Cloudflare, Inc\., /);
    expect(named('2606:4700:4700::1111')).toMatch(/^AS13335 Cloudflare, Inc\., /);
    expect(named('47.96.1.2')).toMatch(/^AS37963 .*Alibaba.*, CN$/);
    expect(named('120.24.0.1')).toMatch(/^AS37963 .*Alibaba.*, CN$/);
    // Private, documentation and loopback addresses are held by no network.
    for (const address of ['192.168.1.10', '10.0.0.1', '203.0.113.5', '127.0.0.1', 'fe80::1', '2001:db8::1']) {
      expect({ address, network: lookup.lookUp(address) }).toEqual({ address, network: undefined });
    }
  });
});
