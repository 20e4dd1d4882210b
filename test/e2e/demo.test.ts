/**
 * `npm run demo` is the first thing a newcomer runs: it must start, print the pairing code and the Homebridge UI's
 * address and login, answer on that address with that login, and stop cleanly.
 *
 * The demo runs the Homebridge UI, which looks up npm and GitHub and browses mDNS on every interface it sees; the
 * test runs it in a private network namespace with only loopback (tools/sim/privateNetwork.ts), so that none of it
 * leaves the machine, and asks the UI from inside that namespace.
 */
import { join } from 'node:path';

import { COMPILED_TOOLS_DIR } from '../../tools/paths';
import { openPrivateNetwork, privateNetworkUnavailableReason } from '../../tools/sim/privateNetwork';
import type { PrivateNetwork } from '../../tools/sim/privateNetwork';
import { until } from '../helpers/simRouter';

jest.setTimeout(240_000);

const PAIRING_CODE = /Pairing code: \d{3}-\d{2}-\d{3}/;
const UI_LINE = /Homebridge UI: (http:\/\/127\.0\.0\.1:\d+) \(user (\S+), password (\S+)\)/;
const RULES_CREATED = /"Front Door" \(192\.0\.2\.50\) is new: its rules are being created with internet access blocked/;
/** How long the demo runs, with its simulated traffic, after it printed the pairing code. */
const RUN_MS = 10_000;

/** Logs in to the UI from inside the namespace and lists its plugins: what a browser on that machine would see. */
function askUi(network: PrivateNetwork, url: string, username: string, password: string): Promise<string> {
  const script = `
    const [url, username, password] = process.argv.slice(1);
    (async () => {
      const login = await fetch(url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      const { access_token } = await login.json();
      const plugins = await fetch(url + '/api/plugins', { headers: { authorization: 'Bearer ' + access_token } });
      process.stdout.write(JSON.stringify({ login: login.status, plugins: (await plugins.json()).map((plugin) => plugin.name) }));
    })().catch((error) => { process.stdout.write(JSON.stringify({ error: error.message })); });
  `;
  const child = network.spawn([process.execPath, '-e', script, url, username, password], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', () => resolve(output)));
}

const unavailable = privateNetworkUnavailableReason();

it('starts Homebridge and its UI against the simulated router, prints the pairing code and the login, and stops cleanly', async () => {
  if (unavailable !== undefined) throw new Error(`The demo cannot be tested here: ${unavailable}.`);
  const network = await openPrivateNetwork();
  try {
    const demo = network.spawn([process.execPath, join(COMPILED_TOOLS_DIR, 'sim', 'demo.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    let pairedAt: number | undefined;
    demo.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (pairedAt === undefined && PAIRING_CODE.test(stdout)) pairedAt = Date.now();
    });
    const exited = new Promise<number | null>((resolve) => demo.once('close', (code) => resolve(code)));
    let answer = '';
    try {
      // However slowly a busy machine starts Homebridge and the plugin's first transaction, wait for what it prints.
      await until(() => (PAIRING_CODE.test(stdout) && UI_LINE.test(stdout) && RULES_CREATED.test(stdout)) || demo.exitCode !== null, 'the demo to print the pairing code, the UI login and create the rules', 180_000, 100);
      const [, url = '', username = '', password = ''] = UI_LINE.exec(stdout) ?? [];
      if (url !== '') answer = await askUi(network, url, username, password);
      if (demo.exitCode === null && pairedAt !== undefined) await new Promise((done) => setTimeout(done, Math.max(0, RUN_MS - (Date.now() - pairedAt!))));
    } finally {
      // Ctrl-C, as the demo tells its user.
      demo.kill('SIGINT');
    }
    const status = await exited;
    expect(stdout).toMatch(PAIRING_CODE);
    expect(stdout).toMatch(UI_LINE);
    expect(stdout).toMatch(RULES_CREATED);
    expect(JSON.parse(answer)).toEqual({ login: 201, plugins: expect.arrayContaining(['homebridge-camera-guard']) });
    expect(stdout).not.toMatch(/ERROR|Error:/);
    expect(status).toBe(0);
  } finally {
    await network.close();
  }
});
