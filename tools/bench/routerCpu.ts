/**
 * The router-side cost of a poll, measured in the router lab (tools/lab): the CPU time of every process of the lab
 * router (its real OpenSSH sshd and the sessions it forks, the router login with the simulator's EdgeOS interpreter,
 * and the real iptables and conntrack it runs) from a cgroup v2 of their own, whose cpu.stat counts the time of every
 * process that ran in it, exited ones included. The processes of the router's network namespace are moved into it
 * before the plugin connects, so every session, shell and program forked for a poll is counted, and nothing else.
 *
 * Beside it, two shares of that cost, measured the same way: an exec of `echo ok` (sshd's session and our
 * interpreter starting, the fixed cost of any command), and the kernel-side programs of a poll (the same iptables and
 * conntrack listings the poll's script asks for) run directly in the router namespace, without sshd or our shell.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import type { CameraSettings, RouterSettings } from '../../src/config';
import type { Log } from '../../src/log';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { startLab, stopLab } from '../lab/lab';
import { namespacePids } from '../lab/network';
import { labUnavailableReason } from '../lab/prerequisites';
import { runChecked, tool } from '../lab/system';
import { ROUTER } from '../lab/topology';

/** Where a cgroup v2 hierarchy is mounted: alone at /sys/fs/cgroup, or beside v1 at /sys/fs/cgroup/unified. */
function cgroupRoot(): string | undefined {
  for (const candidate of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      readFileSync(join(candidate, 'cgroup.procs'), 'utf8');
      readFileSync(join(candidate, 'cgroup.controllers'), 'utf8');
      return candidate;
    } catch {
      // Not a v2 hierarchy here.
    }
  }
  return undefined;
}

/** A cgroup v2 made for the measurement, removed by `remove()` once its processes have gone. */
class CpuAccount {
  constructor(readonly path: string) {
    mkdirSync(path);
  }

  /** CPU time (µs) of every process that ran in the cgroup so far: user, system and both. */
  usage(): { user: number; system: number; total: number } {
    const stat = new Map(
      readFileSync(join(this.path, 'cpu.stat'), 'utf8')
        .split('\n')
        .map((line) => line.split(' '))
        .map(([key, value]) => [key, Number(value)] as const),
    );
    return { user: stat.get('user_usec') ?? NaN, system: stat.get('system_usec') ?? NaN, total: stat.get('usage_usec') ?? NaN };
  }

  add(pid: number): void {
    writeFileSync(join(this.path, 'cgroup.procs'), `${pid}\n`);
  }

  /** Waits (up to `timeoutMs`) for the cgroup to be empty (cgroup.events says so), then removes it. */
  async remove(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (/populated 1/.test(readFileSync(join(this.path, 'cgroup.events'), 'utf8'))) {
      if (Date.now() > deadline) throw new Error(`the cgroup ${this.path} still has processes; remove it by hand (rmdir) once they have ended`);
      await new Promise((done) => setTimeout(done, 20));
    }
    rmdirSync(this.path);
  }
}

export interface RouterPollCost {
  readonly cameras: number;
  readonly polls: number;
  /** Router CPU per poll (ms): every process of the router. */
  readonly perPollMs: number;
  readonly userMs: number;
  readonly systemMs: number;
  readonly wallMs: number;
  /** Router CPU of one `echo ok` exec (ms): sshd's session and our interpreter starting. */
  readonly bareExecMs: number;
  /** Router CPU (ms) of the poll's kernel-side programs run directly, and how many a poll runs. */
  readonly kernelProgramsMs: number;
  readonly kernelPrograms: number;
}

export type RouterCpuResult = { readonly ok: true; readonly costs: RouterPollCost[] } | { readonly ok: false; readonly why: string };

const quietLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** The poll script's kernel-side programs, as the lab router's login runs them (legacy iptables, as EdgeOS has). */
function kernelCommands(script: string): string[] {
  const commands: string[] = [];
  for (const line of script.split('\n')) {
    const match = /^\s*sudo\s+\/\S*\/(iptables|ip6tables|conntrack)\s+([^|;&]*?)\s*(\|\||$)/.exec(line);
    if (match === null) continue;
    const program = match[1] === 'conntrack' ? 'conntrack' : `${match[1] as string}-legacy`;
    commands.push(`${tool(program)} ${match[2] as string}`);
  }
  return commands;
}

/** The lab router's CPU per poll at each number of cameras; `ok: false` with the reason when the lab cannot run. */
export async function routerPollCosts(sizes: readonly number[], polls: number): Promise<RouterCpuResult> {
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) return { ok: false, why: unavailable };
  const root = cgroupRoot();
  if (root === undefined) return { ok: false, why: 'this machine has no cgroup v2 hierarchy (at /sys/fs/cgroup or /sys/fs/cgroup/unified) to account the router\'s processes in' };
  const costs: RouterPollCost[] = [];
  for (const n of sizes) {
    const lab = await startLab();
    const account = new CpuAccount(join(root, `camera-guard-bench-router-${process.pid}`));
    const direct = new CpuAccount(join(root, `camera-guard-bench-kernel-${process.pid}`));
    let driver: EdgeOsRouter | undefined;
    const knownHostsDirectory = mkdtempSync(join(tmpdir(), 'cg-bench-lab-'));
    try {
      for (const pid of await namespacePids(ROUTER.namespace)) account.add(pid);
      const cameras: CameraSettings[] = Array.from({ length: n }, (_, i) => ({ name: `Cam ${i + 1}`, address: `198.51.100.${100 + i}`, allow: [], allowMinutes: 0 }));
      const settings: RouterSettings & { host: string } = {
        name: 'Lab Router',
        host: ROUTER.lanAddress,
        port: 22,
        username: ROUTER.sshUser,
        privateKeyFile: lab.ssh.privateKeyFile,
        passphrase: undefined,
        password: undefined,
        hostKey: lab.ssh.hostKeyFingerprint,
        wanInterface: ROUTER.wanInterface,
        ruleSet: 'CAMGUARD_OUT',
        ipv6RuleSet: 'CAMGUARD6_OUT',
        firstRule: 4000,
        saveConfig: true,
        cameras,
        skipped: [],
        forget: [],
      };
      const ssh = new SshConnection(settings, new KnownHosts(join(knownHostsDirectory, 'known.json')), quietLog);
      const sent: string[] = [];
      const exec = ssh.exec.bind(ssh);
      ssh.exec = (command, stdin, timeoutMs, maxOutputBytes) => {
        sent.push(stdin ?? command);
        return exec(command, stdin, timeoutMs, maxOutputBytes);
      };
      driver = new EdgeOsRouter(settings, ssh);
      await driver.connect();
      const outcome = await driver.apply(driver.plan(await driver.read(cameras), new Map(cameras.map((camera) => [camera.address, 'blocked'] as const))));
      if (outcome.result !== 'committed') throw new Error(`the lab router did not set up ${n} cameras (${outcome.result})`);
      // The transaction's read-back is a full read; the polls after it read only the kernel's rows and counters.
      await driver.read(cameras);
      await driver.read(cameras, 'poll');
      const script = sent.at(-1) ?? '';

      const before = account.usage();
      const t0 = performance.now();
      for (let i = 0; i < polls; i++) await driver.read(cameras, 'poll');
      const wallMs = (performance.now() - t0) / polls;
      const after = account.usage();

      const execs = Math.max(5, Math.round(polls / 2));
      const bareBefore = account.usage().total;
      for (let i = 0; i < execs; i++) await ssh.exec('echo ok', undefined, 30_000);
      const bareExecMs = (account.usage().total - bareBefore) / execs / 1000;

      const commands = kernelCommands(script);
      let kernelProgramsMs = NaN;
      if (commands.length > 0) {
        const body = commands.map((command) => `${command} >/dev/null 2>&1`).join('\n');
        const loop = `i=0\nwhile [ $i -lt ${polls} ]; do\n${body}\ni=$((i+1))\ndone\n`;
        // Into the cgroup before entering the namespace: \`ip netns exec\` mounts a sysfs of its own, without the cgroups.
        // The one \`ip\` run is counted too (a few ms over all the loops).
        const enter = `echo $$ > ${join(direct.path, 'cgroup.procs')} && exec "$0" "$@"`;
        await runChecked([tool('sh'), '-c', enter, tool('ip'), 'netns', 'exec', ROUTER.namespace, tool('sh'), '-c', loop], { timeoutMs: 120_000 });
        kernelProgramsMs = direct.usage().total / polls / 1000;
      }
      costs.push({
        cameras: n,
        polls,
        perPollMs: (after.total - before.total) / polls / 1000,
        userMs: (after.user - before.user) / polls / 1000,
        systemMs: (after.system - before.system) / polls / 1000,
        wallMs,
        bareExecMs,
        kernelProgramsMs,
        kernelPrograms: commands.length,
      });
    } finally {
      driver?.close();
      await stopLab();
      await account.remove();
      await direct.remove();
      rmSync(knownHostsDirectory, { recursive: true, force: true });
    }
  }
  return { ok: true, costs };
}
