/**
 * The settings page's camera editor keeps a camera's expected destinations (`allowDestinations`) and its
 * `tripOnForeignDns` setting through load, edit and Save: shown as loaded, changed as the owner types or ticks, and
 * written back with every other field as it was. The page runs in Debian's Chromium against a stubbed
 * `window.homebridge` that hands it a configuration, approves /validate and records what Save writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Page } from 'playwright-core';

import { PROJECT_ROOT } from '../../tools/paths';
import { chromiumUnavailableReason, launchBrowser } from '../../tools/sim/browser';
import type { RunningBrowser } from '../../tools/sim/browser';

const PUBLIC = join(PROJECT_ROOT, 'homebridge-ui', 'public');
const unavailable = chromiumUnavailableReason();
const describeIfChromium = unavailable === undefined ? describe : describe.skip;

const CONFIG = [
  {
    platform: 'CameraGuard',
    name: 'Camera Guard',
    leak: { uploadMB: 50 },
    routers: [
      {
        name: 'Home',
        host: '192.168.1.1',
        port: 22,
        username: 'homebridge',
        authMethod: 'key',
        privateKeyFile: '/var/lib/homebridge/camera-guard_ed25519',
        wanInterface: 'eth0',
        cameras: [
          { name: 'Front Door', address: '192.168.1.50', allow: ['dns'], allowMinutes: 30, tripOnForeignDns: true, allowDestinations: ['1.1.1.1', 'fw.example.com'] },
          { name: 'Garage', address: '192.168.1.51', mac: '00:11:22:33:44:55' },
        ],
      },
    ],
  },
];

interface Recorded {
  saved: unknown[];
  validated: unknown[];
}

async function openPage(page: Page): Promise<void> {
  const html = readFileSync(join(PUBLIC, 'index.html'), 'utf8').replace('<script src="page.js"></script>', '');
  await page.setContent(html);
  await page.evaluate((config) => {
    const recorded: Recorded = { saved: [], validated: [] };
    (globalThis as unknown as { recorded: Recorded }).recorded = recorded;
    const target = new EventTarget();
    (globalThis as unknown as { homebridge: unknown }).homebridge = Object.assign(target, {
      showSpinner: () => undefined,
      hideSpinner: () => undefined,
      disableSaveButton: () => undefined,
      getPluginConfig: () => Promise.resolve(JSON.parse(JSON.stringify(config)) as unknown),
      updatePluginConfig: (blocks: unknown) => {
        recorded.saved.push(JSON.parse(JSON.stringify(blocks)));
        return Promise.resolve(blocks);
      },
      savePluginConfig: () => Promise.resolve(),
      request: (path: string, body: unknown) => {
        if (path === '/validate') {
          recorded.validated.push(JSON.parse(JSON.stringify(body)));
          return Promise.resolve({ ok: true, errors: [] });
        }
        return Promise.resolve(path === '/status' ? { running: false, updatedAt: undefined, routers: [] } : {});
      },
    });
  }, CONFIG);
  await page.addScriptTag({ content: readFileSync(join(PUBLIC, 'page.js'), 'utf8') });
  await page.evaluate(() => (globalThis as unknown as { homebridge: EventTarget }).homebridge.dispatchEvent(new Event('ready')));
  await page.locator('[data-testid="page"][data-ready="true"]').waitFor();
}

async function save(page: Page): Promise<unknown> {
  await page.locator('[data-testid="save-button"]').click();
  await page.locator('[data-testid="save-result"]:not([hidden])').waitFor();
  const saved = await page.evaluate(() => (globalThis as unknown as { recorded: Recorded }).recorded.saved);
  return saved.at(-1);
}

const row = (page: Page, name: string) => page.locator(`[data-testid="camera-row"][data-name="${name}"]`);

describeIfChromium('the camera editor', () => {
  let browser: RunningBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(undefined);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows expected destinations and tripOnForeignDns as loaded, and Save without edits writes the configuration exactly as it was', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page);
      expect(await row(page, 'Front Door').locator('[data-testid="camera-allow-destinations"]').inputValue()).toBe('1.1.1.1\nfw.example.com');
      expect(await row(page, 'Front Door').locator('[data-testid="camera-trip-on-foreign-dns"]').isChecked()).toBe(true);
      expect(await row(page, 'Garage').locator('[data-testid="camera-allow-destinations"]').inputValue()).toBe('');
      expect(await row(page, 'Garage').locator('[data-testid="camera-trip-on-foreign-dns"]').isChecked()).toBe(false);
      expect(await save(page)).toEqual(CONFIG);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('writes what the owner typed and ticked, drops an emptied list and an unticked box, and keeps every other field', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page);
      await row(page, 'Front Door').locator('[data-testid="camera-allow-destinations"]').fill('1.1.1.1\n\n 203.0.113.0/24 \nfw.example.com');
      await row(page, 'Front Door').locator('[data-testid="camera-trip-on-foreign-dns"]').uncheck();
      await row(page, 'Garage').locator('[data-testid="camera-allow-destinations"]').fill('2606:4700::/32, 9.9.9.9');
      await row(page, 'Garage').locator('[data-testid="camera-trip-on-foreign-dns"]').check();
      const saved = (await save(page)) as typeof CONFIG;
      const [door, garage] = saved[0]?.routers[0]?.cameras ?? [];
      expect(door).toEqual({ name: 'Front Door', address: '192.168.1.50', allow: ['dns'], allowMinutes: 30, allowDestinations: ['1.1.1.1', '203.0.113.0/24', 'fw.example.com'] });
      expect(garage).toEqual({ name: 'Garage', address: '192.168.1.51', mac: '00:11:22:33:44:55', allowDestinations: ['2606:4700::/32', '9.9.9.9'], tripOnForeignDns: true });
      // What Save checked is what it wrote.
      const validated = await page.evaluate(() => (globalThis as unknown as { recorded: Recorded }).recorded.validated);
      expect((validated.at(-1) as { config: unknown }).config).toEqual(saved[0]);

      await row(page, 'Garage').locator('[data-testid="camera-allow-destinations"]').fill('   ');
      const emptied = (await save(page)) as typeof CONFIG;
      expect(emptied[0]?.routers[0]?.cameras[1]).not.toHaveProperty('allowDestinations');
    } finally {
      await page.close();
    }
  }, 60_000);
});
