/**
 * The soak: a real Homebridge with the plugin, a real HomeKit controller toggling cameras at random moments, and
 * the simulated EdgeRouter failing in every way we know of in between. At the end, after the faults stop, every
 * camera's HomeKit state must equal what the router enforces, every accepted request must either be in force or
 * have been reported as failed, and no configuration session may be left open.
 *
 * `npm run soak` runs it with 1,000 toggles and records the figures for docs/RELIABILITY.md; the test suite runs
 * a short one.
 */
import { readFileSync } from 'node:fs';

import { startHomebridge } from './homebridgeRunner';
import type { RunningHomebridge } from './homebridgeRunner';
import { HomeKitClient, NO_RESPONSE } from './homeKitClient';
import { SIM_USER, startSimulatedRouter } from './simulatedSetup';
import type { SimulatedRouterSetup } from './simulatedSetup';

export const FAULTS = [
  'commit fails',
  'commit partly applies',
  'commit locked 3 times in a row',
  'slow commit (2 s)',
  'SSH connection cut',
  'SSH connection cut during commit',
  'sshd stopped for 1.5 s',
  'router reboot',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface SoakOptions {
  readonly toggles: number;
  readonly cameras: number;
  /** Chance that a toggle is followed by a fault. */
  readonly faultRate: number;
  readonly seed: number;
  readonly onProgress?: (message: string) => void;
  /** Receives every line Homebridge prints (debug included). */
  readonly onLine?: (line: string) => void;
}

export interface SoakResult {
  readonly toggles: number;
  readonly accepted: number;
  readonly refusedNoResponse: number;
  readonly faults: Record<Fault, number>;
  /** Cameras whose HomeKit state differs from the router's at the end. */
  readonly wrongStates: number;
  /** Cameras whose last accepted request is neither in force nor reported as failed. */
  readonly lostStates: number;
  readonly openSessions: number;
  readonly homebridgeRssStartMB: number;
  readonly homebridgeRssEndMB: number;
  readonly seconds: number;
  /** The plugin's error and warning lines about cameras that ended wrong or lost (empty when all is well). */
  readonly evidence: readonly string[];
}

/** A small, seeded generator, so a failing soak can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function rssMB(pid: number | undefined): number {
  if (pid === undefined) {
    return 0;
  }
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

async function routerAccess(sim: SimulatedRouterSetup, index: number): Promise<boolean> {
  const config = await sim.router.activeConfigCommands();
  return config.includes(`rule ${4000 + index * 10 + 8} disable`);
}

async function inject(fault: Fault, sim: SimulatedRouterSetup): Promise<void> {
  switch (fault) {
    case 'commit fails':
      return sim.router.failNextCommits('fail');
    case 'commit partly applies':
      return sim.router.failNextCommits('partial');
    case 'commit locked 3 times in a row':
      return sim.router.failNextCommits('locked', 3);
    case 'slow commit (2 s)':
      await sim.router.setCommitDelay(2_000);
      await sleep(4_000);
      return sim.router.setCommitDelay(0);
    case 'SSH connection cut':
      return sim.dropConnections();
    case 'SSH connection cut during commit': {
      await sim.router.setCommitDelay(800);
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline && (await sim.router.openSessionCount()) === 0) {
        await sleep(20);
      }
      sim.dropConnections();
      return sim.router.setCommitDelay(0);
    }
    case 'sshd stopped for 1.5 s':
      await sim.stop();
      await sleep(1_500);
      return sim.start();
    case 'router reboot':
      return sim.router.reboot();
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const rand = random(options.seed);
  const cameras = Array.from({ length: options.cameras }, (_, i) => ({ name: `Camera ${i + 1}`, address: `192.0.2.${60 + i}`, allow: ['dns'] }));
  const sim = await startSimulatedRouter();
  let homebridge: RunningHomebridge | undefined;
  let home: HomeKitClient | undefined;
  try {
    homebridge = await startHomebridge({
      onLine: options.onLine,
      platform: {
        pollSeconds: 1,
        leak: { attempts: 1000000, uploadMB: 0, windowMinutes: 1, quietMinutes: 1 },
        routers: [{ name: 'Soak', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras }],
      },
    });
    home = await HomeKitClient.pair(homebridge.username, homebridge.port, homebridge.pin);
    const switches = cameras.map((camera) => home!.id(`${camera.name} Internet`, 'on'));
    const fault = home.id(`${cameras[0]!.name} Leak`, 'statusFault');
    await home.waitForValue(fault, 0, 30_000);
    const rssStart = rssMB(homebridge.child.pid);

    const faults = Object.fromEntries(FAULTS.map((name) => [name, 0])) as Record<Fault, number>;
    const lastAccepted = new Map<number, { value: boolean; outputIndex: number }>();
    let accepted = 0;
    let refused = 0;
    let faultChain: Promise<void> = Promise.resolve();
    for (let toggle = 1; toggle <= options.toggles; toggle++) {
      const index = Math.floor(rand() * cameras.length);
      const value = rand() < 0.5;
      const outputIndex = homebridge.output.length;
      const { status } = await home.set(switches[index]!, value);
      if ((status ?? 0) === 0) {
        accepted++;
        lastAccepted.set(index, { value, outputIndex });
      } else if (status === NO_RESPONSE) {
        refused++;
      } else {
        throw new Error(`HomeKit answered status ${status} to a toggle`);
      }
      if (rand() < options.faultRate) {
        const chosen = FAULTS[Math.floor(rand() * FAULTS.length)]!;
        faults[chosen]++;
        // Faults run one after another, alongside the toggles.
        faultChain = faultChain.then(() => inject(chosen, sim));
      }
      if (toggle % 100 === 0) {
        options.onProgress?.(`${toggle} toggles, ${accepted} accepted, ${refused} refused with No Response`);
      }
      await sleep(Math.floor(rand() * 300));
    }
    await faultChain;
    await sim.router.clearFaults();

    // Let everything settle: the router answers, and HomeKit agrees with it for a few polls in a row.
    const agree = async (): Promise<boolean> => {
      for (const [index, id] of switches.entries()) {
        const shown = (await home!.get(id)).value;
        if ((shown === 1 || shown === true) !== (await routerAccess(sim, index))) {
          return false;
        }
      }
      return (await home!.get(fault)).value === 0;
    };
    const deadline = Date.now() + 90_000;
    let streak = 0;
    while (Date.now() < deadline && streak < 3) {
      streak = (await agree()) ? streak + 1 : 0;
      await sleep(1_000);
    }

    let wrongStates = 0;
    let lostStates = 0;
    const evidence: string[] = [];
    for (const [index, id] of switches.entries()) {
      const shown = (await home.get(id)).value;
      const enforced = await routerAccess(sim, index);
      if ((shown === 1 || shown === true) !== enforced) {
        wrongStates++;
        evidence.push(`${cameras[index]!.name}: HomeKit shows ${String(shown)}, the router has ${enforced ? 'access on' : 'access off'}`);
      }
      const last = lastAccepted.get(index);
      if (last && last.value !== enforced) {
        const reported = homebridge.output.slice(last.outputIndex).some((line) => line.includes(`"${cameras[index]!.name}": could not`));
        if (!reported) {
          lostStates++;
          evidence.push(`${cameras[index]!.name}: last accepted ${last.value ? 'on' : 'off'} (output line ${last.outputIndex}) is not in force and was not reported`);
        }
      }
    }
    return {
      toggles: options.toggles,
      accepted,
      refusedNoResponse: refused,
      faults,
      wrongStates,
      lostStates,
      openSessions: await sim.router.openSessionCount(),
      homebridgeRssStartMB: rssStart,
      homebridgeRssEndMB: rssMB(homebridge.child.pid),
      seconds: Math.round((Date.now() - started) / 1000),
      evidence: evidence.length === 0 ? [] : [...evidence, (await sim.router.activeConfigCommands()).split('\n').filter((line) => line.includes(' rule ')).join('\n')],
    };
  } finally {
    await home?.close();
    await homebridge?.stop();
    homebridge?.remove();
    await sim.dispose();
  }
}
