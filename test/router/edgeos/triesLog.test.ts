/**
 * The tries-log rule end to end on the simulated router (issue 12): a blocked camera's tries are dropped by the
 * limited, logged rule or by the drop rule after it, the blocked counter is the two DROP rows together, exactly, the
 * log stays bounded, and a block written by the previous version gets the rule without ever being lifted.
 */
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import type { BlockedReading, CameraReading } from '../../../src/router/driver';
import { EdgeOsRouter } from '../../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../../src/router/hostKeys';
import { SshConnection } from '../../../src/router/ssh';
import { startSimulatedRouter } from '../../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../../tools/sim/simulatedSetup';
import { applyChanges } from '../../helpers/applyChanges';
import { recordingLog } from '../../helpers/recordingLog';
import { scratchDirectory } from '../../helpers/scratchDirectory';
import { simRouterSettings } from '../../helpers/simRouter';

const porch: CameraSettings = { name: 'Porch', address: '192.0.2.60', allow: [], allowMinutes: 0 };
const yard: CameraSettings = { name: 'Yard', address: '192.0.2.61', allow: [], allowMinutes: 0, mac: '00:12:41:a3:70:04' };
const cameras = [porch, yard];
const TARGET = '203.0.113.77';

const blockedPackets = (reading: CameraReading | undefined): number | undefined => (reading as BlockedReading | undefined)?.counters?.blockedPackets;

describe('the tries-log rule on the simulated router', () => {
  let sim: SimulatedRouterSetup;
  let driver: EdgeOsRouter;

  beforeEach(async () => {
    sim = await startSimulatedRouter();
    await sim.router.setLanHosts([{ ip: yard.address, mac: yard.mac ?? '', hostname: 'yard', ipv6: ['2001:db8:1::61'] }]);
    const settings = simRouterSettings(sim, cameras);
    driver = new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json')), recordingLog()));
    await driver.connect();
    await applyChanges(driver, cameras, cameras.map((camera) => ({ camera, access: 'blocked' as const })));
  });

  afterEach(async () => {
    driver.close();
    await sim.dispose();
  });

  it('compiles to a limited LOG row and a limited DROP row ahead of the drop rule, as ubnt-fw does', async () => {
    const listing = await sim.router.run('sudo /sbin/iptables -t filter -L CAMGUARD_OUT -v -n -x', '', undefined, 'admin');
    const rows = listing.stdout.split('\n').filter((line) => line.includes('CAMGUARD_OUT-4007 '));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/ LOG +all +-- +\* +\* +192\.0\.2\.60 +0\.0\.0\.0\/0 +\/\* CAMGUARD_OUT-4007 \*\/ limit: avg 6\/min burst 5 LOG flags 0 level 4 prefix "\[CAMGUARD_OUT-4007-D\]"$/);
    expect(rows[1]).toMatch(/ DROP +all +-- +\* +\* +192\.0\.2\.60 +0\.0\.0\.0\/0 +\/\* CAMGUARD_OUT-4007 \*\/ limit: avg 6\/min burst 5$/);
    const config = await sim.router.activeConfigCommands();
    expect(config).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4017 limit rate 6/minute');
  });

  it('counts every dropped packet of a flood far beyond the limit exactly, once, and logs only the burst', async () => {
    const before = blockedPackets((await driver.read(cameras)).cameras.get(porch.address));
    expect(before).toBe(0);
    expect(await sim.router.sendTraffic({ from: porch.address, to: TARGET, protocol: 'tcp', port: 8000, packets: 500, bytes: 30_000 })).toBe('dropped');
    expect(await sim.router.sendTraffic({ from: porch.address, to: TARGET, protocol: 'udp', port: 9000, packets: 37, bytes: 2_220 })).toBe('dropped');
    const reading = await driver.read(cameras);
    expect(blockedPackets(reading.cameras.get(porch.address))).toBe(537);
    // The split the sum hides: the tries-log rule dropped its burst, the drop rule the rest.
    const counters = await sim.router.counters('CAMGUARD_OUT');
    expect(counters.get(4007)?.packets).toBeGreaterThanOrEqual(5);
    expect((counters.get(4007)?.packets ?? 0) + (counters.get(4008)?.packets ?? 0)).toBe(537);
    // The log names the destination, a sample of the tries: never more lines than the bucket let through.
    const attempts = reading.destinations?.cameras.get(porch.address)?.attempts;
    expect(attempts?.destinations[0]).toMatchObject({ address: TARGET, protocol: 'tcp', port: 8000 });
    expect(attempts?.logged).toBeGreaterThanOrEqual(5);
    expect(attempts?.logged).toBeLessThan(10);
  });

  it('counts both families of a camera with a MAC, the IPv6 tries-log rule included', async () => {
    await sim.router.sendTraffic({ from: yard.address, protocol: 'tcp', port: 443, packets: 40, bytes: 2_400 });
    await sim.router.sendTraffic({ from: '2001:db8:1::61', protocol: 'tcp', port: 443, packets: 30, bytes: 2_400 });
    const reading = await driver.read(cameras);
    expect(blockedPackets(reading.cameras.get(yard.address))).toBe(70);
    expect(reading.destinations?.cameras.get(yard.address)?.attempts?.destinations.map((d) => d.address).sort()).toEqual(['2001:db8:ffff::10', '203.0.113.10']);
  });

  it('switches with the drop rule: an opened camera writes no log lines and its packets get out', async () => {
    await applyChanges(driver, cameras, [{ camera: porch, access: 'allowed' }]);
    const config = await sim.router.activeConfigCommands();
    expect(config).toContain('set firewall name CAMGUARD_OUT rule 4007 disable');
    expect(config).toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
    const logBefore = (await sim.router.store.read()).routerLog?.current.text ?? '';
    expect(await sim.router.sendTraffic({ from: porch.address, protocol: 'tcp', port: 443, packets: 50, bytes: 5_000 })).toBe('accepted');
    expect((await sim.router.store.read()).routerLog?.current.text ?? '').toBe(logBefore);
    expect((await driver.read(cameras)).cameras.get(porch.address)).toMatchObject({ status: 'intact', access: 'allowed' });
  });

  it('adds the rule to a block of the previous version in one transaction, the camera blocked before, during and after', async () => {
    // The previous version's block: no rule 4007. Traffic already counted by its drop rule.
    await sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4007'], { save: true });
    expect(await sim.router.sendTraffic({ from: porch.address, protocol: 'tcp', port: 443, packets: 12, bytes: 720 })).toBe('dropped');
    const old = await driver.read(cameras);
    expect(old.cameras.get(porch.address)).toMatchObject({ status: 'outdated', access: 'blocked' });
    expect(blockedPackets(old.cameras.get(porch.address))).toBe(12);
    // Packets sent while the migration commits are dropped too: the drop rule is never touched.
    await sim.router.setCommitDelay(50);
    const migrating = driver.apply(driver.plan(old, new Map()));
    const during = sim.router.sendTraffic({ from: porch.address, protocol: 'tcp', port: 443, packets: 3, bytes: 180 });
    expect(await migrating).toMatchObject({ result: 'committed' });
    expect(await during).toBe('dropped');
    const after = await driver.read(cameras);
    expect(after.cameras.get(porch.address)).toMatchObject({ status: 'intact', access: 'blocked' });
    // The drop rule kept its row and its counter (ubnt-fw changes nothing for a rule set again identically).
    expect(blockedPackets(after.cameras.get(porch.address))).toBe(15);
  });
});

describe('the router log while a camera keeps trying', () => {
  it('stays under its bound, rotating to messages.1 with a new inode', async () => {
    const sim = await startSimulatedRouter();
    try {
      await sim.router.store.update((state) => {
        state.options.logMaxBytes = 2_000;
      });
      const settings = simRouterSettings(sim, [porch]);
      const driver = new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json')), recordingLog()));
      await driver.connect();
      await applyChanges(driver, [porch], [{ camera: porch, access: 'blocked' }]);
      driver.close();
      // Each rule change re-inserts the rows with a full bucket: every change logs one more burst.
      const inodes = new Set<number>();
      for (let round = 0; round < 12; round++) {
        await sim.router.configure([`set firewall name CAMGUARD_OUT rule 4007 limit burst ${5 + (round % 2)}`]);
        await sim.router.sendTraffic({ from: porch.address, protocol: 'tcp', port: 8000, packets: 20, bytes: 1_200 });
        const log = (await sim.router.store.read()).routerLog;
        expect(log?.current.text.length).toBeLessThanOrEqual(2_000);
        if (log !== undefined) inodes.add(log.current.inode);
      }
      const log = (await sim.router.store.read()).routerLog;
      expect(inodes.size).toBeGreaterThan(1);
      expect(log?.rotated?.inode).not.toBe(log?.current.inode);
      expect(log?.rotated?.text).toMatch(/^\w{3} [ \d]\d \d\d:\d\d:\d\d ubnt kernel: \[CAMGUARD_OUT-4007-D\]IN=switch0 OUT=eth0 MAC=\S+ SRC=192\.0\.2\.60 DST=203\.0\.113\.10 LEN=60 /);
    } finally {
      await sim.dispose();
    }
  });
});
