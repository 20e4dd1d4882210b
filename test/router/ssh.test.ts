/**
 * The SSH connection against a bare ssh2 server that records what the client does: how much a router that never
 * stops printing can cost it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RouterError } from '../../src/router/driver';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import type { SshTarget } from '../../src/router/ssh';
import { MAX_COMMAND_OUTPUT_BYTES, MAX_CONFIGURATION_OUTPUT_BYTES } from '../../src/settings';
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
