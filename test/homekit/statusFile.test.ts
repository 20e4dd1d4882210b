/**
 * The status the running plugin leaves for the settings page: what the router enforces per camera, its counters
 * and last leak trip, the router's last poll and problem, and which config entries were skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { STATUS_FILE } from '../../src/settings';
import type { Status } from '../../src/ui/protocol';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

jest.mock('systeminformation', () => ({
  networkGatewayDefault: jest.fn(() => Promise.resolve('')),
}));

// This machine's own addresses, as Node lists them: the platform keeps cameras off them.
jest.mock('node:os', () => ({
  ...jest.requireActual<object>('node:os'),
  networkInterfaces: jest.fn(() => ({
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [{ address: '192.0.2.10', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:0a', internal: false, cidr: '192.0.2.10/24' }],
  })),
}));


type FileStatus = Omit<Status, 'running'>;

describe('the status file the settings page reads', () => {
  let sim: SimulatedRouterSetup | undefined;
  let h: Harness | undefined;

  afterEach(async () => {
    h?.shutdown();
    await sim?.dispose();
    h = undefined;
    sim = undefined;
  });

  const read = (harness: Harness): FileStatus | undefined => {
    const path = join(harness.storage, STATUS_FILE);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as FileStatus) : undefined;
  };

  it('shows each camera as the router enforces it, its counters and leak trip, the skipped entries, and the router lost', async () => {
    sim = await startSimulatedRouter();
    const running = sim;
    h = startPlatform({
      pollSeconds: 1,
      leak: { attempts: 1, windowMinutes: 1, quietMinutes: 5 },
      routers: [
        {
          name: 'Home',
          host: '127.0.0.1',
          port: running.port,
          username: SIM_USER,
          privateKeyFile: running.privateKeyFile,
          hostKey: running.hostKeyFingerprint,
          cameras: [
            { name: 'Garage', address: '192.0.2.51' },
            { name: 'Typo', address: '192.0.2.300' },
          ],
        },
      ],
    });
    const harness = h;

    await until(() => read(harness)?.routers[0]?.cameras[0]?.enforced === 'blocked', 'the new camera shown blocked', 20_000);
    const first = read(harness) as FileStatus;
    expect(first.routers[0]?.name).toBe('Home');
    expect(first.routers[0]?.problem).toBeUndefined();
    expect(Date.parse(first.routers[0]?.lastPoll as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(first.routers[0]?.cameras.map((camera) => camera.name)).toEqual(['Garage']);
    expect(first.configErrors).toEqual(expect.arrayContaining([expect.stringMatching(/camera "Typo".*is skipped/)]));

    // A blocked camera phoning home trips its sensor, and the page sees the trip, its time and the dropped packets.
    await until(async () => {
      await running.router.sendTraffic({ from: '192.0.2.51', protocol: 'tcp', port: 8443, packets: 4, bytes: 240 });
      return read(harness)?.routers[0]?.cameras[0]?.leak === true;
    }, 'the leak trip in the status', 20_000);
    const tripped = read(harness)?.routers[0]?.cameras[0];
    expect(tripped?.blockedPackets).toBeGreaterThan(0);
    expect(Date.parse(tripped?.lastLeakTrip as string)).toBeGreaterThan(Date.now() - 60_000);

    // The router goes away: the page says why and no longer claims to know what it enforces.
    await running.dispose();
    sim = undefined;
    await until(() => read(harness)?.routers[0]?.problem !== undefined, 'the problem in the status', 30_000);
    expect(read(harness)?.routers[0]?.cameras[0]?.enforced).toBe('unknown');

    // Homebridge stops: the status goes, so the page says the plugin is not running.
    harness.shutdown();
    expect(existsSync(join(harness.storage, STATUS_FILE))).toBe(false);
  });
});
