import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Server, utils, type AuthContext, type ServerChannel } from 'ssh2';

import { captureSecret } from '../../tools/sim/logCapture';
import { generateSshKeyPair, sshFingerprint } from '../../tools/sim/sshServer';

export const USER = 'homebridge';

/** Answers one exec request; the channel is the command's stdout (its `.stderr` the error stream). */
export type Answer = (command: string, channel: ServerChannel) => void;

export interface RecordingSshServer {
  readonly address: string;
  readonly port: number;
  readonly hostKeyFingerprint: string;
  /** A private key file (mode 0600) that logs in as USER, and the password that does. */
  readonly privateKeyFile: string;
  readonly password: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Every authentication method a client tried, in order ('none', 'publickey', 'password', 'keyboard-interactive'). */
  readonly authMethods: string[];
  /** Every exec request, in order. */
  readonly commands: string[];
  stop(): Promise<void>;
}

export interface RecordingSshOptions {
  /** 127.0.0.1 unless told; any loopback address works on Linux, so two "gateways" can share a port. */
  address?: string;
  port?: number;
  /** Host private key; a fresh ed25519 key when absent. */
  hostKey?: string;
  /** Which logins succeed; default: the server's own key and password. */
  accepts?: 'key-and-password' | 'nothing';
  /** Default: print nothing, exit 0. */
  answer?: Answer;
}

/**
 * A bare ssh2 server on loopback that records what a client does (connections, auth methods, commands) and answers
 * each exec request as the test says: for proving what the plugin's SSH client sends and how it bears hostile output.
 */
export async function startRecordingSshServer(options: RecordingSshOptions = {}): Promise<RecordingSshServer> {
  const directory = mkdtempSync(join(tmpdir(), 'cg-ssh-'));
  const clientKey = generateSshKeyPair();
  const privateKeyFile = join(directory, 'client_ed25519');
  writeFileSync(privateKeyFile, clientKey.private, { mode: 0o600 });
  captureSecret(clientKey.private);
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  captureSecret(password);
  const publicKey = utils.parseKey(clientKey.public);
  if (publicKey instanceof Error) {
    throw publicKey;
  }
  const hostKeyText = options.hostKey ?? generateSshKeyPair().private;
  const hostKey = utils.parseKey(hostKeyText);
  if (hostKey instanceof Error) {
    throw hostKey;
  }
  const accepting = (options.accepts ?? 'key-and-password') === 'key-and-password';
  const answer: Answer = options.answer ?? ((_command, channel) => {
    channel.exit(0);
    channel.end();
  });
  const sockets = new Set<Socket>();
  const record = {
    connections: 0,
    authMethods: [] as string[],
    commands: [] as string[],
  };

  const authenticate = (ctx: AuthContext): void => {
    record.authMethods.push(ctx.method);
    const methods: AuthContext['method'][] = ['publickey', 'password', 'keyboard-interactive'];
    const ok = accepting && ctx.username === USER;
    switch (ctx.method) {
      case 'publickey':
        if (ok && publicKey.getPublicSSH().equals(ctx.key.data) && (ctx.signature === undefined || publicKey.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo))) {
          ctx.accept();
        } else {
          ctx.reject(methods);
        }
        return;
      case 'password':
        if (ok && ctx.password === password) ctx.accept();
        else ctx.reject(methods);
        return;
      case 'keyboard-interactive':
        ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => (ok && answers[0] === password ? ctx.accept() : ctx.reject(methods)));
        return;
      default:
        ctx.reject(methods);
    }
  };

  const sshServer = new Server({ hostKeys: [hostKeyText] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', authenticate);
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        acceptSession().on('exec', (accept, _reject, info) => {
          record.commands.push(info.command);
          const channel = accept();
          channel.on('error', () => undefined);
          answer(info.command, channel);
        });
      });
    });
  });
  const listener: NetServer = createServer((socket) => {
    record.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    sshServer.injectSocket(socket);
  });
  const address = options.address ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 0, address, () => {
      const bound = listener.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : 0);
    });
  });

  return Object.assign(record, {
    address,
    port,
    hostKeyFingerprint: sshFingerprint(hostKey),
    privateKeyFile,
    password,
    stop: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        rmSync(directory, { recursive: true, force: true });
        if (!listener.listening) resolve();
        else listener.close(() => resolve());
      }),
  });
}

/**
 * Writes `totalBytes` of configuration-like lines to the channel's stdout (or stderr) as fast as the client's window
 * allows, then exits 0; stops early when the client closes the channel. Resolves with the bytes written.
 */
export function streamLines(channel: ServerChannel, totalBytes: number, to: 'stdout' | 'stderr' = 'stdout'): Promise<number> {
  const line = 'set firewall name OWNER rule 1 description filler-text-that-a-broken-router-keeps-printing\n';
  const chunk = Buffer.from(line.repeat(Math.ceil(32_768 / line.length)));
  const out = to === 'stdout' ? channel : channel.stderr;
  return new Promise((resolve) => {
    let written = 0;
    let closed = false;
    channel.once('close', () => {
      closed = true;
      resolve(written);
    });
    const pump = (): void => {
      while (!closed && written < totalBytes) {
        const piece = chunk.subarray(0, Math.min(chunk.length, totalBytes - written));
        written += piece.length;
        if (!out.write(piece)) {
          out.once('drain', pump);
          return;
        }
      }
      if (!closed) {
        channel.exit(0);
        channel.end();
      }
    };
    pump();
  });
}
