/**
 * Debian's Chromium, driven by playwright-core, for the settings page's browser test. Never a downloaded browser:
 * the machine may have no internet, and the test should see the browser an owner's Debian has. Chromium is
 * installed by apt when it is missing, as the router lab installs its packages (see tools/lab/prerequisites.ts).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

import { findTool, runSync } from '../lab/system';
import type { PrivateNetwork } from './privateNetwork';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, no sandbox (it needs privileges a test may not have), and nothing that calls home. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const APT_UPDATE_TIMEOUT_MS = 180_000;
const APT_INSTALL_TIMEOUT_MS = 600_000;

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/**
 * Why Chromium cannot be used here, or undefined when it can. Installs Debian's `chromium` package when it is
 * missing (which can take minutes on a fresh machine); runs `apt-get update` once if the first install fails.
 */
export function chromiumUnavailableReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const apt = findTool('apt-get');
  if (apt === undefined) return `${CHROMIUM} is missing and there is no apt-get to install Debian's chromium package`;
  if (process.getuid?.() !== 0) return `${CHROMIUM} is missing, and installing Debian's chromium package needs root: run "sudo apt-get install chromium"`;
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): ReturnType<typeof runSync> => runSync([apt, 'install', '-y', '-qq', '--no-install-recommends', 'chromium'], APT_INSTALL_TIMEOUT_MS, env);
  let result = install();
  if (result.code !== 0) {
    // A fresh machine may have no package lists yet.
    const update = runSync([apt, 'update', '-qq'], APT_UPDATE_TIMEOUT_MS, env);
    if (update.code !== 0) return `apt-get update failed while installing chromium: ${lastLine(update.stderr)}`;
    result = install();
  }
  if (result.code !== 0) return `apt-get install chromium failed: ${lastLine(result.stderr)}`;
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is still missing after apt-get install chromium`;
}

export interface RunningBrowser {
  readonly context: BrowserContext;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile, inside `network` when one is given (so it reaches that network's UI). */
export async function launchBrowser(network: PrivateNetwork | undefined, viewport = { width: 1100, height: 800 }): Promise<RunningBrowser> {
  const folder = mkdtempSync(join(tmpdir(), 'camera-guard-browser-'));
  let executablePath = CHROMIUM;
  if (network !== undefined) {
    // Playwright talks to Chromium over a pipe (fds 3 and 4), which nsenter hands on as it executes Chromium.
    executablePath = join(folder, 'chromium-in-private-network');
    const quoted = network.command([CHROMIUM]).map((word) => `'${word.replace(/'/g, `'\\''`)}'`);
    writeFileSync(executablePath, `#!/bin/sh\nexec ${quoted.join(' ')} "$@"\n`, { mode: 0o755 });
  }
  const profile = join(folder, 'profile');
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: CHROMIUM_FLAGS, viewport, timeout: 60_000 });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}
