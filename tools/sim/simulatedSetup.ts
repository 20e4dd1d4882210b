/**
 * A simulated EdgeRouter reachable over real SSH on localhost, with a client key for the plugin: what the demo,
 * the driver tests and the end-to-end tests all start from.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SimulatedEdgeRouter } from './edgeos';
import { captureSecret } from './logCapture';
import type { CommandResult, LanHost } from './edgeos';
import { generateSshKeyPair, startSimulatedRouterSsh } from './sshServer';

import { utils } from 'ssh2';

/** A fresh EdgeRouter: WAN on eth0, LAN on switch0, no firewall yet. Documentation addresses only. */
export const FRESH_ROUTER_CONFIG = [
  'set interfaces ethernet eth0 address 203.0.113.2/24',
  "set interfaces ethernet eth0 description 'Internet'",
  'set interfaces switch switch0 address 192.0.2.1/24',
  "set interfaces switch switch0 description 'Local'",
  'set service ssh port 22',
  'set system host-name ubnt',
].join('\n');

export const SIM_USER = 'homebridge';

export interface SimulatedRouterSetup {
  readonly router: SimulatedEdgeRouter;
  readonly port: number;
  readonly hostKeyFingerprint: string;
  /** Private key file for SIM_USER (mode 0600). */
  readonly privateKeyFile: string;
  readonly password: string;
  /** Makes the router unreachable (listener closed, connections cut) until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  dropConnections(): void;
  /**
   * Does what an owner does who pastes these lines into an SSH session on the router (`configure`, `set …`,
   * `commit`, `save`, `exit`): runs them through the router's configuration system; the commit's result.
   */
  pasteCommands(commands: readonly string[]): Promise<CommandResult>;
  /** Gives `username` an admin login with this OpenSSH public key line, as the settings page's commands do. */
  authorizeKey(username: string, publicKeyLine: string): Promise<CommandResult>;
  /** Stops everything and removes the key files. */
  dispose(): Promise<void>;
}

export async function startSimulatedRouter(
  options: { initialConfig?: string; lanHosts?: LanHost[]; offload?: boolean; hostKey?: string; port?: number; keyPassphrase?: string } = {},
): Promise<SimulatedRouterSetup> {
  const directory = mkdtempSync(join(tmpdir(), 'camera-guard-sim-'));
  const keys = options.keyPassphrase === undefined ? generateSshKeyPair() : encryptedKeyPair(options.keyPassphrase);
  const privateKeyFile = join(directory, 'client_ed25519');
  writeFileSync(privateKeyFile, keys.private, { mode: 0o600 });
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  captureSecret(password);
  captureSecret(keys.private);
  const router = new SimulatedEdgeRouter({
    initialConfig: options.initialConfig ?? FRESH_ROUTER_CONFIG,
    lanHosts: options.lanHosts,
    offload: options.offload,
  });
  const server = await startSimulatedRouterSsh({
    router,
    users: [{ username: SIM_USER, password, publicKey: keys.public }],
    hostKey: options.hostKey,
    port: options.port,
  });
  return {
    router,
    port: server.port,
    hostKeyFingerprint: server.hostKeyFingerprint,
    privateKeyFile,
    password,
    stop: () => server.stop(),
    start: () => server.start(),
    dropConnections: () => server.dropConnections(),
    pasteCommands: (commands) => {
      const edits = commands.filter((line) => /^(set|delete) /.test(line));
      if (commands[0] !== 'configure' || !commands.includes('commit')) throw new Error('the commands must enter configure mode and commit');
      return router.configure(edits, { save: commands.includes('save') });
    },
    authorizeKey: (username, publicKeyLine) => {
      const [type = '', key = ''] = publicKeyLine.trim().split(' ');
      const user = `system login user ${username}`;
      return router.configure([`set ${user} level admin`, `set ${user} authentication public-keys camera-guard type ${type}`, `set ${user} authentication public-keys camera-guard key ${key}`], { save: true });
    },
    dispose: async () => {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A client key pair whose private half is encrypted with `passphrase` (retried until ssh2 can read it back). */
function encryptedKeyPair(passphrase: string): { private: string; public: string } {
  captureSecret(passphrase);
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 16 });
    if (!(utils.parseKey(pair.private, passphrase) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) {
      return pair;
    }
  }
}
