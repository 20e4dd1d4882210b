/**
 * Two Camera Guard platforms in a real Homebridge, each on a child bridge of its own (how an owner runs more cameras
 * than one bridge holds): Homebridge starts both, each guards its own router, and each writes its own status file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { STATUS_FILE, statusFileName } from '../../src/settings';
import { startHomebridge } from '../../tools/sim/homebridgeRunner';
import type { RunningHomebridge } from '../../tools/sim/homebridgeRunner';
import { SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { until } from '../helpers/simRouter';

jest.setTimeout(120_000);

let homebridge: RunningHomebridge | undefined;
const sims: SimulatedRouterSetup[] = [];

afterAll(async () => {
  await homebridge?.stop();
  homebridge?.remove();
  for (const sim of sims) await sim.dispose();
});

function routerFor(sim: SimulatedRouterSetup, name: string, address: string): Record<string, unknown> {
  return {
    name,
    host: '127.0.0.1',
    port: sim.port,
    username: SIM_USER,
    privateKeyFile: sim.privateKeyFile,
    hostKey: sim.hostKeyFingerprint,
    cameras: [{ name: `${name} Cam`, address }],
  };
}

it('runs two Camera Guard platforms, each on its own child bridge, each guarding its own router', async () => {
  const [home, barn] = [await startSimulatedRouter(), await startSimulatedRouter()];
  sims.push(home, barn);
  homebridge = await startHomebridge({
    platform: { pollSeconds: 1, _bridge: { username: '0E:C4:6A:0D:7E:B1', port: 0 }, routers: [routerFor(home, 'Home', '192.0.2.50')] },
    morePlatforms: [{ name: 'Barn Guard', pollSeconds: 1, _bridge: { username: '0E:C4:6A:0D:7E:B2', port: 0 }, routers: [routerFor(barn, 'Barn', '198.51.100.50')] }],
  });
  const running = homebridge;
  await running.waitFor(/Home: guarding 1 camera\(s\)/, 60_000);
  await running.waitFor(/Barn: guarding 1 camera\(s\)/, 60_000);
  await until(async () => (await home.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the home router guarded', 30_000);
  await until(async () => (await barn.router.activeConfigCommands()).includes('rule 4008 action drop'), 'the barn router guarded', 30_000);
  await until(() => existsSync(join(running.storage, STATUS_FILE)) && existsSync(join(running.storage, statusFileName('Barn Guard'))), 'both status files', 30_000);

  const routersIn = (file: string): string[] => (JSON.parse(readFileSync(join(running.storage, file), 'utf8')) as { routers: { name: string }[] }).routers.map((router) => router.name);
  expect(routersIn(STATUS_FILE)).toEqual(['Home']);
  expect(routersIn(statusFileName('Barn Guard'))).toEqual(['Barn']);
  expect(running.output.filter((line) => /configured multiple times|ERROR|main bridge/i.test(line))).toEqual([]);
});

it('refuses (Homebridge itself) a Camera Guard platform after one on the main bridge, and the plugin says to give each a child bridge', async () => {
  await homebridge?.stop();
  homebridge?.remove();
  const [home, barn] = [sims[0] as SimulatedRouterSetup, sims[1] as SimulatedRouterSetup];
  homebridge = await startHomebridge({
    platform: { pollSeconds: 1, routers: [routerFor(home, 'Home', '192.0.2.50')] },
    morePlatforms: [{ name: 'Barn Guard', pollSeconds: 1, _bridge: { username: '0E:C4:6A:0D:7E:B2', port: 0 }, routers: [routerFor(barn, 'Barn', '198.51.100.50')] }],
  });
  const running = homebridge;
  await running.waitFor(/Home: guarding 1 camera\(s\)/, 60_000);
  await running.waitFor(/configured multiple times/, 60_000);
  await running.waitFor(/this one runs on the main bridge/, 60_000);
  expect(running.output.some((line) => /Barn: guarding/.test(line))).toBe(false);
});
