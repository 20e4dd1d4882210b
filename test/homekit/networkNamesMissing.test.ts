/**
 * An owner who installed Camera Guard without its optional network data (`npm install --omit=optional`, or an
 * install that failed halfway) is told once, in plain words, and the cameras are guarded as before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type * as bundledModule from '../../src/destinations/bundledNetworkData';
import { statusFileName } from '../../src/settings';
import type { StatusFileContent } from '../../src/homekit/statusFile';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

type BundledModule = typeof bundledModule;

/** Which packages this test pretends are not installed. */
let absent: string[] = [];

jest.mock('../../src/destinations/bundledNetworkData', () => {
  const actual = jest.requireActual<BundledModule>('../../src/destinations/bundledNetworkData');
  return {
    ...actual,
    // Node's own resolution, except for the packages this test removes: as require.resolve throws for them.
    bundledNetworkData: () =>
      actual.bundledNetworkData((name) => {
        if (absent.includes(name)) throw Object.assign(new Error(`Cannot find module '${name}/package.json'`), { code: 'MODULE_NOT_FOUND' });
        return require.resolve(`${name}/package.json`);
      }),
  };
});

jest.setTimeout(60_000);

describe('without the network data installed', () => {
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

  const start = (): Harness =>
    startPlatform({
      networkData: undefined,
      pollSeconds: 1,
      leak: { attempts: 3, windowMinutes: 1, quietMinutes: 1 },
      routers: [
        { name: 'Home Router', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: [{ name: 'Front door', address: '192.0.2.50' }] },
      ],
    });
  const status = (harness: Harness): StatusFileContent | undefined => {
    try {
      return JSON.parse(readFileSync(join(harness.storage, statusFileName(undefined)), 'utf8')) as StatusFileContent;
    } catch {
      return undefined;
    }
  };
  const blocked = (harness: Harness): Promise<void> => until(() => status(harness)?.routers[0]?.cameras[0]?.enforced === 'blocked', 'the router to enforce the block', 30_000);

  it('says once that names are not shown and how to get them, and still guards and trips with addresses', async () => {
    absent = ['@ip-location-db/asn', '@ip-location-db/asn-country'];
    const harness = (h = start());
    await blocked(harness);
    expect(harness.lines.filter((line) => line.includes('network data'))).toEqual([
      'WARN the network data that comes with Camera Guard is not installed (@ip-location-db/asn, @ip-location-db/asn-country), so destinations are shown without network names; ' +
        'reinstall Camera Guard without --omit=optional to get it, or set "networkData" to source "off" if you left it out on purpose.',
    ]);
    expect(await sim.router.sendTraffic({ from: '192.0.2.50', to: '47.96.1.2', protocol: 'tcp', port: 8000, packets: 4, bytes: 240 })).toBe('dropped');
    await until(() => harness.lines.some((line) => line.includes('LEAK: kept trying')), 'the leak trip line', 30_000);
    expect(harness.lines.find((line) => line.includes('LEAK: kept trying'))).toContain('to 47.96.1.2 tcp/8000');
    expect(status(harness)?.networkNames).toEqual(['Network names are not shown: the network data that comes with Camera Guard is not installed (@ip-location-db/asn, @ip-location-db/asn-country).']);
    expect(status(harness)?.networkCredit).toBe(false);
  });

  it('names what it has when one of the two packages is missing, and says which', async () => {
    absent = ['@ip-location-db/asn'];
    const harness = (h = start());
    await until(() => harness.lines.some((line) => line.includes('read the network data')), 'the country data to be read', 30_000);
    expect(harness.lines.filter((line) => line.startsWith('WARN') && line.includes('network data'))).toEqual([expect.stringContaining('is not installed (@ip-location-db/asn), so destinations are shown without some network names')]);
    await blocked(harness);
    expect(await sim.router.sendTraffic({ from: '192.0.2.50', to: '47.96.1.2', protocol: 'tcp', port: 8000, packets: 4, bytes: 240 })).toBe('dropped');
    await until(() => harness.lines.some((line) => line.includes('LEAK: kept trying')), 'the leak trip line', 30_000);
    // The country is known, the AS is not.
    expect(harness.lines.find((line) => line.includes('LEAK: kept trying'))).toContain('to 47.96.1.2 (CN) tcp/8000');
    expect(status(harness)?.networkNames?.[0]).toMatch(/^Network names come from the ip-location-db data of 20\d\d-\d\d-\d\d installed with Camera Guard\. Not installed: @ip-location-db\/asn\.$/);
    expect(status(harness)?.networkCredit).toBe(true);
  });
});
