/**
 * The integration tier of the guard: the same kind of scenarios as test/guard/guard.test.ts, over real SSH to the
 * simulated EdgeOS router with real timers, so the EdgeOS driver, the SSH layer and the guard are proven together.
 */
import { join } from 'node:path';

import type { CameraSettings, LeakSettings } from '../../src/config';
import { NAMED_SERVICES } from '../../src/config';
import { RouterGuard } from '../../src/guard/routerGuard';
import type { GuardListener } from '../../src/guard/routerGuard';
import type { LockdownMemory } from '../../src/guard/lockdown';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { captureSecret } from '../../tools/sim/logCapture';
import { recordingLog } from '../helpers/recordingLog';
import { scratchDirectory } from '../helpers/scratchDirectory';
import { simRouterSettings, until } from '../helpers/simRouter';

/** One scratch directory for the known-hosts files of this file's guards, removed after its tests. */
const scratch = scratchDirectory('cg-');
let knownHostsFiles = 0;

const POLL_MS = 200;
const cameraList: CameraSettings[] = ['Front Door', 'Garage', 'Porch', 'Drive', 'Yard', 'Shed'].map((name, i) => ({
  name,
  address: `192.0.2.${50 + i}`,
  allow: i === 0 ? [NAMED_SERVICES.dns!] : [],
  allowMinutes: 0,
}));
const [frontDoor, garage] = cameraList as [CameraSettings, CameraSettings];
const leak: LeakSettings = { attempts: 3, uploadBytes: 5_000, windowMs: 60_000, quietMs: 1_000 };

interface Harness {
  sim: SimulatedRouterSetup;
  guard: RouterGuard;
  log: ReturnType<typeof recordingLog>;
  events: string[];
  lockdown: LockdownMemory[];
}

async function startGuard(
  options: { cameras?: CameraSettings[]; seen?: string[]; sim?: SimulatedRouterSetup; password?: string; pollMs?: number; openUntil?: Map<string, number>; saved?: Map<string, number | undefined> } = {},
): Promise<Harness> {
  const sim = options.sim ?? (await startSimulatedRouter());
  const log = recordingLog();
  const events: string[] = [];
  const lockdown: LockdownMemory[] = [];
  const cameras = options.cameras ?? cameraList;
  const router = simRouterSettings(sim, cameras, options.password === undefined ? {} : { privateKeyFile: undefined, password: options.password });
  const ssh = new SshConnection(router, new KnownHosts(join(scratch, `known-${++knownHostsFiles}.json`)), log);
  const listener: GuardListener = {
    cameraChanged: (address) => events.push(`camera ${address}`),
    leakChanged: (address) => events.push(`leak ${address}`),
    reachabilityChanged: () => events.push('reachability'),
    lockdownChanged: () => events.push('lockdown'),
  };
  const guard = new RouterGuard({
    cameras,
    leak,
    pollMs: options.pollMs ?? POLL_MS,
    driver: new EdgeOsRouter(router, ssh),
    log,
    listener,
    seenCameras: new Set(options.seen ?? []),
    lockdown: { on: false, previous: {} },
    saveLockdown: (memory) => lockdown.push(memory),
    markSeen: () => undefined,
    openUntil: options.openUntil,
    saveOpenUntil: (address, deadline) => options.saved?.set(address, deadline),
  });
  guard.start();
  return { sim, guard, log, events, lockdown };
}

/** What a camera's drop rule enforces now: `disable`, or a timed opening whose deadline (`time startdate`) is ahead. */
const routerAccess = async (sim: SimulatedRouterSetup, slot: number): Promise<string> => {
  const config = await sim.router.activeConfigCommands();
  const rule = `rule ${4008 + slot * 10}`;
  // The engine quotes the date (it holds ':').
  const until = new RegExp(`${rule} time startdate '?([^'\\s]+)`).exec(config)?.[1];
  return config.includes(`${rule} disable`) || (until !== undefined && Date.parse(`${until}Z`) > Date.now()) ? 'allowed' : 'blocked';
};

describe('RouterGuard with the simulated router', () => {
  let h: Harness;

  afterEach(async () => {
    await h.guard.stop();
    await h.sim.dispose();
  });

  it('sets up a fresh router with every new camera blocked, and logs each as new', async () => {
    h = await startGuard();
    await until(() => h.guard.reachable && cameraList.every((c) => h.guard.shownAccess(c.address) === 'blocked'), 'guard ready');
    await until(async () => (await h.sim.router.activeConfigCommands()).includes('rule 4058 action drop'), 'rules written');
    expect(h.log.lines.filter((line) => line.includes('is new: its rules are being created with internet access blocked'))).toHaveLength(6);
    expect(await h.sim.router.sendTraffic({ from: garage.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
  });

  it('merges requests that arrive together (a scene) into one commit and reports each camera', async () => {
    h = await startGuard();
    await until(async () => (await h.sim.router.activeConfigCommands()).includes('rule 4058 action drop') && h.guard.reachable, 'setup');
    await new Promise((done) => setTimeout(done, POLL_MS * 2));
    const run = jest.spyOn(h.sim.router, 'run');
    for (const camera of cameraList) {
      expect(h.guard.requestAccess(camera.address, 'allowed')).toBe('queued');
      // The switch shows the request at once, before the router has it.
      expect(h.guard.shownAccess(camera.address)).toBe('allowed');
    }
    await until(async () => (await Promise.all(cameraList.map((_, i) => routerAccess(h.sim, i)))).every((a) => a === 'allowed'), 'all allowed');
    const commits = run.mock.calls.filter(([, stdin]) => stdin?.includes('vyatta-cfg-cmd-wrapper commit'));
    expect(commits).toHaveLength(1);
    await until(() => h.log.lines.filter((line) => line.includes('internet access opened from HomeKit')).length === 6, 'six reports');
  });

  it('puts the switch back to the router\'s real state and logs why when a commit fails', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await h.sim.router.failNextCommits('fail');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(() => h.log.lines.some((line) => line.startsWith('ERROR') && line.includes('could not open internet access')), 'failure logged');
    expect(h.log.lines.find((line) => line.includes('could not open'))).toMatch(/could not open internet access \(\[ firewall name CAMGUARD_OUT rule 4007 \] \| simulated failure.*\); the switch shows what the router really has \(access off\)/);
    expect(h.guard.shownAccess(frontDoor.address)).toBe('blocked');
    expect(await h.sim.router.openSessionCount()).toBe(0);
  });

  it('retries a commit that finds the configuration locked, then succeeds', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await h.sim.router.failNextCommits('locked', 2);
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed', 'allowed after retries', 15_000);
    expect(h.log.lines.filter((line) => line.includes('busy with another commit'))).toHaveLength(2);
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed', 'switch on');
  });

  it('shows a change made on the router within one poll and logs it as made outside HomeKit', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    // Let the guard read the rules it wrote at least once, so it knows the camera is blocked.
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    // Opened by hand the whole way: the drop rule and the tries-log rule before it (one alone would be a damaged block).
    await h.sim.router.configure(['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable']);
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed', 'external change seen', POLL_MS * 5);
    expect(h.log.lines).toContain('WARN "Front Door": internet access was opened on the router, outside HomeKit.');
  });

  it('re-creates deleted rules with the camera blocked, and logs it', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4009 action accept'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    // The guard must have confirmed the opening before the rules are deleted, or its read-back would see the damage.
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'allowed');
    await h.sim.router.configure([
      'delete firewall name CAMGUARD_OUT rule 4000',
      'delete firewall name CAMGUARD_OUT rule 4007',
      'delete firewall name CAMGUARD_OUT rule 4008',
      'delete firewall name CAMGUARD_OUT rule 4009',
    ]);
    await until(() => h.log.lines.some((line) => line.includes('its rules were deleted on the router; re-creating them with internet access blocked')), 'logged');
    await until(async () => (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop') && (await routerAccess(h.sim, 0)) === 'blocked', 're-created');
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'switch off');
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
  });

  it('backs off a repair the router refuses instead of rewriting it in a loop, and shows No Response meanwhile', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'setup confirmed');
    // The repair writes "rule 4008 action drop"; the owner's deletion of the rule does not contain that text.
    await h.sim.router.refuseEdits('4008 action');
    const run = jest.spyOn(h.sim.router, 'run');
    await h.sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4008']);
    await until(() => h.log.lines.some((line) => line.includes('the repair of the camera rules did not take')), 'repair refused');
    const warning = h.log.lines.find((line) => line.includes('the repair of the camera rules did not take')) ?? '';
    expect(warning).toMatch(/^WARN .*the router refused "set firewall name CAMGUARD_OUT rule 4008 action drop".*tried again in (8|9|10) s\.$/);
    expect(h.guard.shownAccess(frontDoor.address)).toBeUndefined();
    expect(h.guard.stateUnknown(frontDoor.address)).toBe(true);
    const transactions = (): number => run.mock.calls.filter(([, input]) => typeof input === 'string' && input.includes('@@camera-guard edited')).length;
    const before = transactions();
    // Polls go on (every 200 ms) but no other transaction is sent before the backoff ends.
    const polls = run.mock.calls.length;
    await until(() => run.mock.calls.length >= polls + 10, 'polls go on');
    expect(transactions()).toBe(before);
    expect(h.log.lines.filter((line) => line.includes('the repair of the camera rules did not take'))).toHaveLength(1);
    // Without its drop rule the camera gets out past the tries-log rule's burst (5 packets).
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 20, bytes: 1_200 })).toBe('accepted');
  });

  it('backs off errors that follow a good login instead of logging in again at once', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'setup confirmed');
    const logins = (): number => h.log.lines.filter((line) => line.includes('connected to the router')).length;
    const run = jest.spyOn(h.sim.router, 'run').mockResolvedValue({ stdout: 'this is not what EdgeOS prints\n', stderr: '', code: 0 });
    await until(() => !h.guard.reachable, 'unreachable');
    const problems = h.log.lines.filter((line) => /^(ERROR|WARN) .*retrying/.test(line));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/retrying in (2[4-9]|3[0-6]) s/);
    const seen = { logins: logins(), commands: run.mock.calls.length };
    await new Promise((done) => setTimeout(done, 3_000));
    expect(logins()).toBe(seen.logins);
    expect(run.mock.calls.length).toBe(seen.commands);
  });

  it('shows a block that is not in force in the kernel as On, trips the leak sensor and says so, until the router enforces it again', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'setup confirmed');
    await h.sim.router.deleteKernelRows(4, 'CAMGUARD_OUT', { ruleKey: 'CAMGUARD_OUT-4008' });
    // The tries-log rule still drops its burst (5 packets); the rest get out where the DROP row was.
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 20, bytes: 1_200 })).toBe('accepted');
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed', 'shown On');
    expect(h.guard.leakDetected(frontDoor.address)).toBe(true);
    expect(h.guard.stateUnknown(frontDoor.address)).toBe(false);
    expect(h.log.lines.filter((line) => line.includes('its block is not in force'))).toEqual([
      'ERROR "Front Door" (192.0.2.50) LEAK: its block is not in force: the router\'s configuration blocks it, but the kernel\'s CAMGUARD_OUT chain has no DROP row for rule 4008, so its packets get out; ' +
        'the switch shows On and the leak sensor stays tripped until the block is in force again (restarting the router rebuilds its firewall from the configuration).',
    ]);
    expect(h.events).toContain(`leak ${frontDoor.address}`);
    // Not taken for a change made outside HomeKit: the configuration still blocks it.
    expect(h.log.lines.some((line) => line.includes('outside HomeKit'))).toBe(false);
    await h.sim.router.reboot();
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'in force again', 15_000);
    expect(h.guard.leakDetected(frontDoor.address)).toBe(false);
    expect(h.log.lines).toContain('INFO "Front Door" (192.0.2.50): its block is in force in the router\'s firewall again.');
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
  });

  it.each([
    ['its switch is set Off', (guard: RouterGuard) => guard.requestAccess(frontDoor.address, 'blocked')],
    ['Lockdown is turned On', (guard: RouterGuard) => guard.requestLockdown(true)],
  ])('blocks a camera opened on the router when, before the next poll, %s (an older reading saying "blocked" must not drop the request)', async (_what, ask) => {
    // Polls an hour apart: only the transaction of the request can close the camera.
    h = await startGuard({ cameras: [frontDoor], pollMs: 3_600_000 });
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked', 'setup confirmed');
    await h.sim.router.configure(['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable']);
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('accepted');
    expect(h.guard.shownAccess(frontDoor.address)).toBe('blocked');
    const run = jest.spyOn(h.sim.router, 'run');
    expect(ask(h.guard)).toBe('queued');
    await until(async () => (await routerAccess(h.sim, 0)) === 'blocked', 'blocked on the router', 15_000);
    expect(run.mock.calls.filter(([, input]) => typeof input === 'string' && input.includes('@@camera-guard edited'))).toHaveLength(1);
    expect(await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('dropped');
  });

  it('trips the leak sensor on blocked attempts, with one log line carrying the numbers, and clears it when quiet', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 4, bytes: 240 });
    await until(() => h.guard.leakDetected(frontDoor.address), 'leak detected');
    const trips = h.log.lines.filter((line) => line.includes('LEAK'));
    // The count is the two DROP rows' exact sum; the destination comes from the tries-log rule's LOG lines.
    expect(trips).toEqual(['WARN "Front Door" (192.0.2.50) LEAK: kept trying to reach the internet while blocked: 4 tries in 1 min, to 203.0.113.10 tcp/443, 4 tries logged.']);
    await until(() => !h.guard.leakDetected(frontDoor.address), 'cleared', 5_000);
    expect(h.events).toContain(`leak ${frontDoor.address}`);
  });

  it('trips on an upload over the limit while allowed, and not on allow-listed DNS', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'allowed');
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'udp', port: 53, packets: 100, bytes: 90_000 });
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    expect(h.guard.leakDetected(frontDoor.address)).toBe(false);
    await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 10, bytes: 6_000 });
    await until(() => h.guard.leakDetected(frontDoor.address), 'upload leak');
    expect(h.log.lines.some((line) => /LEAK: uploaded 0\.006 MB in the last 1 min, more than the 0\.005 MB allowed/.test(line))).toBe(true);
  });

  it('does not raise a false alarm when the router reboots and its counters restart', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await h.sim.router.sendTraffic({ from: frontDoor.address, protocol: 'tcp', port: 443, packets: 2, bytes: 120 });
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    await h.sim.router.reboot();
    await new Promise((done) => setTimeout(done, POLL_MS * 4));
    expect(h.guard.leakDetected(frontDoor.address)).toBe(false);
    expect(h.guard.shownAccess(frontDoor.address)).toBe('blocked');
  });

  it('refuses requests while the router is unreachable, shows the fault, and recovers by itself', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(() => h.guard.reachable, 'reachable');
    await h.sim.stop();
    await until(() => !h.guard.reachable, 'unreachable');
    expect(h.guard.requestAccess(frontDoor.address, 'allowed')).toBe('unreachable');
    expect(h.log.lines.filter((line) => !line.startsWith('DEBUG') && line.includes('No Response'))).toHaveLength(1);
    await h.sim.start();
    await until(() => h.guard.reachable, 'reachable again', 15_000);
    expect(h.log.lines).toContain('INFO connected to the router again; guarding resumes.');
    expect(h.guard.requestAccess(frontDoor.address, 'allowed')).toBe('queued');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed', 'allowed after recovery');
  });

  it('keeps a block that could not be confirmed and applies it when the router is back', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'allowed');
    await h.sim.router.setCommitDelay(1_000);
    h.guard.requestAccess(frontDoor.address, 'blocked');
    await until(async () => (await h.sim.router.openSessionCount()) > 0, 'transaction in flight');
    h.sim.dropConnections();
    await until(() => h.log.lines.some((line) => line.includes('the block could not be confirmed')), 'logged');
    await h.sim.router.setCommitDelay(0);
    await until(async () => (await routerAccess(h.sim, 0)) === 'blocked' && h.guard.shownAccess(frontDoor.address) === 'blocked', 'blocked in the end', 15_000);
    // The cut transaction's shell ended its configuration session on the way out.
    expect(await h.sim.router.openSessionCount()).toBe(0);
  });

  it('locks every camera down and restores each one\'s previous state', async () => {
    h = await startGuard({ cameras: [frontDoor, garage] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4018 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'front door open');
    expect(h.guard.requestLockdown(true)).toBe('queued');
    await until(async () => (await routerAccess(h.sim, 0)) === 'blocked', 'locked down');
    expect(h.guard.requestAccess(frontDoor.address, 'allowed')).toBe('refused-lockdown');
    expect(h.lockdown.at(-1)).toEqual({ on: true, previous: { [frontDoor.address]: 'allowed', [garage.address]: 'blocked' } });
    h.guard.requestLockdown(false);
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed', 'restored');
    expect(await routerAccess(h.sim, 1)).toBe('blocked');
  });

  it('closes access again after allowMinutes', async () => {
    const brief = { ...frontDoor, allowMinutes: 0.05 };
    h = await startGuard({ cameras: [brief] });
    await until(() => h.guard.shownAccess(brief.address) === 'blocked', 'setup confirmed');
    h.guard.requestAccess(brief.address, 'allowed');
    await until(() => h.guard.shownAccess(brief.address) === 'allowed', 'opened');
    await until(async () => (await routerAccess(h.sim, 0)) === 'blocked' && h.guard.shownAccess(brief.address) === 'blocked', 'closed again', 15_000);
    expect(h.log.lines.some((line) => /closing internet access again after 0\.05 minute\(s\)|closed by the router itself at the end of its 0\.05 minute\(s\)/.test(line))).toBe(true);
  });

  it('has the router close a timed opening by itself, with Homebridge stopped', async () => {
    const brief = { ...frontDoor, allowMinutes: 0.05 };
    h = await startGuard({ cameras: [brief] });
    await until(() => h.guard.shownAccess(brief.address) === 'blocked', 'setup confirmed');
    h.guard.requestAccess(brief.address, 'allowed');
    await until(() => h.guard.shownAccess(brief.address) === 'allowed', 'opened');
    await h.guard.stop();
    const config = await h.sim.router.activeConfigCommands();
    const deadline = /rule 4008 time startdate '?([^'\s]+)/.exec(config)?.[1] ?? '';
    expect(config).toContain('set firewall name CAMGUARD_OUT rule 4008 time utc');
    expect(config).not.toContain('rule 4008 disable');
    expect(Date.parse(`${deadline}Z`)).toBeGreaterThan(Date.now());
    expect(await h.sim.router.sendTraffic({ from: brief.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })).toBe('accepted');
    // Nobody is left to send a command: the drop rule starts matching at its deadline on its own.
    await until(async () => (await h.sim.router.sendTraffic({ from: brief.address, protocol: 'tcp', port: 443, packets: 1, bytes: 60 })) === 'dropped', 'dropped by the router at the deadline', 15_000, 200);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(`${deadline}Z`));
  });

  it('keeps the deadline of timed access across a restart: one that passed while Homebridge was away closes at once, a later one is not extended', async () => {
    const timed = { ...frontDoor, allowMinutes: 60 };
    const saved = new Map<string, number | undefined>();
    h = await startGuard({ cameras: [timed], saved });
    await until(() => h.guard.shownAccess(timed.address) === 'blocked', 'setup confirmed');
    const openedAt = Date.now();
    h.guard.requestAccess(timed.address, 'allowed');
    await until(() => h.guard.shownAccess(timed.address) === 'allowed' && saved.get(timed.address) !== undefined, 'opened, deadline stored');
    const deadline = saved.get(timed.address) ?? 0;
    // The router's clock is read to the second, so the deadline may fall up to a second or two before ours.
    expect(deadline).toBeGreaterThanOrEqual(openedAt + 60 * 60_000 - 2_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    const sim = h.sim;
    await h.guard.stop();

    // Homebridge comes back after the deadline: access closes at once.
    h = await startGuard({ cameras: [timed], sim, saved, openUntil: new Map([[timed.address, Date.now() - 1_000]]) });
    await until(async () => (await routerAccess(sim, 0)) === 'blocked', 'closed at once');
    expect(h.log.lines.some((line) => line.includes('closing internet access again after 60 minute(s)'))).toBe(true);
    await until(() => saved.get(timed.address) === undefined, 'deadline cleared');

    // Opened again, then restarted with 1.5 s left of its hour: it closes then, not an hour later.
    h.guard.requestAccess(timed.address, 'allowed');
    await until(async () => (await routerAccess(sim, 0)) === 'allowed', 'opened again');
    await h.guard.stop();
    h = await startGuard({ cameras: [timed], sim, saved, openUntil: new Map([[timed.address, Date.now() + 1_500]]) });
    await until(() => h.guard.shownAccess(timed.address) === 'allowed', 'seen open after the restart');
    await until(async () => (await routerAccess(sim, 0)) === 'blocked', 'closed at the stored deadline', 15_000);
  });

  it('backs off after a refused login instead of retrying in a storm that would lock the owner out', async () => {
    const wrong = `not-the-password-${Math.random().toString(36).slice(2)}`;
    captureSecret(wrong);
    h = await startGuard({ cameras: [frontDoor], password: wrong });
    await until(() => h.log.lines.some((line) => line.startsWith('ERROR') && line.includes('refused the login')), 'login refused');
    await new Promise((done) => setTimeout(done, 2_000));
    const attempts = h.log.lines.filter((line) => line.includes('refused the login'));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatch(/retrying in (2[4-9]|3[0-6]) s/);
    expect(h.guard.reachable).toBe(false);
  });

  it('stops talking to a router whose host key changed while running, shows the fault, and names both keys', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(() => h.guard.reachable, 'reachable');
    const port = h.sim.port;
    const original = h.sim.hostKeyFingerprint;
    const replaced = h.sim;
    // The router is swapped for another one on the same address (the old one's files, and so the plugin's key, stay).
    await replaced.stop();
    h.sim = await startSimulatedRouter({ port });
    const run = jest.spyOn(h.sim.router, 'run');
    await until(() => !h.guard.reachable, 'unreachable');
    await until(() => h.log.lines.some((line) => line.startsWith('ERROR') && line.includes('refused to connect')), 'host key error', 15_000);
    const error = h.log.lines.find((line) => line.includes('refused to connect')) ?? '';
    expect(error).toContain(h.sim.hostKeyFingerprint);
    expect(error).toContain(original);
    expect(h.guard.requestAccess(frontDoor.address, 'allowed')).toBe('unreachable');
    expect(run).not.toHaveBeenCalled();
    await replaced.dispose();
  });

  it('keeps answering HomeKit at once while a commit takes 30 s, and applies what was asked meanwhile', async () => {
    h = await startGuard({ cameras: [frontDoor, garage] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4018 action drop'), 'setup');
    await h.sim.router.setCommitDelay(30_000);
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await h.sim.router.openSessionCount()) > 0, 'slow commit under way');
    const asked = Date.now();
    expect(h.guard.requestAccess(garage.address, 'allowed')).toBe('queued');
    expect(h.guard.shownAccess(garage.address)).toBe('allowed');
    expect(Date.now() - asked).toBeLessThan(100);
    await h.sim.router.setCommitDelay(0);
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && (await routerAccess(h.sim, 1)) === 'allowed', 'both applied', 60_000);
    await until(() => h.guard.shownAccess(garage.address) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'shown');
    expect(await h.sim.router.openSessionCount()).toBe(0);
    expect(h.log.lines.filter((line) => line.startsWith('ERROR'))).toEqual([]);
  }, 90_000);

  it('never keeps showing a request as done when the connection drops before the router confirmed it', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await new Promise((done) => setTimeout(done, POLL_MS * 2));
    // The commit fails, and the connection drops right after it, before the plugin can read the router back.
    await h.sim.router.failNextCommits('fail');
    const run = h.sim.router.run.bind(h.sim.router);
    jest.spyOn(h.sim.router, 'run').mockImplementation(async (command, stdin, signal) => {
      const result = await run(command, stdin, signal);
      if (stdin?.includes('vyatta-cfg-cmd-wrapper commit') === true) {
        h.sim.dropConnections();
      }
      return result;
    });
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(() => h.log.lines.some((line) => line.includes('could not confirm that internet access opened')), 'reported');
    await until(() => h.guard.reachable, 'reachable again', 15_000);
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    expect(h.guard.shownAccess(frontDoor.address)).toBe('blocked');
    expect(await routerAccess(h.sim, 0)).toBe('blocked');
  });

  it('drops an opening queued just before the router went away instead of applying it whenever it returns', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await h.sim.stop();
    await until(() => h.log.lines.some((line) => line.includes('could not open internet access because')), 'reported', 15_000);
    // Blocked while the guard has not yet seen the connection fail, No Response once it has: never the opening.
    expect(h.guard.shownAccess(frontDoor.address)).not.toBe('allowed');
    await h.sim.start();
    await until(() => h.guard.reachable, 'back', 15_000);
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    expect(await routerAccess(h.sim, 0)).toBe('blocked');
    expect(h.guard.shownAccess(frontDoor.address)).toBe('blocked');
  });

  it('saves again after a transaction whose save was cut off, so a router reboot cannot bring back an old state', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'allowed');
    await h.sim.router.setCommitDelay(800);
    h.guard.requestAccess(frontDoor.address, 'blocked');
    await until(async () => (await h.sim.router.openSessionCount()) > 0, 'commit under way');
    // The commit completes but the connection is gone before the save.
    h.sim.dropConnections();
    await h.sim.router.setCommitDelay(0);
    await until(async () => (await routerAccess(h.sim, 0)) === 'blocked' && h.guard.reachable, 'blocked and back');
    await until(async () => (await h.sim.router.savedConfigCommands()) === (await h.sim.router.activeConfigCommands()), 'saved again');
    await h.sim.router.reboot();
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    expect(await routerAccess(h.sim, 0)).toBe('blocked');
  });

  it('still sends a request made just before Homebridge stops, instead of dropping it with the batch', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await routerAccess(h.sim, 0)) === 'allowed' && h.guard.shownAccess(frontDoor.address) === 'allowed', 'allowed');
    // Homebridge's SIGTERM arrives within the batch window of a block.
    expect(h.guard.requestAccess(frontDoor.address, 'blocked')).toBe('queued');
    await h.guard.stop();
    expect(await routerAccess(h.sim, 0)).toBe('blocked');
    expect(h.log.lines.filter((line) => line.includes('before Homebridge stopped'))).toEqual([]);
    // Nothing is taken once stopped: HomeKit shows No Response.
    expect(h.guard.requestAccess(frontDoor.address, 'allowed')).toBe('unreachable');
  });

  it('logs what the router had not confirmed when Homebridge stopped, so the owner knows the switch may change', async () => {
    h = await startGuard({ cameras: [frontDoor] });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await h.sim.router.setCommitDelay(3_000);
    h.guard.requestAccess(frontDoor.address, 'allowed');
    await until(async () => (await h.sim.router.openSessionCount()) > 0, 'commit under way');
    await h.guard.stop(300);
    await h.guard.stop(300);
    const lines = h.log.lines.filter((line) => line.includes('before Homebridge stopped'));
    expect(lines).toEqual([
      'ERROR "Front Door": could not confirm that internet access was opened before Homebridge stopped; after the restart the switch shows what the router has. Set it again then if it is not what you want.',
    ]);
    await h.sim.router.setCommitDelay(0);
    await until(async () => (await h.sim.router.openSessionCount()) === 0, 'the session ended on the router');
  });

  it('adds the tries-log rule to blocks the previous version wrote, in one transaction after the start, the cameras blocked throughout', async () => {
    const sim = await startSimulatedRouter();
    h = await startGuard({ cameras: [frontDoor, garage], sim });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4018 action drop'), 'setup');
    await h.guard.stop();
    // What the previous version left on the router: the same blocks without their tries-log rules.
    expect((await sim.router.configure(['delete firewall name CAMGUARD_OUT rule 4007', 'delete firewall name CAMGUARD_OUT rule 4017'], { save: true })).code).toBe(0);
    const run = jest.spyOn(sim.router, 'run');
    const transactions = (): string[] => run.mock.calls.flatMap(([, input]) => (typeof input === 'string' && input.includes('@@camera-guard edited') ? [input] : []));
    h = await startGuard({ cameras: [frontDoor, garage], sim, seen: [frontDoor.address, garage.address] });
    await until(() => ['rule 4007 log enable', 'rule 4017 log enable'].every((text) => transactions().some((script) => script.includes(text))), 'the migration sent');
    await until(async () => (await sim.router.activeConfigCommands()).includes('rule 4017 limit rate 6/minute'), 'the migration committed');
    expect(transactions()).toHaveLength(1);
    // Nothing in it lifts a block: no `disable`, no time match, and the drop rules are set again as they were.
    expect(transactions()[0]).not.toMatch(/ disable|time startdate/);
    await until(() => h.guard.shownAccess(frontDoor.address) === 'blocked' && h.guard.shownAccess(garage.address) === 'blocked', 'shown blocked');
    expect(await sim.router.sendTraffic({ from: garage.address, protocol: 'tcp', port: 443, packets: 20, bytes: 1_200 })).toBe('dropped');
    expect(h.log.lines.some((line) => /outside HomeKit|deleted on the router|LEAK/.test(line))).toBe(false);
  });

  it('saves once after it starts, so rules committed but never saved (Homebridge stopped in between) survive a router reboot', async () => {
    const sim = await startSimulatedRouter();
    h = await startGuard({ cameras: [frontDoor], sim });
    await until(async () => h.guard.reachable && (await h.sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    await h.guard.stop();
    // An earlier Homebridge committed an opening and was stopped before its save.
    expect((await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable'])).code).toBe(0);
    expect(await sim.router.savedConfigCommands()).not.toContain('rule 4008 disable');
    h = await startGuard({ cameras: [frontDoor], sim, seen: [frontDoor.address] });
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed', 'the switch shows the router');
    await until(async () => (await sim.router.savedConfigCommands()).includes('rule 4008 disable'), 'saved');
    await sim.router.reboot();
    await new Promise((done) => setTimeout(done, POLL_MS * 3));
    expect(await routerAccess(sim, 0)).toBe('allowed');
    expect(h.guard.shownAccess(frontDoor.address)).toBe('allowed');
  });

  it('warns once that uploads are under-counted when the router offloads forwarding', async () => {
    const sim = await startSimulatedRouter({ offload: true });
    h = await startGuard({ cameras: [frontDoor], sim });
    await until(async () => h.guard.reachable && (await sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'setup');
    h.sim.dropConnections();
    // The drop lands during a command (an outage, logged) or between polls (the next poll logs in again quietly):
    // either way the plugin logs in a second time, and a reading on that session shows the router's change.
    const logins = (): number => h.log.lines.filter((line) => line === 'DEBUG connected to the router.').length;
    await until(() => logins() >= 2, 'a second login', 15_000);
    expect((await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable'])).code).toBe(0);
    await until(() => h.guard.shownAccess(frontDoor.address) === 'allowed', 'a reading after the second login', 15_000);
    const warnings = h.log.lines.filter((line) => line.includes('hardware offload is on'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^WARN .*uploads from allowed cameras bypass the firewall counters and are under-counted; blocked attempts are still counted exactly/);
  });
});
