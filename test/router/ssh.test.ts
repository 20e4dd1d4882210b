/**
 * The SSH connection against a bare ssh2 server that records what the client does: which logins it offers, when it
 * remembers a host key and under which name, what it makes of a known-hosts file it did not write, and how much a
 * router that never stops printing can cost it.
 */
import crypto from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RouterError } from '../../src/router/driver';
import { HostKeyClaims, KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import type { SshTarget } from '../../src/router/ssh';
import { MAX_COMMAND_OUTPUT_BYTES, MAX_CONFIGURATION_OUTPUT_BYTES } from '../../src/settings';
import { generateSshKeyPair } from '../../tools/sim/sshServer';
import { runWithHeapLimit } from '../helpers/heapLimitedNode';
import { recordingLog } from '../helpers/recordingLog';
import { startRecordingSshServer, streamLines, USER } from '../helpers/recordingSshServer';
import type { RecordingSshOptions, RecordingSshServer } from '../helpers/recordingSshServer';

jest.setTimeout(120_000);

const MB = 1024 * 1024;

/** Everything a test started, undone whether it passed or not. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function server(options: RecordingSshOptions = {}): Promise<RecordingSshServer> {
  const started = await startRecordingSshServer(options);
  cleanups.push(() => started.stop());
  return started;
}

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'cg-trust-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** A connection to `to` with the entry's settings; `host: undefined` means an entry that follows the default gateway. */
function connection(to: RecordingSshServer, knownHostsFile: string, overrides: Partial<SshTarget> = {}, log = recordingLog()): SshConnection {
  const ssh = new SshConnection(
    { host: to.address, port: to.port, username: USER, privateKeyFile: to.privateKeyFile, passphrase: undefined, password: undefined, hostKey: undefined, ...overrides },
    new KnownHosts(knownHostsFile),
    log,
  );
  cleanups.push(() => ssh.close());
  return ssh;
}

async function failure(promise: Promise<unknown>): Promise<RouterError> {
  const outcome = await promise.then(
    () => new Error('expected a failure, but it worked'),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(RouterError);
  return outcome as RouterError;
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

describe('which logins the client offers', () => {
  it('with key login configured, never offers a leftover password (no password auth, no keyboard-interactive), even when the key is refused', async () => {
    const router = await server({ accepts: 'nothing' });
    const ssh = connection(router, join(temporaryDirectory(), 'known.json'), { password: router.password });
    expect((await failure(ssh.connect())).kind).toBe('auth');
    expect(router.authMethods).toContain('publickey');
    expect(router.authMethods).not.toContain('password');
    expect(router.authMethods).not.toContain('keyboard-interactive');
  });

  it('with password login, offers the password (so the server above would have seen it if the client sent it)', async () => {
    const router = await server({ accepts: 'nothing' });
    const ssh = connection(router, join(temporaryDirectory(), 'known.json'), { privateKeyFile: undefined, password: router.password });
    expect((await failure(ssh.connect())).kind).toBe('auth');
    expect(router.authMethods).toEqual(expect.arrayContaining(['password', 'keyboard-interactive']));
    expect(router.authMethods).not.toContain('publickey');
  });
});

describe('a private key setting that names the public half', () => {
  it('is refused before connecting, saying to pick the file without ".pub" (ssh2 would fail later in its own words)', async () => {
    const router = await server();
    const publicFile = join(temporaryDirectory(), 'id_ed25519.pub');
    writeFileSync(publicFile, generateSshKeyPair().public, { mode: 0o600 });
    const error = await failure(connection(router, join(temporaryDirectory(), 'known.json'), { privateKeyFile: publicFile }).connect());
    expect(error.kind).toBe('auth');
    expect(error.message).toMatch(/holds a public key; set "privateKeyFile" to the private half/);
    expect(router.authMethods).toEqual([]);
  });
});

describe('trust on first use', () => {
  it('remembers a key only once the login succeeded: a stranger who refuses the login is not remembered', async () => {
    const directory = temporaryDirectory();
    const known = join(directory, 'known.json');
    const stranger = await server({ accepts: 'nothing' });
    expect((await failure(connection(stranger, known).connect())).kind).toBe('auth');
    expect(readdirSync(directory)).toEqual([]);

    // The real router at the same address and port is then trusted on first use, with its own key.
    const port = stranger.port;
    await stranger.stop();
    const router = await server({ port });
    const log = recordingLog();
    await connection(router, known, {}, log).connect();
    expect(readJson(known)).toEqual({ [`127.0.0.1:${port}`]: router.hostKeyFingerprint });
    expect(lstatSync(known).mode & 0o777).toBe(0o600);
    expect(log.lines).toContain(
      `WARN trusted the router's host key ${router.hostKeyFingerprint} on first use and remembered it. Pin it by adding "hostKey": "${router.hostKeyFingerprint}" to this router's config once you have checked it on the router.`,
    );
  });

  it('remembers an entry without "host" as the entry, so another default gateway (another network, a rogue DHCP server) is refused, not trusted', async () => {
    const known = join(temporaryDirectory(), 'known.json');
    const gateway = await server({ address: '127.0.0.1' });
    const entry = { host: undefined, port: gateway.port };
    await connection(gateway, known, { ...entry, address: '127.0.0.1' }).connect();
    expect(readJson(known)).toEqual({ [`default-gateway:${gateway.port}`]: gateway.hostKeyFingerprint });

    // Same port, another address, another key: what a rogue DHCP server's "gateway" looks like.
    const rogue = await server({ address: '127.0.0.2', port: gateway.port });
    const error = await failure(connection(rogue, known, { ...entry, address: '127.0.0.2' }).connect());
    expect(error.kind).toBe('host-key');
    expect(error.message).toContain(`this machine's default gateway 127.0.0.2:${gateway.port} presented host key ${rogue.hostKeyFingerprint}`);
    expect(error.message).toContain(`but ${gateway.hostKeyFingerprint} is remembered from the first connection`);
    expect(error.message).toContain(`delete "default-gateway:${gateway.port}" from ${known}`);
    expect(rogue.authMethods).toEqual([]);
    expect(rogue.commands).toEqual([]);
    expect(readJson(known)).toEqual({ [`default-gateway:${gateway.port}`]: gateway.hostKeyFingerprint });
  });

  it("takes over an earlier version's record for the gateway address dialled now, and only that one", async () => {
    const known = join(temporaryDirectory(), 'known.json');
    const gateway = await server({ address: '127.0.0.1' });
    const otherNetwork = 'SHA256:' + 'o'.repeat(43);
    writeFileSync(known, JSON.stringify({ [`127.0.0.1:${gateway.port}`]: gateway.hostKeyFingerprint, [`10.9.9.1:${gateway.port}`]: otherNetwork }), { mode: 0o600 });
    const log = recordingLog();
    await connection(gateway, known, { host: undefined, address: '127.0.0.1' }, log).connect();
    expect(readJson(known)).toEqual({
      [`127.0.0.1:${gateway.port}`]: gateway.hostKeyFingerprint,
      [`10.9.9.1:${gateway.port}`]: otherNetwork,
      [`default-gateway:${gateway.port}`]: gateway.hostKeyFingerprint,
    });
    expect(log.lines.some((line) => line.startsWith('WARN'))).toBe(false);
    expect(log.lines).toContain(
      `INFO the host key remembered for the gateway address 127.0.0.1:${gateway.port} is now remembered as "default-gateway:${gateway.port}" for this router entry, so a different default gateway is refused rather than trusted on first use.`,
    );

    // From now on the entry's record decides: the rogue gateway is refused although its address has no record.
    const rogue = await server({ address: '127.0.0.2', port: gateway.port });
    expect((await failure(connection(rogue, known, { host: undefined, address: '127.0.0.2' }).connect())).kind).toBe('host-key');
  });

  it("refuses a gateway whose key differs from an earlier version's record for its address, and says which record to delete", async () => {
    const known = join(temporaryDirectory(), 'known.json');
    const gateway = await server({ address: '127.0.0.1' });
    const before = 'SHA256:' + 'b'.repeat(43);
    writeFileSync(known, JSON.stringify({ [`127.0.0.1:${gateway.port}`]: before }), { mode: 0o600 });
    const error = await failure(connection(gateway, known, { host: undefined, address: '127.0.0.1' }).connect());
    expect(error.kind).toBe('host-key');
    expect(error.message).toContain(`but ${before} is remembered`);
    expect(error.message).toContain(`delete "127.0.0.1:${gateway.port}" from ${known}`);
    expect(gateway.authMethods).toEqual([]);
    expect(readJson(known)).toEqual({ [`127.0.0.1:${gateway.port}`]: before });
  });

  it('keeps host:port for an entry with "host", so files written by earlier versions stay valid', async () => {
    const known = join(temporaryDirectory(), 'known.json');
    const router = await server();
    const before = 'SHA256:' + 'c'.repeat(43);
    writeFileSync(known, JSON.stringify({ [`127.0.0.1:${router.port}`]: before }), { mode: 0o600 });
    const error = await failure(connection(router, known).connect());
    expect(error.message).toContain(`the router at 127.0.0.1:${router.port} presented host key ${router.hostKeyFingerprint}, but ${before} is remembered`);
    expect(router.authMethods).toEqual([]);
  });
});

describe('one router under two entries (one host key)', () => {
  /** Two entries (two loopback addresses, one router's key) sharing the platform's registry of claimed keys. */
  async function twoEntries(): Promise<{ router: RecordingSshServer; twin: RecordingSshServer; first: SshConnection; second: SshConnection }> {
    const known = join(temporaryDirectory(), 'known.json');
    const hostKey = generateSshKeyPair().private;
    const router = await server({ address: '127.0.0.1', hostKey });
    const twin = await server({ address: '127.0.0.2', port: router.port, hostKey });
    const claims = new HostKeyClaims();
    const open = (to: RecordingSshServer, entry: number, name: string): SshConnection => {
      const ssh = new SshConnection(
        { host: to.address, port: to.port, username: USER, privateKeyFile: to.privateKeyFile, passphrase: undefined, password: undefined, hostKey: undefined },
        new KnownHosts(known),
        recordingLog(),
        { claimHostKey: (fingerprint) => claims.claim(fingerprint, entry, name) },
      );
      cleanups.push(() => ssh.close());
      return ssh;
    };
    return { router, twin, first: open(router, 0, 'Home Router'), second: open(twin, 1, 'Again') };
  }

  it('refuses the second entry before it logs in or sends anything, with a config error naming the entry that has the router', async () => {
    const { router, twin, first, second } = await twoEntries();
    expect(router.hostKeyFingerprint).toBe(twin.hostKeyFingerprint);
    await first.connect();
    const error = await failure(second.connect());
    expect(error.kind).toBe('config');
    expect(error.message).toBe(
      `refused to connect: the router at 127.0.0.2:${twin.port} presented host key ${twin.hostKeyFingerprint}, which router "Home Router" already uses, ` +
        'so this entry is the same router as "Home Router" under another address; two entries for one router would fight over its rules, so this entry sends nothing to it. ' +
        'Merge its cameras into "Home Router" and remove this entry.',
    );
    expect(twin.authMethods).toEqual([]);
    expect((await failure(second.exec('show configuration commands', undefined, 1000))).kind).toBe('unreachable');
    expect(twin.commands).toEqual([]);
    // The first entry keeps its router, and reconnecting does not lose it its claim.
    first.close();
    await first.connect();
    await first.exec('true', undefined, 5000);
    expect(router.commands).toEqual(['true']);
    expect((await failure(second.connect())).kind).toBe('config');
  });
});

describe('a known-hosts file that Camera Guard did not write', () => {
  const fingerprint = 'SHA256:' + 'k'.repeat(43);

  it.each([
    ['a list', '[]', 'it holds a list instead of an object'],
    ['a string', '"SHA256:abc"', 'it holds a string instead of an object'],
    ['null', 'null', 'it holds null instead of an object'],
    ['not JSON', '{"127.0.0.1:22": ', 'it is not JSON'],
    ['an empty file', '', 'it is not JSON'],
    ['a value that is not a fingerprint', '{"127.0.0.1:22": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"}', 'the entry for "127.0.0.1:22" is not a SHA256: fingerprint'],
    ['a value of another type', `{"127.0.0.1:22": "${fingerprint}", "default-gateway:22": {"key": "${fingerprint}"}}`, 'the entry for "default-gateway:22" is not a SHA256: fingerprint'],
    ['another shape', `{"hosts": [{"host": "127.0.0.1", "key": "${fingerprint}"}]}`, 'the entry for "hosts" is not a SHA256: fingerprint'],
  ])('is refused loudly when it holds %s, and nothing reaches the router', async (_what, content, reason) => {
    const known = join(temporaryDirectory(), 'known.json');
    writeFileSync(known, content, { mode: 0o600 });
    const router = await server();
    const error = await failure(connection(router, known).connect());
    expect(error.kind).toBe('host-key');
    expect(error.message).toBe(
      `the known host keys file ${known} is not one Camera Guard wrote (${reason}), so no router is trusted from it; ` +
        'fix it to the form {"192.168.1.1:22": "SHA256:..."} or delete it (each router\'s key is then trusted on first use again). ' +
        `Not connecting to 127.0.0.1:${router.port} until then.`,
    );
    expect(router.connections).toBe(0);
    expect(readFileSync(known, 'utf8')).toBe(content);
  });

  it('does not stop a router whose key is pinned (the file is not consulted for it)', async () => {
    const known = join(temporaryDirectory(), 'known.json');
    writeFileSync(known, '[]', { mode: 0o600 });
    const router = await server();
    await connection(router, known, { hostKey: router.hostKeyFingerprint }).connect();
  });
});

describe('writing the known-hosts file', () => {
  it('never writes through a symlink planted at the old fixed temporary name', async () => {
    const directory = temporaryDirectory();
    const known = join(directory, 'known.json');
    const victim = join(directory, 'victim.txt');
    writeFileSync(victim, 'must not change\n');
    symlinkSync(victim, `${known}.tmp`);
    const router = await server();
    await connection(router, known).connect();
    expect(readFileSync(victim, 'utf8')).toBe('must not change\n');
    expect(lstatSync(known).isFile()).toBe(true);
    expect(readJson(known)).toEqual({ [`127.0.0.1:${router.port}`]: router.hostKeyFingerprint });
    // Nothing of the write is left behind: the file, the victim and the planted link only.
    expect(readdirSync(directory).sort()).toEqual(['known.json', 'known.json.tmp', 'victim.txt']);
  });

  it('refuses to reuse a file or symlink planted at the temporary name it picks, and then does not use the router', async () => {
    const directory = temporaryDirectory();
    const known = join(directory, 'known.json');
    const victim = join(directory, 'victim.txt');
    writeFileSync(victim, 'must not change\n');
    // Make the "unpredictable" name predictable, to plant something there.
    const spy = jest.spyOn(crypto, 'randomBytes').mockImplementation((size: number) => Buffer.alloc(size, 7));
    cleanups.push(() => spy.mockRestore());
    const planted = join(directory, `.known.json.${'07'.repeat(12)}.tmp`);
    symlinkSync(victim, planted);
    const router = await server();
    const error = await failure(connection(router, known).connect());
    expect(spy).toHaveBeenCalled();
    expect(error.kind).toBe('host-key');
    expect(error.message).toContain(`could not write the known host keys file ${known} (EEXIST)`);
    expect(readFileSync(victim, 'utf8')).toBe('must not change\n');
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(readdirSync(directory).sort()).toEqual([`.known.json.${'07'.repeat(12)}.tmp`, 'victim.txt']);
  });

  it('replaces a symlink planted at the file itself instead of writing through it', async () => {
    const directory = temporaryDirectory();
    const known = join(directory, 'known.json');
    const victim = join(directory, 'victim.json');
    writeFileSync(victim, '{}');
    symlinkSync(victim, known);
    const router = await server();
    await connection(router, known).connect();
    expect(readFileSync(victim, 'utf8')).toBe('{}');
    expect(lstatSync(known).isFile()).toBe(true);
  });

  it('names the file and what to do when it cannot be written, and does not use the router whose key it could not remember', async () => {
    const directory = temporaryDirectory();
    const known = join(directory, 'missing', 'known.json');
    const router = await server();
    const error = await failure(connection(router, known).connect());
    expect(error.kind).toBe('host-key');
    expect(error.message).toBe(
      `could not write the known host keys file ${known} (ENOENT); check that Homebridge can write to its storage folder, or pin the key with "hostKey" in the config. ` +
        `Not using 127.0.0.1:${router.port} (host key ${router.hostKeyFingerprint}) until then.`,
    );
    mkdirSync(join(directory, 'missing'));
    await connection(router, known).connect();
  });
});

describe('output caps', () => {
  async function streamingRouter(bytes: number, stderr = false): Promise<RecordingSshServer> {
    return server({
      answer: (_command, channel) => {
        void streamLines(channel, bytes, stderr ? 'stderr' : 'stdout');
      },
    });
  }

  it('fails a command at the 1 MB cap with a plain sentence, and the connection still runs the next command', async () => {
    let answers = 0;
    const router = await server({
      answer: (_command, channel) => {
        answers++;
        if (answers === 1) {
          void streamLines(channel, 64 * MB);
        } else {
          channel.write('fine\n');
          channel.exit(0);
          channel.end();
        }
      },
    });
    const ssh = connection(router, join(temporaryDirectory(), 'known.json'), { hostKey: router.hostKeyFingerprint });
    await ssh.connect();
    const error = await failure(ssh.exec('show everything', undefined, 60_000));
    expect(error.kind).toBe('protocol');
    expect(error.message).toBe(
      'the router sent more than 1 MB in answer to one command, so the plugin stopped reading and ignored the answer; check the router (a configuration this large is not one the plugin reads) and restart it if it is misbehaving.',
    );
    expect(await ssh.exec('echo fine', undefined, 60_000)).toEqual({ stdout: 'fine\n', stderr: '', code: 0 });
  });

  it('counts standard error too', async () => {
    const router = await streamingRouter(2 * MB, true);
    const ssh = connection(router, join(temporaryDirectory(), 'known.json'), { hostKey: router.hostKeyFingerprint });
    await ssh.connect();
    expect((await failure(ssh.exec('noisy', undefined, 60_000))).kind).toBe('protocol');
  });

  it('reads output of exactly the cap, and refuses one byte more', async () => {
    const limit = 300 * 1024;
    for (const [bytes, fits] of [
      [limit, true],
      [limit + 1, false],
    ] as const) {
      const router = await streamingRouter(bytes);
      const ssh = connection(router, join(temporaryDirectory(), 'known.json'), { hostKey: router.hostKeyFingerprint });
      await ssh.connect();
      const run = ssh.exec('show', undefined, 60_000, limit);
      if (fits) {
        expect((await run).stdout.length).toBe(limit);
      } else {
        expect((await failure(run)).message).toMatch(/^the router sent more than 300 KB in answer to one command/);
      }
    }
  });

  it('are 1 MB for commands and 8 MB for the configuration read', () => {
    expect(MAX_COMMAND_OUTPUT_BYTES).toBe(MB);
    expect(MAX_CONFIGURATION_OUTPUT_BYTES).toBe(8 * MB);
  });

  /**
   * In a Node process with a 48 MB heap, so that keeping what the router sends would kill it ("heap out of
   * memory") rather than pass slowly: the SSH client reads a 64 MB answer with the configuration cap.
   */
  function readInSmallHeap(router: RecordingSshServer, known: string, maxOutputBytes: number): ReturnType<typeof runWithHeapLimit> {
    const target = { host: router.address, port: router.port, username: USER, privateKeyFile: router.privateKeyFile, hostKey: router.hostKeyFingerprint };
    return runWithHeapLimit(
      `
      const { SshConnection } = source('router/ssh');
      const { KnownHosts } = source('router/hostKeys');
      const log = { info() {}, warn() {}, error() {}, debug() {} };
      const ssh = new SshConnection(${JSON.stringify(target)}, new KnownHosts(${JSON.stringify(known)}), log);
      await ssh.connect();
      let outcome;
      try {
        const result = await ssh.exec('show configuration commands', undefined, 100000, ${maxOutputBytes});
        outcome = { read: result.stdout.length };
      } catch (error) {
        outcome = { kind: error.kind, message: error.message };
      }
      outcome.heapMB = process.memoryUsage().heapUsed / 1048576;
      ssh.close();
      process.stdout.write(JSON.stringify(outcome));
      `,
      48,
      110_000,
    );
  }

  it('keep the memory of a router streaming 64 MB bounded: the read fails at the cap in a 48 MB heap', async () => {
    const router = await streamingRouter(64 * MB);
    const outcome = await readInSmallHeap(router, join(temporaryDirectory(), 'known.json'), MAX_CONFIGURATION_OUTPUT_BYTES);
    expect({ code: outcome.code, outOfMemory: outcome.outOfMemory, stderr: outcome.stderr.slice(0, 500) }).toEqual({ code: 0, outOfMemory: false, stderr: '' });
    expect(JSON.parse(outcome.stdout)).toMatchObject({ kind: 'protocol', message: expect.stringMatching(/^the router sent more than 8 MB in answer to one command/) });
  });

  it('(the control for the test above) a 48 MB heap really is too small to keep a 64 MB answer', async () => {
    const router = await streamingRouter(64 * MB);
    const outcome = await readInSmallHeap(router, join(temporaryDirectory(), 'known.json'), 100 * MB);
    expect({ code: outcome.code === 0, outOfMemory: outcome.outOfMemory }).toEqual({ code: false, outOfMemory: true });
  });
});
