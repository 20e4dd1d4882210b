/**
 * The fail-closed checks of docs/RELIABILITY.md: each case is a mistake, a race or a broken router that could open a
 * camera or hide that it is open, run against the simulated router over real SSH, and its outcome is written from
 * what was observed (the router's configuration, its kernel rows, a packet sent through it, what the plugin
 * reports). Each case also asserts the fail-closed outcome, so a regression fails here before the page is wrong.
 *
 * The page's section "Fail-closed checks" must be what this run observed: `UPDATE_DOCS=1 npx jest
 * test/failClosed.test.ts` rewrites it; otherwise a difference fails the suite.
 */
import { applyChanges } from './helpers/applyChanges';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CameraSettings, RouterSettings } from '../src/config';
import { NAMED_SERVICES, parseConfig } from '../src/config';
import { RouterGuard } from '../src/guard/routerGuard';
import { RouterError } from '../src/router/driver';
import type { RouterReading } from '../src/router/driver';
import { EdgeOsRouter } from '../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../src/router/hostKeys';
import { SshConnection } from '../src/router/ssh';
import { FRESH_ROUTER_CONFIG, startSimulatedRouter } from '../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../tools/sim/simulatedSetup';
import { recordingLog } from './helpers/recordingLog';
import { scratchDirectory } from './helpers/scratchDirectory';
import { simRouterSettings, until } from './helpers/simRouter';

const PAGE = join(__dirname, '..', 'docs', 'RELIABILITY.md');
const HEADING = '## Fail-closed checks';

const frontDoor: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [NAMED_SERVICES.dns!], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage', address: '192.0.2.51', allow: [], allowMinutes: 0 };
const both = [frontDoor, garage];
const packet = (from: string) => ({ from, protocol: 'tcp' as const, port: 443, packets: 1, bytes: 60 });

/** A message cut at a word boundary, for the table. */
const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, text.lastIndexOf(' ', max))} …`);

const rows: { area: string; mistake: string; outcome: string }[] = [];
const record = (area: string, mistake: string, outcome: string): void => {
  rows.push({ area, mistake, outcome });
};

let sim: SimulatedRouterSetup | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
  await sim?.dispose();
  sim = undefined;
});

async function router(initialConfig?: string): Promise<SimulatedRouterSetup> {
  sim = await startSimulatedRouter(initialConfig === undefined ? {} : { initialConfig });
  return sim;
}

function driverFor(on: SimulatedRouterSetup, cameras: readonly CameraSettings[], overrides: Partial<RouterSettings> = {}): EdgeOsRouter {
  const settings = simRouterSettings(on, cameras, overrides);
  const ssh = new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-fc-'), 'known.json')), recordingLog());
  const driver = new EdgeOsRouter(settings, ssh);
  cleanups.push(() => driver.close());
  return driver;
}

/** The router settings parseConfig makes of `cameras` (raw, as the owner typed them), pointing at `on`. */
function parsedRouter(on: SimulatedRouterSetup, cameras: unknown[]): { settings: RouterSettings; errors: readonly string[] } {
  const { settings, errors } = parseConfig({
    platform: 'CameraGuard',
    routers: [{ name: 'Sim', host: '127.0.0.1', port: on.port, username: 'homebridge', privateKeyFile: on.privateKeyFile, hostKey: on.hostKeyFingerprint, cameras }],
  });
  const parsed = settings.routers[0];
  if (parsed === undefined) throw new Error(`the router entry was refused: ${errors.join(' ')}`);
  return { settings: parsed, errors };
}

const lines = async (on: SimulatedRouterSetup): Promise<string[]> => (await on.router.activeConfigCommands()).split('\n').filter(Boolean);
const slotLines = (config: string[], first: number): string[] => config.filter((line) => new RegExp(`rule (${first}|${first + 1}|${first + 2}|${first + 3}|${first + 4}|${first + 5}|${first + 6}|${first + 7}|${first + 8}|${first + 9}) `).test(line));
/** What happens to `packets` packets of the camera (more than the tries-log rule's burst of 5 get past it alone). */
const verdict = async (on: SimulatedRouterSetup, from: string, packets = 1): Promise<string> =>
  (await on.router.sendTraffic({ ...packet(from), packets, bytes: 60 * packets })) === 'dropped' ? 'its packets are dropped' : 'its packets get out';

/** Sets both cameras up blocked, Garage opened when asked. */
async function setUp(on: SimulatedRouterSetup, garageAccess: 'blocked' | 'allowed' = 'blocked'): Promise<void> {
  const driver = driverFor(on, both);
  await driver.connect();
  await applyChanges(driver, both, [
    { camera: frontDoor, access: 'blocked' },
    { camera: garage, access: garageAccess },
  ]);
  driver.close();
}

describe('fail-closed checks', () => {
  it('a set the router refuses discards the whole transaction', async () => {
    const on = await router();
    const before = await lines(on);
    await on.router.refuseEdits('source address 192.0.2.51');
    const driver = driverFor(on, both);
    await driver.connect();
    const outcome = await applyChanges(driver, both, both.map((camera) => ({ camera, access: 'blocked' as const })));
    const after = await lines(on);
    const bareDrops = after.filter((line) => /rule \d+ action drop$/.test(line)).length;
    expect(outcome.result).toBe('failed');
    expect(after).toEqual(before);
    expect(await on.router.openSessionCount()).toBe(0);
    record('2. config', 'the router refuses one `set` of a transaction (EdgeOS would still commit the rest, e.g. a drop rule without its source: a bare DROP for the whole LAN)', `${outcome.result}: ${after.length === before.length && bareDrops === 0 ? 'nothing committed, no bare DROP' : 'SOMETHING WAS COMMITTED'}; the log gets the router's words (${clip(outcome.detail, 90)})`);
  });

  it('a typo in a camera\'s own address touches no camera\'s rules', async () => {
    const on = await router();
    await setUp(on);
    const before = await lines(on);
    const { settings, errors } = parsedRouter(on, [
      { name: 'Front Door', address: '192.0.2.50', allow: ['dns'] },
      { name: 'Garage', address: '192.0.2.300' },
    ]);
    const driver = driverFor(on, settings.cameras, { skipped: settings.skipped });
    await driver.connect();
    await applyChanges(driver, settings.cameras, [{ camera: frontDoor, access: 'allowed' }]);
    const after = await lines(on);
    expect(slotLines(after, 4010)).toEqual(slotLines(before, 4010));
    expect(await on.router.sendTraffic(packet(garage.address))).toBe('dropped');
    record('2. config', 'a typo in a camera\'s address (`192.0.2.300`, saved from the Homebridge UI)', `the entry is skipped ("${clip(errors.find((line) => line.includes('192.0.2.300')) ?? 'NO MESSAGE', 110)}"); its rules are unchanged and ${await verdict(on, garage.address)}; the other camera is still managed`);
  });

  it('a camera skipped for a bad setting keeps its rules as they are', async () => {
    const on = await router();
    await setUp(on);
    const before = await lines(on);
    const { settings } = parsedRouter(on, [
      { name: 'Front Door', address: '192.0.2.50', allow: ['dns'] },
      { name: 'Garage', address: '192.0.2.51', allow: ['dnss'] },
    ]);
    const driver = driverFor(on, settings.cameras, { skipped: settings.skipped });
    await driver.connect();
    const reading = await driver.read(settings.cameras);
    await applyChanges(driver, settings.cameras, []);
    expect(slotLines(await lines(on), 4010)).toEqual(slotLines(before, 4010));
    expect(reading.unlisted.map((camera) => camera.fate)).toEqual(['kept-as-is']);
    record('2. config', 'a camera entry with an unknown `allow` entry (`dnss`)', `skipped; its rules are kept as they are (${reading.unlisted[0]?.fate}) and ${await verdict(on, garage.address)}`);
  });

  it('a camera removed from the configuration stays blocked', async () => {
    const on = await router();
    await setUp(on, 'allowed');
    expect(await on.router.sendTraffic(packet(garage.address))).toBe('accepted');
    const driver = driverFor(on, [frontDoor]);
    await driver.connect();
    await applyChanges(driver, [frontDoor], []);
    const reading = await driver.read([frontDoor]);
    expect(reading.unlisted).toMatchObject([{ source: garage.address, fate: 'kept-blocked', access: 'blocked' }]);
    record('2. config', 'an opened camera removed from the configuration', `its rules stay and block it (${reading.unlisted[0]?.fate}): ${await verdict(on, garage.address)}; only listing it in \`forget\` deletes them`);
  });

  it('a WAN interface the router does not have is refused, never created', async () => {
    const on = await router();
    const before = await lines(on);
    const driver = driverFor(on, both, { wanInterface: 'eth0.100' });
    await driver.connect();
    const error = await applyChanges(driver, both, []).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RouterError);
    expect((error as RouterError).kind).toBe('config');
    expect(await lines(on)).toEqual(before);
    record('2. config', '`wanInterface` is `eth0.100`, which the router does not have (binding it would create a VLAN interface)', `refused, nothing written: "${clip((error as Error).message, 110)}"`);
  });

  it('a ruleset name EdgeOS reserves is refused in the configuration', () => {
    const { settings, errors } = parseConfig({ routers: [{ name: 'R', host: '192.0.2.1', username: 'u', password: 'p', ruleSet: 'DROP', cameras: [{ name: 'C', address: '192.0.2.50' }] }] });
    expect(settings.routers).toHaveLength(0);
    record('2. config', '`ruleSet` is `DROP` (EdgeOS: "Cannot use reserved name")', `the router entry is refused: "${clip(errors.find((line) => line.includes('DROP')) ?? 'NO MESSAGE', 130)}"`);
  });

  it('the owner\'s rules inside the plugin\'s range are left alone, IPv4 and IPv6', async () => {
    const owner = [
      'set firewall name WAN_OUT default-action accept',
      'set firewall name WAN_OUT rule 4008 action drop',
      "set firewall name WAN_OUT rule 4008 description 'my printer, keep off'",
      'set firewall name WAN_OUT rule 4008 source address 192.0.2.99',
      'set firewall ipv6-name WAN6_OUT default-action accept',
      'set firewall ipv6-name WAN6_OUT rule 4008 action drop',
      "set firewall ipv6-name WAN6_OUT rule 4008 description 'my printer, keep off'",
      "set firewall ipv6-name WAN6_OUT rule 4008 source mac-address '00:aa:bb:cc:dd:ee'",
      'set interfaces ethernet eth0 firewall out ipv6-name WAN6_OUT',
      'set interfaces ethernet eth0 firewall out name WAN_OUT',
    ];
    const on = await router([FRESH_ROUTER_CONFIG, ...owner].join('\n'));
    const ownerLines = (await lines(on)).filter((line) => line.includes('rule 4008'));
    const cameras = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];
    await on.router.setLanHosts([{ ip: frontDoor.address, mac: '00:11:22:33:44:55', hostname: 'front-door' }]);
    const driver = driverFor(on, cameras);
    await driver.connect();
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    const reading = await driver.read(cameras);
    expect(await on.router.sendTraffic(packet(frontDoor.address))).toBe('dropped');
    expect(await on.router.sendTraffic(packet(garage.address))).toBe('dropped');
    const after = await lines(on);
    for (const line of ownerLines) expect(after).toContain(line);
    expect(reading.warnings.some((warning) => warning.includes('4008'))).toBe(true);
    record('2. config', 'the owner has rule 4008 (the plugin\'s range) in both adopted rulesets', `both kept byte for byte; the cameras take other numbers and the log names the owner's rules; blocked Front Door (by MAC): ${await verdict(on, frontDoor.address)}; blocked Garage: ${await verdict(on, garage.address)}`);
  });

  it('a drop row missing from the kernel is reported, not shown as a block', async () => {
    const on = await router();
    await setUp(on);
    await on.router.deleteKernelRows(4, 'CAMGUARD_OUT', { ruleKey: 'CAMGUARD_OUT-4018' });
    const driver = driverFor(on, both);
    await driver.connect();
    const reading: RouterReading = await driver.read(both);
    expect(reading.cameras.get(garage.address)?.notInForce).toBeDefined();
    record('3. HomeKit', 'the configuration blocks a camera, but its DROP row is gone from the kernel', `${await verdict(on, garage.address, 20)}, and the plugin reads "${reading.cameras.get(garage.address)?.notInForce}": the switch shows On and the leak sensor trips (guard test)`);
  });

  it('a WAN hook that no longer jumps to the ruleset is reported', async () => {
    const on = await router();
    await setUp(on);
    await on.router.deleteKernelRows(4, 'VYATTA_FW_OUT_HOOK', { target: 'CAMGUARD_OUT' });
    const driver = driverFor(on, both);
    await driver.connect();
    const reading = await driver.read(both);
    const reported = both.filter((camera) => reading.cameras.get(camera.address)?.notInForce !== undefined).length;
    expect(reported).toBe(2);
    record('3. HomeKit', 'the ruleset is configured on the WAN, but the kernel\'s VYATTA_FW_OUT_HOOK has no jump to it', `${await verdict(on, frontDoor.address)}; ${reported} of 2 blocked cameras reported as not in force`);
  });

  it('an unreachable router answers No Response, never a calm Off', async () => {
    const on = await router();
    const log = recordingLog();
    const settings = simRouterSettings(on, [frontDoor]);
    const guard = new RouterGuard({
      cameras: [frontDoor],
      leak: { attempts: 3, uploadBytes: 5_000, windowMs: 60_000, quietMs: 1_000 },
      pollMs: 200,
      driver: new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-fc-'), 'known.json')), log)),
      log,
      listener: { cameraChanged: () => undefined, leakChanged: () => undefined, reachabilityChanged: () => undefined, lockdownChanged: () => undefined },
      seenCameras: new Set(),
      lockdown: { on: false, previous: {} },
      saveLockdown: () => undefined,
      markSeen: () => undefined,
    });
    guard.start();
    cleanups.push(() => guard.stop());
    await until(() => guard.shownAccess(frontDoor.address) === 'blocked', 'blocked and confirmed');
    await on.stop();
    await until(() => !guard.reachable, 'unreachable', 15_000);
    const shown = guard.shownAccess(frontDoor.address);
    expect(shown).toBeUndefined();
    expect(guard.stateUnknown(frontDoor.address)).toBe(true);
    record('3. HomeKit', 'the router stops answering', `the switch answers ${shown === undefined ? 'No Response' : shown} and the leak sensor shows a fault until the router answers again`);
  });

  it('the page\'s section "Fail-closed checks" is what this run observed', () => {
    expect(rows.map((row) => row.mistake)).toHaveLength(10);
    const section = [
      HEADING,
      '',
      'Generated by `UPDATE_DOCS=1 npx jest test/failClosed.test.ts` (the suite fails when this section differs from what it',
      'observed). Each case runs against the simulated router over real SSH; the outcome is what the run saw: the',
      "router's configuration, its kernel rows, a packet sent through it, and what the plugin reports. Issue 8's",
      'sections give the areas; more cases with the same outcomes are in the unit, guard and lab suites.',
      '',
      '| area | the mistake, race or broken router | outcome |',
      '|---|---|---|',
      ...rows.map(({ area, mistake, outcome }) => `| ${area} | ${mistake} | ${outcome.replaceAll('|', '\\|')} |`),
      '',
    ].join('\n');
    const page = readFileSync(PAGE, 'utf8');
    const at = page.indexOf(`\n${HEADING}\n`);
    if (process.env.UPDATE_DOCS === '1') {
      writeFileSync(PAGE, `${at < 0 ? `${page.trimEnd()}\n` : page.slice(0, at)}\n${section}`);
      return;
    }
    expect(at < 0 ? 'the page has no section "Fail-closed checks"' : page.slice(at + 1)).toBe(section);
  });
});
