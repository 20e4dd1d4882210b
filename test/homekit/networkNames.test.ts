/**
 * Destinations are named with the networks that hold them out of the box (issue 12): with no `networkData` set, the
 * platform reads the ip-location-db data set installed with the plugin from the npm registry, and a leak trip line
 * names where a blocked camera tried to go. The oracle is the real data set (AS37963 is Alibaba's Hangzhou network,
 * AS15169 Google's), not anything written here; the traffic goes through the simulated router over real SSH. An
 * owner who installed without the optional data, or gave a file in the wrong layout, is told in plain words.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type * as bundledModule from '../../src/destinations/bundledNetworkData';
import type { StatusFileContent } from '../../src/homekit/statusFile';
import { statusFileName } from '../../src/settings';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

type BundledModule = typeof bundledModule;

/** Packages a test pretends are not installed (none unless it says). */
let absent: string[] = [];

jest.mock('../../src/destinations/bundledNetworkData', () => {
  const actual = jest.requireActual<BundledModule>('../../src/destinations/bundledNetworkData');
  return {
    ...actual,
    // Node's own resolution, except for the packages a test removes: as require.resolve throws for them.
    bundledNetworkData: () =>
      actual.bundledNetworkData((name) => {
        if (absent.includes(name)) throw Object.assign(new Error(`Cannot find module '${name}/package.json'`), { code: 'MODULE_NOT_FOUND' });
        return require.resolve(`${name}/package.json`);
      }),
  };
});

jest.setTimeout(60_000);

const TRIP = 'LEAK: kept trying';

describe('network names for destinations', () => {
  let sim: SimulatedRouterSetup;
  let h: Harness | undefined;

  beforeEach(async () => {
    absent = [];
    sim = await startSimulatedRouter();
  });

  afterEach(async () => {
    h?.shutdown();
    h = undefined;
    await new Promise((done) => setTimeout(done, 100));
    await sim.dispose();
  });

  /** A platform with one camera on the simulated router, polled every second, tripping at 3 blocked packets. */
  const start = (networkData: unknown): Harness =>
    (h = startPlatform({
      // undefined is "not set", as in an owner's config (the harness turns names off for other tests).
      networkData,
      pollSeconds: 1,
      leak: { attempts: 3, windowMinutes: 1, quietMinutes: 1 },
      routers: [
        { name: 'Home Router', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: [{ name: 'Front door', address: '192.0.2.50' }] },
      ],
    }));
  const status = (harness: Harness): StatusFileContent | undefined => {
    try {
      return JSON.parse(readFileSync(join(harness.storage, statusFileName(undefined)), 'utf8')) as StatusFileContent;
    } catch {
      return undefined;
    }
  };
  const lineWith = (harness: Harness, text: string): Promise<string> =>
    until(() => harness.lines.some((line) => line.includes(text)), `a line with "${text}"`, 30_000).then(() => harness.lines.find((line) => line.includes(text)) as string);
  /** Once the router enforces the block, the camera tries 47.96.1.2 tcp/8000 (and whatever else is given), and trips. */
  const tripWith = async (harness: Harness, also: { to: string; protocol: 'tcp' | 'udp'; port: number }[] = []): Promise<string> => {
    await until(() => status(harness)?.routers[0]?.cameras[0]?.enforced === 'blocked', 'the router to enforce the block', 30_000);
    for (const { to, protocol, port, packets } of [{ to: '47.96.1.2', protocol: 'tcp' as const, port: 8000, packets: 4 }, ...also.map((one) => ({ ...one, packets: 1 }))]) {
      expect(await sim.router.sendTraffic({ from: '192.0.2.50', to, protocol, port, packets, bytes: packets * 60 })).toBe('dropped');
    }
    return lineWith(harness, TRIP);
  };

  it("names a blocked camera's destinations in its leak trip line when networkData is not set, and says where the names come from", async () => {
    const harness = start(undefined);
    // The data is read after the first reading, once; the line says its date and whom it credits.
    await lineWith(harness, 'installed with Camera Guard; destinations are named');
    expect(harness.lines.filter((line) => line.includes('read the network data'))).toEqual([
      expect.stringMatching(/^INFO read the network data of 20\d\d-\d\d-\d\d installed with Camera Guard; .*\(ip-location-db \(CC BY 4\.0\), from RouteViews, DB-IP and the NRO\)\.$/),
    ]);
    const trip = await tripWith(harness, [{ to: '8.8.8.8', protocol: 'udp', port: 53 }]);
    expect(trip).toContain('47.96.1.2 (AS37963 Hangzhou Alibaba Advertising Co.,Ltd., CN) tcp/8000');
    expect(trip).toContain('8.8.8.8 (AS15169 Google LLC, US) udp/53');
    // No warning about the data: it is installed and was read whole.
    expect(harness.lines.filter((line) => /network data/.test(line) && line.startsWith('WARN'))).toEqual([]);
    // The Status view says where the names come from, and credits the data as its licence asks.
    await until(() => status(harness)?.routers[0]?.cameras[0]?.destinations !== undefined, 'the status file to list destinations');
    expect(status(harness)?.networkNames).toEqual([expect.stringMatching(/^Network names come from the ip-location-db data of 20\d\d-\d\d-\d\d installed with Camera Guard\.$/)]);
    expect(status(harness)?.networkCredit).toBe(true);
  });

  it('says once that names are not shown when the data is not installed, and how to get them, and still guards and trips with addresses', async () => {
    absent = ['@ip-location-db/asn', '@ip-location-db/asn-country'];
    const harness = start(undefined);
    const trip = await tripWith(harness);
    expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([
      'WARN the network data that comes with Camera Guard is not installed (@ip-location-db/asn, @ip-location-db/asn-country), so destinations are shown without network names; ' +
        'reinstall Camera Guard without --omit=optional to get it, or set "networkData" to source "off" if you left it out on purpose.',
    ]);
    expect(trip).toContain('to 47.96.1.2 tcp/8000');
    expect(status(harness)?.networkNames).toEqual(['Network names are not shown: the network data that comes with Camera Guard is not installed (@ip-location-db/asn, @ip-location-db/asn-country).']);
    expect(status(harness)?.networkCredit).toBe(false);
  });

  it('names what it has when one of the two packages is missing, and says which', async () => {
    absent = ['@ip-location-db/asn'];
    const harness = start(undefined);
    await lineWith(harness, 'read the network data');
    expect(harness.lines.filter((line) => line.startsWith('WARN') && line.includes('network data'))).toEqual([expect.stringContaining('is not installed (@ip-location-db/asn), so destinations are shown without some network names')]);
    // The country is known, the AS is not.
    expect(await tripWith(harness)).toContain('to 47.96.1.2 (CN) tcp/8000');
    expect(status(harness)?.networkNames?.[0]).toMatch(/^Network names come from the ip-location-db data of 20\d\d-\d\d-\d\d installed with Camera Guard\. Not installed: @ip-location-db\/asn\.$/);
    expect(status(harness)?.networkCredit).toBe(true);
  });

  it("says so when the owner's network data file is not in the layout it reads, and names what the other files know", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'cg-network-files-'));
    try {
      // A file in ip-location-db's dotted layout, not the numeric one: every line is left out.
      writeFileSync(join(folder, 'asn-ipv4.csv'), '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n47.96.0.0,47.127.255.255,37963,Alibaba\n');
      writeFileSync(join(folder, 'country-ipv4.csv'), '16777216,16777471,AU\n794820608,796917759,CN\n');
      const harness = start({ asnIpv4: join(folder, 'asn-ipv4.csv'), countryIpv4: join(folder, 'country-ipv4.csv') });
      await lineWith(harness, 'network data file');
      expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([
        `WARN the network data file ${join(folder, 'asn-ipv4.csv')} holds 0 ranges and 2 lines that are not; addresses it should cover are shown without network names until it is replaced by a file in ip-location-db's numeric layout and Homebridge restarted.`,
      ]);
      expect(await tripWith(harness)).toContain('to 47.96.1.2 (CN) tcp/8000');
      expect(status(harness)?.networkNames).toEqual(['Network names come from the files set in "networkData".']);
      expect(status(harness)?.networkCredit).toBe(false);
    } finally {
      h?.shutdown();
      h = undefined;
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('reads nothing and says names are off when networkData turns them off', async () => {
    const harness = start({ source: 'off' });
    await until(() => status(harness)?.routers[0]?.lastPoll !== undefined, 'a first poll in the status file');
    expect(status(harness)?.networkNames).toEqual(['Network names are off ("networkData" source "off"): destinations are shown with their addresses and DNS names.']);
    expect(status(harness)?.networkCredit).toBe(false);
    expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([]);
  });
});
