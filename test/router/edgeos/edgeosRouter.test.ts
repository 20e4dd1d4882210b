import { applyChanges } from '../../helpers/applyChanges';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CameraSettings, RouterSettings } from '../../../src/config';
import { NAMED_SERVICES } from '../../../src/config';
import { RouterError } from '../../../src/router/driver';
import { EdgeOsRouter } from '../../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../../src/router/hostKeys';
import { SshConnection } from '../../../src/router/ssh';
import { FRESH_ROUTER_CONFIG, startSimulatedRouter } from '../../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../../tools/sim/simulatedSetup';
import { captureSecret } from '../../../tools/sim/logCapture';
import { recordingLog } from '../../helpers/recordingLog';
import { scratchDirectory } from '../../helpers/scratchDirectory';
import { simRouterSettings } from '../../helpers/simRouter';

const frontDoor: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [NAMED_SERVICES.dns!], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage', address: '192.0.2.51', allow: [], allowMinutes: 0 };
const cameras = [frontDoor, garage];

function routerSettings(sim: SimulatedRouterSetup, overrides: Partial<RouterSettings> = {}): RouterSettings & { host: string } {
  return simRouterSettings(sim, cameras, overrides);
}

function driverFor(sim: SimulatedRouterSetup, overrides: Partial<RouterSettings> = {}, log = recordingLog()): EdgeOsRouter {
  const settings = routerSettings(sim, overrides);
  const knownHosts = new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json'));
  return new EdgeOsRouter(settings, new SshConnection(settings, knownHosts, log));
}

const internet = (from: string, port = 443, protocol: 'tcp' | 'udp' = 'tcp') => ({ from, protocol, port, packets: 1, bytes: 100 });

describe('EdgeOS driver against the simulated router over SSH', () => {
  let sim: SimulatedRouterSetup;
  let driver: EdgeOsRouter;

  beforeEach(async () => {
    sim = await startSimulatedRouter();
    driver = driverFor(sim);
    await driver.connect();
  });

  afterEach(async () => {
    driver.close();
    await sim.dispose();
  });

  it('creates the ruleset on a fresh router, binds it to WAN out, and starts cameras blocked', async () => {
    const before = await driver.read(cameras);
    expect(before.enforced).toBe(false);
    expect(before.cameras.get(frontDoor.address)?.status).toBe('missing');

    const outcome = await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    expect(outcome).toMatchObject({ result: 'committed', saved: true });

    const after = await driver.read(cameras);
    expect(after).toMatchObject({ ruleSet: 'CAMGUARD_OUT', adopted: false, enforced: true, unlisted: [], repairs: [] });
    expect(after.cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    const config = await sim.router.activeConfigCommands();
    expect(config).toContain('set firewall name CAMGUARD_OUT default-action accept');
    expect(config).toContain('set interfaces ethernet eth0 firewall out name CAMGUARD_OUT');
    expect(config).toContain("set firewall name CAMGUARD_OUT rule 4008 description 'camera-guard: Front Door (block)'");
    expect(await sim.router.savedConfigCommands()).toBe(config);
    // The router now really drops the cameras' traffic, but lets the allow-listed DNS through.
    expect(await sim.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
    expect(await sim.router.sendTraffic(internet(frontDoor.address, 53, 'udp'))).toBe('accepted');
    expect(await sim.router.sendTraffic(internet(garage.address, 53, 'udp'))).toBe('dropped');
    expect(await sim.router.sendTraffic(internet('192.0.2.99'))).toBe('accepted');
    expect(await sim.router.openSessionCount()).toBe(0);
  });

  it('allows and blocks by toggling only the drop rule, and counts what each rule saw', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await driver.read(cameras);
    await sim.router.sendTraffic({ ...internet(frontDoor.address), packets: 7, bytes: 700 });
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.counters).toEqual({ blockedPackets: 7, egressPackets: 0, egressBytes: 0 });

    await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'allowed' }]);
    const opened = await driver.read(cameras);
    expect(opened.cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'allowed' });
    expect(opened.cameras.get(garage.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    expect(await sim.router.activeConfigCommands()).toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
    expect(await sim.router.sendTraffic({ ...internet(frontDoor.address), packets: 3, bytes: 3000 })).toBe('accepted');
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.counters).toEqual({ blockedPackets: undefined, egressPackets: 3, egressBytes: 3000 });

    await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'blocked' }]);
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.access).toBe('blocked');
    expect(await sim.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
  });

  it('applies a batch of changes as one commit', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await driver.read(cameras);
    const run = jest.spyOn(sim.router, 'run');
    const outcome = await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'allowed' as const })));
    expect(outcome.result).toBe('committed');
    const commits = run.mock.calls.filter(([, stdin]) => stdin?.includes('vyatta-cfg-cmd-wrapper commit'));
    expect(commits).toHaveLength(1);
    const after = await driver.read(cameras);
    expect([...after.cameras.values()].map((camera) => camera.access)).toEqual(['allowed', 'allowed']);
  });

  it('reports a failed commit, leaves the router as it was, and leaves no session open', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await driver.read(cameras);
    await sim.router.failNextCommits('fail');
    const outcome = await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'allowed' }]);
    expect(outcome.result).toBe('failed');
    // The router's own words, from the first rule whose node failed (the tries-log rule switches first).
    expect(outcome.detail).toMatch(/rule 4007 \] \| simulated failure/);
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.access).toBe('blocked');
    expect(await sim.router.openSessionCount()).toBe(0);
  });

  it('discards the whole transaction when the router refuses one edit: nothing is committed, and the log gets its words', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    const before = await sim.router.activeConfigCommands();
    // A new camera needs several rules; the router refuses its block rule's source (as EdgeOS refuses a value its
    // template does not take). Committing the rest would leave "rule 4028 action drop" with no source: a drop of
    // every host's traffic.
    const shed: CameraSettings = { name: 'Shed', address: '192.0.2.52', allow: [], allowMinutes: 0 };
    await sim.router.refuseEdits('rule 4028 source address');
    const outcome = await applyChanges(driver, [...cameras, shed], [{ camera: shed, access: 'blocked' }]);
    expect(outcome.result).toBe('failed');
    expect(outcome.detail).toMatch(/^the router refused "set firewall name CAMGUARD_OUT rule 4028 source address 192\.0\.2\.52" \(simulated refusal: .*Set failed\), so the whole change was discarded and nothing was committed$/);
    expect(await sim.router.activeConfigCommands()).toBe(before);
    expect(await sim.router.sendTraffic(internet('192.0.2.99'))).toBe('accepted');
    expect(await sim.router.openSessionCount()).toBe(0);
    await sim.router.clearFaults();
    expect((await applyChanges(driver, [...cameras, shed], [{ camera: shed, access: 'blocked' }])).result).toBe('committed');
    expect(await sim.router.sendTraffic(internet(shed.address))).toBe('dropped');
    expect(await sim.router.sendTraffic(internet('192.0.2.99'))).toBe('accepted');
  });

  it('cleans and cuts what a hostile router says before it reaches a result or an error', async () => {
    const real = sim.router.run.bind(sim.router);
    const hostile = `\u001b[2J\u001b]0;owned\u0007Set failed\r\nERROR fake line ${'A'.repeat(100_000)}`;
    jest.spyOn(sim.router, 'run').mockImplementation(async (command, stdin, signal) => {
      if (typeof stdin === 'string' && stdin.includes('@@camera-guard edited')) {
        return { stdout: `@@camera-guard op 0\n${hostile}\n@@camera-guard done\n`, stderr: '', code: 1 };
      }
      if (typeof stdin === 'string' && stdin.includes('@@camera-guard config')) {
        // A read cut short, with the same words on stderr.
        const result = await real(command, stdin, signal);
        return { ...result, stdout: result.stdout.slice(0, 40), stderr: hostile };
      }
      return real(command, stdin, signal);
    });
    const error = await driver.read(cameras).catch((caught: unknown) => caught as RouterError);
    expect(error).toBeInstanceOf(RouterError);
    // eslint-disable-next-line no-control-regex -- what must never reach the log.
    const unsafe = /[\u0000-\u001f\u007f-\u009f]/;
    expect(unsafe.test((error as RouterError).message)).toBe(false);
    expect((error as RouterError).message.length).toBeLessThan(400);
    jest.restoreAllMocks();
    const reading = await driver.read(cameras);
    jest.spyOn(sim.router, 'run').mockImplementation(async (command, stdin, signal) =>
      typeof stdin === 'string' && stdin.includes('@@camera-guard edited') ? { stdout: `@@camera-guard op 0\n${hostile}\n@@camera-guard done\n`, stderr: '', code: 1 } : real(command, stdin, signal),
    );
    expect(reading.enforced).toBe(false);
    const outcome = await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    expect(outcome.result).toBe('failed');
    expect(unsafe.test(outcome.detail)).toBe(false);
    expect(outcome.detail.length).toBeLessThan(400);
    expect(outcome.detail).toContain('(Set failed | ERROR fake line AAA');
  });

  it('refuses a WAN interface the router does not have, naming the ones it has, and binds nothing', async () => {
    const typo = driverFor(sim, { wanInterface: 'eth0.100' });
    await typo.connect();
    try {
      const before = await sim.router.activeConfigCommands();
      await expect(typo.read(cameras)).rejects.toMatchObject({ kind: 'config', message: expect.stringMatching(/the router has no interface eth0\.100, which "wanInterface" names; it has eth0, switch0. Set "wanInterface"/) });
      await expect(applyChanges(typo, cameras, [{ camera: frontDoor, access: 'blocked' }])).rejects.toBeInstanceOf(RouterError);
      expect(await sim.router.activeConfigCommands()).toBe(before);
      expect(before).not.toContain('vif 100');
    } finally {
      typo.close();
    }
  });

  it('reports a partial commit as failed; the read-back tells what really applied', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await driver.read(cameras);
    await sim.router.failNextCommits('partial');
    const outcome = await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'allowed' as const })));
    expect(outcome.result).toBe('failed');
    const truth = await driver.read(cameras);
    const config = await sim.router.activeConfigCommands();
    for (const camera of cameras) {
      const slot = camera === frontDoor ? 4008 : 4018;
      expect(truth.cameras.get(camera.address)?.access).toBe(config.includes(`rule ${slot} disable`) ? 'allowed' : 'blocked');
    }
    expect(await sim.router.openSessionCount()).toBe(0);
  });

  it('says "locked" when another commit holds the lock, and applies nothing', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await driver.read(cameras);
    await sim.router.failNextCommits('locked');
    expect((await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'allowed' }])).result).toBe('locked');
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.access).toBe('blocked');
  });

  it('sees changes made on the router outside the plugin, including deleted rules', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    // The drop rule disabled by hand, its tries-log rule still dropping: the camera is partly blocked, a damaged block.
    await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable']);
    expect((await driver.read(cameras)).cameras.get(garage.address)).toMatchObject({ status: 'damaged' });
    await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4017 disable'], { save: true });
    expect((await driver.read(cameras)).cameras.get(garage.address)).toMatchObject({ status: 'intact', access: 'allowed' });

    await sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4008']);
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.status).toBe('damaged');
    await sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4000', 'delete firewall name CAMGUARD_OUT rule 4007', 'delete firewall name CAMGUARD_OUT rule 4009']);
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.status).toBe('missing');

    await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'blocked' }]);
    expect((await driver.read(cameras)).cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    expect(await sim.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
  });

  it('keeps the rules of a camera removed from the configuration and makes them block it (a removal by mistake must not open it)', async () => {
    await applyChanges(driver, cameras, [
      { camera: frontDoor, access: 'blocked' },
      { camera: garage, access: 'allowed' },
    ]);
    expect(await sim.router.sendTraffic(internet(garage.address))).toBe('accepted');
    const reading = await driver.read([frontDoor]);
    expect(reading.unlisted).toEqual([{ source: garage.address, name: 'Garage', firstRule: 4010, lastRule: 4019, access: 'allowed', fate: 'kept-blocked' }]);
    expect(reading.repairs.join()).toMatch(/block 192.0.2.51 \(rules 4010-4019\), which is no longer configured/);
    await applyChanges(driver, [frontDoor], []);
    const config = await sim.router.activeConfigCommands();
    expect(config).toContain("rule 4018 description 'camera-guard: Garage (block)'");
    expect(config).not.toContain('rule 4018 disable');
    expect(await sim.router.sendTraffic(internet(garage.address))).toBe('dropped');
    expect((await driver.read([frontDoor])).repairs).toEqual([]);
  });

  it('deletes the rules of a removed camera only when "forget" names it, in both families', async () => {
    const withMac: CameraSettings = { ...garage, mac: '00:12:41:a3:52:03' };
    await applyChanges(driver, [frontDoor, withMac], [{ camera: withMac, access: 'blocked' }]);
    expect(await sim.router.activeConfigCommands()).toContain('ipv6-name CAMGUARD6_OUT rule 4018');
    const forgetting = driverFor(sim, { forget: [withMac.mac as string] });
    await forgetting.connect();
    try {
      expect((await forgetting.read([frontDoor])).unlisted).toMatchObject([{ source: withMac.mac, fate: 'forgotten' }]);
      await applyChanges(forgetting, [frontDoor], []);
      const config = await sim.router.activeConfigCommands();
      expect(config).not.toMatch(/rule 401\d/);
      expect(await sim.router.sendTraffic(internet(garage.address))).toBe('accepted');
    } finally {
      forgetting.close();
    }
  });

  it('leaves the rules of a skipped camera exactly as they are, and no unconfigured camera\'s rules when a skipped entry cannot be matched', async () => {
    const shed: CameraSettings = { name: 'Shed', address: '192.0.2.52', allow: [], allowMinutes: 0 };
    await applyChanges(driver, [frontDoor, garage, shed], [
      { camera: garage, access: 'allowed' },
      { camera: shed, access: 'allowed' },
    ]);
    const before = await sim.router.activeConfigCommands();
    // Garage's entry is skipped for a bad "allow" entry (its address is still known); Shed was removed.
    const skipping = driverFor(sim, { skipped: [{ name: 'Garage', address: garage.address }] });
    await skipping.connect();
    try {
      const reading = await skipping.read([frontDoor]);
      expect(reading.unlisted.map((camera) => [camera.source, camera.fate])).toEqual([
        [garage.address, 'kept-as-is'],
        [shed.address, 'kept-blocked'],
      ]);
      await applyChanges(skipping, [frontDoor], []);
      const after = await sim.router.activeConfigCommands();
      expect(after.split('\n').filter((line) => / rule 401\d /.test(line))).toEqual(before.split('\n').filter((line) => / rule 401\d /.test(line)));
      expect(await sim.router.sendTraffic(internet(garage.address))).toBe('accepted');
      expect(await sim.router.sendTraffic(internet(shed.address))).toBe('dropped');
    } finally {
      skipping.close();
    }
    // An entry whose address itself is a typo cannot be matched: nothing of an unconfigured camera is touched.
    await applyChanges(driver, [frontDoor, garage, shed], [{ camera: shed, access: 'allowed' }]);
    const frozenBefore = await sim.router.activeConfigCommands();
    const frozen = driverFor(sim, { skipped: [{ name: 'Shed' }], forget: [garage.address] });
    await frozen.connect();
    try {
      expect((await frozen.read([frontDoor])).unlisted.map((camera) => camera.fate)).toEqual(['frozen', 'frozen']);
      await applyChanges(frozen, [frontDoor], []);
      expect(await sim.router.activeConfigCommands()).toBe(frozenBefore);
      expect(await sim.router.sendTraffic(internet(shed.address))).toBe('accepted');
    } finally {
      frozen.close();
    }
  });

  it('reads past a line it cannot read outside the firewall and interfaces, and notes it for the debug log', async () => {
    await applyChanges(driver, cameras, []);
    const real = sim.router.run.bind(sim.router);
    // A line no EdgeOS prints (a double quote in a value), in a part of the router the plugin never uses.
    jest.spyOn(sim.router, 'run').mockImplementation(async (command, stdin, signal) => {
      const result = await real(command, stdin, signal);
      return { ...result, stdout: result.stdout.replace('@@camera-guard config\n', '@@camera-guard config\nset system host-name "odd\x1b[31m"name\n') };
    });
    const reading = await driver.read(cameras);
    expect(reading.cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    expect(reading.notes).toHaveLength(1);
    expect(reading.notes[0]).toMatch(/^left out a configuration line the plugin does not use and could not read \(.+\): set system host-name/);
    expect(reading.notes[0]).not.toContain('\x1b');
  });

  it('cuts the open connections of all the cameras a transaction blocked in one command, and tells each one\'s count', async () => {
    await sim.router.openFlow(frontDoor.address);
    await sim.router.openFlow(frontDoor.address, { port: 80 });
    await sim.router.openFlow(garage.address);
    await sim.router.openFlow('192.0.2.99');
    const run = jest.spyOn(sim.router, 'run');
    const cuts = await driver.cutFlows(cameras);
    expect(run).toHaveBeenCalledTimes(1);
    expect(cuts).toEqual(
      new Map([
        [frontDoor.address, { flows: 2, addresses: [frontDoor.address], problem: undefined }],
        [garage.address, { flows: 1, addresses: [garage.address], problem: undefined }],
      ]),
    );
    expect(await sim.router.hasFlow(frontDoor.address)).toBe(false);
    expect(await sim.router.hasFlow(garage.address)).toBe(false);
    // Someone else's connection is left alone.
    expect(await sim.router.hasFlow('192.0.2.99')).toBe(true);
  });

  it('reads hardware offload', async () => {
    expect(await driver.hardwareOffload()).toBe(false);
    await sim.router.setOffload(true);
    expect(await driver.hardwareOffload()).toBe(true);
  });

  it('never configures through sudo (which would break the router until a reboot)', async () => {
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
    await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'allowed' }]);
    expect(await sim.router.isConfigBroken()).toBe(false);
  });
});

describe('a full router', () => {
  it('sets up 100 cameras with MACs (both families) in one commit, and then blocks and opens them all in one more', async () => {
    // The last camera is on the LAN, so its packets carry its MAC through the firewall.
    const sim = await startSimulatedRouter({ lanHosts: [{ ip: '192.0.2.109', mac: '02:00:00:00:00:73', hostname: 'camera-99' }] });
    const full: CameraSettings[] = Array.from({ length: 100 }, (_, i) => ({
      name: `Camera ${i}`,
      address: `192.0.2.${10 + i}`,
      mac: `02:00:00:00:00:${(16 + i).toString(16)}`,
      allow: [NAMED_SERVICES.dns!],
      allowMinutes: 0,
    }));
    const settings = simRouterSettings(sim, full);
    const driver = new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json')), recordingLog()));
    try {
      await driver.connect();
      const run = jest.spyOn(sim.router, 'run');
      const commits = (): number => run.mock.calls.filter(([, stdin]) => stdin?.includes('vyatta-cfg-cmd-wrapper commit')).length;
      expect(await applyChanges(driver, full, full.map((camera) => ({ camera, access: 'blocked' as const })))).toMatchObject({ result: 'committed' });
      const blocked = await driver.read(full);
      expect([...blocked.cameras.values()].filter((reading) => reading.status === 'intact' && reading.access === 'blocked')).toHaveLength(100);
      expect(await sim.router.sendTraffic(internet('192.0.2.109'))).toBe('dropped');
      expect(await applyChanges(driver, full, full.map((camera) => ({ camera, access: 'allowed' as const })))).toMatchObject({ result: 'committed' });
      const opened = await driver.read(full);
      expect([...opened.cameras.values()].filter((reading) => reading.access === 'allowed')).toHaveLength(100);
      expect(await sim.router.sendTraffic(internet('192.0.2.109'))).toBe('accepted');
      expect(commits()).toBe(2);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });
});

describe('cameras identified by MAC', () => {
  const lanHosts = [{ ip: frontDoor.address, mac: '00:11:22:33:44:55', hostname: 'front-door' }];

  it('keeps a camera blocked when DHCP gives it a new address, and rewrites its rules in place when a MAC is added', async () => {
    const sim = await startSimulatedRouter({ lanHosts });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      await driver.read(cameras);
      await applyChanges(driver, cameras, [
        { camera: frontDoor, access: 'allowed' },
        { camera: garage, access: 'blocked' },
      ]);
      const withMac = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];
      const reading = await driver.read(withMac);
      // Same block of rule numbers, same access: only the match changes.
      expect(reading.cameras.get(frontDoor.address)).toMatchObject({ status: 'outdated', access: 'allowed' });
      await applyChanges(driver, withMac, [{ camera: withMac[0]!, access: 'blocked' }]);
      expect((await driver.read(withMac)).cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });
      const config = await sim.router.activeConfigCommands();
      expect(config).toContain("set firewall name CAMGUARD_OUT rule 4008 source mac-address '00:11:22:33:44:55'");
      expect(config).not.toContain(`rule 4008 source address`);

      // DHCP moves the camera to another address: its traffic is still dropped.
      await sim.router.setLanHosts([{ ip: '192.0.2.77', mac: '00:11:22:33:44:55', hostname: 'front-door' }]);
      expect(await sim.router.sendTraffic({ from: '192.0.2.77', protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
      expect(await sim.router.sendTraffic({ from: '192.0.2.77', protocol: 'udp', port: 53, packets: 1, bytes: 60 })).toBe('accepted');
      expect(await sim.router.sendTraffic({ from: '192.0.2.78', protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('accepted');
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('cuts the open connections of every address the router sees the camera use: a new DHCP lease and its IPv6 addresses', async () => {
    const mac = '00:11:22:33:44:55';
    const moved = '192.0.2.77';
    const sim = await startSimulatedRouter({ lanHosts: [{ ip: moved, mac, hostname: 'front-door', ipv6: ['2001:db8:1::50', '2001:db8:1:0:8d2e:11ff:fe00:1'] }, { ip: garage.address, mac: '00:11:22:33:44:66', hostname: 'garage' }] });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      for (const from of [frontDoor.address, moved, '2001:db8:1::50', '2001:db8:1:0:8d2e:11ff:fe00:1', garage.address]) await sim.router.openFlow(from);
      const cut = (await driver.cutFlows([{ ...frontDoor, mac: mac.toUpperCase() }])).get(frontDoor.address);
      expect(cut).toEqual({ flows: 4, addresses: [frontDoor.address, moved, '2001:db8:1::50', '2001:db8:1:0:8d2e:11ff:fe00:1'], problem: undefined });
      for (const from of [frontDoor.address, moved, '2001:db8:1::50', '2001:db8:1:0:8d2e:11ff:fe00:1']) expect(await sim.router.hasFlow(from)).toBe(false);
      // Another camera's connections are left alone.
      expect(await sim.router.hasFlow(garage.address)).toBe(true);
      // Without a MAC there is nothing to look up: only the configured address.
      expect((await driver.cutFlows([garage])).get(garage.address)).toMatchObject({ addresses: [garage.address] });
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('still cuts the configured address, and says what it could not do, when the neighbour table is unreadable', async () => {
    const sim = await startSimulatedRouter({ lanHosts: [{ ip: '192.0.2.77', mac: 'not-a-mac', hostname: 'front-door' }] });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      await sim.router.openFlow(frontDoor.address);
      const cut = (await driver.cutFlows([{ ...frontDoor, mac: '00:11:22:33:44:55' }])).get(frontDoor.address);
      expect(cut).toMatchObject({ addresses: [frontDoor.address], flows: 1 });
      expect((cut as { problem?: string }).problem).toMatch(/could not read the router's neighbour table \(the neighbour table has a damaged link-layer address/);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('warns that IPv6 egress is not covered for cameras without a MAC when the router has IPv6 on the WAN', async () => {
    const sim = await startSimulatedRouter({ initialConfig: `${FRESH_ROUTER_CONFIG}\nset interfaces ethernet eth0 dhcpv6-pd pd 0 prefix-length 56` });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      const reading = await driver.read(cameras);
      expect(reading.warnings.join('\n')).toMatch(/IPv6 on eth0, and "Front Door", "Garage" have no "mac", so their IPv6 traffic is not blocked/);
      const withMac = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];
      expect((await driver.read(withMac)).warnings.join('\n')).toMatch(/IPv6 on eth0, and "Garage" has no "mac"/);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });
});

describe('IPv6 for cameras with a MAC', () => {
  it('drops a blocked camera\'s IPv6 traffic by MAC, lets it through when opened, and counts both families', async () => {
    const lanHosts = [{ ip: frontDoor.address, mac: '00:11:22:33:44:55', hostname: 'front-door', ipv6: ['2001:db8:1::50'] }];
    const sim = await startSimulatedRouter({ lanHosts });
    const driver = driverFor(sim);
    const withMac = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];
    const v6 = (packets: number, port = 443, protocol: 'tcp' | 'udp' = 'tcp') => ({ from: '2001:db8:1::50', protocol, port, packets, bytes: packets * 100, family: 6 as const });
    try {
      await driver.connect();
      await driver.read(withMac);
      await applyChanges(driver, withMac, withMac.map((camera) => ({ camera, access: 'blocked' as const })));
      await driver.read(withMac);
      expect(await sim.router.sendTraffic(v6(3))).toBe('dropped');
      expect(await sim.router.sendTraffic(v6(1, 53, 'udp'))).toBe('accepted');
      await sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 2, bytes: 120 });
      // Blocked attempts of both families add up for the leak sensor.
      expect((await driver.read(withMac)).cameras.get(frontDoor.address)?.counters?.blockedPackets).toBe(5);

      await applyChanges(driver, withMac, [{ camera: withMac[0]!, access: 'allowed' }]);
      expect(await sim.router.sendTraffic(v6(4))).toBe('accepted');
      await sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 1, bytes: 1000 });
      expect((await driver.read(withMac)).cameras.get(frontDoor.address)?.counters).toEqual({ blockedPackets: undefined, egressPackets: 5, egressBytes: 1400 });
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('creates the ipv6-name ruleset on WAN out, blocks and opens both families together, and cleans up when the MAC goes', async () => {
    const sim = await startSimulatedRouter();
    const driver = driverFor(sim);
    const withMac = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];
    try {
      await driver.connect();
      await driver.read(withMac);
      await applyChanges(driver, withMac, withMac.map((camera) => ({ camera, access: 'blocked' as const })));
      let config = await sim.router.activeConfigCommands();
      expect(config).toContain('set interfaces ethernet eth0 firewall out ipv6-name CAMGUARD6_OUT');
      expect(config).toContain('set firewall ipv6-name CAMGUARD6_OUT default-action accept');
      expect(config).toContain("set firewall ipv6-name CAMGUARD6_OUT rule 4008 source mac-address '00:11:22:33:44:55'");
      // Garage has no MAC: no IPv6 rules for it.
      expect(config).not.toContain('ipv6-name CAMGUARD6_OUT rule 4018');
      let reading = await driver.read(withMac);
      expect(reading.enforced).toBe(true);
      expect(reading.cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });

      await applyChanges(driver, withMac, [{ camera: withMac[0]!, access: 'allowed' }]);
      config = await sim.router.activeConfigCommands();
      expect(config).toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
      expect(config).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4008 disable');

      // Opened for IPv6 only on the router: the families disagree, so the camera is re-created blocked.
      await sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4008 disable']);
      reading = await driver.read(withMac);
      expect(reading.cameras.get(frontDoor.address)?.status).toBe('damaged');

      // The MAC is removed from the config: its IPv6 rules go.
      await driver.read(cameras);
      await applyChanges(driver, cameras, [{ camera: frontDoor, access: 'blocked' }]);
      expect(await sim.router.activeConfigCommands()).not.toContain('ipv6-name CAMGUARD6_OUT rule 40');
    } finally {
      driver.close();
      await sim.dispose();
    }
  });
});

describe('checking blocks in the kernel, not only in the configuration', () => {
  let sim: SimulatedRouterSetup;
  let driver: EdgeOsRouter;
  const withMac = [{ ...frontDoor, mac: '00:11:22:33:44:55' }, garage];

  beforeEach(async () => {
    sim = await startSimulatedRouter();
    driver = driverFor(sim);
    await driver.connect();
    await applyChanges(driver, withMac, withMac.map((camera) => ({ camera, access: 'blocked' as const })));
  });

  afterEach(async () => {
    driver.close();
    await sim.dispose();
  });

  it('reads a block whose rules and hook are in the kernel as in force', async () => {
    const reading = await driver.read(withMac);
    expect(reading.cameras.get(frontDoor.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    expect(reading.cameras.get(frontDoor.address)?.notInForce).toBeUndefined();
    expect(reading.cameras.get(garage.address)?.notInForce).toBeUndefined();
  });

  it('says a block is not in force when its drop row was deleted from the kernel behind EdgeOS\'s back, and the packets do get out', async () => {
    expect(await sim.router.deleteKernelRows(4, 'CAMGUARD_OUT', { ruleKey: 'CAMGUARD_OUT-4018' })).toBe(1);
    // The tries-log rule ahead of it drops its burst (5 packets), and lets the rest fall through to where 4018 was.
    expect(await sim.router.sendTraffic({ ...internet(garage.address), packets: 20, bytes: 2000 })).toBe('accepted');
    const reading = await driver.read(withMac);
    expect(reading.cameras.get(garage.address)).toMatchObject({ status: 'intact', access: 'blocked', notInForce: "the kernel's CAMGUARD_OUT chain has no DROP row for rule 4018" });
    expect(reading.cameras.get(frontDoor.address)?.notInForce).toBeUndefined();
  });

  it('says every block is not in force when the WAN\'s hook no longer jumps to the ruleset', async () => {
    expect(await sim.router.deleteKernelRows(4, 'VYATTA_FW_OUT_HOOK', { target: 'CAMGUARD_OUT' })).toBe(1);
    expect(await sim.router.sendTraffic(internet(frontDoor.address))).toBe('accepted');
    const reading = await driver.read(withMac);
    for (const camera of withMac) {
      expect(reading.cameras.get(camera.address)?.notInForce).toBe("the kernel does not send eth0's traffic through CAMGUARD_OUT (no jump in VYATTA_FW_OUT_HOOK)");
    }
  });

  it('checks the IPv6 drop row of a camera with a MAC too', async () => {
    expect(await sim.router.deleteKernelRows(6, 'CAMGUARD6_OUT', { ruleKey: 'ipv6:CAMGUARD6_OUT-4008' })).toBe(1);
    const reading = await driver.read(withMac);
    expect(reading.cameras.get(frontDoor.address)?.notInForce).toBe("the kernel's IPv6 CAMGUARD6_OUT chain has no DROP row for rule 4008");
  });

  it('takes a drop row for another host as no block for this camera', async () => {
    // The configuration is the plugin's; the kernel's row for the camera was replaced by one for another host.
    await sim.router.deleteKernelRows(4, 'CAMGUARD_OUT', { ruleKey: 'CAMGUARD_OUT-4018' });
    const real = sim.router.run.bind(sim.router);
    jest.spyOn(sim.router, 'run').mockImplementation(async (command, stdin, signal) => {
      const result = await real(command, stdin, signal);
      const row = '       0        0 DROP       all  --  *      *       192.0.2.99           0.0.0.0/0            /* CAMGUARD_OUT-4018 */\n';
      return { ...result, stdout: result.stdout.replace(/^( +\d+ +\d+ RETURN .*\/\* CAMGUARD_OUT-10000 )/m, `${row}$1`) };
    });
    const reading = await driver.read(withMac);
    expect(reading.cameras.get(garage.address)?.notInForce).toBe("the kernel's CAMGUARD_OUT chain has no DROP row for rule 4018");
  });
});

describe('adopting the owner\'s ruleset', () => {
  const ownerPolicy = [
    FRESH_ROUTER_CONFIG,
    'set firewall name CAMERAS default-action accept',
    'set firewall name CAMERAS rule 10 action accept',
    "set firewall name CAMERAS rule 10 description 'NVR DNS'",
    'set firewall name CAMERAS rule 10 source address 192.0.2.60',
    'set firewall name CAMERAS rule 10 protocol tcp_udp',
    'set firewall name CAMERAS rule 10 destination port 53',
    'set firewall name CAMERAS rule 20 action drop',
    "set firewall name CAMERAS rule 20 description 'NVR everything else'",
    'set firewall name CAMERAS rule 20 source address 192.0.2.60',
    'set interfaces ethernet eth0 firewall out name CAMERAS',
  ].join('\n');

  it('puts the camera rules into the ruleset already on WAN out and leaves the owner\'s rules alone', async () => {
    const sim = await startSimulatedRouter({ initialConfig: ownerPolicy });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      const reading = await driver.read(cameras);
      expect(reading).toMatchObject({ ruleSet: 'CAMERAS', adopted: true, enforced: true });
      await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
      const config = await sim.router.activeConfigCommands();
      expect(config).not.toContain('CAMGUARD_OUT');
      expect(config).toContain("set firewall name CAMERAS rule 4008 description 'camera-guard: Front Door (block)'");
      for (const line of ownerPolicy.split('\n').filter((l) => l.includes('CAMERAS'))) {
        expect(config).toContain(line);
      }
      expect(await sim.router.sendTraffic(internet('192.0.2.60', 53, 'udp'))).toBe('accepted');
      expect(await sim.router.sendTraffic(internet('192.0.2.60'))).toBe('dropped');
      expect(await sim.router.sendTraffic(internet(frontDoor.address))).toBe('dropped');
      await sim.router.sendTraffic(internet(frontDoor.address));
      expect((await driver.read(cameras)).cameras.get(frontDoor.address)?.counters?.blockedPackets).toBe(2);
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('leaves owner rules that sit in its range alone and says so', async () => {
    const sim = await startSimulatedRouter({ initialConfig: `${ownerPolicy}\nset firewall name CAMERAS rule 4005 action accept` });
    const driver = driverFor(sim);
    try {
      await driver.connect();
      const reading = await driver.read(cameras);
      expect(reading.warnings.join('\n')).toMatch(/rules 4005 in CAMERAS sit in the plugin's range/);
      await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
      const config = await sim.router.activeConfigCommands();
      expect(config).toContain('set firewall name CAMERAS rule 4005 action accept');
      // Front Door skips the owner's block 4000-4009 and gets the next one.
      expect(config).toContain("rule 4018 description 'camera-guard: Front Door (block)'");
    } finally {
      driver.close();
      await sim.dispose();
    }
  });
});

describe('SSH trust and login', () => {
  it('refuses a router whose host key differs from the pinned one, before sending anything', async () => {
    const sim = await startSimulatedRouter();
    const run = jest.spyOn(sim.router, 'run');
    const driver = driverFor(sim, { hostKey: 'SHA256:' + 'A'.repeat(43) });
    try {
      const error = await driver.connect().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RouterError);
      expect((error as RouterError).kind).toBe('host-key');
      expect((error as RouterError).message).toContain(sim.hostKeyFingerprint);
      expect((error as RouterError).message).toContain('SHA256:' + 'A'.repeat(43));
      expect(run).not.toHaveBeenCalled();
    } finally {
      driver.close();
      await sim.dispose();
    }
  });

  it('trusts the first key on first use, remembers it (0600), logs it to pin, and refuses a changed key later', async () => {
    const sim = await startSimulatedRouter();
    const known = join(scratchDirectory('cg-known-'), 'known.json');
    const log = recordingLog();
    const settings = routerSettings(sim, { hostKey: undefined });
    const first = new SshConnection(settings, new KnownHosts(known), log);
    await first.connect();
    first.close();
    expect(log.lines.join('\n')).toContain(`"hostKey": "${sim.hostKeyFingerprint}"`);
    expect(JSON.parse(readFileSync(known, 'utf8'))).toEqual({ [`127.0.0.1:${sim.port}`]: sim.hostKeyFingerprint });
    const { statSync } = await import('node:fs');
    expect(statSync(known).mode & 0o777).toBe(0o600);
    const port = sim.port;
    await sim.dispose();

    // The "router" is replaced by another with a new key on the same address.
    const impostor = await startSimulatedRouter({ port });
    try {
      const run = jest.spyOn(impostor.router, 'run');
      const second = new SshConnection({ ...settings, port, privateKeyFile: impostor.privateKeyFile }, new KnownHosts(known), log);
      await expect(second.connect()).rejects.toMatchObject({ kind: 'host-key' });
      expect(run).not.toHaveBeenCalled();
      second.close();
    } finally {
      await impostor.dispose();
    }
  });

  it('logs in with a password through keyboard-interactive or password auth, and names a refused login', async () => {
    const sim = await startSimulatedRouter();
    try {
      const good = driverFor(sim, { privateKeyFile: undefined, password: sim.password });
      await good.connect();
      expect((await good.read(cameras)).ruleSet).toBe('CAMGUARD_OUT');
      good.close();
      const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
      captureSecret(wrong);
      const bad = driverFor(sim, { privateKeyFile: undefined, password: wrong });
      await expect(bad.connect()).rejects.toMatchObject({ kind: 'auth' });
      bad.close();
    } finally {
      await sim.dispose();
    }
  });

  it('logs in with a passphrase-protected key, and names a wrong passphrase without showing it', async () => {
    const passphrase = `phrase-${Math.random().toString(36).slice(2)}`;
    const sim = await startSimulatedRouter({ keyPassphrase: passphrase });
    const log = recordingLog();
    try {
      const good = driverFor(sim, { passphrase }, log);
      await good.connect();
      good.close();
      const wrong = `bad-${Math.random().toString(36).slice(2)}`;
      captureSecret(wrong);
      const bad = driverFor(sim, { passphrase: wrong }, log);
      const error = await bad.connect().then(
        () => undefined,
        (e: unknown) => e as RouterError,
      );
      bad.close();
      expect(error?.kind).toBe('auth');
      expect(error?.message).not.toContain(wrong);
      expect(error?.message).not.toContain(passphrase);
    } finally {
      await sim.dispose();
    }
  });

  it('warns when the private key file can be read by other users', async () => {
    const sim = await startSimulatedRouter();
    const log = recordingLog();
    try {
      const { chmodSync } = await import('node:fs');
      chmodSync(sim.privateKeyFile, 0o644);
      const driver = driverFor(sim, {}, log);
      await driver.connect();
      driver.close();
      expect(log.lines).toContain(`WARN the private key file ${sim.privateKeyFile} can be read by other users of this machine; run "chmod 600 ${sim.privateKeyFile}".`);
    } finally {
      await sim.dispose();
    }
  });
});
