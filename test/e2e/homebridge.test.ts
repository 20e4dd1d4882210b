/**
 * End to end: a real Homebridge process loads the built plugin, a real HomeKit controller pairs with it and
 * drives it, and the simulated EdgeRouter answers over real SSH.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

import { startHomebridge } from '../../tools/sim/homebridgeRunner';
import type { RunningHomebridge } from '../../tools/sim/homebridgeRunner';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { HomeKitClient, NO_RESPONSE } from '../helpers/homeKitClient';
import { EXPECTED_NODE, reportRuntime } from '../helpers/runtime';
import { until as waitUntil } from '../helpers/simRouter';
import { MARK } from '../../src/router/edgeos/commands';

jest.setTimeout(120_000);

const FRONT = { name: 'Front Door', address: '192.0.2.50', allow: ['dns'] };
const GARAGE = { name: 'Garage', address: '192.0.2.51' };

function platformFor(sim: SimulatedRouterSetup): Record<string, unknown> {
  return {
    pollSeconds: 1,
    leak: { attempts: 2, uploadMB: 0.01, windowMinutes: 1, quietMinutes: 0.1 },
    routers: [
      {
        name: 'Sim Router',
        host: '127.0.0.1',
        port: sim.port,
        username: SIM_USER,
        privateKeyFile: sim.privateKeyFile,
        hostKey: sim.hostKeyFingerprint,
        cameras: [FRONT, GARAGE],
      },
    ],
  };
}

const routerAccess = async (sim: SimulatedRouterSetup, blockRule: number): Promise<'allowed' | 'blocked' | 'missing'> => {
  const config = await sim.router.activeConfigCommands();
  if (!config.includes(`rule ${blockRule} action drop`)) {
    return 'missing';
  }
  return config.includes(`rule ${blockRule} disable`) ? 'allowed' : 'blocked';
};

/** Router changes show up within a poll or two; the default bound is generous for a busy CI machine. */
const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> => waitUntil(condition, what, timeoutMs, 100);

const isLeakEvent = (id: string, value: 0 | 1) => (event: { id: string; value: unknown }): boolean => event.id === id && (event.value === value || event.value === (value === 1));

describe('Homebridge with Camera Guard, driven by a HomeKit controller', () => {
  let sim: SimulatedRouterSetup;
  let homebridge: RunningHomebridge;
  let home: HomeKitClient;
  /** How many reads of the router (a poll's, or a full one) have started so far. */
  let readsStarted = 0;
  /** How many scripts that save the router's configuration have ended so far (each start saves once, see EdgeOsRouter). */
  let savesEnded = 0;

  /**
   * Resolves once the plugin has taken in a reading of the router made after now, however slowly polls come. A poll is
   * one read, or two when the kernel's rows changed (the poll's own, then a full one); polls run one after the other,
   * each taken in before the next starts. So of four reads started from now on, the last starts a poll after one that
   * began after now and has been taken in (the first may be the second read of a poll begun before now).
   */
  async function pollsSeen(): Promise<void> {
    const mark = readsStarted;
    await until(() => readsStarted >= mark + 4, 'the plugin to read the router in two polls');
  }

  beforeAll(async () => {
    if (!existsSync(join(__dirname, '../../dist/index.js'))) {
      throw new Error('dist/ is missing: run "npm run build" first (npm test does it).');
    }
    sim = await startSimulatedRouter();
    const run = sim.router.run.bind(sim.router);
    sim.router.run = async (command, stdin, signal) => {
      if (stdin?.includes(`echo '${MARK.clock}'`) === true) readsStarted++;
      try {
        return await run(command, stdin, signal);
      } finally {
        if (stdin?.includes('vyatta-cfg-cmd-wrapper save') === true) savesEnded++;
      }
    };
    homebridge = await startHomebridge({ platform: platformFor(sim) });
    home = await HomeKitClient.pair(homebridge.username, homebridge.port, homebridge.pin);
    await until(async () => (await routerAccess(sim, 4008)) === 'blocked' && (await routerAccess(sim, 4018)) === 'blocked', 'rules created');
    await home.waitForValue(home.id('Front Door Leak', 'statusFault'), 0);
  });

  afterAll(async () => {
    await home?.close();
    await homebridge?.stop();
    homebridge?.remove();
    await sim?.dispose();
  });

  it('runs Homebridge under the Node that runs the tests, and the plugin\'s engines accept that Node', () => {
    // .ci/other-nodes.sh runs this tier under other Node versions: a Homebridge started by another Node would prove nothing.
    const exe = readlinkSync(`/proc/${homebridge.child.pid}/exe`);
    const version = execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim();
    reportRuntime('e2e', `jest on node ${process.version} ${process.execPath}, Homebridge on node ${version} ${exe}`);
    expect(exe).toBe(realpathSync(process.execPath));
    expect(version).toBe(process.version);
    if (EXPECTED_NODE !== '') {
      expect(process.version).toBe(EXPECTED_NODE);
    }
    expect(homebridge.output.filter((line) => line.includes('"homebridge-camera-guard" requires a Node.js version'))).toEqual([]);
  });

  it('shows a switch and a leak sensor per camera and a Lockdown switch, with every camera blocked at first', async () => {
    for (const name of ['Front Door Internet', 'Front Door Leak', 'Garage Internet', 'Garage Leak', 'Sim Router Lockdown']) {
      expect(home.has(name)).toBe(true);
    }
    await until(async () => (await routerAccess(sim, 4008)) === 'blocked' && (await routerAccess(sim, 4018)) === 'blocked', 'rules created');
    await home.waitForValue(home.id('Front Door Internet', 'on'), false);
    await home.waitForValue(home.id('Front Door Leak', 'statusFault'), 0);
  });

  it('turning a camera on in HomeKit opens it on the router, and off blocks it again', async () => {
    const on = home.id('Front Door Internet', 'on');
    expect((await home.set(on, true)).status ?? 0).toBe(0);
    await until(async () => (await routerAccess(sim, 4008)) === 'allowed', 'router opened front door');
    expect(await routerAccess(sim, 4018)).toBe('blocked');
    expect(await sim.router.sendTraffic({ from: FRONT.address, protocol: 'tcp', port: 443, packets: 1, bytes: 100 })).toBe('accepted');
    await home.waitForValue(on, true);

    await home.set(on, false);
    await until(async () => (await routerAccess(sim, 4008)) === 'blocked', 'router blocked front door');
    expect(await sim.router.sendTraffic({ from: FRONT.address, protocol: 'tcp', port: 443, packets: 1, bytes: 100 })).toBe('dropped');
  });

  it('sends a LeakDetected event when a blocked camera keeps trying to phone home', async () => {
    const leak = home.id('Garage Leak', 'leakDetected');
    await pollsSeen();
    const since = home.events.length;
    const outputBefore = homebridge.output.length;
    await sim.router.sendTraffic({ from: GARAGE.address, protocol: 'tcp', port: 443, packets: 5, bytes: 300 });
    await home.waitForEvent(leak, 1, 20_000, since);
    // The exact count (both DROP rows of its block) and where it tried to go (the tries-log rule's LOG lines).
    await homebridge.waitFor(/"Garage" \(192\.0\.2\.51\) LEAK: kept trying to reach the internet while blocked: 5 tries in 1 min, to 203\.0\.113\.10 tcp\/443, 5 tries logged\./, 10_000, outputBefore);
    // It clears by itself after quietMinutes.
    const tripped = home.events.findIndex((event, index) => index >= since && isLeakEvent(leak, 1)(event));
    await home.waitForEvent(leak, 0, 30_000, tripped + 1);
  });

  it('shows a change made on the router outside HomeKit within a poll', async () => {
    const on = home.id('Garage Internet', 'on');
    // Let a poll see the current state first, so the change below is a change.
    await home.waitForValue(on, false);
    await pollsSeen();
    const since = home.events.length;
    const outputBefore = homebridge.output.length;
    // Opened by hand: its drop rule and the tries-log rule before it (one alone would be a damaged block).
    await sim.router.configure(['set firewall name CAMGUARD_OUT rule 4017 disable', 'set firewall name CAMGUARD_OUT rule 4018 disable'], { save: true });
    await home.waitForEvent(on, 1, 10_000, since);
    await homebridge.waitFor(/"Garage": internet access was opened on the router, outside HomeKit\./, 10_000, outputBefore);
  });

  it('shows No Response and a fault while the router is down, and recovers by itself', async () => {
    const on = home.id('Front Door Internet', 'on');
    const fault = home.id('Front Door Leak', 'statusFault');
    await sim.stop();
    let down = true;
    try {
      await home.waitForValue(fault, 1, 30_000);
      expect((await home.set(on, true)).status).toBe(NO_RESPONSE);
      await sim.start();
      down = false;
    } finally {
      // The router back up for the tests after this one, also when this one failed.
      if (down) await sim.start();
    }
    await home.waitForValue(fault, 0, 60_000);
    expect((await home.set(on, true)).status ?? 0).toBe(0);
    await until(async () => (await routerAccess(sim, 4008)) === 'allowed', 'router opened front door after recovery');
  });

  it('keeps accessories across a restart and shows what the router has', async () => {
    await home.close();
    await homebridge.stop();
    const saves = savesEnded;
    homebridge = await startHomebridge({ platform: platformFor(sim), storage: homebridge.storage, pin: homebridge.pin, username: homebridge.username });
    home = await HomeKitClient.connect(homebridge.username, homebridge.port, home.pairing);
    await home.waitForValue(home.id('Front Door Internet', 'on'), true);
    // The save a start makes comes after its first reads: once it is done (and the next test's transaction cannot be
    // taken for it), the plugin has read the router, and a removal made then would be seen too.
    await until(() => savesEnded > saves, 'the restarted Homebridge to save the router once');
    expect(homebridge.output.some((line) => /Removing \d+ accessory/.test(line))).toBe(false);
  });

  it('stopped by SIGTERM mid-transaction, leaves no session open and shows the router\'s state after a restart', async () => {
    const on = home.id('Garage Internet', 'on');
    const before = await routerAccess(sim, 4018);
    await sim.router.setCommitDelay(2_000);
    try {
      await home.set(on, before !== 'allowed');
      await until(async () => (await sim.router.openSessionCount()) > 0, 'transaction in flight');
      await home.close();
      await homebridge.stop();
    } finally {
      await sim.router.setCommitDelay(0);
    }
    await until(async () => (await sim.router.openSessionCount()) === 0, 'session closed on the router', 10_000);
    const after = await routerAccess(sim, 4018);
    homebridge = await startHomebridge({ platform: platformFor(sim), storage: homebridge.storage, pin: homebridge.pin, username: homebridge.username });
    home = await HomeKitClient.connect(homebridge.username, homebridge.port, home.pairing);
    await home.waitForValue(home.id('Front Door Leak', 'statusFault'), 0);
    await home.waitForValue(on, after === 'allowed');
  });
});
