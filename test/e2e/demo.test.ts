/** `npm run demo` is the first thing a newcomer runs: it must start, print the pairing code and stop cleanly. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

jest.setTimeout(90_000);

it('starts Homebridge against the simulated router, prints the pairing code, and stops cleanly', () => {
  const result = spawnSync(process.execPath, [join(__dirname, '../../dist/sim/demo.js'), '--seconds', '10'], { encoding: 'utf8', timeout: 80_000 });
  expect(result.stdout).toMatch(/Pairing code: \d{3}-\d{2}-\d{3}/);
  expect(result.stdout).toMatch(/"Front Door" \(192\.0\.2\.50\) is new: its rules are being created with internet access blocked/);
  expect(result.stdout).not.toMatch(/ERROR|Error:/);
  expect(result.status).toBe(0);
});
