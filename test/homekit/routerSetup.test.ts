/**
 * How the platform sets routers up: one router configured twice (two spellings of its address, or two addresses
 * that reach one router, told apart by its host key) is driven by one entry only, and the other sends nothing; a
 * router whose accessories do not fit on the bridge is published not at all rather than in part.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as hap from '@homebridge/hap-nodejs';

import { SshConnection } from '../../src/router/ssh';
import { KNOWN_HOSTS_FILE, PLATFORM_NAME } from '../../src/settings';
import { generateSshKeyPair } from '../../tools/sim/sshServer';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { startPlatform, TestAccessory } from '../helpers/platformHarness';
import type { Harness } from '../helpers/platformHarness';
import { until } from '../helpers/simRouter';

jest.mock('systeminformation', () => ({
  // The machine's default gateway is the simulated router on loopback.
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
const spies: jest.SpyInstance[] = [];
let h: Harness | undefined;

afterEach(async () => {
  h?.shutdown();
  h = undefined;
  await new Promise((done) => setTimeout(done, 100));
  for (const sim of sims.splice(0)) {
    await sim.dispose();
  }
  spies.splice(0).forEach((spy) => spy.mockRestore());
});

async function simulatedRouter(hostKey?: string): Promise<SimulatedRouterSetup & { run: jest.SpyInstance }> {
  const sim = await startSimulatedRouter({ hostKey });
  sims.push(sim);
  const run = jest.spyOn(sim.router, 'run');
  spies.push(run);
  return Object.assign(sim, { run });
}

/** A router entry for `sim` with `count` cameras at `prefix.50`, `prefix.51`, ...; no host key pinned unless told. */
function entry(sim: SimulatedRouterSetup, name: string, count: number, prefix: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    host: '127.0.0.1',
    port: sim.port,
    username: SIM_USER,
    privateKeyFile: sim.privateKeyFile,
    cameras: Array.from({ length: count }, (_, i) => ({ name: `${name} Cam ${i + 1}`, address: `${prefix}.${i + 50}` })),
    ...overrides,
  };
}

/** Records, for every command the plugin sends, the known-hosts name of the entry whose connection sends it. */
function commandsByEntry(): () => string[] {
  const exec = jest.spyOn(SshConnection.prototype, 'exec');
  const connect = jest.spyOn(SshConnection.prototype, 'connect');
  spies.push(exec, connect);
  return () => [...connect.mock.contexts, ...exec.mock.contexts].map((ssh) => (ssh as SshConnection).knownHostsKey);
}

const errors = (harness: Harness): string[] => harness.lines.filter((line) => line.startsWith('ERROR'));
const names = (accessories: Iterable<TestAccessory>): string[] => [...accessories].map((accessory) => accessory.displayName);

describe('one router configured twice', () => {
  it.each([
    ['host left out (the default gateway) and the gateway\'s address', { host: undefined }, { host: '127.0.0.1' }, 'default-gateway'],
    ['an address and a host name that resolves to it', { host: '127.0.0.1' }, { host: 'localhost' }, '127.0.0.1'],
  ])('%s: the first entry runs, the second is not started and sends no command', async (_what, first, second, firstKeyName) => {
    const sim = await simulatedRouter();
    const sent = commandsByEntry();
    // Same rule range: the config check cannot see they are one router (different spellings, no pinned key in common).
    h = startPlatform({
      pollSeconds: 1,
      routers: [
        entry(sim, 'Home Router', 1, '192.0.2', { ...first, hostKey: sim.hostKeyFingerprint }),
        entry(sim, 'Again', 1, '198.51.100', second),
      ],
    });
    const harness = h;
    // The first entry creates its camera's rules and goes on reading: the second, had it started, would have connected by then.
    await until(async () => (await sim.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the first entry guarding', 20_000);
    const reads = sim.run.mock.calls.length;
    await until(() => sim.run.mock.calls.length >= reads + 2, 'two more polls', 20_000);

    const port = sim.port;
    expect(errors(harness)).toEqual([
      expect.stringMatching(
        new RegExp(`^ERROR Router "Again" is the same router as router "Home Router" \\(.* both reach 127\\.0\\.0\\.1 port ${port}\\); .* "Again" is skipped and changes nothing on the router\\. Merge its cameras into the first entry\\.$`),
      ),
    ]);
    expect(new Set(sent())).toEqual(new Set([`${firstKeyName}:${port}`]));
    // Every command the router ran came from the first entry, and the second entry's camera has no rules.
    expect(sim.run.mock.calls.length).toBeLessThanOrEqual(sent().length);
    expect(await sim.router.activeConfigCommands()).not.toContain('198.51.100.50');
    expect(names(harness.bridged)).toEqual(['Home Router Lockdown', 'Home Router Cam 1']);
  });

  it('two addresses that reach one router (one host key), first use: whichever connects second is refused before it logs in, and never writes', async () => {
    const hostKey = generateSshKeyPair().private;
    const [one, two] = [await simulatedRouter(hostKey), await simulatedRouter(hostKey)];
    expect(one.hostKeyFingerprint).toBe(two.hostKeyFingerprint);
    h = startPlatform({ pollSeconds: 1, routers: [entry(one, 'Home Router', 1, '192.0.2'), entry(two, 'Again', 1, '198.51.100')] });
    const harness = h;
    await until(() => harness.lines.some((line) => line.includes('refused to connect')), 'the second connection refused', 20_000);
    const refusal = harness.lines.find((line) => line.includes('refused to connect')) as string;
    const [winner, loser, holder] = refusal.startsWith('ERROR Again:') ? [one, two, 'Home Router'] : [two, one, 'Again'];
    expect(refusal).toContain(
      `refused to connect: the router at 127.0.0.1:${loser.port} presented host key ${loser.hostKeyFingerprint}, which router "${holder}" already uses, so this entry is the same router as "${holder}" under another address; ` +
        `two entries for one router would fight over its rules, so this entry sends nothing to it. Merge its cameras into "${holder}" and remove this entry.`,
    );
    await until(async () => (await winner.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the winner guarding', 20_000);
    expect(loser.run).not.toHaveBeenCalled();
  });

  it('two addresses that reach one router, whose key the first entry remembers from an earlier run: the second is refused, never writes, and its key is not remembered', async () => {
    const hostKey = generateSshKeyPair().private;
    const [one, two] = [await simulatedRouter(hostKey), await simulatedRouter(hostKey)];
    h = startPlatform(
      { pollSeconds: 1, routers: [entry(one, 'Home Router', 1, '192.0.2'), entry(two, 'Again', 1, '198.51.100')] },
      [],
      { knownHosts: { [`127.0.0.1:${one.port}`]: one.hostKeyFingerprint } },
    );
    const harness = h;
    await until(() => harness.lines.some((line) => line.startsWith('ERROR Again: refused to connect')), 'the second entry refused', 20_000);
    expect(harness.lines.find((line) => line.startsWith('ERROR Again: refused to connect'))).toContain(`which router "Home Router" already uses`);
    await until(async () => (await one.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the first entry guarding', 20_000);
    const reads = one.run.mock.calls.length;
    await until(() => one.run.mock.calls.length >= reads + 2, 'two more polls', 20_000);
    expect(two.run).not.toHaveBeenCalled();
    expect(await two.router.activeConfigCommands()).not.toContain('CAMGUARD');
    expect(JSON.parse(readFileSync(join(harness.storage, KNOWN_HOSTS_FILE), 'utf8'))).toEqual({ [`127.0.0.1:${one.port}`]: one.hostKeyFingerprint });
    // The refused entry's switch answers No Response rather than a state nobody guards.
    expect(names(harness.registered)).toContain('Again Cam 1');
  });
});

describe('HomeKit\'s limit of 149 accessories per bridge', () => {
  it('refuses a whole router that does not fit (nothing of it published, no guard, its cached accessories removed), and still publishes the routers that fit', async () => {
    const [big, over, small] = [await simulatedRouter(), await simulatedRouter(), await simulatedRouter()];
    // Two cameras of the router that will not fit, cached by an earlier run when it did: they must not stay as dead switches.
    const uuid = (sim: SimulatedRouterSetup, seed: string): string => hap.uuid.generate(`${PLATFORM_NAME}:127.0.0.1:${sim.port}:${seed}`);
    const cached = [new TestAccessory('Over Cam 1', uuid(over, '10.2.0.50')), new TestAccessory('Over Lockdown', uuid(over, 'lockdown'))];
    h = startPlatform(
      {
        pollSeconds: 1,
        routers: [entry(big, 'Big', 100, '10.1.0', { hostKey: big.hostKeyFingerprint }), entry(over, 'Over', 60, '10.2.0'), entry(small, 'Small', 5, '10.3.0', { hostKey: small.hostKeyFingerprint })],
      },
      cached,
    );
    const harness = h;
    await until(() => harness.lines.some((line) => line.includes('Small: guarding 5 camera(s)')), 'the small router published', 20_000);
    // Both routers that fit are guarded: each talks to its router.
    await until(() => big.run.mock.calls.length > 0 && small.run.mock.calls.length > 0, 'both guards at work', 20_000);

    expect(errors(harness)).toEqual([
      'ERROR Router "Over" is not published in HomeKit and not guarded (its rules on the router stay as they are): ' +
        'its 61 accessories (60 cameras and its Lockdown switch) would be 13 over the 149 HomeKit allows on one bridge, where the routers before it already have 101 ' +
        "(other plugins' accessories on the same bridge count too); to guard it, move it to another Camera Guard platform (\"Add a Camera Guard platform\" on the settings page) " +
        'and give every Camera Guard platform a child bridge of its own (Plugins, Camera Guard, ⋮, Child Bridge Config), each holding up to 149; ' +
        'or remove at least 13 of its cameras; then restart Homebridge.',
    ]);
    expect(harness.lines).toContain(
      'WARN Router "Over": removing its 2 accessory(ies) from HomeKit, since it is not set up and they would show switches that do nothing; ' +
        'they come back when the problem logged above is fixed and Homebridge restarts (automations that used them must then be set up again).',
    );
    expect(harness.unregistered).toEqual(cached);
    const shown = names(harness.bridged);
    expect(shown).toHaveLength(101 + 6);
    expect(shown.filter((name) => name.startsWith('Over'))).toEqual([]);
    expect(shown).toEqual(expect.arrayContaining(['Big Lockdown', 'Big Cam 100', 'Small Lockdown', 'Small Cam 5']));
    expect(harness.lines.some((line) => line.startsWith('INFO Over: guarding'))).toBe(false);
    expect(over.run).not.toHaveBeenCalled();
  });

  it('removes the other stale accessories and publishes the router when one cached accessory never made it onto the bridge', async () => {
    const sim = await simulatedRouter();
    const lost = new TestAccessory('Lost Camera', hap.uuid.generate('camera-guard test: a cached camera the full bridge could not restore'));
    const stale = new TestAccessory('Old Camera', hap.uuid.generate('camera-guard test: a camera removed from the config'));
    h = startPlatform({ pollSeconds: 1, routers: [entry(sim, 'Home Router', 1, '192.0.2', { hostKey: sim.hostKeyFingerprint })] }, [lost, stale], { notRestored: [lost] });
    const harness = h;
    await until(() => harness.lines.some((line) => line.includes('Home Router: guarding 1 camera(s)')), 'the router published', 20_000);
    expect(harness.unregistered).toEqual([stale]);
    expect(names(harness.bridged)).toEqual(['Home Router Lockdown', 'Home Router Cam 1']);
  });

  it('takes every accessory of a router off the bridge again when the bridge refuses some of them (other plugins filled it), and starts no guard for it', async () => {
    const [crowded, next] = [await simulatedRouter(), await simulatedRouter()];
    h = startPlatform(
      { pollSeconds: 1, routers: [entry(crowded, 'Crowded', 20, '10.1.0', { hostKey: crowded.hostKeyFingerprint }), entry(next, 'Next', 3, '10.2.0', { hostKey: next.hostKeyFingerprint })] },
      [],
      { foreignAccessories: 140 },
    );
    const harness = h;
    await until(() => harness.lines.some((line) => line.includes('Next: guarding 3 camera(s)')), 'the next router published', 20_000);
    await until(() => next.run.mock.calls.length > 0, 'the next router guarded', 20_000);

    expect(errors(harness)).toEqual([
      'ERROR Router "Crowded" is not published in HomeKit and not guarded (its rules on the router stay as they are): ' +
        'the bridge refused its accessories (Cannot Bridge more than 149 Accessories), so none of its 21 accessories is left on the bridge; ' +
        "if the bridge is full (HomeKit allows 149 accessories on one bridge, other plugins' included), run Camera Guard as a child bridge, then restart Homebridge.",
    ]);
    // The bridge took 9 before it refused the 10th; those 9 were taken off again, and the room went to the next router.
    expect(harness.unregistered).toHaveLength(9);
    expect(names(harness.bridged)).toEqual(['Next Lockdown', 'Next Cam 1', 'Next Cam 2', 'Next Cam 3']);
    expect(crowded.run).not.toHaveBeenCalled();
  });
});
