/**
 * What the lab router's OpenSSH server runs for every exec request (its `ForceCommand`): the simulator's EdgeOS
 * command interpreter, on the router state file the whole lab shares and on the router namespace's real iptables
 * and conntrack. sshd runs inside that namespace as root, so `sudo iptables` here means the kernel's iptables.
 *
 * Usage (from sshd_config): `ForceCommand exec node routerLogin.js <router state file>`; sshd passes the client's
 * command in SSH_ORIGINAL_COMMAND and the channel's data on standard input.
 */
import { readFileSync } from 'node:fs';

import { SimulatedEdgeRouter, commandReadsStdin } from '../sim/edgeos';
import { FileStateStore } from './fileStateStore';
import { LabDataplane } from './labDataplane';
import { HoldingStateStore } from './routerHolds';

/** How often the login checks that the sshd process serving its connection is still there. */
const PARENT_CHECK_MS = 50;

/** This process's parent, read afresh (Node's process.ppid is fixed at start-up). */
function parentPid(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function readStandardInput(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.once('error', reject);
  });
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return text === '' ? Promise.resolve() : new Promise((resolve) => stream.write(text, () => resolve()));
}

async function main(): Promise<number> {
  const stateFile = process.argv[2];
  const command = process.env.SSH_ORIGINAL_COMMAND;
  if (stateFile === undefined) {
    await write(process.stderr, 'routerLogin: usage: routerLogin.js <router state file>\n');
    return 2;
  }
  if (command === undefined) {
    // The plugin must never use an interactive shell on EdgeOS (show output would go through a pager).
    await write(process.stderr, 'This lab router runs commands only (exec requests); interactive shells are not simulated.\n');
    return 1;
  }
  const stdin = commandReadsStdin(command) ? await readStandardInput() : '';
  const router = new SimulatedEdgeRouter({ store: new HoldingStateStore(new FileStateStore(stateFile), stateFile), dataplane: new LabDataplane() });
  // A closed channel or connection stops the script between two commands, leaving any open session behind, as on EdgeOS.
  const abort = new AbortController();
  process.once('SIGHUP', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  // When the sshd process serving the connection dies (killed, or its connection lost), nobody signals a command run
  // without a terminal: vbash finds out when it next writes to the dead channel and gets SIGPIPE. This login holds
  // its output until the end, so it finds out by its parent going away instead, and stops the same way.
  const parent = parentPid();
  const watch = setInterval(() => {
    if (parentPid() !== parent) abort.abort();
  }, PARENT_CHECK_MS);
  watch.unref();
  // Output for a connection that is gone has nowhere to go.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  const result = await router.run(command, stdin, abort.signal);
  clearInterval(watch);
  await write(process.stdout, result.stdout);
  await write(process.stderr, result.stderr);
  return result.code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = 255;
    process.stderr.write(`lab router internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  },
);
