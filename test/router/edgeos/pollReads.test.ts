/**
 * Polls read the kernel, not the whole configuration (issue 11): what a poll costs in bytes, and which changes made on
 * the router a poll notices at once (they change the kernel's rows) and which only the slow full read does.
 * Against the simulated router over real SSH; bytes are counted on what the router's commands printed.
 */
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import { NAMED_SERVICES } from '../../../src/config';
import { EdgeOsRouter } from '../../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../../src/router/hostKeys';
import { SshConnection } from '../../../src/router/ssh';
import { CONFIG_REREAD_MS } from '../../../src/settings';
import { FRESH_ROUTER_CONFIG, startSimulatedRouter } from '../../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../../tools/sim/simulatedSetup';
import { applyChanges } from '../../helpers/applyChanges';
import { recordingLog } from '../../helpers/recordingLog';
import { scratchDirectory } from '../../helpers/scratchDirectory';
import { simRouterSettings } from '../../helpers/simRouter';

const cameraList = (count: number): CameraSettings[] =>
  Array.from({ length: count }, (_, i) => ({
    name: `Camera ${i + 1}`,
    address: `192.0.2.${10 + i}`,
    // Every other camera has a MAC, so the IPv6 ruleset is polled too.
    ...(i % 2 === 0 ? { mac: `00:12:41:a3:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` } : {}),
    allow: i % 3 === 0 ? [NAMED_SERVICES.dns!] : [],
    allowMinutes: 0,
  }));

/**
 * About 100,000 lines of an owner's configuration that has nothing to do with the cameras: LAN rulesets with thousands
 * of rules, VLAN interfaces, DHCP static mappings.
 */
function largeOwnerConfig(): string {
  const lines = FRESH_ROUTER_CONFIG.split('\n');
  for (let set = 0; set < 4; set++) {
    for (let rule = 1; rule <= 4_000; rule++) {
      const at = `set firewall name LAN${set}_IN rule ${rule}`;
      lines.push(`${at} action accept`, `${at} description 'owner rule ${rule}'`, `${at} destination port ${1024 + rule}`, `${at} protocol tcp`, `${at} source address 10.${set}.${rule >> 8}.${rule & 0xff}`);
    }
  }
  for (let vif = 2; vif < 2_002; vif++) {
    lines.push(`set interfaces ethernet eth1 vif ${vif} address 10.${100 + (vif >> 8)}.${vif & 0xff}.1/24`, `set interfaces ethernet eth1 vif ${vif} description 'vlan ${vif}'`);
  }
  for (let host = 0; host < 5_000; host++) {
    const at = `set service dhcp-server shared-network-name LAN subnet 10.200.0.0/16 static-mapping host-${host}`;
    const mac = `02:00:00:00:${(host >> 8).toString(16).padStart(2, '0')}:${(host & 0xff).toString(16).padStart(2, '0')}`;
    lines.push(`${at} ip-address 10.200.${host >> 8}.${host & 0xff}`, `${at} mac-address '${mac}'`, `${at} description 'device ${host}'`);
  }
  return lines.join('\n');
}

interface Counted {
  readonly stdin: string;
  readonly bytes: number;
}

/** Every command the router runs, with the bytes of what it printed (standard output and error). */
function countOutput(sim: SimulatedRouterSetup): Counted[] {
  const counted: Counted[] = [];
  const run = sim.router.run.bind(sim.router);
  jest.spyOn(sim.router, 'run').mockImplementation(async (command, stdin, signal, user) => {
    const result = await run(command, stdin, signal, user);
    counted.push({ stdin: stdin ?? '', bytes: Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr) });
    return result;
  });
  return counted;
}

const FULL_READ = 'show configuration commands';

function driverFor(sim: SimulatedRouterSetup, cameras: readonly CameraSettings[], options: { now?: () => number } = {}): EdgeOsRouter {
  const settings = simRouterSettings(sim, cameras);
  const knownHosts = new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json'));
  return new EdgeOsRouter(settings, new SshConnection(settings, knownHosts, recordingLog()), options);
}

/** A driver whose cameras are set up blocked, and that has made its first full read. */
async function guarded(sim: SimulatedRouterSetup, cameras: readonly CameraSettings[], options: { now?: () => number } = {}): Promise<EdgeOsRouter> {
  const driver = driverFor(sim, cameras, options);
  await driver.connect();
  await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
  await driver.read(cameras, 'poll');
  return driver;
}

/** The bytes the router printed for one poll, and how many commands it took. */
async function pollCost(sim: SimulatedRouterSetup, driver: EdgeOsRouter, cameras: readonly CameraSettings[]): Promise<{ bytes: number; commands: number; full: boolean }> {
  const counted = countOutput(sim);
  await driver.read(cameras, 'poll');
  jest.restoreAllMocks();
  return { bytes: counted.reduce((sum, { bytes }) => sum + bytes, 0), commands: counted.length, full: counted.some(({ stdin }) => stdin.includes(FULL_READ)) };
}

describe('polls against the simulated router', () => {
  const sims: SimulatedRouterSetup[] = [];
  const drivers: EdgeOsRouter[] = [];
  const start = async (config?: string): Promise<SimulatedRouterSetup> => {
    const sim = await startSimulatedRouter(config === undefined ? {} : { initialConfig: config });
    sims.push(sim);
    return sim;
  };

  afterEach(async () => {
    jest.restoreAllMocks();
    drivers.splice(0).forEach((driver) => driver.close());
    await Promise.all(sims.splice(0).map((sim) => sim.dispose()));
  });

  it('print as many bytes on a router with 100,000 lines of unrelated owner configuration as on a fresh one, in one command', async () => {
    const cameras = cameraList(4);
    const small = await start();
    const smallDriver = await guarded(small, cameras);
    drivers.push(smallDriver);
    // The same camera rules, amid the owner's configuration (loaded at power-on: committing 100,000 lines is not what
    // this test is about).
    const owner = largeOwnerConfig();
    const large = await start(`${owner}\n${await small.router.activeConfigCommands()}`);
    const largeDriver = driverFor(large, cameras);
    drivers.push(largeDriver);
    await largeDriver.connect();

    const fullRead = countOutput(large);
    const first = await largeDriver.read(cameras, 'poll');
    jest.restoreAllMocks();
    expect(first.repairs).toEqual([]);
    const fullBytes = fullRead.reduce((sum, { bytes }) => sum + bytes, 0);
    // The owner's configuration is really there, and large: the first read after connecting carries it.
    expect(fullRead[0]?.stdin).toContain(FULL_READ);
    expect(fullBytes).toBeGreaterThan(4_000_000);

    const onSmall = await pollCost(small, smallDriver, cameras);
    const onLarge = await pollCost(large, largeDriver, cameras);
    expect(onLarge).toEqual({ bytes: onSmall.bytes, commands: 1, full: false });
    expect(onSmall).toMatchObject({ commands: 1, full: false });
    expect(onLarge.bytes).toBeLessThan(8_000);
    process.stdout.write(`bytes per poll, 4 cameras: ${onSmall.bytes} on a fresh router, ${onLarge.bytes} with ${owner.split('\n').length} owner lines (the full read: ${fullBytes})\n`);
  }, 120_000);

  it('grow with the cameras only: about a kilobyte per camera', async () => {
    const sim = await start();
    const few = cameraList(10);
    const many = cameraList(100);
    const fewDriver = await guarded(sim, few);
    drivers.push(fewDriver);
    const fewCost = await pollCost(sim, fewDriver, few);
    fewDriver.close();
    const manyDriver = await guarded(sim, many);
    drivers.push(manyDriver);
    const manyCost = await pollCost(sim, manyDriver, many);
    expect(manyCost).toMatchObject({ commands: 1, full: false });
    expect((manyCost.bytes - fewCost.bytes) / 90).toBeLessThan(1_500);
    process.stdout.write(`bytes per poll: ${fewCost.bytes} at 10 cameras, ${manyCost.bytes} at 100\n`);
  }, 120_000);

  it.each<[string, string[], (reading: Awaited<ReturnType<EdgeOsRouter['read']>>) => void]>([
    [
      'the owner opens a camera by disabling its drop and tries-log rules',
      ['set firewall name CAMGUARD_OUT rule 4017 disable', 'set firewall name CAMGUARD_OUT rule 4018 disable'],
      (reading) => expect(reading.cameras.get('192.0.2.11')?.access).toBe('allowed'),
    ],
    [
      'the owner removes the ruleset from the WAN and deletes it',
      ['delete interfaces ethernet eth0 firewall out name', 'delete firewall name CAMGUARD_OUT'],
      (reading) => {
        expect(reading.enforced).toBe(false);
        expect(reading.cameras.get('192.0.2.11')?.status).toBe('missing');
      },
    ],
    ['the owner removes the WAN attachment only', ['delete interfaces ethernet eth0 firewall out name'], (reading) => expect(reading.enforced).toBe(false)],
    [
      'the owner edits the drop rule of a blocked camera whose counters are not 0 (its row is re-inserted, counters at 0)',
      ["set firewall name CAMGUARD_OUT rule 4018 description 'not the plugin'"],
      (reading) => expect(reading.warnings.join(' ')).toContain('4018'),
    ],
  ])('notice at the next poll, with a full read in that poll, when %s', async (_what, change, check) => {
    const sim = await start();
    const cameras = cameraList(2);
    const driver = await guarded(sim, cameras);
    drivers.push(driver);
    // More than the tries-log rule's burst (5), so the drop rule 4018 itself counts some (5) of them.
    await sim.router.sendTraffic({ from: '192.0.2.11', protocol: 'tcp', port: 443, packets: 10, bytes: 600 });
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ commands: 1, full: false });
    expect((await sim.router.configure(change)).code).toBe(0);
    const counted = countOutput(sim);
    const reading = await driver.read(cameras, 'poll');
    expect(counted.map(({ stdin }) => stdin.includes(FULL_READ))).toEqual([false, true]);
    check(reading);
  });

  it('notice a change that leaves the kernel as it was (a disabled drop rule given another address) at the first poll after CONFIG_REREAD_MS', async () => {
    const sim = await start();
    const cameras = cameraList(2).slice(1);
    let now = 1_000_000;
    const driver = await guarded(sim, cameras, { now: () => now });
    drivers.push(driver);
    await applyChanges(driver, cameras, [{ camera: cameras[0]!, access: 'allowed' }]);
    expect((await driver.read(cameras, 'poll')).cameras.get('192.0.2.11')).toMatchObject({ status: 'intact', access: 'allowed' });
    // A disabled rule has no row in the kernel: this edit does not show there.
    expect((await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.200'])).code).toBe(0);
    now += CONFIG_REREAD_MS - 1;
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ commands: 1, full: false });
    now += 1;
    const counted = countOutput(sim);
    const reading = await driver.read(cameras, 'poll');
    expect(counted.map(({ stdin }) => stdin.includes(FULL_READ))).toEqual([true]);
    expect(reading.cameras.get('192.0.2.11')?.status).not.toBe('intact');
    expect(reading.repairs).not.toEqual([]);
  });

  it('read the configuration in full after a transaction and after a reconnection, and for every read that is not a poll', async () => {
    const sim = await start();
    const cameras = cameraList(2);
    const driver = await guarded(sim, cameras);
    drivers.push(driver);
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ full: false });
    await applyChanges(driver, cameras, [{ camera: cameras[0]!, access: 'allowed' }]);
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ commands: 1, full: true });
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ full: false });
    driver.close();
    await driver.connect();
    expect(await pollCost(sim, driver, cameras)).toMatchObject({ commands: 1, full: true });
    const counted = countOutput(sim);
    await driver.read(cameras);
    expect(counted.map(({ stdin }) => stdin.includes(FULL_READ))).toEqual([true]);
  });
});
