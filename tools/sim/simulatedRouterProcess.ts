/**
 * The simulated EdgeRouter in a process of its own, so that it can run inside a private network (see
 * privateNetwork.ts) beside the Homebridge UI that talks to it, while the test that drives both stays outside.
 * The test talks to it over Node's IPC channel: the router's address and host key come back when it listens,
 * and `authorizeKey` stands in for the owner pasting the page's commands into the router.
 *
 * Run directly (`node build/tools/sim/simulatedRouterProcess.js '<options as JSON>'`), this file is that process.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { COMPILED_TOOLS_DIR } from '../paths';
import type { LanHost } from './edgeos';
import type { PrivateNetwork } from './privateNetwork';
import { startSimulatedRouter } from './simulatedSetup';

export interface SimulatedRouterProcessOptions {
  readonly lanHosts?: LanHost[];
  readonly initialConfig?: string;
}

export interface SimulatedRouterProcess {
  readonly port: number;
  readonly hostKeyFingerprint: string;
  /** The router user's key pair made by the simulator itself (the page makes its own; this one is for the demo). */
  readonly privateKeyFile: string;
  /** Lets `publicKeyLine` (`ssh-ed25519 AAAA... comment`) log in as `username`, as `loadkey` does on EdgeOS. */
  authorizeKey(username: string, publicKeyLine: string): Promise<void>;
  /** Stops the router and ends the process. */
  dispose(): Promise<void>;
}

interface Ready {
  readonly ready: { port: number; hostKeyFingerprint: string; privateKeyFile: string };
}
interface Reply {
  readonly id: number;
  readonly error?: string;
}
interface Call {
  readonly id: number;
  readonly method: 'authorizeKey' | 'dispose';
  readonly args: string[];
}

const START_TIMEOUT_MS = 60_000;

/** Starts the simulated router in a child process, inside `network` when one is given. */
export async function startSimulatedRouterProcess(options: SimulatedRouterProcessOptions, network?: PrivateNetwork): Promise<SimulatedRouterProcess> {
  const argv = [process.execPath, join(COMPILED_TOOLS_DIR, 'sim', 'simulatedRouterProcess.js'), JSON.stringify(options)];
  const spawnOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[] };
  let child: ChildProcess;
  if (network !== undefined) {
    child = network.spawn(argv, spawnOptions);
  } else {
    const { spawn } = await import('node:child_process');
    child = spawn(argv[0]!, argv.slice(1), spawnOptions);
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const ready = await new Promise<Ready['ready']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the simulated router did not start within a minute')), START_TIMEOUT_MS);
    child.on('message', (message: Ready | Reply) => {
      if ('ready' in message) {
        clearTimeout(timer);
        resolve(message.ready);
        return;
      }
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) call?.reject(new Error(message.error));
      else call?.resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the simulated router's process ended (exit ${code}) before it listened`));
      for (const call of pending.values()) call.reject(new Error('the simulated router has stopped'));
    });
  });
  const call = (method: Call['method'], args: string[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, method, args } satisfies Call);
    });
  return {
    ...ready,
    authorizeKey: (username, publicKeyLine) => call('authorizeKey', [username, publicKeyLine]),
    dispose: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // Ask nicely; a process that does not answer within a few seconds is killed.
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        call('dispose', []).catch(() => undefined);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** The child process: starts the router, reports where it listens, and answers calls until told to stop. */
async function serve(options: SimulatedRouterProcessOptions): Promise<void> {
  const setup = await startSimulatedRouter({ initialConfig: options.initialConfig, lanHosts: options.lanHosts });
  // A parent that goes away (a test killed mid-run) takes the router with it.
  process.on('disconnect', () => void setup.dispose().then(() => process.exit(0)));
  process.on('message', (message: Call) => {
    const answer = async (): Promise<void> => {
      if (message.method === 'authorizeKey') {
        const [username = '', publicKeyLine = ''] = message.args;
        await setup.authorizeKey(username, publicKeyLine);
      } else {
        await setup.dispose();
        process.send?.({ id: message.id } satisfies Reply, () => process.exit(0));
        return;
      }
      process.send?.({ id: message.id } satisfies Reply);
    };
    answer().catch((error: unknown) => process.send?.({ id: message.id, error: (error as Error).message } satisfies Reply));
  });
  process.send?.({ ready: { port: setup.port, hostKeyFingerprint: setup.hostKeyFingerprint, privateKeyFile: setup.privateKeyFile } } satisfies Ready);
}

if (require.main === module) {
  serve(JSON.parse(process.argv[2] ?? '{}') as SimulatedRouterProcessOptions).catch((error: unknown) => {
    process.stderr.write(`The simulated router could not start: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
