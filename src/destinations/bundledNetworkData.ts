/**
 * The network data set that comes with the plugin: ip-location-db's ASN table (`@ip-location-db/asn`: AS number and
 * holder's name, from RouteViews and DB-IP) and its country table (`@ip-location-db/asn-country`: the country each
 * range is registered in, from the five RIRs via the NRO), both from the npm registry.
 *
 * They are optional dependencies: `npm install` brings them with the plugin and an update of the plugin brings their
 * newest release within the range package.json allows, but an owner short of disk can leave them out
 * (`npm install --omit=optional`), and then destinations are shown without network names, which the log says once.
 * Both are CC BY 4.0 data: the README and the settings page's Status view credit their sources.
 *
 * Nothing here reads the tables themselves: `NetworkLookup` does, on first use (networkLookup.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { NetworkDataFiles } from './networkLookup';

/** The packages and the files of each that the look-up reads (ip-location-db's numeric layout). */
export const BUNDLED_PACKAGES = {
  asn: { name: '@ip-location-db/asn', files: { asnIpv4: 'asn-ipv4-num.csv', asnIpv6: 'asn-ipv6-num.csv' } },
  country: { name: '@ip-location-db/asn-country', files: { countryIpv4: 'asn-country-ipv4-num.csv', countryIpv6: 'asn-country-ipv6-num.csv' } },
} as const;

/** Who to credit, as the data's licences ask: said in the log when the data is read; the Status view and the README credit them with links. */
export const BUNDLED_CREDIT = 'ip-location-db (CC BY 4.0), from RouteViews, DB-IP and the NRO';

export interface BundledNetworkData {
  /** The table files of the packages that are installed. */
  readonly files: NetworkDataFiles;
  /** The date the data was built, from the package versions (`2.3.2026061719` is 2026-06-17); the oldest if they differ. */
  readonly dated?: string;
  /** Packages that are not installed (or unreadable), by name. */
  readonly missing: readonly string[];
}

/**
 * The date in an ip-location-db version: its third part is the build time, `YYYYMMDDHH`. Undefined for any other
 * shape, or a date that is not one.
 */
export function dataDate(version: unknown): string | undefined {
  const match = typeof version === 'string' ? /^\d+\.\d+\.(\d{4})(\d{2})(\d{2})\d{2}$/.exec(version) : null;
  if (match === null) {
    return undefined;
  }
  const [, year, month, day] = match;
  const date = `${year}-${month}-${day}`;
  const parsed = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date ? undefined : date;
}

/** Where a package's package.json is; throws when it is not installed. Replaced in tests. */
export type ResolvePackage = (name: string) => string;

const resolveInstalled: ResolvePackage = (name) => require.resolve(`${name}/package.json`);

/** Finds the installed data packages, without reading their tables. */
export function bundledNetworkData(resolvePackage: ResolvePackage = resolveInstalled): BundledNetworkData {
  const files: Record<string, string> = {};
  const dates: string[] = [];
  const missing: string[] = [];
  for (const { name, files: tables } of Object.values(BUNDLED_PACKAGES)) {
    let manifest: string;
    let version: unknown;
    try {
      manifest = resolvePackage(name);
      version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
    } catch {
      missing.push(name);
      continue;
    }
    for (const [key, file] of Object.entries(tables)) {
      files[key] = join(dirname(manifest), file);
    }
    const date = dataDate(version);
    if (date !== undefined) {
      dates.push(date);
    }
  }
  dates.sort();
  return { files, ...(dates[0] === undefined ? {} : { dated: dates[0] }), missing };
}
