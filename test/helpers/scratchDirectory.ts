import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The scratch directories of one test file (known-hosts files, Homebridge storage folders), each made under the
 * system's temporary folder and all removed after the file's tests, so that a test file run alone leaves nothing
 * in /tmp. (A run of the whole suite has a second guard: test/globalSetup.ts points TMPDIR at a folder of its own
 * and test/globalTeardown.ts removes it, for what a child process leaves behind.)
 *
 * Jest loads this module afresh for each test file, when the file imports it, so the hook below belongs to that
 * file's outermost block. They are removed after all its tests rather than after each, because a platform or a
 * driver may still be writing to its directory while a test's own cleanup stops it.
 */
const made: string[] = [];

afterAll(() => {
  for (const directory of made.splice(0)) {
    rmSync(directory, { recursive: true, force: true });
  }
});

/** A fresh directory named `prefix` and six random characters, removed after this test file's tests. */
export function scratchDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  made.push(directory);
  return directory;
}
