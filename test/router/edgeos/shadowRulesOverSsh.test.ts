/**
 * An owner's rule ahead of the plugin's drop rules, against the simulated router over real SSH: the camera's packets
 * really get out past its "block", the driver says so (naming the rule), the guard does not show the camera as Off
 * and trips its leak sensor, the owner's rule is never touched, and once the owner moves it the block is in force.
 */
import { applyChanges } from '../../helpers/applyChanges';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import { NAMED_SERVICES } from '../../../src/config';
import { RouterGuard } from '../../../src/guard/routerGuard';
import { EdgeOsRouter } from '../../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../../src/router/hostKeys';
import { SshConnection } from '../../../src/router/ssh';
import { FRESH_ROUTER_CONFIG, startSimulatedRouter } from '../../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../../tools/sim/simulatedSetup';
import { recordingLog } from '../../helpers/recordingLog';
import { simRouterSettings, until } from '../../helpers/simRouter';

const frontDoor: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [NAMED_SERVICES.dns!], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage', address: '192.0.2.51', allow: [], allowMinutes: 0 };
const cameras = [frontDoor, garage];
const internet = (from: string) => ({ from, protocol: 'tcp' as const, port: 443, packets: 1, bytes: 100 });

/** The owner's hand-made WAN-out policy, bound to eth0 out: the plugin adopts it. */
const OWNER_POLICY = [
  FRESH_ROUTER_CONFIG,
  'set firewall group address-group CAMS address 192.0.2.51',
  'set firewall name CAMERAS default-action accept',
  'set firewall name CAMERAS rule 10 action accept',
  "set firewall name CAMERAS rule 10 description 'NVR to the cloud'",
  'set firewall name CAMERAS rule 10 source address 192.0.2.60',
  'set interfaces ethernet eth0 firewall out name CAMERAS',
].join('\n');

let sim: SimulatedRouterSetup | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await sim?.dispose();
  sim = undefined;
});

/** A known-hosts file in a temporary folder that is removed after the test. */
function knownHosts(): KnownHosts {
  const dir = mkdtempSync(join(tmpdir(), 'cg-shadow-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return new KnownHosts(join(dir, 'known.json'));
}

async function blockedOn(extra: string[]): Promise<{ router: SimulatedRouterSetup; driver: EdgeOsRouter }> {
  sim = await startSimulatedRouter({ initialConfig: [OWNER_POLICY, ...extra].join('\n') });
  const settings = simRouterSettings(sim, cameras);
  const driver = new EdgeOsRouter(settings, new SshConnection(settings, knownHosts(), recordingLog()));
  cleanups.push(() => driver.close());
  await driver.connect();
  await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
  return { router: sim, driver };
}

const SENTENCE = (rule: number, why: string): string =>
  `rule ${rule} of CAMERAS, ahead of Camera Guard's rules, accepts its traffic (${why}): delete it, disable it, or renumber it after 4999`;

describe('an owner\'s accept rule ahead of the camera rules, over SSH', () => {
  it('reads a camera whose packets an owner\'s accept for its network lets out as blocked but not in force, and leaves the rule alone', async () => {
    const rule20 = ['set firewall name CAMERAS rule 20 action accept', 'set firewall name CAMERAS rule 20 source address 192.0.2.0/24'];
    const { router, driver } = await blockedOn(rule20);
    // The gap is real: both cameras are "blocked" in the configuration, and their packets get out.
    expect(await router.router.sendTraffic(internet(frontDoor.address))).toBe('accepted');
    const reading = await driver.read(cameras);
    for (const camera of cameras) {
      expect(reading.cameras.get(camera.address)).toMatchObject({ status: 'intact', access: 'blocked', notInForce: SENTENCE(20, 'source 192.0.2.0/24 holds it') });
    }
    const config = await router.router.activeConfigCommands();
    for (const line of rule20) expect(config).toContain(line);

    // The owner disables the rule: the blocks are in force, and read so.
    await router.router.configure(['set firewall name CAMERAS rule 20 disable']);
    expect(await router.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
    const after = await driver.read(cameras, 'poll');
    for (const camera of cameras) expect(after.cameras.get(camera.address)?.notInForce).toBeUndefined();
  });

  it('names an accept for an address group only for the camera the group holds', async () => {
    const { router, driver } = await blockedOn(['set firewall name CAMERAS rule 20 action accept', 'set firewall name CAMERAS rule 20 source group address-group CAMS']);
    expect(await router.router.sendTraffic(internet(garage.address))).toBe('accepted');
    expect(await router.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
    const reading = await driver.read(cameras);
    expect(reading.cameras.get(garage.address)?.notInForce).toBe(SENTENCE(20, 'address group CAMS holds it'));
    expect(reading.cameras.get(frontDoor.address)?.notInForce).toBeUndefined();
  });

  it('catches at the next poll an accept for any source the owner adds on the router between full reads', async () => {
    const { router, driver } = await blockedOn([]);
    const before = await driver.read(cameras);
    for (const camera of cameras) expect(before.cameras.get(camera.address)?.notInForce).toBeUndefined();
    await router.router.configure(['set firewall name CAMERAS rule 30 action accept', "set firewall name CAMERAS rule 30 description 'temp: allow all'"]);
    expect(await router.router.sendTraffic(internet(garage.address))).toBe('accepted');
    const polled = await driver.read(cameras, 'poll');
    for (const camera of cameras) expect(polled.cameras.get(camera.address)?.notInForce).toBe(SENTENCE(30, 'any source'));
  });

  it('catches a kernel row inserted by hand (not in the configuration) on a poll that reuses the configuration', async () => {
    const { router, driver } = await blockedOn([]);
    const real = router.router.run.bind(router.router);
    const row = '       0        0 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0           \n';
    jest.spyOn(router.router, 'run').mockImplementation(async (command, stdin, signal) => {
      const result = await real(command, stdin, signal);
      return { ...result, stdout: result.stdout.replace(/^(Chain CAMERAS .*\n\s*pkts\s+bytes.*\n)/m, `$1${row}`) };
    });
    const full = await driver.read(cameras);
    expect(full.cameras.get(garage.address)?.notInForce).toBe('a kernel row of CAMERAS, not in the configuration, accepts its traffic first (any source): delete it or restart the router');
    const polled = await driver.read(cameras, 'poll');
    expect(polled.cameras.get(garage.address)?.notInForce).toBe(full.cameras.get(garage.address)?.notInForce);
  });

  it('keeps the Home app from showing the camera Off, trips its leak sensor, and tells the owner once', async () => {
    const { router } = await blockedOn(['set firewall name CAMERAS rule 20 action accept']);
    const log = recordingLog();
    const settings = simRouterSettings(router, [garage]);
    const driver = new EdgeOsRouter(settings, new SshConnection(settings, knownHosts(), log));
    const reads = jest.spyOn(driver, 'read');
    const guard = new RouterGuard({
      cameras: [garage],
      leak: { attempts: 3, uploadBytes: 5_000, windowMs: 60_000, quietMs: 1_000 },
      pollMs: 100,
      driver,
      log,
      listener: { cameraChanged: () => undefined, leakChanged: () => undefined, reachabilityChanged: () => undefined, lockdownChanged: () => undefined },
      seenCameras: new Set([garage.address]),
      lockdown: { on: false, previous: {} },
      saveLockdown: () => undefined,
      markSeen: () => undefined,
    });
    guard.start();
    cleanups.push(() => guard.stop());
    await until(() => guard.leakDetected(garage.address), 'the leak sensor trips');
    expect(guard.shownAccess(garage.address)).not.toBe('blocked');
    const seen = reads.mock.calls.length;
    await until(() => reads.mock.calls.length > seen + 2, 'a few more polls');
    const told = log.lines.filter((line) => line.includes('rule 20 of CAMERAS'));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/^ERROR .*"Garage".* LEAK: its block is not in force: .*rule 20 of CAMERAS, ahead of Camera Guard's rules, accepts its traffic \(any source\): delete it, disable it, or renumber it after 4999, so its packets get out; the switch shows On and the leak sensor stays tripped until the block is in force again\.$/);
    expect(guard.shownAccess(garage.address)).not.toBe('blocked');
  });
});
