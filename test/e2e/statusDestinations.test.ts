/**
 * The settings page's Status view shows each camera's destinations (issue 12) from the status file, as text: a
 * hostile reverse-DNS name stays text, a destination not expected is marked, accounting off says so, and an older
 * status file without destinations renders as before. The page runs in Debian's Chromium against a stubbed
 * `window.homebridge` that answers /status with the given file.
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

const HOSTILE = '<img src=x onerror="window.pwned=1">.evil.example';

const camera = (name: string, extra: object) => ({
  name,
  address: '192.168.1.20',
  enforced: 'blocked',
  blockedPackets: 312,
  leak: true,
  ...extra,
});

const NEW_STATUS = {
  running: true,
  updatedAt: '2026-12-03T15:00:00.000Z',
  routers: [
    {
      name: 'EdgeRouter',
      lastPoll: '2026-12-03T15:00:00.000Z',
      problem: undefined,
      cameras: [
        camera('Front door', {
          destinations: {
            blocked: [
              { address: '47.96.1.2', protocol: 'tcp', port: 8000, count: 40, network: 'AS37963 Alibaba, CN', hostName: HOSTILE, expected: false, line: 'x' },
              { address: '8.8.8.8', protocol: 'udp', port: 53, count: 2, expected: true, line: 'y' },
            ],
            allowed: [{ address: '1.2.3.4', protocol: 'tcp', port: 443, count: 3, line: 'z' }],
            more: 1,
            accounting: 'off',
            updatedAt: '2026-12-03T15:00:00.000Z',
          },
        }),
      ],
    },
  ],
};

const NAMED_STATUS = { ...NEW_STATUS, networkCredit: true, networkNames: [`Network names come from the ip-location-db data of 2026-06-17 installed with Camera Guard. ${HOSTILE}`] };

const OLD_STATUS = { running: true, updatedAt: '2026-12-03T15:00:00.000Z', routers: [{ name: 'EdgeRouter', lastPoll: undefined, problem: undefined, cameras: [camera('Garage', {})] }] };

async function openPage(page: Page, status: object): Promise<void> {
  const html = readFileSync(join(PUBLIC, 'index.html'), 'utf8').replace('<script src="page.js"></script>', '');
  await page.setContent(html);
  // The stub goes in before page.js runs, as the Homebridge UI's own script does.
  await page.evaluate((answer) => {
    const target = new EventTarget();
    (globalThis as unknown as { homebridge: unknown }).homebridge = Object.assign(target, {
      showSpinner: () => undefined,
      hideSpinner: () => undefined,
      disableSaveButton: () => undefined,
      getPluginConfig: () => Promise.resolve([]),
      updatePluginConfig: () => Promise.resolve([]),
      savePluginConfig: () => Promise.resolve(),
      request: (path: string) => Promise.resolve(path === '/status' ? answer : {}),
    });
  }, status);
  await page.addScriptTag({ content: readFileSync(join(PUBLIC, 'page.js'), 'utf8') });
  await page.evaluate(() => (globalThis as unknown as { homebridge: EventTarget }).homebridge.dispatchEvent(new Event('ready')));
  await page.locator('[data-testid="status-camera"]').first().waitFor();
}

describeIfChromium('the Status view shows destinations', () => {
  let browser: RunningBrowser;
  beforeAll(async () => {
    browser = await launchBrowser(undefined);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('lists blocked tries and allowed flows, marks the unexpected one and says which is expected, and keeps a hostile name as text', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page, NAMED_STATUS);
      const rows = page.locator('[data-testid="status-blocked"] [data-testid="status-destination"]');
      expect(await rows.count()).toBe(2);
      const first = await rows.nth(0).innerText();
      expect(first).toContain('not expected');
      expect(first).toContain('47.96.1.2 tcp/8000');
      expect(first).toContain('AS37963 Alibaba, CN');
      expect(first).toContain(HOSTILE);
      expect(first).toContain('40 tries logged');
      expect(await rows.nth(0).getAttribute('data-expected')).toBe('false');
      // The expected one says so; the unexpected one stands out.
      expect(await rows.nth(1).getAttribute('data-expected')).toBe('true');
      expect(await rows.nth(1).innerText()).toMatch(/8\.8\.8\.8 udp\/53: 2 tries logged.*\(expected\)$/);
      expect(await rows.nth(1).innerText()).not.toContain('not expected');
      expect(await page.locator('[data-testid="status-allowed"] [data-testid="status-destination"]').getAttribute('data-expected')).toBeNull();
      expect(await page.locator('[data-testid="status-destinations"] img').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.locator('[data-testid="status-allowed"]').innerText()).toContain('1.2.3.4 tcp/443: 3 flows');
      expect(await page.locator('[data-testid="status-accounting-off"]').innerText()).toContain('nf_conntrack_acct=1');
      expect(await page.locator('[data-testid="status-destinations"]').innerText()).toContain('logged tries are a sample');
      // Where the names come from, with their credit; text from the file stays text.
      expect(await page.locator('[data-testid="status-network-names"]').innerText()).toBe(`Network names come from the ip-location-db data of 2026-06-17 installed with Camera Guard. ${HOSTILE}`);
      // The credit the data's licences ask for, with the link DB-IP asks for where its results are shown.
      const credit = page.locator('[data-testid="status-network-credit"]');
      expect(await credit.innerText()).toBe('Network names: ip-location-db (CC BY 4.0), from RouteViews, IP to ASN Lite by DB-IP and the NRO.');
      const hrefs = await credit.locator('a').evaluateAll((links) => (links as unknown as { getAttribute(name: string): string | null }[]).map((link) => link.getAttribute('href')));
      expect(hrefs).toEqual([
        'https://github.com/sapics/ip-location-db',
        'https://www.routeviews.org/',
        'https://db-ip.com/',
        'https://www.nro.net/',
      ]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('renders an older status file without destinations', async () => {
    const page = await browser.context.newPage();
    try {
      await openPage(page, OLD_STATUS);
      expect(await page.locator('[data-testid="status-camera"][data-name="Garage"]').count()).toBe(1);
      expect(await page.locator('[data-testid="status-destinations"]').count()).toBe(0);
      expect(await page.locator('[data-testid="status-network-names"]').count()).toBe(0);
      expect(await page.locator('[data-testid="status-network-credit"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 60_000);
});
