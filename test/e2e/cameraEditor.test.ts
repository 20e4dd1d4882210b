/**
 * The settings page's camera editor keeps a camera's expected destinations (`allowDestinations`) and its
 * `tripOnForeignDns` setting through load, edit and Save: shown as loaded, changed as the owner types or ticks, and
 * written back with every other field as it was. It also holds a camera to the 7 services and ports that fit on
 * the router (MAX_ALLOW_ENTRIES), saying so before anything is saved. The General settings section writes the
 * platform's own settings (pollSeconds, leak, networkData, nameServers) only when set, keeps an older config's meaning
 * and every key it does not show, and a value the plugin refuses is said in the plugin's words. The page runs in
 * Debian's Chromium against a stubbed `window.homebridge` that hands it a configuration, approves /validate (or asks
 * the plugin's own validate, as the server side does) and records what Save writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Page } from 'playwright-core';

import { validate } from '../../src/setup/validate';
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

/**
 * Opens the page on `config`. /validate approves everything, or with `checks: 'plugin'` is the plugin's own validate
 * (src/setup/validate.ts, what the server side answers), so a refusal is the plugin's sentence.
 */
async function openPage(page: Page, config: unknown = CONFIG, checks: 'approve' | 'plugin' = 'approve'): Promise<void> {
  const html = readFileSync(join(PUBLIC, 'index.html'), 'utf8').replace('<script src="page.js"></script>', '');
  await page.setContent(html);
  if (checks === 'plugin') {
    await page.exposeFunction('pluginValidate', (body: { config: unknown; earlier?: unknown }) => validate(body.config, body.earlier));
  }
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
          const pluginValidate = (globalThis as unknown as { pluginValidate?: (body: unknown) => Promise<unknown> }).pluginValidate;
          return pluginValidate ? pluginValidate(body) : Promise.resolve({ ok: true, errors: [] });
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

/** A platform block with everything a router needs and none of the general settings. */
const PLAIN = {
  platform: 'CameraGuard',
  name: 'Camera Guard',
  routers: [{ name: 'Home', host: '192.168.1.1', port: 22, username: 'homebridge', authMethod: 'key', privateKeyFile: '/var/lib/homebridge/camera-guard_ed25519', cameras: [{ name: 'Front Door', address: '192.168.1.50' }] }],
};

const general = (page: Page, id: string) => page.locator(`[data-testid="general-${id}"]`);

async function savedCount(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { recorded: Recorded }).recorded.saved.length);
}

/** Save, when the plugin refuses: the sentences shown, after checking that nothing was written. */
async function refusedSave(page: Page): Promise<string[]> {
  const before = await savedCount(page);
  await page.locator('[data-testid="save-button"]').click();
  await page.locator('[data-testid="save-errors"]:not([hidden])').waitFor();
  expect(await savedCount(page)).toBe(before);
  expect(await page.locator('[data-testid="save-result"]').isHidden()).toBe(true);
  return page.locator('[data-testid="save-error-item"]').allInnerTexts();
}

describeIfChromium('the general settings', () => {
  let browser: RunningBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(undefined);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the defaults as placeholders, and writes exactly the settings the owner set, each removed again when emptied or set back to its default', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page, [PLAIN], 'plugin');
      expect(await general(page, 'poll-seconds').getAttribute('placeholder')).toBe('10');
      expect(await general(page, 'network-source').inputValue()).toBe('bundled');
      expect(await general(page, 'network-files').isHidden()).toBe(true);
      expect(await save(page)).toEqual([PLAIN]);

      await general(page, 'poll-seconds').fill('30');
      await general(page, 'leak-attempts').fill('3');
      await general(page, 'leak-upload-mb').fill('250');
      await general(page, 'leak-window-minutes').fill('15');
      await general(page, 'leak-quiet-minutes').fill('2.5');
      await general(page, 'network-source').selectOption('files');
      expect(await general(page, 'network-files').isVisible()).toBe(true);
      await general(page, 'network-asn-ipv4').fill(' /data/asn-ipv4.csv ');
      await general(page, 'network-country-ipv4').fill('/data/country-ipv4.csv');
      await general(page, 'name-servers').fill('192.168.1.1, 192.168.1.2:5353');
      expect(await save(page)).toEqual([
        {
          ...PLAIN,
          pollSeconds: 30,
          leak: { attempts: 3, uploadMB: 250, windowMinutes: 15, quietMinutes: 2.5 },
          networkData: { source: 'files', asnIpv4: '/data/asn-ipv4.csv', countryIpv4: '/data/country-ipv4.csv' },
          nameServers: ['192.168.1.1', '192.168.1.2:5353'],
        },
      ]);

      // Names off: the paths are not written beside it (the plugin would not read them).
      await general(page, 'network-source').selectOption('off');
      await general(page, 'poll-seconds').fill('10');
      await general(page, 'leak-attempts').fill('');
      await general(page, 'leak-upload-mb').fill('0');
      await general(page, 'name-servers').fill('');
      expect(await save(page)).toEqual([{ ...PLAIN, leak: { uploadMB: 0, windowMinutes: 15, quietMinutes: 2.5 }, networkData: { source: 'off' } }]);

      // Back to files: the paths typed before come back; then to the installed data set, which writes nothing.
      await general(page, 'network-source').selectOption('files');
      expect((await save(page)) as unknown[]).toEqual([
        expect.objectContaining({ networkData: { source: 'files', asnIpv4: '/data/asn-ipv4.csv', countryIpv4: '/data/country-ipv4.csv' } }),
      ]);
      await general(page, 'network-source').selectOption('bundled');
      await general(page, 'leak-upload-mb').fill('100');
      await general(page, 'leak-window-minutes').fill('');
      await general(page, 'leak-quiet-minutes').fill('5');
      expect(await save(page)).toEqual([PLAIN]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('shows an older config\'s file paths without a source as "files", and keeps them exactly as they were through Save', async () => {
    const older = { ...PLAIN, networkData: { asnIpv4: '/data/asn-ipv4.csv', countryIpv6: '/data/country-ipv6.csv' } };
    const page = await browser.context.newPage();
    try {
      await openPage(page, [older], 'plugin');
      expect(await general(page, 'network-source').inputValue()).toBe('files');
      expect(await general(page, 'network-asn-ipv4').inputValue()).toBe('/data/asn-ipv4.csv');
      expect(await general(page, 'network-asn-ipv6').inputValue()).toBe('');
      expect(await general(page, 'network-country-ipv6').inputValue()).toBe('/data/country-ipv6.csv');
      expect(await save(page)).toEqual([older]);

      // Another general setting changed: the paths still have no source, and still mean "files".
      await general(page, 'poll-seconds').fill('20');
      expect(await save(page)).toEqual([{ ...older, pollSeconds: 20 }]);

      // Every path emptied would quietly mean the installed data set: the page keeps "files", and the plugin says why
      // that cannot be saved.
      await general(page, 'network-asn-ipv4').fill('');
      await general(page, 'network-country-ipv6').fill('');
      expect(await refusedSave(page)).toEqual(['Camera Guard: "networkData.source" is "files" but no file path is set; the data set that comes with the plugin names networks instead.']);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('keeps platform keys it does not show, in the platform block, its leak block and its networkData, when a general setting is edited', async () => {
    const withUnknown = {
      ...PLAIN,
      _bridge: { username: '0E:11:22:33:44:55', port: 51827 },
      futureSetting: { enabled: true },
      leak: { attempts: 2, futureLimit: 7 },
      networkData: { source: 'off', futureOption: 'x' },
    };
    const page = await browser.context.newPage();
    try {
      await openPage(page, [withUnknown], 'plugin');
      expect(await general(page, 'leak-attempts').inputValue()).toBe('2');
      expect(await general(page, 'network-source').inputValue()).toBe('off');
      await general(page, 'poll-seconds').fill('5');
      await general(page, 'leak-attempts').fill('');
      await general(page, 'network-source').selectOption('bundled');
      await general(page, 'name-servers').fill('192.168.1.1');
      expect(await save(page)).toEqual([
        { ...withUnknown, pollSeconds: 5, leak: { futureLimit: 7 }, networkData: { futureOption: 'x' }, nameServers: ['192.168.1.1'] },
      ]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('refuses a poll interval of 0 and a name server that is a host name with the plugin\'s own sentences, and saves nothing until they are fixed', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page, [PLAIN], 'plugin');
      await general(page, 'poll-seconds').fill('0');
      await general(page, 'name-servers').fill('192.168.1.1, dns.example');
      expect(await refusedSave(page)).toEqual([
        'Camera Guard: "pollSeconds" must be a number from 1 to 3600 (got "0").',
        'Camera Guard: "nameServers" entry "dns.example" is not an IP address (optionally with ":port"); it is left out.',
      ]);
      // Text that is not a number goes to the plugin as typed, and is refused in its words too.
      await general(page, 'poll-seconds').fill('ten');
      await general(page, 'name-servers').fill('192.168.1.1');
      expect(await refusedSave(page)).toEqual(['Camera Guard: "pollSeconds" must be a number from 1 to 3600 (got "ten").']);

      await general(page, 'poll-seconds').fill('60');
      expect(await save(page)).toEqual([{ ...PLAIN, pollSeconds: 60, nameServers: ['192.168.1.1'] }]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
