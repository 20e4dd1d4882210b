/**
 * The test run's temporary folder (test/globalSetup.ts): every os.tmpdir() of the tests and of the processes they
 * start is one folder of the run's own under the system's, which test/globalTeardown.ts removes, so that a run
 * leaves nothing in /tmp even where a test or a process it started leaves its files behind.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { scratchDirectory } from './helpers/scratchDirectory';

/** The longest unix socket path Linux takes: sun_path is 108 bytes, the last one for the terminating NUL. */
const SOCKET_PATH_MAX = 107;

it('is where os.tmpdir() points in the tests and in the processes they start', () => {
  const runFolder = tmpdir();
  expect(basename(runFolder)).toMatch(/^cg-run-/);
  expect(process.env.CAMERA_GUARD_RUN_TMPDIR).toBe(runFolder);
  const inChild = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], { encoding: 'utf8' });
  expect(inChild).toBe(runFolder);
  // The log capture lives there too, so that the teardown's removal takes it with the rest.
  expect(process.env.CAMERA_GUARD_LOG_CAPTURE?.startsWith(`${runFolder}/`)).toBe(true);
});

it('is open to every user, as /tmp is (sticky: each removes only what it made), since the lab runs processes as other users', () => {
  expect(statSync(tmpdir()).mode & 0o7777).toBe(0o1777);
});

it('is short enough for a unix socket in a folder made under it', async () => {
  // As Chromium makes its SingletonSocket: in a folder of its own under TMPDIR, the longest of its kind the tests make.
  const socketPath = join(scratchDirectory('.org.chromium.Chromium.'), 'SingletonSocket');
  expect(Buffer.byteLength(socketPath)).toBeLessThanOrEqual(SOCKET_PATH_MAX);
  const server = createServer();
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(socketPath, listening);
  });
  await new Promise<void>((closed) => server.close(() => closed()));
});
