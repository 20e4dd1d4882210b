import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The end of every test run: the secret check below, then the removal of the run's temporary folder (made by
 * test/globalSetup.ts), with the log capture in it and whatever the tests and their processes left there.
 */
export default function globalTeardown(): void {
  try {
    checkNoSecretInLogs();
  } finally {
    const runFolder = process.env.CAMERA_GUARD_RUN_TMPDIR;
    if (runFolder) {
      rmSync(runFolder, { recursive: true, force: true });
    }
  }
}

/**
 * The last check of every test run: no password, passphrase or private key line handed out during the run appears
 * in any log line the run produced (Homebridge output and the plugin's recorded logs, debug included).
 */
function checkNoSecretInLogs(): void {
  const directory = process.env.CAMERA_GUARD_LOG_CAPTURE;
  if (!directory || !existsSync(directory)) {
    return;
  }
  const read = (name: string): string => (existsSync(join(directory, name)) ? readFileSync(join(directory, name), 'utf8') : '');
  const lines = read('log-lines.txt').split('\n');
  const secrets = read('secrets.json')
    .split('\n')
    .filter((line) => line !== '')
    .flatMap((line) => JSON.parse(line) as string[]);
  const leaks = lines.filter((line) => secrets.some((secret) => line.includes(secret)));
  if (secrets.length === 0 || lines.length < 2) {
    // A partial run (one test file, say) may hand out no secret or log nothing; there is nothing to compare.
    process.stdout.write('\nSecret check: nothing to compare in this run (no secrets handed out, or no log lines).\n');
    return;
  }
  if (leaks.length > 0) {
    throw new Error(`secrets appeared in ${leaks.length} log line(s), for example: ${leaks[0]?.slice(0, 120)}`);
  }
  process.stdout.write(`\nSecret check: ${secrets.length} secrets, ${lines.length} log lines, no secret in any line.\n`);
}
