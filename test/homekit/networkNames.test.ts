/**
 * Destinations are named with the networks that hold them out of the box (issue 12): with no `networkData` set, the
 * platform reads the ip-location-db data set installed with the plugin from the npm registry, and a leak trip line
 * names where a blocked camera tried to go. The oracle is the real data set (AS37963 is Alibaba's Hangzhou network,
 * AS15169 Google's), not anything written here; the traffic goes through the simulated router over real SSH.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { statusFileName } from '../../src/settings';
import type { StatusFileContent } from '../../src/homekit/statusFile';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

jest.setTimeout(60_000);

describe('network names from the data set installed with the plugin', () => {
  let sim: SimulatedRouterSetup;
  let h: Harness | undefined;

  beforeEach(async () => {
    sim = await startSimulatedRouter();
  });

  afterEach(async () => {
    h?.shutdown();
    h = undefined;
    await new Promise((done) => setTimeout(done, 100));
    await sim.dispose();
  });

  it("names a blocked camera's destinations in its leak trip line when networkData is not set, and says where the names come from", async () => {
    h = startPlatform({
      // Not set, as in an owner's config: the harness turns names off for other tests.
      networkData: undefined,
      pollSeconds: 1,
      leak: { attempts: 3, windowMinutes: 1, quietMinutes: 1 },
      routers: [
        {
          name: 'Home Router',
          host: '127.0.0.1',
          port: sim.port,
          username: SIM_USER,
          privateKeyFile: sim.privateKeyFile,
          hostKey: sim.hostKeyFingerprint,
          cameras: [{ name: 'Front door', address: '192.0.2.50' }],
        },
      ],
    });
    const harness = h;
    const status = () => JSON.parse(readFileSync(join(harness.storage, statusFileName(undefined)), 'utf8')) as StatusFileContent;
    // The data is read after the first reading, once; the line says its date and whom it credits.
    await until(() => harness.lines.some((line) => line.includes('installed with Camera Guard; destinations are named')), 'the network data to be read', 30_000);
    const loaded = harness.lines.filter((line) => line.includes('read the network data'));
    expect(loaded).toEqual([expect.stringMatching(/^INFO read the network data of 20\d\d-\d\d-\d\d installed with Camera Guard; .*\(ip-location-db \(CC BY 4\.0\), from RouteViews, DB-IP and the NRO\)\.$/)]);
    await until(() => {
      try {
        return status().routers[0]?.cameras[0]?.enforced === 'blocked';
      } catch {
        return false;
      }
    }, 'the router to enforce the block', 30_000);

    expect(await sim.router.sendTraffic({ from: '192.0.2.50', to: '47.96.1.2', protocol: 'tcp', port: 8000, packets: 4, bytes: 240 })).toBe('dropped');
    expect(await sim.router.sendTraffic({ from: '192.0.2.50', to: '8.8.8.8', protocol: 'udp', port: 53, packets: 1, bytes: 60 })).toBe('dropped');
    await until(() => harness.lines.some((line) => line.includes('LEAK: kept trying')), 'the leak trip line', 30_000);
    const trip = harness.lines.find((line) => line.includes('LEAK: kept trying')) as string;
    expect(trip).toContain('47.96.1.2 (AS37963 Hangzhou Alibaba Advertising Co.,Ltd., CN) tcp/8000');
    expect(trip).toContain('8.8.8.8 (AS15169 Google LLC, US) udp/53');
    // No warning about the data: it is installed and was read whole.
    expect(harness.lines.filter((line) => /network data/.test(line) && line.startsWith('WARN'))).toEqual([]);

    // The Status view says where the names come from, with the credit the data's licence asks for.
    await until(() => status().routers[0]?.cameras[0]?.destinations !== undefined, 'the status file to list destinations');
    expect(status().networkNames).toEqual([expect.stringMatching(/^Network names come from the ip-location-db data of 20\d\d-\d\d-\d\d installed with Camera Guard\.$/)]);
    expect(status().networkCredit).toBe(true);
  });

  it("says so when the owner's network data file is not in the layout it reads, and names what the other files know", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'cg-network-files-'));
    try {
      // A file in ip-location-db's dotted layout, not the numeric one: every line is left out.
      writeFileSync(join(folder, 'asn-ipv4.csv'), '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n47.96.0.0,47.127.255.255,37963,Alibaba\n');
      writeFileSync(join(folder, 'country-ipv4.csv'), '16777216,16777471,AU\n794820608,796917759,CN\n');
      h = startPlatform({
        networkData: { asnIpv4: join(folder, 'asn-ipv4.csv'), countryIpv4: join(folder, 'country-ipv4.csv') },
        pollSeconds: 1,
        leak: { attempts: 3, windowMinutes: 1, quietMinutes: 1 },
        routers: [
          { name: 'Home Router', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: [{ name: 'Front door', address: '192.0.2.50' }] },
        ],
      });
      const harness = h;
      await until(() => harness.lines.some((line) => line.includes('network data file')), 'the warning about the file', 30_000);
      expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([
        `WARN the network data file ${join(folder, 'asn-ipv4.csv')} holds 0 ranges and 2 lines that are not; addresses it should cover are shown without network names until it is replaced by a file in ip-location-db's numeric layout and Homebridge restarted.`,
      ]);
      const status = () => JSON.parse(readFileSync(join(harness.storage, statusFileName(undefined)), 'utf8')) as StatusFileContent;
      await until(() => {
        try {
          return status().routers[0]?.cameras[0]?.enforced === 'blocked';
        } catch {
          return false;
        }
      }, 'the router to enforce the block', 30_000);
      expect(await sim.router.sendTraffic({ from: '192.0.2.50', to: '47.96.1.2', protocol: 'tcp', port: 8000, packets: 4, bytes: 240 })).toBe('dropped');
      await until(() => harness.lines.some((line) => line.includes('LEAK: kept trying')), 'the leak trip line', 30_000);
      expect(harness.lines.find((line) => line.includes('LEAK: kept trying'))).toContain('to 47.96.1.2 (CN) tcp/8000');
      expect(status().networkNames).toEqual(['Network names come from the files set in "networkData".']);
      expect(status().networkCredit).toBe(false);
    } finally {
      h?.shutdown();
      h = undefined;
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('reads nothing and says names are off when networkData turns them off', async () => {
    h = startPlatform({
      networkData: { source: 'off' },
      pollSeconds: 1,
      routers: [
        { name: 'Home Router', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: [{ name: 'Front door', address: '192.0.2.50' }] },
      ],
    });
    const harness = h;
    const status = () => JSON.parse(readFileSync(join(harness.storage, statusFileName(undefined)), 'utf8')) as StatusFileContent;
    await until(() => {
      try {
        return status().routers[0]?.lastPoll !== undefined;
      } catch {
        return false;
      }
    }, 'a first poll in the status file');
    expect(status().networkNames).toEqual(['Network names are off ("networkData" source "off"): destinations are shown with their addresses and DNS names.']);
    expect(status().networkCredit).toBe(false);
    expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([]);
  });
});
