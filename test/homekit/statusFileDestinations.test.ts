/**
 * The destinations the status file carries per camera (issue 12): a blocked camera's logged tries over the day, an
 * allowed camera's flows from the latest reading, whether the router counts bytes, and the owner's line for each.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CameraSettings } from '../../src/config';
import type { FlowDestination } from '../../src/destinations/conntrack';
import { parseExpectedDestination } from '../../src/destinations/expected';
import type { GuardSnapshot } from '../../src/guard/guardApi';
import { RouterGuard } from '../../src/guard/routerGuard';
import { StatusFile } from '../../src/homekit/statusFile';
import { statusFileName } from '../../src/settings';
import type { Status } from '../../src/ui/protocol';
import { FakeDriver } from '../helpers/fakeDriver';
import { recordingLog } from '../helpers/recordingLog';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const frontDoor: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [], allowMinutes: 0 };
const expectedNetwork = parseExpectedDestination('198.51.100.0/24');
if (!expectedNetwork.ok) throw new Error(expectedNetwork.problem);
/** Garage is expected to send to 198.51.100.0/24 (its cloud); Front Door has no expected destinations. */
const garage: CameraSettings = { name: 'Garage', address: '192.0.2.51', allow: [], allowMinutes: 0, allowDestinations: [expectedNetwork.entry] };

let storage: string;
let guard: RouterGuard | undefined;

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
  storage = mkdtempSync(join(tmpdir(), 'camera-guard-status-'));
});

afterEach(async () => {
  const stopped = guard?.stop(100);
  await jest.advanceTimersByTimeAsync(200);
  await stopped;
  guard = undefined;
  jest.useRealTimers();
  rmSync(storage, { recursive: true, force: true });
});

describe('the status file with destinations', () => {
  it('lists where each camera tried to go or went, with the raw fields, whether it is expected, and the line the log would say', async () => {
    const driver = new FakeDriver();
    driver.rules.set(frontDoor.address, { status: 'intact', access: 'blocked', counters: { blockedPackets: 0, egressPackets: 0, egressBytes: 0 } });
    driver.rules.set(garage.address, { status: 'intact', access: 'allowed', counters: { blockedPackets: undefined, egressPackets: 0, egressBytes: 0 } });
    const upload: FlowDestination = { address: '198.51.100.20', protocol: 'tcp', protocolNumber: 6, port: 443, direction: 'outgoing', flows: 2, unreplied: 0, traffic: { bytesSent: 95_000, bytesReceived: 100, packetsSent: 70, packetsReceived: 5 } };
    const tried = (logged: number) => ({ destinations: [{ address: '47.96.1.2', protocol: 'tcp' as const, port: 8000, logged }], otherDestinations: 0, logged });
    driver.destinationReads.push(
      { cameras: new Map([[frontDoor.address, { attempts: tried(25), flows: undefined }]]), accounting: true, logSkippedBytes: 0 },
      { cameras: new Map([[frontDoor.address, { attempts: tried(15), flows: undefined }], [garage.address, { attempts: undefined, flows: { destinations: [upload], otherDestinations: 4, accounting: 'on' } }]]), accounting: true, logSkippedBytes: 0 },
    );
    const log = recordingLog();
    guard = new RouterGuard({
      cameras: [frontDoor, garage],
      leak: { attempts: 1_000, uploadBytes: 0, windowMs: 60_000, quietMs: 60_000 },
      pollMs: 1_000,
      driver,
      log,
      listener: { cameraChanged: () => undefined, leakChanged: () => undefined, reachabilityChanged: () => undefined, lockdownChanged: () => undefined },
      seenCameras: new Set([frontDoor.address, garage.address]),
      lockdown: { on: false, previous: {} },
      saveLockdown: () => undefined,
      markSeen: () => undefined,
    });
    guard.start();
    await jest.advanceTimersByTimeAsync(3_500);
    const status = new StatusFile(storage, [], log);
    const running = guard;
    status.add({ name: 'Home', snapshot: () => running.snapshot() });
    status.write();
    const file = JSON.parse(readFileSync(join(storage, statusFileName(undefined)), 'utf8')) as Omit<Status, 'running'>;
    const [door, garageStatus] = file.routers[0]?.cameras ?? [];
    expect(door?.destinations?.blocked).toEqual([
      { address: '47.96.1.2', protocol: 'tcp', port: 8000, count: 40, expected: false, lastSeen: expect.stringMatching(/^2026-12-03T12:00:0\d\.000Z$/) as string, line: '47.96.1.2 tcp/8000, 40 tries' },
    ]);
    expect(door?.destinations?.accounting).toBe('on');
    expect(garageStatus?.destinations?.allowed).toEqual([
      { address: '198.51.100.20', protocol: 'tcp', port: 443, count: 2, bytesSent: 95_000, expected: true, lastSeen: expect.stringMatching(/^2026-12-03T12:00:0\d\.000Z$/) as string, line: '198.51.100.20 tcp/443, 2 flows, 95 kB sent' },
    ]);
    expect(garageStatus?.destinations?.more).toBe(4);
    // The lists come from the last reading that carried destinations (the second); later ones without leave them be.
    expect(garageStatus?.destinations?.updatedAt).toBe(new Date(T0 + 1_000).toISOString());
    status.stop();
  });

  it('writes no destinations before any reading carried them, and at most 20 per list, with hostile names cleaned', () => {
    const many = Array.from({ length: 25 }, (_, index) => ({ address: `203.0.113.${index}`, protocol: 'tcp' as const, port: 443, count: 25 - index, unit: 'tries' as const, hostName: index === 0 ? 'evil\u001b[31m.example\nWARN fake line' : undefined }));
    const snapshots: GuardSnapshot[] = [
      { lastPoll: T0, problem: undefined, cameras: [{ name: 'Front Door', address: frontDoor.address, enforced: 'blocked', blockedPackets: 1, egressBytes: 0, leak: false, lastLeakTrip: undefined }] },
      {
        lastPoll: T0,
        problem: undefined,
        cameras: [{ name: 'Front Door', address: frontDoor.address, enforced: 'blocked', blockedPackets: 1, egressBytes: 0, leak: false, lastLeakTrip: undefined, destinations: { blocked: many, allowed: [], more: 2, accounting: undefined, updatedAt: T0 } }],
      },
    ];
    const status = new StatusFile(storage, [], recordingLog());
    let which = 0;
    status.add({ name: 'Home', snapshot: () => snapshots[which] as GuardSnapshot });
    expect(status.content().routers[0]?.cameras[0]?.destinations).toBeUndefined();
    which = 1;
    const destinations = status.content().routers[0]?.cameras[0]?.destinations;
    expect(destinations?.blocked).toHaveLength(20);
    expect(destinations?.more).toBe(7);
    expect(destinations?.accounting).toBe('unknown');
    const line = destinations?.blocked[0]?.line ?? '';
    expect(line).toMatch(/^\S+ \[203\.0\.113\.0\] tcp\/443, 25 tries$/);
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f]/);
    status.stop();
  });
});
