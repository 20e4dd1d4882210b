/**
 * homebridge-ui/server.js as the Homebridge UI runs it: a forked child with HOMEBRIDGE_STORAGE_PATH set, talking
 * over the IPC channel. It loads the ES-module UI helpers and the built plugin (dist/, which `npm test` builds), says
 * it is ready, and answers a request; a failed request comes back as the owner's sentence.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(30_000);

const ROOT = join(__dirname, '..', '..');
let child: ChildProcess | undefined;
let storage: string;

interface Message {
  action: string;
  payload: { requestId?: string; success?: boolean; data?: unknown; server?: boolean };
}

function next(process: ChildProcess, action: string): Promise<Message> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Message): void => {
      if (message.action !== action) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
    process.once('exit', (code) => reject(new Error(`the settings page server exited (${code}) before "${action}"`)));
  });
}

beforeEach(() => {
  storage = mkdtempSync(join(tmpdir(), 'cg-ui-'));
});

afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((done) => child!.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  rmSync(storage, { recursive: true, force: true });
});

it('starts as a child of the UI, says it is ready, and answers requests', async () => {
  if (!existsSync(join(ROOT, 'dist', 'ui', 'server.js'))) throw new Error('dist/ is missing: run "npm run build" first (npm test does it).');
  child = fork(join(ROOT, 'homebridge-ui', 'server.js'), [], { env: { ...process.env, HOMEBRIDGE_STORAGE_PATH: storage }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  await next(child, 'ready');

  child.send({ action: 'request', requestId: '1', path: '/status', body: {} });
  expect((await next(child, 'response')).payload).toEqual({ requestId: '1', success: true, data: { running: false, routers: [] } });

  child.send({ action: 'request', requestId: '2', path: '/router/commands', body: { username: 'root', publicKey: 'x' } });
  const refused = (await next(child, 'response')).payload;
  expect(refused.success).toBe(false);
  expect((refused.data as { message: string }).message).toMatch(/router's own account/);
});
