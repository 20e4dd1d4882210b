/**
 * What the lab router's OpenSSH server runs for every exec request (its `ForceCommand`): the simulator's EdgeOS
 * command interpreter, on the router state file the whole lab shares and on the router namespace's real iptables
 * and conntrack. sshd runs inside that namespace as root, so `sudo iptables` here means the kernel's iptables.
 *
 * Usage (from sshd_config): `ForceCommand exec node routerLogin.js <router state file>`; sshd passes the client's
 * command in SSH_ORIGINAL_COMMAND and the channel's data on standard input.
 */
import { SimulatedEdgeRouter, commandReadsStdin } from '../sim/edgeos';
import { FileStateStore } from './fileStateStore';
import { IptablesDataplane } from './iptablesDataplane';

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
  const router = new SimulatedEdgeRouter({ store: new FileStateStore(stateFile), dataplane: new IptablesDataplane() });
  // A closed channel or connection stops the script between two commands, leaving any open session behind, as on EdgeOS.
  const abort = new AbortController();
  process.once('SIGHUP', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const result = await router.run(command, stdin, abort.signal);
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
