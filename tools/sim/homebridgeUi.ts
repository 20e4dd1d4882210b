/**
 * Runs the real Homebridge UI (homebridge-config-ui-x) with this plugin, as the apt and Docker installs run it:
 * `hb-service run`, the UI in that process and Homebridge as its child, in a throwaway storage folder with an
 * admin user already written into auth.json (so no first-run wizard). Used by the settings page's browser test
 * and by `npm run demo`.
 *
 * The plugin is offered to both as an installed plugin: a plugins folder holding `homebridge-camera-guard`, a link
 * to this project (Homebridge loads the built dist/, the UI serves homebridge-ui/ from it).
 *
 * The UI's Restart button makes hb-service exit (it counts on systemd to start it again): after a Save, a caller
 * restarts it with `restart()`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { PROJECT_ROOT } from '../paths';
import { captureLogLine, captureSecret } from './logCapture';
import type { PrivateNetwork } from './privateNetwork';

export interface HomebridgeUiOptions {
  /** The CameraGuard platform block written into the new config.json. */
  readonly platform: Record<string, unknown>;
  /** Inside this private network (the UI then listens on its loopback, port 8581 unless told otherwise). */
  readonly network?: PrivateNetwork;
  /** The UI's port; on this machine's loopback a free one is picked when left out. */
  readonly uiPort?: number;
  /** Receives every line hb-service, the UI and Homebridge print. */
  readonly onLine?: (line: string) => void;
  /** Homebridge's debug log (the tests read the plugin's debug lines); off unless turned on. */
  readonly debug?: boolean;
  /** The bridge listens and advertises on this machine's network (to pair a phone); on loopback only otherwise. */
  readonly advertiseOnLan?: boolean;
}

export interface RunningHomebridgeUi {
  /** The run's folder: storage/ (config.json, auth.json, the plugin's files) and plugins/. */
  readonly folder: string;
  readonly storage: string;
  readonly configPath: string;
  /** Where the UI answers, `http://127.0.0.1:<port>` (inside the private network when there is one). */
  readonly url: string;
  /** The admin user written into auth.json. */
  readonly login: { readonly username: string; readonly password: string };
  /** The bridge's HomeKit pairing code and port. */
  readonly pin: string;
  readonly bridgePort: number;
  /** Every line printed so far, over restarts. */
  readonly output: string[];
  /** Resolves with the first line from index `from` of `output` on that matches, as soon as it is printed. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Whether hb-service is running now. */
  running(): boolean;
  /** Stops hb-service (SIGTERM; it stops Homebridge) and waits for it. */
  stop(): Promise<void>;
  /** Stops hb-service if it still runs and starts it again on the same storage; resolves once the UI answers. */
  restart(): Promise<void>;
  /** Deletes the run's folder. */
  remove(): void;
}

/** hb-service starts the UI first and Homebridge a moment later; a busy machine can take its time. */
const START_TIMEOUT_MS = 120_000;
const UI_LISTENING = /Homebridge UI v[\d.]+ is listening on/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1B\[[0-9;]*[A-Za-z]/g;

/** A TCP port nothing listens on now, on this machine's loopback. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** auth.json as the UI writes it: pbkdf2-sha512, 1000 rounds, 64 bytes, a 32-byte hex salt. */
function authFile(username: string, password: string): string {
  const salt = randomBytes(32).toString('hex');
  const hashedPassword = pbkdf2Sync(password, salt, 1000, 64, 'sha512').toString('hex');
  return JSON.stringify([{ id: 1, username, name: 'Owner', hashedPassword, salt, admin: true }], null, 2);
}

export async function startHomebridgeUi(options: HomebridgeUiOptions): Promise<RunningHomebridgeUi> {
  const folder = mkdtempSync(join(tmpdir(), 'camera-guard-ui-'));
  const storage = join(folder, 'storage');
  const plugins = join(folder, 'plugins');
  mkdirSync(storage);
  mkdirSync(plugins);
  symlinkSync(PROJECT_ROOT, join(plugins, 'homebridge-camera-guard'), 'dir');
  const uiPort = options.uiPort ?? (options.network !== undefined ? 8581 : await freeLoopbackPort());
  const bridgePort = options.network !== undefined ? 51826 : await freeLoopbackPort();
  const pin = '031-45-154';
  const login = { username: 'owner', password: `ui-${randomBytes(9).toString('base64url')}` };
  captureSecret(login.password);
  const configPath = join(storage, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify(
      {
        // ciao publishes on loopback (bonjour-hap does not), so the UI's Accessories view finds the bridge there.
        bridge: { name: 'Camera Guard Bridge', username: '0E:C4:6A:0D:7E:B2', pin, port: bridgePort, ...(options.advertiseOnLan === true ? {} : { bind: ['127.0.0.1'] }), advertiser: 'ciao' },
        accessories: [],
        platforms: [
          { platform: 'config', name: 'Config', port: uiPort, host: '127.0.0.1' },
          { platform: 'CameraGuard', name: 'Camera Guard', ...options.platform },
        ],
      },
      null,
      4,
    ),
  );
  writeFileSync(join(storage, 'auth.json'), authFile(login.username, login.password), { mode: 0o600 });
  if (options.debug === true) writeFileSync(join(storage, '.uix-hb-service-homebridge-startup.json'), JSON.stringify({ debugMode: true }));

  const output: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const onLines = (lines: string[]): void => {
    for (const raw of lines) {
      const line = raw.replace(ANSI, '').trimEnd();
      if (line.trim() === '') continue;
      output.push(line);
      captureLogLine(line);
      options.onLine?.(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  const readLines = (stream: NodeJS.ReadableStream | null): void => {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (pending + decoder.write(chunk)).split('\n');
      pending = lines.pop() ?? '';
      onLines(lines);
    });
    stream?.on('end', () => onLines([pending + decoder.end()]));
  };

  const waitFor = (pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<string> => {
    const seen = output.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolveLine, reject) => {
      const waiter = {
        pattern,
        resolve: (line: string): void => {
          clearTimeout(timer);
          resolveLine(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`the Homebridge UI did not print ${String(pattern)} within ${timeoutMs} ms. Last lines:\n${output.slice(-20).join('\n')}`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async (): Promise<void> => {
    const from = output.length;
    // --stdout: the log goes to this pipe rather than only to storage/homebridge.log. --allow-root: in a private
    // network of an unprivileged user, the process is root inside its own user namespace.
    const argv = [
      process.execPath,
      join(PROJECT_ROOT, 'node_modules', 'homebridge-config-ui-x', 'dist', 'bin', 'hb-service.js'),
      'run',
      '-U',
      storage,
      '-P',
      plugins,
      '--strict-plugin-resolution',
      '--stdout',
      '--allow-root',
    ];
    const spawnOptions = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }, detached: false };
    child = options.network !== undefined ? options.network.spawn(argv, spawnOptions) : spawn(argv[0]!, argv.slice(1), spawnOptions);
    const current = child;
    exited = new Promise<void>((done) => current.once('close', () => done()));
    readLines(current.stdout);
    readLines(current.stderr);
    const ended = exited.then(() => {
      throw new Error(`hb-service ended before the UI and Homebridge were up. Last lines:\n${output.slice(-20).join('\n')}`);
    });
    await Promise.race([Promise.all([waitFor(UI_LISTENING, START_TIMEOUT_MS, from), waitFor(/is running on port \d+/, START_TIMEOUT_MS, from)]), ended]);
    ended.catch(() => undefined);
  };

  const stop = async (): Promise<void> => {
    if (running()) {
      const current = child!;
      current.kill('SIGTERM');
      // hb-service gives Homebridge 7 s, then kills it and exits itself.
      const timer = setTimeout(() => current.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    } else {
      await exited;
    }
  };

  const url = `http://127.0.0.1:${uiPort}`;
  try {
    await start();
  } catch (error) {
    await stop();
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
  return {
    folder,
    storage,
    configPath,
    url,
    login,
    pin,
    bridgePort,
    output,
    waitFor,
    running,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    remove: () => {
      if (existsSync(folder)) rmSync(folder, { recursive: true, force: true });
    },
  };
}
