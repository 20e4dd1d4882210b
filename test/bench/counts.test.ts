/**
 * What a poll, a toggle, a scene and a first setup cost in commands and bytes over real SSH to the simulated router
 * (issue 11): counts, never timings, so it holds on a loaded machine. `npm run bench` measures the same things with
 * the clock (docs/PERFORMANCE.md); this keeps the counts behind those figures from creeping back up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as hap from '@homebridge/hap-nodejs';
import type { API, PlatformAccessory } from 'homebridge';

import type { CameraSettings } from '../../src/config';
import { CameraGuardPlatform } from '../../src/homekit/platform';
import { RouterGuard } from '../../src/guard/routerGuard';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { benchCameras, ownerFirewallLines, recordCommands, tally } from '../../tools/bench/commandLog';
import type { CommandLog } from '../../tools/bench/commandLog';
import { FRESH_ROUTER_CONFIG, SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { TestAccessory } from '../helpers/platformHarness';
import { recordingLog } from '../helpers/recordingLog';
import { scratchDirectory } from '../helpers/scratchDirectory';
import { simRouterSettings, until } from '../helpers/simRouter';

jest.setTimeout(120_000);

// The default gateway is the simulated router.
jest.mock('systeminformation', () => ({
  networkGatewayDefault: jest.fn(() => Promise.resolve('127.0.0.1')),
}));

// This machine's own addresses, as Node lists them: the platform keeps cameras off them.
jest.mock('node:os', () => ({
  ...jest.requireActual<object>('node:os'),
  networkInterfaces: jest.fn(() => ({
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [{ address: '198.51.100.1', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:0a', internal: false, cidr: '198.51.100.1/24' }],
  })),
}));


function driverFor(sim: SimulatedRouterSetup, cameras: readonly CameraSettings[]): EdgeOsRouter {
  const settings = simRouterSettings(sim, cameras);
  return new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-counts-'), 'known.json')), recordingLog()));
}

/** A router whose `cameras` are set up (blocked) by the driver, and a log of what is sent to it from then on. */
async function setUp(cameras: readonly CameraSettings[], initialConfig = FRESH_ROUTER_CONFIG): Promise<{ sim: SimulatedRouterSetup; driver: EdgeOsRouter; log: CommandLog; setLines: number }> {
  const sim = await startSimulatedRouter({ initialConfig });
  const driver = driverFor(sim, cameras);
  await driver.connect();
  const log = recordCommands(sim.router);
  const plan = driver.plan(await driver.read(cameras), new Map(cameras.map((camera) => [camera.address, 'blocked'] as const)));
  expect((await driver.apply(plan)).result).toBe('committed');
  const setLines = tally(log.records).setLines;
  log.clear();
  return { sim, driver, log, setLines };
}

describe('what a poll costs', () => {
  // Bytes one poll receives at each number of cameras, as measured when this test was written, with a little room:
  // a poll that starts reading per camera, or reads much more, fails here.
  // The destinations parts (issue 12) add about 150 bytes of marks to every poll when the log and connections are quiet.
  // Each camera's tries-log rule adds two kernel rows to the listing (its LOG row, 195 bytes, and its limited DROP row,
  // 144 bytes, at the widest): TRIES_ROWS_BYTES per camera on top of the bounds measured before it.
  const TRIES_ROWS_BYTES = 340;
  const RECEIVED_BYTES_AT_MOST: Record<number, number> = Object.fromEntries(
    Object.entries({ 1: 1_200, 10: 3_500, 50: 14_500, 100: 28_000 }).map(([n, bytes]) => [n, bytes + TRIES_ROWS_BYTES * Number(n)]),
  );

  it.each([1, 10, 50, 100])('is one command per router at %i camera(s), its bytes growing with the cameras only', async (n) => {
    const cameras = benchCameras(n);
    const { sim, driver, log, setLines } = await setUp(cameras);
    try {
      // First setup: twelve lines per camera (tries-log rule 6, drop rule 3, counter rule 3), and three for the
      // ruleset and its binding.
      expect(setLines).toBeLessThanOrEqual(12 * n + 3);
      // A transaction is followed by a full read; the polls after it read only the kernel's rows and counters.
      await driver.read(cameras);
      log.clear();
      await driver.read(cameras, 'poll');
      const poll = tally(log.records);
      expect(poll.commands).toBe(1);
      expect(poll.byKind.read).toBe(1);
      expect(poll.receivedBytes).toBeLessThanOrEqual(RECEIVED_BYTES_AT_MOST[n] ?? 0);
      // One script reads everything: about 1.4 KB (the log's read fragment is most of it), and one address filter of
      // the connection table per camera (about 21 bytes each).
      expect(poll.sentBytes).toBeLessThanOrEqual(1_600 + 24 * n);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  // 5,000 lines keep the test quick (the bench measures 100,000); what matters here is the count and the bound.
  it('is one command with 5,000 lines of the owner\'s own configuration too, and no bigger', async () => {
    const cameras = benchCameras(10);
    const owner = `${FRESH_ROUTER_CONFIG}\n${ownerFirewallLines(5_000).join('\n')}`;
    const { sim, driver, log } = await setUp(cameras, owner);
    try {
      const full = await driver.read(cameras);
      expect(full.cameras.size).toBe(10);
      log.clear();
      await driver.read(cameras, 'poll');
      const poll = tally(log.records);
      expect(poll.commands).toBe(1);
      // The owner's unrelated configuration costs a poll nothing: the same bound as 10 cameras on a fresh router.
      expect(poll.receivedBytes).toBeLessThanOrEqual(RECEIVED_BYTES_AT_MOST[10] ?? 0);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });
});

describe('what a toggle and a scene cost through the guard', () => {
  const cameras = benchCameras(50);
  let sim: SimulatedRouterSetup;
  let guard: RouterGuard;
  let lines: string[];
  let log: CommandLog;

  const confirmed = (camera: CameraSettings, word: 'opened' | 'blocked'): boolean => lines.some((line) => line.includes(`"${camera.name}": internet access ${word} from HomeKit`));
  const cut = (camera: CameraSettings): boolean => lines.some((line) => line.includes(`"${camera.name}": cut `));

  beforeAll(async () => {
    sim = await startSimulatedRouter();
    log = recordCommands(sim.router);
    const settings = simRouterSettings(sim, cameras);
    const recording = recordingLog();
    lines = recording.lines;
    const ssh = new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-counts-'), 'known.json')), recording);
    guard = new RouterGuard({
      cameras,
      leak: { attempts: 1, uploadBytes: 100_000_000, windowMs: 600_000, quietMs: 300_000 },
      // No poll during the test: every command counted is the toggle's or the scene's.
      pollMs: 3_600_000,
      driver: new EdgeOsRouter(settings, ssh),
      log: recording,
      listener: { cameraChanged: () => undefined, leakChanged: () => undefined, reachabilityChanged: () => undefined, lockdownChanged: () => undefined },
      seenCameras: new Set(),
      lockdown: { on: false, previous: {} },
      saveLockdown: () => undefined,
      markSeen: () => undefined,
    });
    guard.start();
    // First sight of 50 cameras: each is new, set up blocked, and its flows cut, all in one transaction.
    await until(() => cameras.every(cut), 'the first setup', 60_000);
    const setup = tally(log.records);
    expect(setup.byKind.transaction).toBe(1);
    expect(setup.byKind.cut).toBe(1);
    expect(setup.setLines).toBeLessThanOrEqual(12 * cameras.length + 3);
  });

  afterAll(async () => {
    await guard.stop();
    await sim.dispose();
  });

  beforeEach(() => {
    log.clear();
    lines.length = 0;
  });

  const first = cameras[0] as CameraSettings;

  it('opens a camera with one read, one transaction and one read-back', async () => {
    guard.requestAccess(first.address, 'allowed');
    await until(() => confirmed(first, 'opened'), 'the opening');
    expect(tally(log.records).byKind).toEqual({ read: 2, transaction: 1, cut: 0, neighbours: 0, offload: 0, other: 0 });
  });

  it('blocks a camera with one read, one transaction, one read-back and one cut', async () => {
    guard.requestAccess(first.address, 'blocked');
    await until(() => confirmed(first, 'blocked') && cut(first), 'the block');
    expect(tally(log.records).byKind).toEqual({ read: 2, transaction: 1, cut: 1, neighbours: 0, offload: 0, other: 0 });
  });

  it('opens 50 cameras asked together (a scene) in one transaction', async () => {
    cameras.forEach((camera) => guard.requestAccess(camera.address, 'allowed'));
    await until(() => cameras.every((camera) => confirmed(camera, 'opened')), 'the scene', 60_000);
    expect(tally(log.records).byKind).toEqual({ read: 2, transaction: 1, cut: 0, neighbours: 0, offload: 0, other: 0 });
  });

  it('locks 50 open cameras down in one transaction and cuts all their flows in one round trip', async () => {
    expect(guard.requestLockdown(true)).toBe('queued');
    await until(() => cameras.every(cut), 'the lockdown', 60_000);
    const lockdown = tally(log.records);
    expect(lockdown.byKind).toEqual({ read: 2, transaction: 1, cut: 1, neighbours: 0, offload: 0, other: 0 });
    // Switching 50 drop rules and their tries-log rules is one edit each, not a rewrite of their blocks.
    expect(lockdown.editLines).toBeLessThanOrEqual(100);
  });
});

describe('what the first sight of 100 cameras costs Homebridge', () => {
  // Homebridge rewrites its whole accessory cache, synchronously, at every registerPlatformAccessories and
  // updatePlatformAccessories call: once per camera is 100 rewrites of a cache that grows to 100 accessories.
  it.each([
    ['a fresh router (first setup)', false],
    ["a router that has the cameras' rules already", true],
  ])('is one registration and one cache update for all of them, on %s', async (_name, rulesOnRouter) => {
    const cameras = benchCameras(100);
    const sim = await startSimulatedRouter();
    if (rulesOnRouter) {
      const driver = driverFor(sim, cameras);
      await driver.connect();
      await driver.apply(driver.plan(await driver.read(cameras), new Map(cameras.map((camera) => [camera.address, 'blocked'] as const))));
      driver.close();
    }
    const storage = mkdtempSync(join(tmpdir(), 'cg-counts-hb-'));
    const handlers = new Map<string, () => void>();
    const registered: PlatformAccessory[][] = [];
    const updated: PlatformAccessory[][] = [];
    const log = recordingLog();
    const logging = Object.assign((message: string) => log.info(message), { ...log, success: log.info, log: log.info, prefix: '' });
    const api = {
      hap,
      on: (event: string, handler: () => void) => handlers.set(event, handler),
      user: { storagePath: () => storage, configPath: () => join(storage, 'config.json') },
      platformAccessory: TestAccessory,
      registerPlatformAccessories: (_plugin: string, _platform: string, accessories: PlatformAccessory[]) => void registered.push([...accessories]),
      unregisterPlatformAccessories: () => undefined,
      updatePlatformAccessories: (accessories: PlatformAccessory[]) => void updated.push([...accessories]),
    } as unknown as API;
    const router = { name: 'Bench', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: cameras.map(({ name, address }) => ({ name, address })) };
    const platform = new CameraGuardPlatform(logging as never, { platform: 'CameraGuard', pollSeconds: 3600, routers: [router] }, api);
    try {
      handlers.get('didFinishLaunching')?.();
      const seen = (): number => updated.flat().filter((accessory) => (accessory.context as { seen?: boolean }).seen === true).length;
      await until(() => seen() >= 100, 'every camera marked seen in the accessory cache', 60_000);
      // The reading after a first setup is followed by the cut of the new cameras' flows: wait for it too, so that a
      // write per camera coming after the first one would be counted.
      if (!rulesOnRouter) await until(() => cameras.every((camera) => log.lines.some((line) => line.includes(`"${camera.name}": cut `))), 'the flows cut', 60_000);
      expect(registered.map((batch) => batch.length)).toEqual([101]);
      expect(updated.map((batch) => batch.length)).toEqual([100]);
    } finally {
      handlers.get('shutdown')?.();
      // Shutdown does not wait for the guards; their stop is one promise each, so waiting on it again is waiting for it.
      await Promise.all((platform as unknown as { guards: RouterGuard[] }).guards.map((guard) => guard.stop()));
      await sim.dispose();
      rmSync(storage, { recursive: true, force: true });
    }
  });
});
