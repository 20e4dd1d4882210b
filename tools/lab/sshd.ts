/**
 * The lab router's SSH server: Debian's real OpenSSH sshd, run inside the router namespace on the router's LAN
 * address, with a host key and a client key generated for this lab. Every exec request runs the lab's router
 * login (see routerLogin.ts) through `ForceCommand`, so the plugin meets a real OpenSSH in front of the same
 * EdgeOS interpreter the simulator uses.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import { killNamespaceProcesses, namespacePids } from './network';
import { COMPILED_LAB_DIR, inNamespace, processExists, run, runChecked, sleep, terminateProcesses, tool } from './system';
import { LAB_DIR, ROUTER } from './topology';

const SSH_PORT = 22;
const START_TIMEOUT_MS = 10_000;
/** OpenSSH's process names: the daemon and its per-connection processes (sshd-session and sshd-auth from 9.8 on). */
const SSHD_NAMES = new Set(['sshd', 'sshd-session', 'sshd-auth']);
/**
 * The rules that drop the router's SSH packets both ways. They live in the mangle table, which has INPUT and
 * OUTPUT chains too: a commit rebuilds the whole filter table (see iptablesDataplane.ts) and would take them out.
 */
const SSH_DROP_RULES: readonly string[][] = [
  ['INPUT', '-p', 'tcp', '--dport', String(SSH_PORT), '-j', 'DROP'],
  ['OUTPUT', '-p', 'tcp', '--sport', String(SSH_PORT), '-j', 'DROP'],
];
/** sshd refuses to start without its privilege separation directory; Debian creates it only when its own sshd runs. */
const PRIVSEP_DIR = '/run/sshd';

/**
 * `ip netns exec <ns>` bind-mounts the files of /etc/netns/<ns>/ over those of /etc for what it runs: the router's
 * sshd sees its own account files there, and the machine's /etc stays untouched.
 */
const ETC_OVERLAYS = '/etc/netns';
const ROUTER_ETC = join(ETC_OVERLAYS, ROUTER.namespace);

/**
 * The router's admin account, as the README tells owners to create it, with user id 0 so that the interpreter may
 * run the namespace's real iptables and conntrack. Its shadow entry is `*` (no password, not locked): sshd without
 * PAM refuses accounts whose password is locked, which a machine's own root account may well be.
 */
function writeRouterAccount(): void {
  mkdirSync(ROUTER_ETC, { recursive: true, mode: 0o755 });
  const machineAccounts = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith(`${ROUTER.sshUser}:`));
  const account = `${ROUTER.sshUser}:x:0:0:Camera Guard lab router admin:${LAB_DIR}:/bin/sh`;
  writeFileSync(join(ROUTER_ETC, 'passwd'), `${[...machineAccounts, account].join('\n')}\n`, { mode: 0o644 });
  writeRouterShadow(NO_PASSWORD);
}

/** A shadow entry that no password matches, and that is not locked. */
const NO_PASSWORD = '*';

/**
 * The admin account's shadow entry, with `hash` (crypt format) as its password. Written in place: sshd sees the file
 * through a bind mount (see ETC_OVERLAYS), which a new file put there by rename would not replace.
 */
function writeRouterShadow(hash: string): void {
  writeFileSync(join(ROUTER_ETC, 'shadow'), `${ROUTER.sshUser}:${hash}:19000:0:99999:7:::\n`, { mode: 0o600 });
}

/** Removes the lab's account overlays (also those of a crashed run), and /etc/netns itself once it is empty. */
export function removeRouterAccounts(): void {
  rmSync(ROUTER_ETC, { recursive: true, force: true });
  try {
    rmdirSync(ETC_OVERLAYS);
  } catch {
    // Not empty (another tool's namespaces use it) or not there: leave it.
  }
}

/** `SHA256:` and the unpadded base64 of the key blob's SHA-256, as `ssh-keygen -lf` prints it. */
function publicKeyFingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function shellQuoted(path: string): string {
  if (path.includes("'")) throw new Error(`the lab cannot run from a path with a single quote in it: ${path}`);
  return `'${path}'`;
}

async function generateKey(file: string, comment: string): Promise<void> {
  await runChecked([tool('ssh-keygen'), '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { timeoutMs: 20_000 });
}

/** Resolves when the router's SSH port answers with an SSH banner. */
function sshBanner(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ROUTER.lanAddress, port: SSH_PORT });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-2.0-')));
    socket.once('error', () => done(false));
  });
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/** What the router's sshd log says about one connection attempt (LogLevel VERBOSE). */
export interface SshLogEvents {
  /** TCP connections sshd accepted ("Connection from …"). */
  readonly connections: number;
  /** Login methods refused ("Failed publickey …", "Failed password …", "Invalid user …"). */
  readonly refusedLogins: number;
  /** Logins accepted ("Accepted publickey …"). */
  readonly acceptedLogins: number;
  /** Any authentication the client attempted at all, refused or accepted. */
  readonly authAttempts: number;
  /** Of the refused and accepted ones, those made with a password. */
  readonly passwordLogins: number;
  /**
   * Connections the client ended after the key exchange and before any login ("Disconnected from <address> port N
   * [preauth]"), as a client that refuses the host key it was shown does. The lab's own check that sshd answers
   * (see sshBanner) hangs up before the key exchange and is not counted.
   */
  readonly hungUpBeforeLogin: number;
  /** Commands run for logged-in clients ("Starting session: …"): the plugin runs one per poll and one per transaction. */
  readonly sessions: number;
}

export class LabSshServer {
  private child: ChildProcess | undefined;
  private currentFingerprint: string;

  private constructor(
    private readonly directory: string,
    /** The client key Homebridge logs in with (mode 0600). */
    readonly privateKeyFile: string,
    /** The router's original host key, which the plugin's config pins. */
    readonly hostKeyFingerprint: string,
  ) {
    this.currentFingerprint = hostKeyFingerprint;
  }

  private get logFile(): string {
    return join(this.directory, 'sshd.log');
  }

  /** How far the sshd log has grown: pass it to logEventsSince to look only at what happened after now. */
  logMark(): number {
    try {
      return readFileSync(this.logFile).length;
    } catch {
      return 0;
    }
  }

  /** Counts what sshd logged from `mark` (see logMark) on, about connections from `from` only. */
  logEventsSince(mark: number, from: string): SshLogEvents {
    let text = '';
    try {
      text = readFileSync(this.logFile).subarray(mark).toString('utf8');
    } catch {
      // No log yet: nothing happened.
    }
    const lines = text.split('\n').filter((line) => line.includes(` ${from} `));
    const count = (pattern: RegExp): number => lines.filter((line) => pattern.test(line)).length;
    // One line per refused or accepted method; "Postponed" is the client asking whether a key would do, which
    // already names the user and the key.
    const refusedLogins = count(/Failed (publickey|password|keyboard-interactive)|Invalid user /);
    const acceptedLogins = count(/Accepted (publickey|password|keyboard-interactive)/);
    return {
      connections: count(/Connection from /),
      refusedLogins,
      acceptedLogins,
      authAttempts: refusedLogins + acceptedLogins + count(/Postponed /),
      passwordLogins: count(/(Failed|Accepted) password /),
      hungUpBeforeLogin: count(/Disconnected from [0-9a-f.:]+ port \d+ \[preauth\]/),
      sessions: count(/Starting session: /),
    };
  }

  /**
   * Replaces the client keys the router accepts (the owner removed the plugin's key, or put in another): `undefined`
   * restores the plugin's own. sshd reads the file at every login, so this takes effect at once for new logins.
   */
  setAuthorizedKey(publicKeyLine: string | undefined): void {
    const line = publicKeyLine ?? readFileSync(`${this.privateKeyFile}.pub`, 'utf8');
    writeFileSync(join(this.directory, 'authorized_keys'), line.endsWith('\n') ? line : `${line}\n`, { mode: 0o600 });
  }

  /**
   * Gives the router's admin account a password (or none again with `undefined`), as `set system login user …
   * authentication plaintext-password` does on EdgeOS. The hash is made by openssl, the password passed on its
   * standard input so that it never shows in a process list. sshd reads the account at every login.
   */
  async setPassword(password: string | undefined): Promise<void> {
    const hash = password === undefined ? NO_PASSWORD : (await runChecked([tool('openssl'), 'passwd', '-6', '-stdin'], { stdin: `${password}\n`, timeoutMs: 10_000 })).trim();
    writeRouterShadow(hash);
  }

  /** A fresh key pair of the kind the plugin uses, which the router does not accept (unless set with setAuthorizedKey). */
  async generateClientKey(name: string): Promise<{ privateKeyFile: string; publicKeyLine: string }> {
    const file = join(this.directory, name);
    rmSync(file, { force: true });
    rmSync(`${file}.pub`, { force: true });
    await generateKey(file, `camera-guard-lab-${name}`);
    return { privateKeyFile: file, publicKeyLine: readFileSync(`${file}.pub`, 'utf8') };
  }

  /**
   * The router presents another host key from now on, as a replaced or reset router (or an impostor) would: a new
   * key is generated and sshd restarted with it, which ends every connection. `restoreHostKey` goes back to the
   * original. Resolves with the new key's fingerprint.
   */
  async replaceHostKey(): Promise<string> {
    const file = join(this.directory, `ssh_host_ed25519_key.${Date.now()}`);
    await generateKey(file, 'camera-guard-lab-router-replaced');
    return this.useHostKey(file);
  }

  restoreHostKey(): Promise<string> {
    return this.useHostKey(join(this.directory, 'ssh_host_ed25519_key'));
  }

  /** The original host key, the plugin's client key and no password again, for the next start (a router reset). */
  resetKeys(): void {
    this.setAuthorizedKey(undefined);
    writeRouterShadow(NO_PASSWORD);
    this.writeHostKeyConfig(join(this.directory, 'ssh_host_ed25519_key'));
  }

  /** The same on a running sshd: restarted only when it presents another host key than the original. */
  async restoreKeys(): Promise<void> {
    this.setAuthorizedKey(undefined);
    writeRouterShadow(NO_PASSWORD);
    if (this.currentFingerprint !== this.hostKeyFingerprint) await this.restoreHostKey();
  }

  private writeHostKeyConfig(file: string): void {
    const config = join(this.directory, 'sshd_config');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^HostKey .*$/m, `HostKey ${file}`), { mode: 0o600 });
    this.currentFingerprint = publicKeyFingerprint(readFileSync(`${file}.pub`, 'utf8'));
  }

  private async useHostKey(file: string): Promise<string> {
    this.writeHostKeyConfig(file);
    await this.stopService();
    await this.start();
    return this.currentFingerprint;
  }

  /** Generates the keys and the configuration in `directory`; `stateFile` is the router state the logins share. */
  static async prepare(directory: string, stateFile: string): Promise<LabSshServer> {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const hostKey = join(directory, 'ssh_host_ed25519_key');
    const clientKey = join(directory, 'homebridge_ed25519');
    await generateKey(hostKey, 'camera-guard-lab-router');
    await generateKey(clientKey, 'camera-guard-lab-homebridge');
    const authorizedKeys = join(directory, 'authorized_keys');
    writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`), { mode: 0o600 });
    const login = ['exec', shellQuoted(process.execPath), shellQuoted(join(COMPILED_LAB_DIR, 'routerLogin.js')), shellQuoted(stateFile)].join(' ');
    const config = [
      `ListenAddress ${ROUTER.lanAddress}:${SSH_PORT}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(directory, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${ROUTER.sshUser}`,
      // The admin account has user id 0, which is what PermitRootLogin is about: "yes" so that the password-login
      // test can log in with a password, as on EdgeOS (whose admin accounts are not uid 0).
      'PermitRootLogin yes',
      'PubkeyAuthentication yes',
      // The account has no password until setPassword gives it one (its shadow entry is `*`, which no password matches).
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'UseDNS no',
      'PermitTTY no',
      'PermitUserRC no',
      'PermitUserEnvironment no',
      'AllowTcpForwarding no',
      'AllowAgentForwarding no',
      'AllowStreamLocalForwarding no',
      'X11Forwarding no',
      'PermitTunnel no',
      'PrintMotd no',
      // Every connection, refused login and accepted login gets a line: the lab counts them (see logEventsSince).
      'LogLevel VERBOSE',
      // EdgeOS keeps OpenSSH's default of 10 sessions per connection; the plugin uses one at a time.
      'MaxSessions 10',
      `ForceCommand ${login}`,
      '',
    ].join('\n');
    writeFileSync(join(directory, 'sshd_config'), config, { mode: 0o600 });
    mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    writeRouterAccount();
    await runChecked(inNamespace(ROUTER.namespace, [tool('sshd'), '-t', '-f', join(directory, 'sshd_config')]), { timeoutMs: 10_000 });
    return new LabSshServer(directory, clientKey, publicKeyFingerprint(readFileSync(`${hostKey}.pub`, 'utf8')));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts sshd and waits until it answers on the router's LAN address. Starting a running server does nothing. */
  async start(): Promise<void> {
    if (this.running) return;
    const log = this.logFile;
    const argv = inNamespace(ROUTER.namespace, [tool('sshd'), '-D', '-f', join(this.directory, 'sshd_config'), '-E', log]);
    const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running) break;
      if (await sshBanner()) return;
      await sleep(100);
    }
    const lastLog = readLogTail(log);
    await this.stop();
    throw new Error(`the lab router's sshd did not start within ${START_TIMEOUT_MS / 1000} s: ${lastLog || 'no log'}`);
  }

  /** Stops sshd and cuts every connection and command it is serving, as a router that goes down would. */
  async stop(): Promise<void> {
    await killNamespaceProcesses(ROUTER.namespace);
    this.child = undefined;
  }

  /**
   * Kills (SIGKILL) the sshd processes serving connections, which cuts every SSH connection at once; the daemon
   * stays, so new connections are accepted. The commands the connections were running are left alone: they notice
   * that their connection is gone and stop between two commands (a commit under way finishes first), as on EdgeOS.
   * Resolves with how many processes were killed.
   */
  async cutConnections(): Promise<number> {
    const serving = await this.sshdProcesses(false);
    for (const pid of serving) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited on its own meanwhile.
      }
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (serving.some(processExists) && Date.now() < deadline) await sleep(20);
    return serving.length;
  }

  /**
   * Stops the SSH service the way an init script does: the daemon and every connection it serves end, and the
   * commands those connections were running are left to notice it and stop by themselves (unlike `stop`, which
   * takes the whole router down).
   */
  async stopService(): Promise<void> {
    await terminateProcesses(await this.sshdProcesses(true));
    this.child = undefined;
  }

  /** Drops (or stops dropping) every SSH packet in and out of the router: connections stall, nothing is closed. */
  async setPacketsDropped(dropped: boolean): Promise<void> {
    const iptables = (...args: string[]): string[] => inNamespace(ROUTER.namespace, [tool('iptables-legacy'), '-w', '10', '-t', 'mangle', ...args]);
    for (const rule of SSH_DROP_RULES) {
      const present = (await run(iptables('-C', ...rule), { timeoutMs: 20_000 })).code === 0;
      if (present !== dropped) await runChecked(iptables(dropped ? '-I' : '-D', ...rule), { timeoutMs: 20_000 });
    }
  }

  /** The router namespace's sshd processes: those serving connections, and the daemon too when `withDaemon`. */
  private async sshdProcesses(withDaemon: boolean): Promise<number[]> {
    const daemon = this.child?.pid;
    const pids = await namespacePids(ROUTER.namespace);
    return pids.filter((pid) => SSHD_NAMES.has(processName(pid) ?? '') && (withDaemon || pid !== daemon));
  }
}
