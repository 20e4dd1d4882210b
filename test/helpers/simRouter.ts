import type { CameraSettings, RouterSettings } from '../../src/config';
import { SIM_USER } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';

/** The settings of a router entry pointing at a simulated router, with the documented defaults. */
export function simRouterSettings(sim: SimulatedRouterSetup, cameras: readonly CameraSettings[], overrides: Partial<RouterSettings> = {}): RouterSettings & { host: string } {
  return {
    name: 'Sim',
    host: '127.0.0.1',
    port: sim.port,
    username: SIM_USER,
    privateKeyFile: sim.privateKeyFile,
    passphrase: undefined,
    password: undefined,
    hostKey: sim.hostKeyFingerprint,
    wanInterface: 'eth0',
    ruleSet: 'CAMGUARD_OUT',
    ipv6RuleSet: 'CAMGUARD6_OUT',
    firstRule: 4000,
    saveConfig: true,
    cameras,
    skipped: [],
    forget: [],
    ...overrides,
  };
}

/** Waits until `condition` holds, checking every `everyMs`; fails with `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) {
      return;
    }
    await new Promise((done) => setTimeout(done, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
