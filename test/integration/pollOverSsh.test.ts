/**
 * The guard's polls read the kernel, and the configuration only when the kernel's rows changed or at a slow cadence
 * (issue 11). Each change an owner can make by hand on the router must still reach the guard within its bound: the
 * poll after the change when it alters the kernel's rows, `configRereadMs` and a poll when it does not. Over real SSH
 * to the simulated router, with real timers; polls are counted, not timed.
 */
import { join } from 'node:path';

import type { CameraSettings, LeakSettings } from '../../src/config';
import { RouterGuard } from '../../src/guard/routerGuard';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { recordingLog } from '../helpers/recordingLog';
import { scratchDirectory } from '../helpers/scratchDirectory';
import { simRouterSettings, until } from '../helpers/simRouter';

/** One scratch directory for the known-hosts files of this file's guards, removed after its tests. */
const scratch = scratchDirectory('cg-');
let knownHostsFiles = 0;

const POLL_MS = 200;
const frontDoor: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage', address: '192.0.2.51', allow: [], allowMinutes: 0 };
const cameras = [frontDoor, garage];
const leak: LeakSettings = { attempts: 3, uploadBytes: 5_000, windowMs: 60_000, quietMs: 1_000 };

interface Harness {
  readonly sim: SimulatedRouterSetup;
  readonly guard: RouterGuard;
  readonly log: ReturnType<typeof recordingLog>;
  /** The standard input of every read the router ran, in order: `full` (with the configuration) or `poll`. */
  readonly reads: ('full' | 'poll')[];
}

async function startGuard(configRereadMs?: number): Promise<Harness> {
  const sim = await startSimulatedRouter();
  const log = recordingLog();
  const router = simRouterSettings(sim, cameras);
  const ssh = new SshConnection(router, new KnownHosts(join(scratch, `known-${++knownHostsFiles}.json`)), log);
  const reads: ('full' | 'poll')[] = [];
  const run = sim.router.run.bind(sim.router);
  jest.spyOn(sim.router, 'run').mockImplementation((command, stdin, signal, user) => {
    if (stdin?.includes('@@camera-guard clock') === true) {
      reads.push(stdin.includes('show configuration commands') ? 'full' : 'poll');
    }
    return run(command, stdin, signal, user);
  });
  const guard = new RouterGuard({
    cameras,
    leak,
    pollMs: POLL_MS,
    driver: new EdgeOsRouter(router, ssh, configRereadMs === undefined ? {} : { configRereadMs }),
    log,
    listener: { cameraChanged: () => undefined, leakChanged: () => undefined, reachabilityChanged: () => undefined, lockdownChanged: () => undefined },
    seenCameras: new Set(),
    lockdown: { on: false, previous: {} },
    saveLockdown: () => undefined,
    markSeen: () => undefined,
  });
  guard.start();
  return { sim, guard, log, reads };
}

/** Waits until the guard has polled on its own (kernel only) a few times since the setup's transaction. */
async function settled(h: Harness): Promise<void> {
  await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked' && h.guard.shownAccess(garage.address) === 'blocked', 'setup confirmed');
  const from = h.reads.length;
  await until(() => h.reads.slice(from).filter((kind) => kind === 'poll').length >= 2, 'polls of the kernel only');
}

const dropped = async (sim: SimulatedRouterSetup, from: string): Promise<boolean> => (await sim.router.sendTraffic({ from, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })) === 'dropped';

describe('the guard notices changes made on the router while its polls read only the kernel', () => {
  let h: Harness;

  afterEach(async () => {
    await h.guard.stop();
    jest.restoreAllMocks();
    await h.sim.dispose();
  });

  it('polls with the kernel listing only once its own reading is confirmed', async () => {
    h = await startGuard();
    await settled(h);
    const from = h.reads.length;
    await until(() => h.reads.length >= from + 5, 'five more polls');
    expect(h.reads.slice(from, from + 5)).toEqual(['poll', 'poll', 'poll', 'poll', 'poll']);
  });

  it.each<[string, string[], (h: Harness, logFrom: number) => boolean, boolean]>([
    // The router is the source of truth: an opening made there is shown, not undone.
    [
      'a camera opened by disabling its drop and tries-log rules',
      ['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable'],
      (h) => h.guard.shownAccess(frontDoor.address) === 'allowed',
      false,
    ],
    [
      'the ruleset deleted (unbound from the WAN first, as EdgeOS requires)',
      ['delete interfaces ethernet eth0 firewall out name', 'delete firewall name CAMGUARD_OUT'],
      (h, logFrom) => h.log.lines.slice(logFrom).some((line) => line.includes('the camera ruleset "CAMGUARD_OUT" is missing or not bound to the WAN interface')),
      true,
    ],
    [
      'the ruleset unbound from the WAN',
      ['delete interfaces ethernet eth0 firewall out name'],
      (h, logFrom) => h.log.lines.slice(logFrom).some((line) => line.includes('the camera ruleset "CAMGUARD_OUT" is missing or not bound to the WAN interface')),
      true,
    ],
  ])('notices %s within the poll after the commit, with one full read', async (_what, change, noticed, blockedAgain) => {
    h = await startGuard();
    await settled(h);
    const from = h.reads.length;
    // The setup said the ruleset was missing too: only what is said after the change counts.
    const logFrom = h.log.lines.length;
    expect((await h.sim.router.configure(change)).code).toBe(0);
    await until(() => noticed(h, logFrom), 'the change noticed');
    const since = h.reads.slice(from);
    // A poll may have been under way when the commit landed; the one after it reads the kernel, sees the change and
    // reads the configuration at once.
    const full = since.indexOf('full');
    expect(full).toBeGreaterThanOrEqual(0);
    expect(full).toBeLessThanOrEqual(1);
    if (blockedAgain) {
      // The camera rules are gone from the WAN: the guard puts them back, blocked.
      await until(async () => (await dropped(h.sim, frontDoor.address)) && (await dropped(h.sim, garage.address)), 'cameras blocked again', 15_000);
    } else {
      expect(await dropped(h.sim, frontDoor.address)).toBe(false);
    }
  });

  it('notices a change that leaves the kernel as it was at its first full read after configRereadMs', async () => {
    h = await startGuard(1_000);
    await settled(h);
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed' && !h.guard.stateUnknown(frontDoor.address), 'opened');
    await until(async () => !(await dropped(h.sim, frontDoor.address)), 'open on the router');
    // The drop rule of an open camera is disabled and has no row in the kernel: giving it another source changes nothing
    // there, and a later enable would have blocked the wrong host.
    expect((await h.sim.router.configure(['set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.200'])).code).toBe(0);
    const from = h.reads.length;
    // The rules now match another host: the plugin keeps that host blocked and re-creates the camera's rules, blocked.
    await until(() => h.log.lines.some((line) => line.includes('(192.0.2.200) is no longer in the configuration')), 'the changed rule noticed');
    expect(h.reads.slice(from)).toContain('full');
    await until(async () => (await h.sim.router.activeConfigCommands()).includes('rule 4028 source address 192.0.2.50'), 'the camera\'s rules re-created', 15_000);
    // The old block's egress counter still names the camera and comes before its new block: it is disabled, so the
    // switch's Off is true in the kernel.
    await until(async () => h.guard.shownAccess(frontDoor.address) === 'blocked' && (await dropped(h.sim, frontDoor.address)), 'the camera blocked again', 15_000);
    expect(await h.sim.router.activeConfigCommands()).toContain('rule 4009 disable');
    expect(await dropped(h.sim, '192.0.2.200')).toBe(true);
  });
});
