/**
 * src/setup/status.ts reads the plugin's status file for the settings page: a file from before issue 12 (no
 * destinations) still reads, a new one keeps its destinations, and router/DNS text in them is cleaned and cut.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { statusFileName } from '../../src/settings';
import { readStatus } from '../../src/setup/status';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'camera-guard-status-'));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

const write = (file: object): void => writeFileSync(join(folder, statusFileName(undefined)), JSON.stringify(file));
const camera = { name: 'Front door', address: '192.168.1.20', enforced: 'blocked', blockedPackets: 312, leak: true };
const file = (cameraStatus: object): object => ({
  running: true,
  updatedAt: '2026-12-03T15:00:00.000Z',
  routers: [{ name: 'EdgeRouter', lastPoll: '2026-12-03T15:00:00.000Z', cameras: [cameraStatus] }],
});

describe('reading the status file', () => {
  it('reads an older file without destinations', () => {
    write(file(camera));
    const read = readStatus(folder).routers[0]?.cameras[0];
    expect(read?.name).toBe('Front door');
    expect(read?.blockedPackets).toBe(312);
    expect(read?.destinations).toBeUndefined();
  });

  it('keeps a new file\'s destinations and cleans the router/DNS text in them', () => {
    write(
      file({
        ...camera,
        destinations: {
          blocked: [
            { address: '47.96.1.2', protocol: 'tcp', port: 8000, count: 40, network: 'AS37963 Alibaba, CN', hostName: 'evil\u001b[31m.example\n', expected: false, line: 'l' },
            { protocol: 'udp', count: 1, line: 'no address: dropped' },
          ],
          allowed: Array.from({ length: 30 }, (_, i) => ({ address: `1.2.3.${i}`, protocol: 'tcp', port: 443, count: 1, bytesSent: 1000, line: 'a' })),
          more: 1,
          accounting: 'sideways',
          updatedAt: '2026-12-03T15:00:00.000Z',
        },
      }),
    );
    const seen = readStatus(folder).routers[0]?.cameras[0]?.destinations;
    expect(seen?.blocked).toHaveLength(1);
    expect(seen?.blocked[0]).toMatchObject({ address: '47.96.1.2', protocol: 'tcp', port: 8000, count: 40, network: 'AS37963 Alibaba, CN', expected: false });
    expect(seen?.blocked[0]?.hostName).toContain('evil');
    expect([...(seen?.blocked[0]?.hostName ?? '')].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(seen?.allowed).toHaveLength(20);
    expect(seen?.allowed[0]?.bytesSent).toBe(1000);
    expect(seen?.more).toBe(1);
    expect(seen?.accounting).toBe('unknown');
  });

  it('keeps where network names come from, cleaned and cut, and says it once for platforms that share it', () => {
    write({ ...file(camera), networkCredit: true, networkNames: ['Network names come from the ip-location-db data of 2026-06-17 installed with Camera Guard.\u001b[2J', 42, 'x'.repeat(5000)] });
    writeFileSync(join(folder, statusFileName('Garage')), JSON.stringify({ ...file(camera), platform: 'Garage', networkNames: ['Network names come from the ip-location-db data of 2026-06-17 installed with Camera Guard.\u001b[2J'] }));
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ platforms: [{ platform: 'CameraGuard' }, { platform: 'CameraGuard', name: 'Garage' }] }));
    const read = readStatus(folder).networkNames ?? [];
    expect(read).toHaveLength(2);
    expect(read[0]).toMatch(/^Network names come from the ip-location-db data of 2026-06-17 installed with Camera Guard\./);
    expect(read.every((line) => [...line].every((c) => c.charCodeAt(0) >= 0x20))).toBe(true);
    expect(read[1]!.length).toBeLessThanOrEqual(401);
    expect(readStatus(folder).networkCredit).toBe(true);
  });

  it('reads a file from before network names were said', () => {
    write(file(camera));
    expect(readStatus(folder).networkNames).toBeUndefined();
    expect(readStatus(folder).networkCredit).toBeUndefined();
  });
});
