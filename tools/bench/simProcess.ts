/**
 * The simulated router for the bench, in a process of its own (started by bench.ts with an IPC channel), so that the
 * simulator's CPU time is not counted as the plugin's. It tells the bench the moment each commit replaces the
 * active configuration, on the shared clock `performance.timeOrigin + performance.now()`.
 */
import { performance } from 'node:perf_hooks';

import type { LanHost, SimState } from '../sim/edgeos';
import { commandKind } from './commandLog';
import type { CommandKind } from './commandLog';
import { startSimulatedRouter } from '../sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../sim/simulatedSetup';

export type SimRequest =
  | { readonly op: 'start'; readonly initialConfig?: string; readonly lanHosts?: LanHost[] }
  | { readonly op: 'commitDelay'; readonly ms: number }
  | { readonly op: 'openFlows'; readonly addresses: readonly string[] }
  | { readonly op: 'flowCount'; readonly addresses: readonly string[] }
  | { readonly op: 'cpu' }
  | { readonly op: 'blockedPacket'; readonly from: string }
  /** Packets from a LAN host toward one destination (the tries of a blocked camera, when its rules drop them). */
  | { readonly op: 'traffic'; readonly from: string; readonly to: string; readonly port: number; readonly packets: number }
  /** An open connection from a LAN host toward one destination. */
  | { readonly op: 'openFlowTo'; readonly from: string; readonly to: string; readonly port: number }
  | { readonly op: 'stop' };

/** One command the router ran, with when it started and ended on the shared clock. */
export interface SimCommand {
  readonly kind: CommandKind;
  readonly start: number;
  readonly end: number;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly setLines: number;
  readonly editLines: number;
}

export type SimMessage =
  | { readonly kind: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly kind: 'committed'; readonly at: number }
  | { readonly kind: 'command'; readonly command: SimCommand };

export interface SimStarted {
  readonly port: number;
  readonly hostKeyFingerprint: string;
  readonly privateKeyFile: string;
}

export const clock = (): number => performance.timeOrigin + performance.now();

let sim: SimulatedRouterSetup | undefined;

function send(message: SimMessage): void {
  process.send?.(message);
}

/** Reports every change of the active configuration: a commit that applied. */
function watchCommits(setup: SimulatedRouterSetup): void {
  const store = setup.router.store;
  const update = store.update.bind(store);
  store.update = <T>(fn: (state: SimState) => T | Promise<T>): Promise<T> =>
    update(async (state) => {
      const before = state.active;
      const result = await fn(state);
      if (state.active !== before) send({ kind: 'committed', at: clock() });
      return result;
    });
}

/** Reports every command the router runs, timed: the bench's floor is the router's own time per command. */
function watchCommands(setup: SimulatedRouterSetup): void {
  const router = setup.router;
  const run = router.run.bind(router);
  router.run = async (command, stdin = '', signal, user) => {
    const start = clock();
    const result = await run(command, stdin, signal, user);
    const lines = stdin.split('\n');
    send({
      kind: 'command',
      command: {
        kind: commandKind(command, stdin),
        start,
        end: clock(),
        sentBytes: Buffer.byteLength(command) + Buffer.byteLength(stdin),
        receivedBytes: Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr),
        setLines: lines.filter((line) => /vyatta-cfg-cmd-wrapper set /.test(line)).length,
        editLines: lines.filter((line) => /vyatta-cfg-cmd-wrapper (set|delete) /.test(line)).length,
      },
    });
    return result;
  };
}

async function handle(request: SimRequest): Promise<unknown> {
  switch (request.op) {
    case 'start': {
      // One router at a time: a new start replaces the last one.
      await sim?.dispose();
      sim = await startSimulatedRouter({ initialConfig: request.initialConfig, lanHosts: request.lanHosts });
      watchCommits(sim);
      watchCommands(sim);
      const started: SimStarted = { port: sim.port, hostKeyFingerprint: sim.hostKeyFingerprint, privateKeyFile: sim.privateKeyFile };
      return started;
    }
    case 'commitDelay':
      await sim?.router.setCommitDelay(request.ms);
      return undefined;
    case 'openFlows':
      for (const address of request.addresses) await sim?.router.openFlow(address);
      return undefined;
    case 'flowCount': {
      let open = 0;
      for (const address of request.addresses) if ((await sim?.router.hasFlow(address)) === true) open++;
      return open;
    }
    case 'blockedPacket':
      return sim?.router.sendTraffic({ from: request.from, protocol: 'tcp', port: 443, packets: 1, bytes: 60 });
    case 'traffic':
      return sim?.router.sendTraffic({ from: request.from, to: request.to, protocol: 'tcp', port: request.port, packets: request.packets, bytes: 60 * request.packets });
    case 'openFlowTo':
      return sim?.router.openFlow(request.from, { protocol: 'tcp', port: request.port, to: request.to });
    case 'cpu':
      return process.cpuUsage();
    case 'stop':
      await sim?.dispose();
      sim = undefined;
      setImmediate(() => process.exit(0));
      return undefined;
  }
}

process.on('message', (message: { id: number; request: SimRequest }) => {
  handle(message.request).then(
    (value) => send({ kind: 'reply', id: message.id, value }),
    (error: unknown) => send({ kind: 'reply', id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The bench went away (ended or crashed): so does the router, with its key files.
process.on('disconnect', () => {
  void (sim?.dispose() ?? Promise.resolve()).finally(() => process.exit(0));
});
