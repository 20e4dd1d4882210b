/**
 * The HomeKit layer with real HAP services (hap-nodejs) around the platform: what the owner sees when the
 * router's host is left out, when Lockdown refuses a camera, and which names HomeKit gets.
 */
import * as hap from '@homebridge/hap-nodejs';

import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { service, startPlatform, TestAccessory } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

jest.mock('systeminformation', () => ({
  // The machine's default gateway is the simulated router on loopback.
  networkGatewayDefault: jest.fn(() => Promise.resolve('127.0.0.1')),
}));

// This machine's own addresses, as Node lists them: the platform keeps cameras off them.
jest.mock('node:os', () => ({
  ...jest.requireActual<object>('node:os'),
  networkInterfaces: jest.fn(() => ({
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [{ address: '192.0.2.10', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:0a', internal: false, cidr: '192.0.2.10/24' }],
  })),
}));


describe('Camera Guard platform with real HAP services', () => {
  let sim: SimulatedRouterSetup;
  let h: Harness;

  beforeEach(async () => {
    sim = await startSimulatedRouter();
  });

  afterEach(async () => {
    h.shutdown();
    await new Promise((done) => setTimeout(done, 100));
    await sim.dispose();
  });

  const routerEntry = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    name: 'Home Router',
    port: sim.port,
    username: SIM_USER,
    privateKeyFile: sim.privateKeyFile,
    hostKey: sim.hostKeyFingerprint,
    cameras: [
      { name: 'Front Door 📷!', address: '192.0.2.50' },
      { name: 'Homebridge box', address: '192.0.2.10' },
    ],
    ...overrides,
  });

  it('uses the default gateway when "host" is left out, says so, and skips a camera at this machine\'s own address', async () => {
    h = startPlatform({ pollSeconds: 1, routers: [routerEntry()] });
    await until(() => h.lines.some((line) => line.includes('guarding 1 camera(s) on 127.0.0.1')), 'guarding', 10_000);
    expect(h.lines).toContain('INFO Home Router: no "host" is set, so using this machine\'s default gateway 127.0.0.1 as the router.');
    expect(h.lines.some((line) => line.startsWith('ERROR') && line.includes('192.0.2.10 belongs to this Homebridge machine'))).toBe(true);
    await until(async () => (await sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'rules created', 10_000);
  });

  it('gives HomeKit names that follow its rules, for accessories and services alike', async () => {
    h = startPlatform({ pollSeconds: 1, routers: [routerEntry({ host: '127.0.0.1', name: 'Home Router!!' })] });
    await until(() => h.registered.length === 2, 'accessories registered', 10_000);
    const homeKitRule = /^[\p{L}\p{N}][\p{L}\p{N}\p{Zs}\u2019'&!._:;()/,-]*[\p{L}\p{N}]$/u;
    const names = h.registered.flatMap((accessory) => [
      accessory.displayName,
      ...accessory.hap.services.map((candidate) => candidate.getCharacteristic(hap.Characteristic.Name).value as string),
    ]);
    expect(names).toEqual(expect.arrayContaining(['Front Door', 'Front Door Internet', 'Front Door Leak', 'Home Router Lockdown']));
    for (const name of names) {
      expect(name).toMatch(homeKitRule);
    }
    expect(service(h, 'Front Door Internet').getCharacteristic(hap.Characteristic.On).value).toBe(false);
  });

  it('keeps a cached camera under the same UUID and removes the accessory of a camera no longer configured', async () => {
    const first = startPlatform({ pollSeconds: 1, routers: [routerEntry({ host: '127.0.0.1' })] });
    await until(() => first.registered.length === 2, 'accessories registered', 10_000);
    first.shutdown();
    const frontDoor = first.registered.find((accessory) => accessory.displayName === 'Front Door')!;
    const removed = new TestAccessory('Old Camera', hap.uuid.generate('camera-guard test: a camera removed from the config'));
    h = startPlatform({ pollSeconds: 1, routers: [routerEntry({ host: '127.0.0.1' })] }, [frontDoor, removed]);
    await until(() => h.unregistered.length === 1, 'stale accessory removed', 10_000);
    expect(h.unregistered).toEqual([removed]);
    // The cached Front Door is reused (not registered again): its UUID, and so the owner's automations, stay.
    expect(h.registered.map((accessory) => accessory.displayName)).toEqual(['Home Router Lockdown']);
  });

  it('logs one line and stays idle when no router is configured', () => {
    h = startPlatform({});
    expect(h.lines).toEqual(['INFO No routers are configured, so Camera Guard is idle; add a router with its cameras in the plugin settings.']);
  });
});

