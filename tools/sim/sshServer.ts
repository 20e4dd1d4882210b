/**
 * An SSH server in front of a SimulatedEdgeRouter, so that a router driver can be tested over real SSH. Exec
 * requests run the router's command interpreter; interactive shells and pseudo-terminals are refused, because a
 * driver must not use them on EdgeOS (show output would go through a pager).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Server, utils, type AuthContext, type Connection, type ParsedKey, type ServerChannel } from 'ssh2';
import { commandReadsStdin, type SimulatedEdgeRouter } from './edgeos';

export interface SimulatedSshUser {
  username: string;
  password?: string;
  /** An OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
  publicKey?: string;
}

export interface SimulatedRouterSshOptions {
  router: SimulatedEdgeRouter;
  users: SimulatedSshUser[];
  /** Host private key (PEM or OpenSSH); an ed25519 key is generated when absent. */
  hostKey?: string;
  /** Default: any free port. */
  port?: number;
  /** The server only ever binds the loopback interface. */
  host?: '127.0.0.1';
}

export interface SimulatedRouterSsh {
  port: number;
  /** `SHA256:` + unpadded base64 of the SHA-256 of the host key blob, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Closes the listener and kills every open connection. */
  stop(): Promise<void>;
  /** Listens again on the same port after stop(). */
  start(): Promise<void>;
  /** Kills every open connection (a network cut); the listener stays. */
  dropConnections(): void;
}

function parseKeyOrThrow(key: string, what: string): ParsedKey {
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`${what}: ${parsed.message}`);
  return parsed;
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator drops a leading zero byte of the public key, so about one
 * key in 256 cannot be parsed back (not even by ssh2 itself); such keys are thrown away.
 */
export function generateSshKeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

export function sshFingerprint(key: ParsedKey): string {
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}

function samePassword(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The public keys the router's configuration gives a user (`system login user U authentication public-keys ID
 * type T` and `key K`): EdgeOS writes them to the user's authorized_keys at commit, so a key pasted on the router
 * logs in from then on.
 */
async function configuredKeys(router: SimulatedEdgeRouter, username: string): Promise<Buffer[]> {
  const listing = await router.activeConfigCommands();
  const keys = new Map<string, { type?: string; key?: string }>();
  const prefix = `set system login user ${username} authentication public-keys `;
  for (const line of listing.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const [id = '', field, value = ''] = line.slice(prefix.length).split(' ');
    const entry = keys.get(id) ?? {};
    if (field === 'type' || field === 'key') entry[field] = value.replace(/^'|'$/g, '');
    keys.set(id, entry);
  }
  return [...keys.values()].flatMap((entry) => {
    if (entry.type === undefined || entry.key === undefined) return [];
    const parsed = utils.parseKey(`${entry.type} ${entry.key}`);
    return parsed instanceof Error ? [] : [parsed.getPublicSSH()];
  });
}

function authenticate(ctx: AuthContext, users: SimulatedSshUser[], publicKeys: Map<string, ParsedKey>, router: SimulatedEdgeRouter): void {
  const user = users.find((candidate) => candidate.username === ctx.username);
  const methods: AuthContext['method'][] = ['publickey', 'password', 'keyboard-interactive'];
  switch (ctx.method) {
    case 'password':
      if (samePassword(ctx.password, user?.password)) ctx.accept();
      else ctx.reject(methods);
      return;
    case 'keyboard-interactive':
      if (user?.password === undefined) {
        ctx.reject(methods);
        return;
      }
      ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => {
        if (samePassword(answers[0], user.password)) ctx.accept();
        else ctx.reject(methods);
      });
      return;
    case 'publickey': {
      const offered = ctx.key.data;
      const fixed = publicKeys.get(ctx.username);
      const decide = (known: boolean): void => {
        if (!known) {
          ctx.reject(methods);
          return;
        }
        // Without a signature the client only asks whether this key would do; with one it proves it holds the private key.
        if (ctx.signature === undefined || ctx.blob === undefined) {
          ctx.accept();
          return;
        }
        const key = utils.parseKey(`${ctx.key.algo} ${offered.toString('base64')}`);
        if (!(key instanceof Error) && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) ctx.accept();
        else ctx.reject(methods);
      };
      if (fixed !== undefined && fixed.getPublicSSH().equals(offered)) {
        decide(true);
        return;
      }
      configuredKeys(router, ctx.username).then(
        (keys) => decide(keys.some((key) => key.equals(offered))),
        () => ctx.reject(methods),
      );
      return;
    }
    default:
      ctx.reject(methods);
  }
}

function readUntilEof(channel: ServerChannel): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
    channel.on('data', (chunk: Buffer) => chunks.push(chunk));
    channel.once('end', done);
    channel.once('close', done);
  });
}

/**
 * Runs one exec request. Closing the channel or the connection aborts the script between two commands, which
 * leaves a configuration session it began open, as on a real router.
 */
async function runExec(router: SimulatedEdgeRouter, channel: ServerChannel, command: string, aborts: Set<AbortController>, user: string | undefined): Promise<void> {
  const abort = new AbortController();
  aborts.add(abort);
  channel.once('close', () => abort.abort());
  try {
    let stdin = '';
    if (commandReadsStdin(command)) stdin = await readUntilEof(channel);
    // Input nobody reads is discarded: a paused channel would never report that the client closed it.
    else channel.resume();
    if (abort.signal.aborted) return;
    const result = await router.run(command, stdin, abort.signal, user);
    if (abort.signal.aborted) return;
    if (result.stdout !== '') channel.write(result.stdout);
    if (result.stderr !== '') channel.stderr.write(result.stderr);
    channel.exit(result.code);
    channel.end();
  } catch (error: unknown) {
    if (abort.signal.aborted) return;
    channel.stderr.write(`simulated router internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    channel.exit(255);
    channel.end();
  } finally {
    aborts.delete(abort);
  }
}

export async function startSimulatedRouterSsh(options: SimulatedRouterSshOptions): Promise<SimulatedRouterSsh> {
  const hostKeyText = options.hostKey ?? generateSshKeyPair().private;
  const hostKey = parseKeyOrThrow(hostKeyText, 'host key');
  const publicKeys = new Map<string, ParsedKey>();
  for (const user of options.users) {
    if (user.publicKey !== undefined) publicKeys.set(user.username, parseKeyOrThrow(user.publicKey, `public key of ${user.username}`));
  }
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();

  const sshServer = new Server({ hostKeys: [hostKeyText] }, (client: Connection) => {
    const aborts = new Set<AbortController>();
    // A killed connection reports ECONNRESET and the like; for a simulated router that is no error.
    client.on('error', () => undefined);
    client.on('close', () => aborts.forEach((abort) => abort.abort()));
    let user: string | undefined;
    client.on('authentication', (ctx) => {
      // The last name tried is the one logged in once the connection is ready.
      user = ctx.username;
      authenticate(ctx, options.users, publicKeys, options.router);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          void runExec(options.router, accept(), info.command, aborts, user);
        });
      });
    });
  });

  const listener: NetServer = createServer((socket) => {
    // Without no-delay each answer's last small packet waits for the client's delayed ACK, and every command would
    // cost tens of milliseconds that are the simulator's, not the plugin's (the bench measures the plugin against it).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    sshServer.injectSocket(socket);
  });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        const address = listener.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  const dropConnections = (): void => sockets.forEach((socket) => socket.destroy());

  const port = await listen(options.port ?? 0);
  return {
    port,
    hostKeyFingerprint: sshFingerprint(hostKey),
    dropConnections,
    start: async () => {
      await listen(port);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        dropConnections();
        if (!listener.listening) resolve();
        else listener.close(() => resolve());
      }),
  };
}
