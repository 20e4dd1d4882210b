/**
 * The settings page's camera editor keeps a camera's expected destinations (`allowDestinations`) and its
 * `tripOnForeignDns` setting through load, edit and Save: shown as loaded, changed as the owner types or ticks, and
 * written back with every other field as it was. It also holds a camera to the 7 services and ports that fit on
 * the router (MAX_ALLOW_ENTRIES), saying so before anything is saved. The page runs in Debian's Chromium against a stubbed
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

async function openPage(page: Page, config: unknown = CONFIG): Promise<void> {
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
  }, config);
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

/** A camera that keeps the most services and ports open that fit: 2 ticked, 5 typed. */
const FULL = { name: 'Porch', address: '192.168.1.52', allow: ['dns', 'ntp'], allowPorts: ['tcp/8443', 'tcp/8554', 'udp/1194', 'udp/3478', 'tcp/9000'] };
const WITH_FULL = [{ ...CONFIG[0], routers: [{ ...CONFIG[0]?.routers[0], cameras: [...(CONFIG[0]?.routers[0]?.cameras ?? []), FULL] }] }];

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

  it('says the limit of 7 services and ports next to them, refuses an 8th tick or port with a plain sentence, and saves nothing over the limit', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page, WITH_FULL);
      const porch = row(page, 'Porch');
      expect(await porch.locator('[data-testid="camera-allow-limit"]').innerText()).toBe('At most 7 together, ticked and typed.');
      expect(await porch.locator('[data-testid="camera-allow-ports"]').inputValue()).toBe('tcp/8443, tcp/8554, udp/1194, udp/3478, tcp/9000');
      expect(await porch.locator('[data-testid="camera-allow-problem"]').isHidden()).toBe(true);

      // An 8th tick is taken back at once, and the page says why.
      await porch.locator('[data-testid="camera-allow-smtp"]').click();
      expect(await porch.locator('[data-testid="camera-allow-smtp"]').isChecked()).toBe(false);
      expect(await porch.locator('[data-testid="camera-allow-problem"]').innerText()).toBe(
        'Camera "Porch" keeps 7 services and ports open while blocked already, and at most 7 fit together (each takes one of its rule numbers on the router), so SMTP was not ticked: untick a service or remove a port first.',
      );
      const unchanged = (await save(page)) as typeof WITH_FULL;
      expect(unchanged).toEqual(WITH_FULL);

      // An 8th port is said as soon as it is typed, and Save refuses it without writing anything.
      const savedBefore = await page.evaluate(() => (globalThis as unknown as { recorded: Recorded }).recorded.saved.length);
      await porch.locator('[data-testid="camera-allow-ports"]').fill('tcp/8443, tcp/8554, udp/1194, udp/3478, tcp/9000, tcp/10000');
      const tooMany = 'Camera "Porch" keeps 8 services and ports open while blocked, but at most 7 fit together (each takes one of its rule numbers on the router): remove one.';
      expect(await porch.locator('[data-testid="camera-allow-problem"]').innerText()).toBe(tooMany);
      await page.locator('[data-testid="save-button"]').click();
      await page.locator('[data-testid="save-errors"]:not([hidden])').waitFor();
      expect(await page.locator('[data-testid="save-error-item"]').allInnerTexts()).toEqual([tooMany]);
      expect(await page.evaluate(() => (globalThis as unknown as { recorded: Recorded }).recorded.saved.length)).toBe(savedBefore);

      // Unticking a service makes room: the sentence goes, and Save writes the ports as typed.
      await porch.locator('[data-testid="camera-allow-ntp"]').uncheck();
      expect(await porch.locator('[data-testid="camera-allow-problem"]').isHidden()).toBe(true);
      const saved = (await save(page)) as typeof WITH_FULL;
      expect(saved[0]?.routers[0]?.cameras[2]).toEqual({ ...FULL, allow: ['dns'], allowPorts: ['tcp/8443', 'tcp/8554', 'udp/1194', 'udp/3478', 'tcp/9000', 'tcp/10000'] });
    } finally {
      await page.close();
    }
  }, 60_000);
});
