/**
 * Two Camera Guard platforms in one Homebridge, as an owner with more cameras than one bridge holds runs them: each
 * on a child bridge of its own, so in separate processes that share the Homebridge storage folder and config.json.
 * Different routers: both publish and guard, and neither overwrites or deletes the other's files. The same router in
 * both, or two platforms with one name: the later platform refuses, in plain words, and sends nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { KNOWN_HOSTS_FILE, PLATFORM_NAME, STATUS_FILE, statusFileName } from '../../src/settings';
import type { Status } from '../../src/ui/protocol';
import { generateSshKeyPair } from '../../tools/sim/sshServer';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { scratchDirectory } from '../helpers/scratchDirectory';
import { until } from '../helpers/simRouter';

jest.mock('systeminformation', () => ({
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


jest.setTimeout(60_000);

const sims: SimulatedRouterSetup[] = [];
const harnesses: Harness[] = [];

afterEach(async () => {
  harnesses.splice(0).forEach((harness) => harness.shutdown());
  await new Promise((done) => setTimeout(done, 100));
  for (const sim of sims.splice(0)) {
    await sim.dispose();
  }
});

async function simulatedRouter(): Promise<SimulatedRouterSetup & { run: jest.SpyInstance }> {
  const sim = await startSimulatedRouter();
  sims.push(sim);
  return Object.assign(sim, { run: jest.spyOn(sim.router, 'run') });
}

/** A router entry for `sim` with `count` cameras at `prefix.50`, ...; no host key pinned, so each is trusted on first use. */
function entry(sim: SimulatedRouterSetup, name: string, count: number, prefix: string): Record<string, unknown> {
  return {
    name,
    host: '127.0.0.1',
    port: sim.port,
    username: SIM_USER,
    privateKeyFile: sim.privateKeyFile,
    cameras: Array.from({ length: count }, (_, i) => ({ name: `${name} Cam ${i + 1}`, address: `${prefix}.${i + 50}` })),
  };
}

/** As the harness starts every platform unless told (network names off): config.json must hold the same block. */
const NAMES_OFF = { networkData: { source: 'off' } };

/**
 * A storage folder whose config.json holds these platform blocks, each on a child bridge of its own unless told
 * (`_bridge: undefined`), and each platform started on it, in order, as its child bridge would start it.
 */
function startPlatforms(blocks: Record<string, unknown>[]): { storage: string; platforms: Harness[] } {
  const storage = scratchDirectory('cg-two-platforms-');
  const full = blocks.map((block, index) => ({ platform: PLATFORM_NAME, ...NAMES_OFF, _bridge: { username: `0E:00:00:00:00:0${index + 1}`, port: 51000 + index }, ...block }));
  writeFileSync(join(storage, 'config.json'), JSON.stringify({ bridge: {}, platforms: full }));
  const platforms = full.map((block) => startPlatform(block, [], { storage }));
  harnesses.push(...platforms);
  return { storage, platforms };
}

const errors = (harness: Harness): string[] => harness.lines.filter((line) => line.startsWith('ERROR'));
const guarding = (harness: Harness, router: string): boolean => harness.lines.some((line) => line.startsWith(`INFO ${router}: guarding`));
const status = (storage: string, name: string | undefined): Omit<Status, 'running'> => JSON.parse(readFileSync(join(storage, statusFileName(name)), 'utf8')) as Omit<Status, 'running'>;

it('two platforms with different routers both publish and guard, and each keeps its own status, key records and accessories', async () => {
  const [home, barn] = [await simulatedRouter(), await simulatedRouter()];
  const {
    storage,
    platforms: [first, second],
  } = startPlatforms([
    { name: 'Camera Guard', pollSeconds: 1, routers: [entry(home, 'Home', 2, '192.0.2')] },
    { name: 'Barn Guard', pollSeconds: 1, routers: [entry(barn, 'Barn', 3, '198.51.100')] },
  ]) as { storage: string; platforms: [Harness, Harness] };

  await until(async () => (await home.router.activeConfigCommands()).includes('rule 4018 action drop'), 'the first platform guarding', 20_000);
  await until(async () => (await barn.router.activeConfigCommands()).includes('rule 4028 action drop'), 'the second platform guarding', 20_000);
  await until(() => existsSync(join(storage, STATUS_FILE)) && existsSync(join(storage, statusFileName('Barn Guard'))), 'both status files', 20_000);
  await until(() => Object.keys(JSON.parse(readFileSync(join(storage, KNOWN_HOSTS_FILE), 'utf8')) as object).length === 2, 'both host keys remembered', 20_000);

  expect(errors(first)).toEqual([]);
  expect(errors(second)).toEqual([]);
  expect([...first.lines, ...second.lines].filter((line) => line.includes('main bridge'))).toEqual([]);
  expect(guarding(first, 'Home') && guarding(second, 'Barn')).toBe(true);
  // Different routers, different accessory UUIDs: even on one bridge they could not collide.
  const firstIds = first.registered.map((accessory) => accessory.UUID);
  expect(second.registered.map((accessory) => accessory.UUID).filter((id) => firstIds.includes(id))).toEqual([]);
  expect(first.registered.map((accessory) => accessory.displayName)).toEqual(['Home Lockdown', 'Home Cam 1', 'Home Cam 2']);
  expect(second.registered.map((accessory) => accessory.displayName)).toEqual(['Barn Lockdown', 'Barn Cam 1', 'Barn Cam 2', 'Barn Cam 3']);
  // Each platform's status names only its own routers; neither overwrote the other's file.
  expect(status(storage, undefined).routers.map((router) => router.name)).toEqual(['Home']);
  expect(status(storage, 'Barn Guard')).toMatchObject({ platform: 'Barn Guard', routers: [{ name: 'Barn' }] });
  // Both first-use keys are in the shared known-hosts file: neither write lost the other's.
  expect(JSON.parse(readFileSync(join(storage, KNOWN_HOSTS_FILE), 'utf8'))).toEqual({
    [`127.0.0.1:${home.port}`]: home.hostKeyFingerprint,
    [`127.0.0.1:${barn.port}`]: barn.hostKeyFingerprint,
  });

  // One platform stopping takes only its own status away.
  second.shutdown();
  expect(existsSync(join(storage, statusFileName('Barn Guard')))).toBe(false);
  expect(existsSync(join(storage, STATUS_FILE))).toBe(true);
});

it('the same router in two platforms: the later one says so in plain words, publishes none of it and sends it nothing', async () => {
  const sim = await simulatedRouter();
  const {
    platforms: [first, second],
  } = startPlatforms([
    { name: 'Camera Guard', pollSeconds: 1, routers: [entry(sim, 'Home', 1, '192.0.2')] },
    // The default gateway is the simulated router's address: another spelling of the same router.
    { name: 'Barn Guard', pollSeconds: 1, routers: [{ ...entry(sim, 'Again', 1, '198.51.100'), host: undefined }] },
  ]) as { storage: string; platforms: [Harness, Harness] };

  await until(() => guarding(first, 'Home') && errors(second).length > 0, 'the first guarding and the second refusing', 20_000);
  await until(async () => (await sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the first platform guarding', 20_000);
  const reads = sim.run.mock.calls.length;
  await until(() => sim.run.mock.calls.length >= reads + 2, 'two more polls', 20_000);

  expect(errors(second)).toEqual([
    `ERROR Router "Again" is the same router as router "Home" of the Camera Guard platform "Camera Guard" before this one in config.json ` +
      `("Again" (no "host", so the default gateway) and "127.0.0.1" of "Home" both reach 127.0.0.1 port ${sim.port}); ` +
      'two platforms guarding one router would fight over its rules, so "Again" is skipped here and changes nothing on the router. ' +
      'Keep each router in one Camera Guard platform only: remove it from this one.',
  ]);
  expect(errors(first)).toEqual([]);
  expect(second.registered).toEqual([]);
  expect(guarding(second, 'Again')).toBe(false);
  expect(await sim.router.activeConfigCommands()).not.toContain('198.51.100.50');
});

it('two platforms with one name: the later one guards nothing and says to rename it, and the earlier one\'s status stays its own', async () => {
  const [home, barn] = [await simulatedRouter(), await simulatedRouter()];
  const {
    storage,
    platforms: [first, second],
  } = startPlatforms([
    { name: 'Camera Guard', pollSeconds: 1, routers: [entry(home, 'Home', 1, '192.0.2')] },
    { name: 'Camera Guard', pollSeconds: 1, routers: [entry(barn, 'Barn', 1, '198.51.100')] },
  ]) as { storage: string; platforms: [Harness, Harness] };

  await until(() => guarding(first, 'Home') && errors(second).length > 0, 'the first guarding and the second refusing', 20_000);
  await until(() => existsSync(join(storage, STATUS_FILE)), 'the first status file', 20_000);
  expect(errors(second)).toEqual([
    'ERROR This Camera Guard platform is named "Camera Guard", like one before it in config.json; each Camera Guard platform needs a "name" of its own ' +
      '(its log lines, its status on the settings page and its files are told apart by it), so this one guards nothing. Give it another "name" and restart Homebridge.',
  ]);
  expect(second.registered).toEqual([]);
  expect(barn.run).not.toHaveBeenCalled();
  expect(status(storage, undefined).routers.map((router) => router.name)).toEqual(['Home']);
});

it('a second platform with the first on the main bridge: the one on the main bridge says to give every platform a child bridge', async () => {
  const [home, barn] = [await simulatedRouter(), await simulatedRouter()];
  const {
    platforms: [first, second],
  } = startPlatforms([
    { name: 'Camera Guard', _bridge: undefined, pollSeconds: 1, routers: [entry(home, 'Home', 1, '192.0.2')] },
    { name: 'Barn Guard', pollSeconds: 1, routers: [entry(barn, 'Barn', 1, '198.51.100')] },
  ]) as { storage: string; platforms: [Harness, Harness] };
  await until(() => guarding(first, 'Home') && guarding(second, 'Barn'), 'both guarding', 20_000);
  expect(first.lines.filter((line) => line.includes('main bridge'))).toEqual([
    'WARN config.json holds 2 Camera Guard platforms and this one runs on the main bridge, where Homebridge refuses any Camera Guard platform after the first; ' +
      'give every Camera Guard platform a child bridge of its own (Plugins, Camera Guard, ⋮, Child Bridge Config), then restart Homebridge.',
  ]);
  expect(second.lines.filter((line) => line.includes('main bridge'))).toEqual([]);
});

it('one router at two addresses in two platforms, its key remembered by the earlier one: the later one is refused before it logs in', async () => {
  const hostKey = generateSshKeyPair().private;
  const [one, two] = [await startSimulatedRouter({ hostKey }), await startSimulatedRouter({ hostKey })];
  sims.push(one, two);
  const run = jest.spyOn(two.router, 'run');
  const storage = scratchDirectory('cg-two-platforms-');
  // The earlier platform's child bridge remembered its router's key on an earlier run.
  writeFileSync(join(storage, KNOWN_HOSTS_FILE), JSON.stringify({ [`127.0.0.1:${one.port}`]: one.hostKeyFingerprint }));
  const blocks = [
    { platform: PLATFORM_NAME, ...NAMES_OFF, name: 'Camera Guard', _bridge: { username: '0E:00:00:00:00:01' }, pollSeconds: 1, routers: [entry(one, 'Home', 1, '192.0.2')] },
    { platform: PLATFORM_NAME, ...NAMES_OFF, name: 'Barn Guard', _bridge: { username: '0E:00:00:00:00:02' }, pollSeconds: 1, routers: [entry(two, 'Again', 1, '198.51.100')] },
  ];
  writeFileSync(join(storage, 'config.json'), JSON.stringify({ bridge: {}, platforms: blocks }));
  // Only the later platform runs here: the earlier one may be in another process, or not started yet.
  const later = startPlatform(blocks[1] as Record<string, unknown>, [], { storage });
  harnesses.push(later);

  await until(() => later.lines.some((line) => line.includes('refused to connect')), 'the later platform refused', 20_000);
  expect(later.lines.find((line) => line.includes('refused to connect'))).toContain(
    `ERROR Again: refused to connect: the router at 127.0.0.1:${two.port} presented host key ${two.hostKeyFingerprint}, which router "Home" of the Camera Guard platform "Camera Guard" before this one in config.json trusts, ` +
      'so this entry is the same router under another address; two platforms guarding one router would fight over its rules, so this entry sends nothing to it. ' +
      'Keep each router in one Camera Guard platform only: remove it from this one.',
  );
  expect(run).not.toHaveBeenCalled();
  // Its key is not remembered for the later entry.
  expect(JSON.parse(readFileSync(join(storage, KNOWN_HOSTS_FILE), 'utf8'))).toEqual({ [`127.0.0.1:${one.port}`]: one.hostKeyFingerprint });
});
