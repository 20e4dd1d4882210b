import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Gives the test run a temporary folder of its own, which test/globalTeardown.ts removes with whatever the run left
 * in it, and starts capturing every log line and every secret of the run there (see tools/sim/logCapture.ts).
 *
 * TMPDIR names that folder, so every os.tmpdir() of the tests and of the processes they start (Homebridge, the
 * simulated router, the Homebridge UI, Chromium) lands in it: Jest runs the tests in this process (--runInBand), and
 * their environment is this one. Its path is short (/tmp/cg-run-XXXXXX), so that a unix socket under it, such as
 * Chromium's SingletonSocket, stays within the 108 bytes of a socket address.
 */
export default function globalSetup(): void {
  const runFolder = mkdtempSync(join(tmpdir(), 'cg-run-'));
  // Like /tmp itself: the lab's processes may run as other users, and each may remove only what it made.
  chmodSync(runFolder, 0o1777);
  process.env.CAMERA_GUARD_RUN_TMPDIR = runFolder;
  process.env.TMPDIR = runFolder;
  process.env.CAMERA_GUARD_LOG_CAPTURE = mkdtempSync(join(runFolder, 'camera-guard-logs-'));
}
