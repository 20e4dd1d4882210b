/**
 * A poll names destinations (issue 12): the router's log (the tries-log rules' LOG lines) and connection table ride on
 * the poll's one round trip, over real SSH to the simulated router, whose shell runs the same fragments a router's
 * bash does. The simulated kernel logs what a blocked camera sends through its tries-log rule (at most its burst of
 * 5 at once); other lines are written here as the kernel and rsyslog would (SimState.routerLog).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CameraSettings } from '../../src/config';
import { NAMED_SERVICES } from '../../src/config';
import { LOG_READ_MAX_BYTES } from '../../src/destinations/logCursor';
import type { RouterReading } from '../../src/router/driver';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { applyChanges } from '../helpers/applyChanges';
import { recordingLog } from '../helpers/recordingLog';
import { simRouterSettings } from '../helpers/simRouter';

const frontDoor: CameraSettings = { name: 'Front door', address: '192.0.2.10', allow: [NAMED_SERVICES.dns!], allowMinutes: 0 };
const garden: CameraSettings = { name: 'Garden', address: '192.0.2.11', mac: '00:12:41:a3:00:11', allow: [], allowMinutes: 0 };
const porch: CameraSettings = { name: 'Porch', address: '192.0.2.12', allow: [], allowMinutes: 0 };
const cameras = [frontDoor, garden, porch];

/** A LOG line as the kernel writes it and rsyslog files it (docs/design/destinations.md section 3). */
function logLine(prefix: string, src: string, dst: string, dport: number, time = 'Dec  3 12:00:01'): string {
  const v6 = src.includes(':');
  const ip = v6 ? `SRC=${src} DST=${dst} LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=0` : `SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF`;
  return `${time} ubnt kernel: ${prefix}IN=switch0 OUT=eth0 MAC=00:11:22:33:44:55:00:12:41:a3:00:11:08:00 ${ip} PROTO=TCP SPT=40000 DPT=${dport} WINDOW=29200 RES=0x00 SYN URGP=0\n`;
}
const daemonLine = (text: string): string => `Dec  3 12:00:02 ubnt dhcpd: ${text}\n`;

async function appendLog(sim: SimulatedRouterSetup, text: string): Promise<void> {
  await sim.router.store.update((state) => {
    state.routerLog ??= { current: { inode: 5001, text: '' }, nextInode: 5002 };
    state.routerLog.current.text += text;
  });
}

/** logrotate's `create`: the file is renamed to messages.1 (keeping its inode) and a new, empty one is made. */
async function rotateLog(sim: SimulatedRouterSetup): Promise<void> {
  await sim.router.store.update((state) => {
    const log = (state.routerLog ??= { current: { inode: 5001, text: '' }, nextInode: 5002 });
    log.rotated = log.current;
    log.current = { inode: log.nextInode++, text: '' };
  });
}

const V4_FRONT = '[CAMGUARD_OUT-4007-D]';
const V4_GARDEN = '[CAMGUARD_OUT-4017-D]';
const V6_GARDEN = '[CAMGUARD6_OUT-4017-D]';

describe('destinations over SSH', () => {
  let sim: SimulatedRouterSetup;
  let driver: EdgeOsRouter;
  let keyDir: string;

  beforeEach(async () => {
    sim = await startSimulatedRouter();
    keyDir = mkdtempSync(join(tmpdir(), 'cg-known-'));
    const settings = simRouterSettings(sim, cameras);
    driver = new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(keyDir, 'known.json')), recordingLog()));
    await driver.connect();
    // Front door and Garden blocked, Porch allowed.
    await applyChanges(driver, cameras, [
      { camera: frontDoor, access: 'blocked' },
      { camera: garden, access: 'blocked' },
      { camera: porch, access: 'allowed' },
    ]);
    // The rule numbers the prefixes above name: each camera's block starts 10 rules after the one before.
    const config = await sim.router.activeConfigCommands();
    expect(config).toContain('set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.10');
    expect(config).toContain("set firewall name CAMGUARD_OUT rule 4018 source mac-address '00:12:41:a3:00:11'");
    // The first read after a start reads the newest 64 KiB; what was logged before it is not these tests' subject.
    await driver.read(cameras, 'poll');
  });

  afterEach(async () => {
    driver.close();
    await sim.dispose();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const poll = (): Promise<RouterReading> => driver.read(cameras, 'poll');
  const triesOf = (reading: RouterReading, camera: CameraSettings) => reading.destinations?.cameras.get(camera.address)?.attempts;

  it("names a blocked camera's logged tries (IPv4 and IPv6 merged) and an allowed camera's connections with their bytes", async () => {
    await sim.router.store.update((state) => {
      state.conntrackAccounting = 1;
    });
    expect(await sim.router.sendTraffic({ from: porch.address, to: '198.51.100.7', protocol: 'tcp', port: 443, packets: 10, bytes: 5000 })).toBe('accepted');
    expect(await sim.router.sendTraffic({ from: frontDoor.address, to: '198.51.100.9', protocol: 'tcp', port: 8000, packets: 3, bytes: 180 })).toBe('dropped');
    await appendLog(
      sim,
      logLine(V4_FRONT, frontDoor.address, '47.96.1.2', 8000) +
        daemonLine('DHCPACK on 192.0.2.10') +
        logLine(V4_FRONT, frontDoor.address, '47.96.1.2', 8000) +
        logLine(V4_GARDEN, garden.address, '8.8.8.8', 53) +
        logLine(V6_GARDEN, '2001:0db8:0001:0000:0000:0000:0000:0050', '2001:0db8:ffff:0000:0000:0000:0000:0010', 443) +
        // Another rule's lines (the owner's own logged rules) are not a camera's tries.
        logLine('[WAN_LOCAL-default-D]', '203.0.113.5', '203.0.113.1', 22),
    );

    const reading = await poll();
    expect(reading.destinations?.logProblem).toBeUndefined();
    expect(reading.destinations?.flowsProblem).toBeUndefined();
    expect(reading.destinations?.accounting).toBe(true);
    // The 3 packets the simulated kernel logged through the tries-log rule, and the 2 lines written above.
    expect(triesOf(reading, frontDoor)).toEqual({
      destinations: [
        expect.objectContaining({ address: '198.51.100.9', protocol: 'tcp', port: 8000, logged: 3 }),
        expect.objectContaining({ address: '47.96.1.2', protocol: 'tcp', port: 8000, logged: 2 }),
      ],
      otherDestinations: 0,
      logged: 5,
    });
    expect(triesOf(reading, garden)?.logged).toBe(2);
    expect(triesOf(reading, garden)?.destinations.map((destination) => destination.address).sort()).toEqual(['2001:db8:ffff::10', '8.8.8.8']);
    expect(triesOf(reading, porch)).toEqual({ destinations: [], otherDestinations: 0, logged: 0 });

    const flows = reading.destinations?.cameras.get(porch.address)?.flows;
    expect(flows?.accounting).toBe('on');
    expect(flows?.destinations).toEqual([expect.objectContaining({ address: '198.51.100.7', port: 443, direction: 'outgoing', flows: 1, traffic: expect.objectContaining({ bytesSent: 5000, packetsSent: 10 }) })]);
    // The blocked camera's dropped packets never became a connection.
    expect(reading.destinations?.cameras.get(frontDoor.address)?.flows?.destinations).toEqual([]);
    // And the guarding is as before: the block's counter has the exact count.
    expect(reading.cameras.get(frontDoor.address)).toMatchObject({ access: 'blocked', counters: { blockedPackets: 3 } });

    // Read once: the next poll names nothing new.
    expect(triesOf(await poll(), frontDoor)?.logged).toBe(0);
  });

  it('says accounting is off, and shows connections without bytes, when the router does not count them', async () => {
    await sim.router.sendTraffic({ from: porch.address, to: '198.51.100.7', protocol: 'udp', port: 123, packets: 1, bytes: 76 });
    const reading = await poll();
    expect(reading.destinations?.accounting).toBe(false);
    const flows = reading.destinations?.cameras.get(porch.address)?.flows;
    expect(flows?.accounting).toBe('off');
    expect(flows?.destinations[0]).toMatchObject({ address: '198.51.100.7', protocol: 'udp', port: 123 });
    expect(flows?.destinations[0]?.traffic).toBeUndefined();
  });

  it('reads across a rotation every line once: the rest of messages.1, then the new file', async () => {
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 1));
    expect(triesOf(await poll(), frontDoor)?.destinations.map((d) => d.port)).toEqual([1]);
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 2));
    await rotateLog(sim);
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 3));
    const reading = await poll();
    expect(triesOf(reading, frontDoor)?.destinations.map((d) => d.port).sort()).toEqual([2, 3]);
    expect(reading.destinations?.logSkippedBytes).toBe(0);
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 4));
    expect(triesOf(await poll(), frontDoor)?.destinations.map((d) => d.port)).toEqual([4]);
  });

  it('after a flood reads only the newest 64 KiB, says how much it passed over, and still guards', async () => {
    const junk = daemonLine('x'.repeat(200)).repeat(Math.ceil((3 * LOG_READ_MAX_BYTES) / 230));
    const flood = logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 1) + junk + logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 2);
    await appendLog(sim, flood);
    // After the flood: the kernel's lines for these 7 tries (its burst, 5) are in the newest 64 KiB, and counted in it.
    await sim.router.sendTraffic({ from: frontDoor.address, protocol: 'udp', port: 9, packets: 7, bytes: 700 });
    const kernelLines = ((await sim.router.store.read()).routerLog?.current.text.length ?? 0) - flood.length;
    const reading = await poll();
    // All but the newest 64 KiB is passed over (and the partial line the cut fell in, at most one line more).
    const skipped = reading.destinations?.logSkippedBytes ?? 0;
    expect(skipped).toBeGreaterThanOrEqual(flood.length + kernelLines - LOG_READ_MAX_BYTES - 1);
    expect(skipped).toBeLessThan(flood.length + kernelLines - LOG_READ_MAX_BYTES + 300);
    expect(triesOf(reading, frontDoor)?.destinations.map((d) => [d.port, d.logged])).toEqual([
      [9, 5],
      [2, 1],
    ]);
    expect(reading.cameras.get(frontDoor.address)).toMatchObject({ access: 'blocked', counters: { blockedPackets: 7 } });
  });

  it('when the log cannot be read says so, still reads counters and access, and loses no line', async () => {
    await sim.router.store.update((state) => {
      state.faults.logUnreadable = true;
    });
    await sim.router.sendTraffic({ from: frontDoor.address, protocol: 'udp', port: 9, packets: 2, bytes: 200 });
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 1));
    const unreadable = await poll();
    expect(unreadable.destinations?.logProblem).toMatch(/could not read the router's log \/var\/log\/messages .*still guarded/);
    expect(triesOf(unreadable, frontDoor)).toBeUndefined();
    expect(unreadable.cameras.get(frontDoor.address)).toMatchObject({ access: 'blocked', counters: { blockedPackets: 2 } });
    expect(unreadable.cameras.get(porch.address)).toMatchObject({ access: 'allowed' });
    expect(unreadable.destinations?.accounting).toBe(false);

    await sim.router.store.update((state) => {
      state.faults.logUnreadable = false;
    });
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 2));
    const readable = await poll();
    expect(readable.destinations?.logProblem).toBeUndefined();
    // The 2 tries the kernel logged while the log was unreadable (port 9), and the lines written above.
    expect(triesOf(readable, frontDoor)?.destinations.map((d) => d.port).sort()).toEqual([1, 2, 9]);
  });

  it('is not fooled by hostile log text: forged marks, control bytes, non-ASCII and overlong lines', async () => {
    await sim.router.sendTraffic({ from: frontDoor.address, protocol: 'udp', port: 9, packets: 5, bytes: 500 });
    const forged = [
      '@@camera-guard counters',
      'Chain CAMGUARD_OUT (1 references)',
      '       0        0 DROP       all  --  *      eth0    192.0.2.10           0.0.0.0/0            /* CAMGUARD_OUT-4008 */',
      '@@camera-guard end',
      'camguard-log end',
      'camguard-log new 1 0 0 0',
      '',
    ].join('\n');
    await appendLog(
      sim,
      forged +
        daemonLine('caf\u00e9 \u001b[31mred\u001b[0m \u0007') +
        `Dec  3 12:00:03 ubnt kernel: ${V4_FRONT}IN=switch0 OUT=eth0 SRC=192.0.2.10 DST=${'9'.repeat(5000)} PROTO=TCP SPT=1 DPT=2\n` +
        `Dec  3 12:00:03 ubnt kernel: ${V4_FRONT}IN=switch0 OUT=eth0 SRC=192.0.2.10 DST=198.51.100.66 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=TCP SPT=1 DPT=\u00e9\n` +
        logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 7),
    );
    const reading = await poll();
    // The counters are the kernel's, not the forged ones.
    expect(reading.cameras.get(frontDoor.address)).toMatchObject({ access: 'blocked', counters: { blockedPackets: 5 } });
    expect(reading.destinations?.logProblem).toBeUndefined();
    // The kernel's own lines for the 5 tries (port 9), and the one well-formed line among the hostile ones.
    expect(triesOf(reading, frontDoor)?.destinations).toEqual([
      expect.objectContaining({ address: '203.0.113.10', port: 9, logged: 5 }),
      expect.objectContaining({ address: '198.51.100.1', port: 7, logged: 1 }),
    ]);
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 8));
    expect(triesOf(await poll(), frontDoor)?.destinations.map((d) => d.port)).toEqual([8]);
  });

  it('moves the log on only after a read that succeeded as a whole: lines read by a failed read come again', async () => {
    await appendLog(sim, logLine(V4_FRONT, frontDoor.address, '198.51.100.1', 1));
    const run = sim.router.run.bind(sim.router);
    // First the router's answer is cut just before its end mark, after the log was read on the router; then a full
    // read whose configuration lacks the WAN interface fails after its log part was parsed.
    jest
      .spyOn(sim.router, 'run')
      .mockImplementationOnce(async (command, stdin, signal, user) => {
        const result = await run(command, stdin, signal, user);
        expect(result.stdout).toContain('camguard-log end');
        return { ...result, stdout: result.stdout.slice(0, result.stdout.indexOf('@@camera-guard end')) };
      })
      .mockImplementationOnce(async (command, stdin, signal, user) => {
        const result = await run(command, stdin, signal, user);
        expect(result.stdout).toContain('camguard-log end');
        return { ...result, stdout: result.stdout.replace(/^set interfaces ethernet eth0 .*\n/gm, '') };
      });
    await expect(poll()).rejects.toThrow(/cut short/);
    await expect(driver.read(cameras)).rejects.toThrow(/has no interface eth0/);
    jest.restoreAllMocks();
    const reading = await poll();
    expect(triesOf(reading, frontDoor)?.destinations.map((d) => d.port)).toEqual([1]);
  });
});
