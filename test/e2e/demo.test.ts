/** `npm run demo` is the first thing a newcomer runs: it must start, print the pairing code and stop cleanly. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { COMPILED_TOOLS_DIR } from '../../tools/paths';
import { until } from '../helpers/simRouter';

jest.setTimeout(120_000);

const PAIRING_CODE = /Pairing code: \d{3}-\d{2}-\d{3}/;
const RULES_CREATED = /"Front Door" \(192\.0\.2\.50\) is new: its rules are being created with internet access blocked/;
/** How long the demo runs, with its simulated traffic, after it printed the pairing code. */
const RUN_MS = 10_000;

it('starts Homebridge against the simulated router, prints the pairing code, and stops cleanly', async () => {
  const demo = spawn(process.execPath, [join(COMPILED_TOOLS_DIR, 'sim', 'demo.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  let pairedAt: number | undefined;
  demo.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (pairedAt === undefined && PAIRING_CODE.test(stdout)) pairedAt = Date.now();
  });
  const exited = new Promise<number | null>((resolve) => demo.once('close', (code) => resolve(code)));
  try {
    // However slowly a busy machine starts Homebridge and the plugin's first transaction, wait for what it prints.
    await until(() => (PAIRING_CODE.test(stdout) && RULES_CREATED.test(stdout)) || demo.exitCode !== null, 'the demo to print the pairing code and create the rules', 90_000, 100);
    if (demo.exitCode === null && pairedAt !== undefined) await new Promise((done) => setTimeout(done, Math.max(0, RUN_MS - (Date.now() - pairedAt!))));
  } finally {
    // Ctrl-C, as the demo tells its user.
    demo.kill('SIGINT');
  }
  const status = await exited;
  expect(stdout).toMatch(PAIRING_CODE);
  expect(stdout).toMatch(RULES_CREATED);
  expect(stdout).not.toMatch(/ERROR|Error:/);
  expect(status).toBe(0);
});
