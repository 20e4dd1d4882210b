/**
 * The settings page in the real Homebridge UI (homebridge-config-ui-x 5.10.0, run as hb-service runs it), driven in
 * Debian's Chromium: an owner's first setup from an empty configuration, against the simulated router over real
 * SSH. Generate the key and get the router commands, let the router take the key (authorizeKey stands in for the
 * owner pasting the commands), test the connection and pin the host key, discover the two cameras and add them,
 * preview, save, restart, and find the cameras' switches in the UI's Accessories view. Settings that cannot work
 * (nothing listening, a refused login, an impostor's host key, an address that is not one) each show their message
 * on the page and leave config.json as it was.
 *
 * Everything runs in a private network namespace with only loopback (tools/sim/privateNetwork.ts): the UI looks up
 * npm and GitHub and browses mDNS, and none of it may leave the machine. config-ui-x 5.10.0 declares Node
 * ^20.19 || ^22.12 || ^24 and runs under each (checked under 22.23.5 too), so this runs in every tier that runs e2e.
 *
 * With UPDATE_DOCS=1 each step's section is photographed into docs/setup/*.png for the README's walk-through.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { FrameLocator, Locator, Page } from 'playwright-core';
import { utils } from 'ssh2';

import { PROJECT_ROOT } from '../../tools/paths';
import { chromiumUnavailableReason, launchBrowser } from '../../tools/sim/browser';
import type { RunningBrowser } from '../../tools/sim/browser';
import { startHomebridgeUi } from '../../tools/sim/homebridgeUi';
import type { RunningHomebridgeUi } from '../../tools/sim/homebridgeUi';
import { openPrivateNetwork, privateNetworkUnavailableReason } from '../../tools/sim/privateNetwork';
import type { PrivateNetwork } from '../../tools/sim/privateNetwork';
import { startSimulatedRouterProcess } from '../../tools/sim/simulatedRouterProcess';
import type { SimulatedRouterProcess } from '../../tools/sim/simulatedRouterProcess';
import { until } from '../helpers/simRouter';

jest.setTimeout(600_000);

/** A busy machine (both cores loaded by the rest of the suite) answers slowly; nothing here is a fixed sleep. */
const STEP_MS = 90_000;
const DOCS = join(PROJECT_ROOT, 'docs', 'setup');
const UPDATE_DOCS = process.env.UPDATE_DOCS === '1';

/** The LAN as the router's DHCP server and ARP table know it: two cameras by their makers' MACs and a laptop. */
const LAN_HOSTS = [
  { ip: '192.0.2.50', mac: 'bc:ad:28:4f:10:50', hostname: 'front-door' }, // Hikvision
  { ip: '192.0.2.51', mac: 'ac:cc:8e:2a:10:51', hostname: 'garage' }, // Axis
  { ip: '192.0.2.60', mac: '02:00:00:00:10:60', hostname: 'laptop' }, // locally administered: no maker
];

const unavailable = privateNetworkUnavailableReason() ?? chromiumUnavailableReason();

let network: PrivateNetwork | undefined;
let sim: SimulatedRouterProcess | undefined;
let ui: RunningHomebridgeUi | undefined;
let browser: RunningBrowser | undefined;
let page: Page;
let frame: FrameLocator;

async function photograph(name: string, target: Locator | Page): Promise<void> {
  if (!UPDATE_DOCS) return;
  mkdirSync(DOCS, { recursive: true });
  await target.screenshot({ path: join(DOCS, `${name}.png`), animations: 'disabled' });
}

const testid = (id: string): Locator => frame.locator(`[data-testid="${id}"]`);

function configJson(): string {
  return readFileSync(ui!.configPath, 'utf8');
}

/** How many cameras config.json holds now; undefined while the file is missing or half written. */
function savedCameras(): number | undefined {
  try {
    return (cameraGuardBlock().routers?.[0]?.cameras as unknown[] | undefined)?.length;
  } catch {
    return undefined;
  }
}

function cameraGuardBlock(): Record<string, any> {
  return cameraGuardBlocks()[0]!;
}

/** Every Camera Guard platform block in config.json, in order; none while the file is half written. */
function cameraGuardBlocks(): Array<Record<string, any>> {
  try {
    const config = JSON.parse(configJson()) as { platforms: Array<Record<string, any>> };
    return config.platforms.filter((block) => block.platform === 'CameraGuard');
  } catch {
    return [];
  }
}

/** Opens `path` in the UI, logging in first when the UI asks for it (a restart keeps the session). */
async function visit(path: string): Promise<void> {
  await page.goto(`${ui!.url}${path}`);
  // Either the login form or the UI's main layout (its .content beside the sidebar) appears.
  await page.locator('#form-username, app-root .content').first().waitFor({ timeout: STEP_MS });
  const form = page.locator('#form-username');
  if (await form.isVisible()) {
    await form.fill(ui!.login.username);
    await page.locator('#form-pass').fill(ui!.login.password);
    await page.locator('#submit-button').click();
    await page.waitForURL((url) => !url.pathname.startsWith('/login'), { timeout: STEP_MS });
    if (!page.url().endsWith(path)) await page.goto(`${ui!.url}${path}`);
  }
}

/** Plugins → Camera Guard's ⋮ → Plugin Config: the UI shows the page in an iframe in its settings dialog. */
async function openSettings(): Promise<void> {
  await visit('/plugins');
  const card = page.locator('div.card', { hasText: 'homebridge-camera-guard' }).first();
  await card.locator('[aria-label="Plugin Actions Dropdown"]').click({ timeout: STEP_MS });
  await page.locator('button.dropdown-item', { hasText: 'Plugin Config' }).click();
  frame = page.frameLocator('iframe');
  await frame.locator('[data-testid="page"][data-ready="true"]').waitFor({ timeout: STEP_MS });
}

/** Sets a router field as an owner types it (the page reads the input events). */
async function setRouterField(id: string, value: string): Promise<void> {
  await testid(id).fill(value);
}

async function testConnection(): Promise<void> {
  await testid('test-connection').click();
  // Done when the checks are listed or the request's own error is shown.
  await frame.locator('[data-testid="check"], [data-testid="router-error"]:visible').first().waitFor({ timeout: STEP_MS });
}

/** The failure the page shows: the first failed check's message, or the request's error. */
async function connectionFailure(): Promise<string> {
  const failure = frame.locator('[data-testid="check"][data-ok="false"], [data-testid="router-error"]:visible').first();
  await failure.waitFor({ timeout: STEP_MS });
  return (await failure.innerText()).trim();
}

/** The public key line of the key the page generated, as the router's `loadkey` would read it from the .pub file. */
function publicKeyLine(privateKeyFile: string): string {
  const key = utils.parseKey(readFileSync(privateKeyFile));
  if (key instanceof Error) throw key;
  const parsed = Array.isArray(key) ? key[0] : key;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')} camera-guard`;
}

describe('the settings page in the real Homebridge UI', () => {
  if (unavailable !== undefined) {
    // Never a silent pass: the machine's own setup must make this runnable.
    it('can run here', () => {
      throw new Error(`The settings page cannot be tested here: ${unavailable}.`);
    });
    return;
  }

  beforeAll(async () => {
    network = await openPrivateNetwork();
    sim = await startSimulatedRouterProcess({ lanHosts: LAN_HOSTS }, network);
    ui = await startHomebridgeUi({ network, platform: {}, debug: true });
    browser = await launchBrowser(network);
    page = await browser.context.newPage();
    page.setDefaultTimeout(STEP_MS);
    await openSettings();
  });

  afterAll(async () => {
    // Each step on its own, so that one failing still lets the others clean up.
    await browser?.close().catch(() => undefined);
    await ui?.stop().catch(() => undefined);
    ui?.remove();
    await sim?.dispose().catch(() => undefined);
    await network?.close();
  });

  let original: string;
  let privateKeyFile: string;

  it('generates the key and shows the commands to paste on the router', async () => {
    original = configJson();
    await setRouterField('router-name', 'Home');
    await setRouterField('router-host', '127.0.0.1');
    await setRouterField('router-port', String(sim!.port));
    await setRouterField('router-username', 'homebridge');
    await testid('generate-key').click();
    await testid('router-commands').waitFor();
    expect(await testid('router-commands').innerText()).toMatch(/homebridge/);
    expect(await testid('commands-explanation').innerText()).not.toBe('');
    privateKeyFile = await testid('router-private-key-file').inputValue();
    expect(privateKeyFile).toMatch(new RegExp(`^${ui!.storage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // The page shows no private key, only its file's path.
    expect(await frame.locator('body').innerText()).not.toMatch(/PRIVATE KEY/);
    await photograph('1-prepare-the-router', testid('prepare'));
  });

  it('tests the connection once the router has the key, and pins its host key', async () => {
    // The owner pastes the commands into the router: the simulator takes the key as EdgeOS's loadkey would.
    await sim!.authorizeKey('homebridge', publicKeyLine(privateKeyFile));
    await testConnection();
    const checks = testid('connection-checks').locator('[data-testid="check"]');
    await expect(checks.locator('[data-ok="false"]').count()).resolves.toBe(0);
    expect(await checks.count()).toBeGreaterThan(1);
    await expect(testid('host-key-fingerprint').innerText()).resolves.toBe(sim!.hostKeyFingerprint);
    expect(await testid('host-key-status').getAttribute('data-status')).toBe('unpinned');
    await testid('router-info').waitFor();
    await testid('pin-host-key').click();
    expect(await testid('router-host-key').inputValue()).toBe(sim!.hostKeyFingerprint);
    await testConnection();
    await frame.locator('[data-testid="host-key-status"][data-status="pinned"]').waitFor();
    await photograph('2-router-connection', testid('router'));
    expect(configJson()).toBe(original);
  });

  it('discovers the cameras on the router and adds the two of them', async () => {
    await testid('discover').click();
    const rows = testid('device-list').locator('[data-testid="device-row"]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(LAN_HOSTS.length);
    for (const host of LAN_HOSTS.slice(0, 2)) {
      const row = frame.locator(`[data-testid="device-row"][data-mac="${host.mac}"]`);
      await row.locator('[data-testid="device-camera"]').waitFor();
      await row.locator('[data-testid="device-select"]').check();
    }
    await frame.locator(`[data-testid="device-row"][data-mac="${LAN_HOSTS[2]!.mac}"] [data-testid="device-select"]`).uncheck();
    await photograph('3-discover-cameras', testid('cameras'));
    await testid('add-selected').click();
    const cameras = testid('camera-list').locator('[data-testid="camera-row"]');
    await expect(cameras.count()).resolves.toBe(2);
    // Names the Home app shows well: the owner edits what the DHCP names gave.
    await cameras.nth(0).locator('[data-testid="camera-name"]').fill('Front Door');
    await cameras.nth(1).locator('[data-testid="camera-name"]').fill('Garage');
    await cameras.nth(0).locator('[data-testid="camera-allow-dns"]').check();
    expect(await cameras.nth(0).locator('[data-testid="camera-address"]').inputValue()).toBe('192.0.2.50');
    expect(await cameras.nth(1).locator('[data-testid="camera-mac"]').inputValue()).toBe(LAN_HOSTS[1]!.mac);
    await frame.locator('[data-testid="device-row"] [data-testid="device-configured"]').nth(1).waitFor();
    await photograph('4-cameras-added', testid('cameras'));
  });

  it('previews the script that saving would send', async () => {
    await testid('preview-run').click();
    const script = frame.locator('[data-testid="preview-router"][data-router="Home"] [data-testid="preview-script"]');
    await script.waitFor();
    const text = await script.innerText();
    // Cameras with a MAC are matched by it (so a new DHCP lease does not let them out).
    expect(text).toContain(`source mac-address ${LAN_HOSTS[0]!.mac}`);
    expect(text).toContain(`source mac-address ${LAN_HOSTS[1]!.mac}`);
    await photograph('5-preview', testid('preview'));
    expect(configJson()).toBe(original);
  });

  describe('settings that cannot work show their message and save nothing', () => {
    afterEach(() => {
      expect(configJson()).toBe(original);
    });

    it('a router that does not answer', async () => {
      // Nothing listens on port 9 in the private network.
      await setRouterField('router-port', '9');
      await testConnection();
      expect(await connectionFailure()).toMatch(/\S/);
      await photograph('6-router-unreachable', testid('router'));
      await setRouterField('router-port', String(sim!.port));
    });

    it('a login the router refuses', async () => {
      await setRouterField('router-username', 'intruder');
      await testConnection();
      expect(await connectionFailure()).toMatch(/\S/);
      expect(await frame.locator('[data-testid="check"][data-check="login"][data-ok="false"], [data-testid="router-error"]:visible').count()).toBe(1);
      await setRouterField('router-username', 'homebridge');
    });

    it('a router that presents another host key than the pinned one', async () => {
      const impostor = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
      await setRouterField('router-host-key', impostor);
      await testConnection();
      expect(await connectionFailure()).toMatch(/\S/);
      await frame.locator('[data-testid="host-key-status"][data-status="mismatch"]').waitFor();
      await photograph('7-impostor-host-key', testid('router'));
      await setRouterField('router-host-key', sim!.hostKeyFingerprint);
    });

    it('an address that is not one, refused by Save', async () => {
      const address = testid('camera-list').locator('[data-testid="camera-row"]').nth(1).locator('[data-testid="camera-address"]');
      await address.fill('192.0.2.300');
      await testid('save-button').click();
      const errors = testid('save-errors').locator('[data-testid="save-error-item"]');
      await errors.first().waitFor();
      expect(await errors.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/192\.0\.2\.300/)]));
      await photograph('8-save-refused', testid('save'));
      await address.fill('192.0.2.51');
    });
  });

  it('edits one router entry at a time, and adds and removes one', async () => {
    await testid('router-add').click();
    await expect(testid('router-select').locator('option').count()).resolves.toBe(2);
    await setRouterField('router-name', 'Cabin');
    expect(await testid('router-host').inputValue()).toBe('');
    await expect(testid('camera-list').locator('[data-testid="camera-row"]').count()).resolves.toBe(0);
    await testid('router-select').selectOption({ label: 'Home' });
    expect(await testid('router-port').inputValue()).toBe(String(sim!.port));
    await expect(testid('camera-list').locator('[data-testid="camera-row"]').count()).resolves.toBe(2);
    await testid('router-select').selectOption({ label: 'Cabin' });
    await testid('router-remove').click();
    expect(await testid('router-select').locator('option').allInnerTexts()).toEqual(['Home']);
    expect(await testid('router-host').inputValue()).toBe('127.0.0.1');
    expect(configJson()).toBe(original);
  });

  it('saves the settings, and after a restart the cameras are in the Accessories view', async () => {
    await testid('save-button').click();
    await frame.locator('[data-testid="save-result"]:visible').waitFor();
    // The UI answers the page before its own server has written config.json (and it replaces the file as it does).
    await until(() => savedCameras() === 2, 'config.json to hold the two cameras', STEP_MS, 50);
    const block = cameraGuardBlock();
    expect(block.routers).toHaveLength(1);
    const router = block.routers[0];
    expect(router).toMatchObject({ name: 'Home', host: '127.0.0.1', port: sim!.port, username: 'homebridge', authMethod: 'key', privateKeyFile, hostKey: sim!.hostKeyFingerprint });
    expect(router.cameras).toEqual([
      { name: 'Front Door', address: '192.0.2.50', mac: LAN_HOSTS[0]!.mac, allow: ['dns'] },
      { name: 'Garage', address: '192.0.2.51', mac: LAN_HOSTS[1]!.mac },
    ]);
    expect(configJson()).not.toMatch(/PRIVATE KEY/);

    // The UI's Restart would end hb-service (it expects systemd to start it again): restart it as systemd would.
    const from = ui!.output.length;
    await ui!.restart();
    await ui!.waitFor(/"Garage" \(192\.0\.2\.51\) is new/, STEP_MS, from);
    await visit('/accessories');
    for (const name of ['Front Door Internet', 'Garage Internet']) {
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: STEP_MS });
    }
    await photograph('9-accessories', page);
  });

  it('shows the running plugin\'s status', async () => {
    await openSettings();
    // The plugin writes its status soon after its first reading: refresh until it is there.
    const garage = frame.locator('[data-testid="status-camera"][data-name="Garage"]');
    const deadline = Date.now() + STEP_MS;
    while (!(await garage.isVisible())) {
      if (Date.now() > deadline) throw new Error(`the page showed no status for Garage within ${STEP_MS} ms: ${await testid('status').innerText()}`);
      await testid('status-refresh').click();
      await garage.waitFor({ timeout: 2_000 }).catch(() => undefined);
    }
    expect(await garage.locator('[data-testid="status-enforced"]').innerText()).toBe('blocked');
    await photograph('10-status', testid('status'));
    await photograph('11-general-settings', testid('general'));
  });

  it('adds a second Camera Guard platform with general settings of its own, and saving writes both blocks, the first exactly as it was', async () => {
    const first = cameraGuardBlock();
    expect(await testid('platform-picker').isVisible()).toBe(false);
    await testid('platform-add').click();
    expect(await testid('platform-select').locator('option').allInnerTexts()).toEqual(['Camera Guard', 'Camera Guard 2']);
    await testid('platform-note').waitFor();
    // The new platform starts with one new router of its own.
    expect(await testid('router-select').locator('option').allInnerTexts()).toEqual(['Home']);
    expect(await testid('router-host').inputValue()).toBe('');
    expect(await testid('platform-name').inputValue()).toBe('Camera Guard 2');
    await testid('platform-name').fill('Barn Guard');
    expect(await testid('platform-select').locator('option').allInnerTexts()).toEqual(['Camera Guard', 'Barn Guard']);
    await setRouterField('router-name', 'Barn');
    await setRouterField('router-host', '192.0.2.1');
    await setRouterField('router-private-key-file', privateKeyFile);
    await testid('camera-add').click();
    const row = testid('camera-list').locator('[data-testid="camera-row"]').last();
    await row.locator('[data-testid="camera-name"]').fill('Barn Door');
    await row.locator('[data-testid="camera-address"]').fill('198.51.100.50');
    // General settings belong to the platform being edited: the new one starts at the defaults.
    expect(await testid('general-poll-seconds').inputValue()).toBe('');
    expect(await testid('general-network-files').isHidden()).toBe(true);
    await testid('general-poll-seconds').fill('30');
    await testid('general-network-source').selectOption('off');
    await testid('save-button').click();
    await frame.locator('[data-testid="save-result"]:visible, [data-testid="save-errors"]:visible').first().waitFor();
    expect(await testid('save-errors').isVisible() ? await testid('save-errors').innerText() : '').toBe('');
    await until(() => cameraGuardBlocks().length === 2, 'config.json to hold two Camera Guard platforms', STEP_MS, 50);
    const [kept, added] = cameraGuardBlocks();
    expect(kept).toEqual(first);
    expect(added).toMatchObject({ platform: 'CameraGuard', name: 'Barn Guard', pollSeconds: 30, networkData: { source: 'off' }, routers: [{ name: 'Barn', host: '192.0.2.1', privateKeyFile, cameras: [{ name: 'Barn Door', address: '198.51.100.50' }] }] });
    // Back to the first platform: its router, untouched.
    await testid('platform-select').selectOption({ label: 'Camera Guard' });
    expect(await testid('router-name').inputValue()).toBe('Home');
    expect(await testid('router-host').inputValue()).toBe('127.0.0.1');
    expect(await testid('general-poll-seconds').inputValue()).toBe('');
    expect(await testid('general-network-source').inputValue()).toBe('bundled');
  });
});
