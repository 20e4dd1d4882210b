/**
 * A private network for one test run: a fresh Linux network namespace holding only its own loopback interface,
 * with a multicast route on it so that mDNS (the bridge's ciao advertiser, the Homebridge UI's HomeKit browser)
 * stays on that loopback. The Homebridge UI looks up npm and GitHub and browses for HomeKit bridges on every
 * interface it sees; inside the namespace there is no other interface, so nothing a test starts can send a packet
 * off the machine, or even onto its own network.
 *
 * The namespace lives as long as a small keeper process (`unshare ... sleep`) that holds it; other processes join
 * it with `nsenter`. Root gets a plain network namespace; any other user gets one inside a user namespace of its
 * own (where it is root), when the kernel allows unprivileged user namespaces. Nothing is left behind when the
 * keeper ends: no named namespace, no interface, no route.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

import { findTool } from '../lab/system';

export interface PrivateNetwork {
  /** The keeper's process id: the namespace is /proc/<pid>/ns/net. */
  readonly pid: number;
  /** `argv` run inside the namespace (for spawn, or for a wrapper script). */
  command(argv: readonly string[]): string[];
  /** Spawns `argv` inside the namespace. */
  spawn(argv: readonly string[], options?: SpawnOptions): ChildProcess;
  /** The processes inside the namespace now, the keeper aside. */
  processes(): number[];
  /**
   * Kills whatever still runs inside the namespace (everything there was started by this run), then ends the
   * keeper; the namespace goes with its last process.
   */
  close(): Promise<void>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Why a private network cannot be made here, or undefined when it can (tries one, synchronously). */
export function privateNetworkUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'a private network needs Linux (network namespaces)';
  for (const program of ['unshare', 'nsenter', 'ip']) {
    if (findTool(program) === undefined) return `${program} is missing (Debian packages util-linux and iproute2)`;
  }
  const probe = spawnSync(findTool('unshare')!, [...unshareFlags(), '--', findTool('ip')!, 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.status !== 0) {
    return isRoot()
      ? `cannot create a network namespace: ${lastLine(probe.stderr ?? '')}`
      : `cannot create a network namespace without root (unprivileged user namespaces are off?): ${lastLine(probe.stderr ?? '')}`;
  }
  return undefined;
}

function unshareFlags(): string[] {
  return isRoot() ? ['--net'] : ['--user', '--map-root-user', '--net'];
}

export async function openPrivateNetwork(): Promise<PrivateNetwork> {
  const ip = findTool('ip') ?? 'ip';
  // The keeper sets loopback up with the multicast route, says so, and then only waits to be ended.
  const script = `${ip} link set lo up && ${ip} route add 224.0.0.0/4 dev lo && echo ready && exec sleep 2147483647`;
  const keeper = spawn(findTool('unshare') ?? 'unshare', [...unshareFlags(), '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  keeper.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const exited = new Promise<void>((done) => keeper.once('exit', () => done()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    keeper.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('ready')) resolve();
    });
    keeper.once('exit', (code) => reject(new Error(`the private network could not be set up (exit ${code}): ${lastLine(errors)}`)));
  });
  const pid = keeper.pid!;
  const nsenter = findTool('nsenter') ?? 'nsenter';
  // In a user namespace the joiner must enter it too, to have the rights it grants over the network namespace.
  const join = isRoot() ? ['--net'] : ['--user', '--net'];
  const namespaceOf = (process: string): string | undefined => {
    try {
      return readlinkSync(`/proc/${process}/ns/net`);
    } catch {
      return undefined; // Gone, or not ours to read.
    }
  };
  const ours = namespaceOf(String(pid));
  // Without the keeper's own namespace to compare with, no process is taken for one of ours.
  const processes = (): number[] =>
    ours === undefined
      ? []
      : readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== pid && namespaceOf(entry) === ours)
      .map(Number);
  const command = (argv: readonly string[]): string[] => [nsenter, `--target=${pid}`, ...join, '--', ...argv];
  return {
    pid,
    command,
    spawn: (argv, options = {}) => {
      const [file, ...args] = command(argv);
      return spawn(file!, args, options);
    },
    processes,
    close: async () => {
      for (let attempt = 0; attempt < 50 && processes().length > 0; attempt++) {
        for (const inside of processes()) {
          try {
            process.kill(inside, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        await new Promise((done) => setTimeout(done, 100));
      }
      if (keeper.exitCode === null && keeper.signalCode === null) keeper.kill('SIGTERM');
      await exited;
    },
  };
}
