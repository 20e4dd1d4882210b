/**
 * One SSH connection per router, with the router's host key checked before anything is sent, and commands run
 * one at a time (EdgeOS allows 10 channels per connection; one at a time also keeps transactions in order).
 */
import { readFileSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Client, utils } from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';

import { printable } from '../config';
import type { RouterSettings } from '../config';
import type { Log } from '../log';
import { CONNECT_TIMEOUT_MS, MAX_COMMAND_OUTPUT_BYTES } from '../settings';
import { RouterError } from './driver';
import { checkHostKey, expectedHostKey, fingerprint, KnownHostsError, knownHostsKey } from './hostKeys';
import type { HostKeyExpectation, KnownHosts } from './hostKeys';

/**
 * What it takes to reach and log in to a router: the owner's router entry, where `host` is left undefined for an
 * entry that follows this machine's default gateway, and `address`, where to dial (the entry's host when absent).
 * The host key is trusted for the entry, not for the address: see `knownHostsKey`.
 */
export type SshTarget = Pick<RouterSettings, 'host' | 'port' | 'username' | 'privateKeyFile' | 'passphrase' | 'password' | 'hostKey'> & {
  readonly address?: string;
};

export interface SshOptions {
  /**
   * Claims the router's host key for this router entry, before anything is sent on the connection. Returns the name
   * of another entry that already holds the key (the same router configured twice): the connection is then refused.
   */
  readonly claimHostKey?: (fingerprint: string) => string | undefined;
  /**
   * The router entry of another Camera Guard platform before this one in config.json (maybe in another process, on its
   * own child bridge) that trusts this host key, if any: this entry is then that router under another address, and the
   * connection is refused.
   */
  readonly trustedByEarlierPlatform?: (fingerprint: string) => { readonly router: string; readonly platform: string } | undefined;
  /** Told the fingerprint of every host key the router presents, trusted or not (the settings page shows it). */
  readonly onHostKey?: (fingerprint: string) => void;
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | undefined;
}

export class SshConnection {
  private client: Client | undefined;
  private ready = false;
  private queue: Promise<unknown> = Promise.resolve();
  private warnedKeyPermissions = false;
  /** Fails the command in flight when the connection drops under it. */
  private abortCurrent: (() => void) | undefined;

  constructor(
    private readonly target: SshTarget,
    private readonly knownHosts: KnownHosts,
    private readonly log: Log,
    private readonly options: SshOptions = {},
  ) {}

  get connected(): boolean {
    return this.ready;
  }

  get endpoint(): string {
    return `${this.address ?? 'no address'}:${this.target.port}`;
  }

  private get address(): string | undefined {
    return this.target.address ?? this.target.host;
  }

  /** The name under which this router's first-seen host key is remembered. */
  get knownHostsKey(): string {
    return knownHostsKey(this.target);
  }

  connect(): Promise<void> {
    this.close();
    const address = this.address;
    if (address === undefined) {
      return Promise.reject(new RouterError('unreachable', 'no address to connect to; set "host" to the router\'s address.'));
    }
    let auth: Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'password' | 'tryKeyboard'>;
    let expectation: HostKeyExpectation;
    try {
      auth = this.authentication();
      // Before any packet goes out: a trust store that cannot be trusted stops the connection here.
      expectation = expectedHostKey(this.target, address, this.knownHosts);
    } catch (error) {
      if (error instanceof KnownHostsError) {
        return Promise.reject(new RouterError('host-key', `${error.message} Not connecting to ${this.endpoint} until then.`));
      }
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const trustKey = this.knownHostsKey;
    let hostKeyProblem: RouterError | undefined;
    /** A key to remember once the login has succeeded (never before: a stranger who refuses the login is not remembered). */
    let toRemember: { readonly presented: string; readonly firstUse: boolean } | undefined;
    const client = new Client();
    this.client = client;

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: RouterError): void => {
        if (settled) {
          return;
        }
        settled = true;
        if (error) {
          client.end();
          reject(error);
        } else {
          resolve();
        }
      };
      const config: ConnectConfig = {
        host: address,
        port: this.target.port,
        username: this.target.username,
        ...auth,
        readyTimeout: CONNECT_TIMEOUT_MS,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer): boolean => {
          const presented = fingerprint(key);
          this.options.onHostKey?.(presented);
          const verdict = checkHostKey(presented, expectation, trustKey);
          if (!verdict.trusted) {
            const where = verdict.source === 'config' ? 'pinned in the config as "hostKey"' : 'remembered from the first connection';
            const router = this.target.host === undefined ? `this machine's default gateway ${this.endpoint}` : `the router at ${this.endpoint}`;
            const moved = this.target.host === undefined ? 'If this machine moved to another network, or you replaced or reset the router' : 'If you replaced or reset the router';
            const forget = expectation.source === 'stored' ? ` (or delete "${expectation.storedUnder}" from ${this.knownHosts.file})` : '';
            hostKeyProblem = new RouterError(
              'host-key',
              `refused to connect: ${router} presented host key ${presented}, but ${verdict.expected} is ${where}. ` +
                `${moved}, check the new key on its console with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" and put it in "hostKey"${forget}; otherwise someone may be intercepting the connection.`,
            );
            return false;
          }
          // One router, one entry: a key another entry already talks to means this entry is the same router under
          // another address, and nothing may be sent (not even a login) that could make the two fight over its rules.
          const holder = this.options.claimHostKey?.(presented);
          if (holder !== undefined) {
            const router = this.target.host === undefined ? `this machine's default gateway ${this.endpoint}` : `the router at ${this.endpoint}`;
            hostKeyProblem = new RouterError(
              'config',
              `refused to connect: ${router} presented host key ${presented}, which router "${printable(holder)}" already uses, so this entry is the same router as "${printable(holder)}" under another address; ` +
                `two entries for one router would fight over its rules, so this entry sends nothing to it. Merge its cameras into "${printable(holder)}" and remove this entry.`,
            );
            return false;
          }
          const elsewhere = this.options.trustedByEarlierPlatform?.(presented);
          if (elsewhere !== undefined) {
            const router = this.target.host === undefined ? `this machine's default gateway ${this.endpoint}` : `the router at ${this.endpoint}`;
            hostKeyProblem = new RouterError(
              'config',
              `refused to connect: ${router} presented host key ${presented}, which router "${printable(elsewhere.router)}" of the Camera Guard platform "${printable(elsewhere.platform)}" before this one in config.json trusts, ` +
                'so this entry is the same router under another address; two platforms guarding one router would fight over its rules, so this entry sends nothing to it. ' +
                'Keep each router in one Camera Guard platform only: remove it from this one.',
            );
            return false;
          }
          if (verdict.remember) {
            toRemember = { presented, firstUse: verdict.firstUse };
          }
          return true;
        },
      };
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
        // Only offered for password login (see authentication()); a key login answers nothing.
        finish(prompts.map(() => (this.target.privateKeyFile === undefined ? (this.target.password ?? '') : '')));
      });
      client.on('ready', () => {
        if (toRemember !== undefined) {
          try {
            this.knownHosts.remember(trustKey, toRemember.presented);
          } catch (error) {
            settle(new RouterError('host-key', `${(error as Error).message} Not using ${this.endpoint} (host key ${toRemember.presented}) until then.`));
            return;
          }
          if (toRemember.firstUse) {
            this.log.warn(
              `trusted the router's host key ${toRemember.presented} on first use and remembered it. ` +
                `Pin it by adding "hostKey": "${toRemember.presented}" to this router's config once you have checked it on the router.`,
            );
          } else {
            this.log.info(
              `the host key remembered for the gateway address ${this.endpoint} is now remembered as "${trustKey}" for this router entry, so a different default gateway is refused rather than trusted on first use.`,
            );
          }
        }
        this.ready = true;
        settle();
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (this.client === client) {
          this.ready = false;
        }
        if (hostKeyProblem) {
          settle(hostKeyProblem);
        } else if (error.level === 'client-authentication') {
          settle(new RouterError('auth', `the router refused the login for user "${this.target.username}"; check "username" and the key or password in the config.`));
        } else if (error.level === 'client-timeout') {
          settle(new RouterError('timeout', `no SSH answer from ${this.endpoint} within ${CONNECT_TIMEOUT_MS / 1000} s.`));
        } else {
          settle(new RouterError('unreachable', `cannot reach ${this.endpoint} over SSH (${error.message}).`));
        }
      });
      client.on('close', () => {
        if (this.client === client) {
          this.ready = false;
          this.abortCurrent?.();
        }
        settle(new RouterError('unreachable', `the SSH connection to ${this.endpoint} closed during login.`));
      });
      try {
        client.connect(config);
        // Every command is a few small packets each way; with Nagle's algorithm on, each exec waits for the peer's
        // delayed ACK (tens of ms) before its last packet leaves. The socket exists once connect() returns and keeps
        // the setting through the handshake.
        client.setNoDelay(true);
      } catch (error) {
        settle(new RouterError('protocol', `cannot start an SSH connection to ${this.endpoint} (${(error as Error).message}).`));
      }
    });
  }

  /**
   * Runs one command (with an optional script on its standard input); commands never overlap. Output (standard
   * output and error together) past `maxOutputBytes` fails the command: a broken or hostile router must not cost
   * the Homebridge machine its memory.
   */
  exec(command: string, stdin: string | undefined, timeoutMs: number, maxOutputBytes = MAX_COMMAND_OUTPUT_BYTES): Promise<CommandResult> {
    const run = this.queue.then(() => this.execNow(command, stdin, timeoutMs, maxOutputBytes));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.ready = false;
    if (this.client) {
      const client = this.client;
      client.removeAllListeners('ready');
      client.on('error', () => undefined);
      this.client = undefined;
      this.abortCurrent?.();
      client.end();
      client.destroy();
    }
  }

  private execNow(command: string, stdin: string | undefined, timeoutMs: number, maxOutputBytes: number): Promise<CommandResult> {
    const client = this.client;
    if (!client || !this.ready) {
      return Promise.reject(new RouterError('unreachable', `not connected to ${this.endpoint}.`));
    }
    return new Promise<CommandResult>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      // One decoder per stream: a character split across two packets must be joined, not turned into two U+FFFD.
      const stdoutDecoder = new StringDecoder('utf8');
      const stderrDecoder = new StringDecoder('utf8');
      let size = 0;
      let code: number | undefined;
      let done = false;
      let channel: ClientChannel | undefined;
      const finish = (error?: RouterError): void => {
        if (done) {
          return;
        }
        done = true;
        this.abortCurrent = undefined;
        clearTimeout(timer);
        if (error) {
          reject(error);
        } else {
          resolve({ stdout: stdout + stdoutDecoder.end(), stderr: stderr + stderrDecoder.end(), code });
        }
      };
      const timer = setTimeout(() => {
        // The router may still be working on it; drop the connection so nothing else lands in a confused
        // session, and let the guard reconnect and re-read the truth.
        this.close();
        finish(new RouterError('timeout', `the router did not finish a command within ${Math.round(timeoutMs / 1000)} s.`));
      }, timeoutMs);
      const onData = (chunk: Buffer, isError: boolean): void => {
        if (done) {
          // Past the cap (or after a failure): what still arrives before the router hears the close is dropped, not
          // kept. The stream keeps flowing rather than pausing, since ssh2 buffers a paused channel's data without
          // bound when the other side ignores the window.
          return;
        }
        size += chunk.length;
        if (size > maxOutputBytes) {
          stdout = '';
          stderr = '';
          channel?.close();
          finish(
            new RouterError(
              'protocol',
              `the router sent more than ${formatBytes(maxOutputBytes)} in answer to one command, so the plugin stopped reading and ignored the answer; ` +
                'check the router (a configuration this large is not one the plugin reads) and restart it if it is misbehaving.',
            ),
          );
          return;
        }
        if (isError) {
          stderr += stderrDecoder.write(chunk);
        } else {
          stdout += stdoutDecoder.write(chunk);
        }
      };
      try {
        client.exec(command, (error, stream) => {
          if (error) {
            finish(new RouterError('unreachable', `the router refused to run a command (${error.message}).`));
            return;
          }
          channel = stream;
          stream.on('data', (chunk: Buffer) => onData(chunk, false));
          stream.stderr.on('data', (chunk: Buffer) => onData(chunk, true));
          stream.on('exit', (exitCode: number | null) => {
            code = exitCode ?? undefined;
          });
          stream.on('close', () => {
            if (code === undefined && !this.ready) {
              finish(new RouterError('unreachable', `the SSH connection to ${this.endpoint} was lost while a command ran.`));
            } else {
              finish();
            }
          });
          stream.on('error', (streamError: Error) => finish(new RouterError('unreachable', `SSH channel error (${streamError.message}).`)));
          if (stdin !== undefined) {
            stream.end(stdin);
          } else {
            stream.end();
          }
        });
      } catch (error) {
        finish(new RouterError('unreachable', `cannot run a command on ${this.endpoint} (${(error as Error).message}).`));
      }
      this.abortCurrent = () => finish(new RouterError('unreachable', `the SSH connection to ${this.endpoint} was lost while a command ran.`));
    });
  }

  /** Reads the key file now (not at startup), so a key fixed on disk is picked up by the next retry. */
  private authentication(): Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'password' | 'tryKeyboard'> {
    const { privateKeyFile, passphrase, password } = this.target;
    if (privateKeyFile === undefined) {
      return { password, tryKeyboard: password !== undefined };
    }
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(privateKeyFile);
      this.warnIfKeyReadableByOthers(privateKeyFile);
    } catch (error) {
      throw new RouterError('auth', `cannot read the private key file ${privateKeyFile} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check "privateKeyFile".`);
    }
    const usablePassphrase = passphrase === '' ? undefined : passphrase;
    // ssh2 throws from inside connect() on a key it cannot open; check first so the owner hears which setting is wrong.
    const parsed = utils.parseKey(privateKey, usablePassphrase);
    if (parsed instanceof Error) {
      const hint = /passphrase/i.test(parsed.message) ? 'check "passphrase"' : 'check that "privateKeyFile" is an OpenSSH or PEM private key';
      throw new RouterError('auth', `cannot open the private key file ${privateKeyFile} (${parsed.message}); ${hint}.`);
    }
    if (!parsed.isPrivateKey()) {
      // The .pub half next to the key is an easy pick in a file chooser; ssh2 would fail later with its own words.
      throw new RouterError('auth', `the private key file ${privateKeyFile} holds a public key; set "privateKeyFile" to the private half (the file without ".pub").`);
    }
    // With key login a leftover "password" is never offered: a router (or someone in the middle) that refuses the
    // key must not be handed the password instead.
    return { privateKey, passphrase: usablePassphrase, tryKeyboard: false };
  }

  private warnIfKeyReadableByOthers(file: string): void {
    if (this.warnedKeyPermissions) {
      return;
    }
    const mode = statSync(file).mode;
    if ((mode & 0o077) !== 0) {
      this.warnedKeyPermissions = true;
      this.log.warn(`the private key file ${file} can be read by other users of this machine; run "chmod 600 ${file}".`);
    }
  }
}

/** `8 MB`, `1 MB`, `512 KB`: a size as the owner reads it (binary units, as the caps are set). */
function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB` : `${Math.round(bytes / 1024)} KB`;
}
