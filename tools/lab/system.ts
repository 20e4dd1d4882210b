/**
 * Running the system tools the lab is built from (ip, iptables, conntrack, sshd…): always by absolute path and
 * argument vector (no shell), always with a time limit, optionally inside one of the lab's network namespaces.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { COMPILED_TOOLS_DIR } from '../paths';
import type { CommandResult } from '../sim/edgeos';

const SYSTEM_DIRECTORIES = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The compiled lab scripts that run inside the namespaces (the router login, the internet host, camera traffic). */
export const COMPILED_LAB_DIR = join(COMPILED_TOOLS_DIR, 'lab');

/** The absolute path of a system program, or undefined when it is not installed. */
export function findTool(name: string): string | undefined {
  return SYSTEM_DIRECTORIES.map((directory) => `${directory}/${name}`).find((path) => existsSync(path));
}

/** The absolute path of a system program the lab cannot do without. */
export function tool(name: string): string {
  const path = findTool(name);
  if (path === undefined) throw new Error(`${name} is not installed (looked in ${SYSTEM_DIRECTORIES.join(', ')})`);
  return path;
}

/** `argv` as run inside a network namespace, or unchanged for the current one. */
export function inNamespace(namespace: string | undefined, argv: readonly string[]): string[] {
  return namespace === undefined ? [...argv] : [tool('ip'), 'netns', 'exec', namespace, ...argv];
}

export interface RunOptions {
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

/** Runs a program to its end; a program still running after the time limit is killed and reported as code 124. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) return Promise.reject(new Error('run: empty command'));
  return new Promise((resolveResult, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A program that exits without reading its input closes the pipe under us; its exit status tells what happened.
    child.stdin.on('error', () => undefined);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const errorText = Buffer.concat(stderr).toString('utf8');
      resolveResult({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: timedOut ? `${errorText}${argv.join(' ')}: killed after ${options.timeoutMs ?? 30_000} ms\n` : errorText,
        code: timedOut ? 124 : (code ?? 1),
      });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs a program and returns its output; throws with its error output when it fails. */
export async function runChecked(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    throw new Error(`${argv.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim() || 'no output'}`);
  }
  return result.stdout;
}

/** The synchronous twin of `run`, for the checks that decide at test collection time whether the lab can run. */
export function runSync(argv: readonly string[], timeoutMs: number, env: Record<string, string> = {}): CommandResult {
  const [program, ...args] = argv;
  const result = spawnSync(program ?? '', args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
  const killed = result.error !== undefined || result.signal !== null;
  return {
    stdout: result.stdout ?? '',
    stderr: `${result.stderr ?? ''}${killed ? `${argv.join(' ')}: ${result.error?.message ?? `killed by ${result.signal ?? 'a signal'}`}\n` : ''}`,
    code: result.status ?? 124,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Whether a process with this id exists (in this machine's process namespace). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When a process started (clock ticks after boot), to tell it from a later process that reuses its id. */
export function processStartTime(pid: number): string | undefined {
  try {
    // The command name (field 2) is in parentheses and may contain spaces; the fields after it are plain.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const KILL_GRACE_MS = 2_000;

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // It exited on its own meanwhile.
    }
  }
}

/** Ends processes: SIGTERM, then SIGKILL for those still there after a grace period. */
export async function terminateProcesses(pids: number[]): Promise<void> {
  if (pids.length === 0) return;
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  while (Date.now() < deadline && pids.some(processExists)) await sleep(50);
  signal(pids.filter(processExists), 'SIGKILL');
  while (pids.some(processExists) && Date.now() < deadline + KILL_GRACE_MS) await sleep(50);
}
