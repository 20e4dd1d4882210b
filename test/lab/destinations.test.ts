/**
 * Issue 12 in the router lab, with real packets: where cameras try to go, as the owner reads it.
 *
 * A real Homebridge with the built plugin guards the lab router (real OpenSSH, real iptables-legacy in a network
 * namespace). The router's /var/log/messages is fed by the kernel's own LOG lines (tools/lab/kernelLog.ts), its
 * connection table is the namespace's real one (tools/lab/labDataplane.ts), names come from a test DNS server on the
 * lab's own network (tools/lab/reverseNameServer.ts, through the plugin's `nameServers` setting) and from a test data
 * set (test/fixtures/destinations/lab-*.csv, through `networkData`): nothing is looked up outside the lab.
 *
 * - A blocked camera tries three destinations, 1, 2 and 3 times: the trip line and the status file name all three
 *   with those counts, their DNS names and their networks; the total comes from the exact block counter.
 * - An allowed camera uploads a known number of bytes: its flow in the guard's reading carries them, within the IP
 *   and TCP headers' overhead.
 * - A flood of 2000 tries: every one is counted, exactly, and the log gets no more lines than the tries-log rule's
 *   limit (6/minute, burst 5) allows over the flood's duration.
 *
 * Needs root, network namespaces and a few Debian packages (installed when missing), as test/lab/routerLab.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseConfig } from '../../src/config';
import type { CameraSettings, RouterSettings } from '../../src/config';
import type { RouterReading } from '../../src/router/driver';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { statusFileName } from '../../src/settings';
import type { CameraStatus, Status } from '../../src/ui/protocol';
import { HostTraffic, startLab, stopLab } from '../../tools/lab/lab';
import type { Lab } from '../../tools/lab/lab';
import { labUnavailableReason } from '../../tools/lab/prerequisites';
import { ReverseNameServer } from '../../tools/lab/reverseNameServer';
import { SERVICE_PORTS } from '../../tools/lab/services';
import { FRONT_DOOR, GARAGE, HOMEBRIDGE_HOST, INTERNET } from '../../tools/lab/topology';
import { startHomebridge } from '../../tools/sim/homebridgeRunner';
import type { RunningHomebridge } from '../../tools/sim/homebridgeRunner';
import { HomeKitClient } from '../helpers/homeKitClient';
import { recordingLog } from '../helpers/recordingLog';

const unavailable = labUnavailableReason();
if (unavailable !== undefined) {
  if (process.env.CI === 'true') {
    throw new Error(`The router lab tests must run under CI=true, but the lab cannot start here: ${unavailable}`);
  }
  process.stderr.write(`\n*** ROUTER LAB DESTINATION TESTS SKIPPED: ${unavailable} ***\n\n`);
}
const describeLab = unavailable === undefined ? describe : describe.skip;

jest.setTimeout(120_000);

/** Rule numbers of the first two cameras' blocks (blocks of 10 from firstRule 4000): tries log, then block. */
const FRONT_TRIES_RULE = 4007;
const FRONT_BLOCK_RULE = 4008;
const FRONT_COUNT_RULE = 4009;
const GARAGE_TRIES_RULE = 4017;
const GARAGE_BLOCK_RULE = 4018;
/** The tries-log rule's limit: `limit rate 6/minute`, `limit burst 5`. */
const LIMIT_BURST = 5;
const LIMIT_PER_MINUTE = 6;
/** How long the limit takes to earn back one try (60 s / 6). */
const LIMIT_REFILL_MS = 60_000 / LIMIT_PER_MINUTE;

/** The lab's "internet": the camera cloud (the internet host itself) and addresses nothing answers at. */
const CLOUD = INTERNET.address;
const RELAY_ONE = '203.0.113.11';
const RELAY_TWO = '203.0.113.12';
const TELEMETRY = '203.0.113.13';
/** Where the seventh try of test (a) goes, unlogged. */
const SPARE = '203.0.113.14';
/** What the lab's DNS server says these addresses are called. */
const NAMES: Record<string, string> = {
  [CLOUD]: 'cloud.camera-lab.example',
  [RELAY_ONE]: 'relay-one.camera-lab.example',
  [RELAY_TWO]: 'relay-two.camera-lab.example',
  [TELEMETRY]: 'telemetry.camera-lab.example',
  [SPARE]: 'spare.camera-lab.example',
};
/** The test data set's networks for them (test/fixtures/destinations/lab-*.csv). */
const NETWORKS: Record<string, string> = {
  [CLOUD]: 'AS64510 Lab Camera Cloud, XA',
  [RELAY_ONE]: 'AS64511 Lab Relay One, XB',
  [RELAY_TWO]: 'AS64512 Lab Relay Two, XC',
  [TELEMETRY]: 'AS64513 Lab Telemetry, XD',
};
const FIXTURES = join(__dirname, '..', 'fixtures', 'destinations');

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The packets of a rule's rows in the router's real iptables, by target (LOG, DROP). */
async function rows(lab: Lab, rule: number): Promise<{ log: number; drop: number }> {
  const listing = (await lab.router.dataplane.listChain('CAMGUARD_OUT')).stdout;
  const counts = { log: 0, drop: 0 };
  for (const line of listing.split('\n').filter((text) => text.includes(`/* CAMGUARD_OUT-${rule} */`))) {
    const [packets = '0', , target] = line.trim().split(/\s+/);
    if (target === 'LOG') counts.log += Number(packets);
    if (target === 'DROP') counts.drop += Number(packets);
  }
  return counts;
}

/** The router's log lines (both files) of a rule's LOG row, optionally only those of packets to `destination`. */
async function loggedLines(lab: Lab, rule: number, destination?: string): Promise<string[]> {
  await lab.kernelLog.settled();
  const log = (await lab.router.store.read()).routerLog;
  const text = `${log?.rotated?.text ?? ''}${log?.current.text ?? ''}`;
  return text
    .split('\n')
    .filter((line) => line.includes(` kernel: [CAMGUARD_OUT-${rule}-D]IN=`))
    .filter((line) => destination === undefined || line.includes(` DST=${destination} `));
}

/** Sends `datagrams` UDP datagrams (one packet each) from a camera to `destination`. */
async function sendUdp(camera: typeof FRONT_DOOR, destination: string, datagrams: number): Promise<void> {
  expect(await new HostTraffic(camera, destination).udp(datagrams, 200)).toMatchObject({ ok: true });
}

describeLab('destinations in the router lab, with real packets', () => {
  let lab: Lab;
  let names: ReverseNameServer;
  let homebridge: RunningHomebridge | undefined;
  let home: HomeKitClient;
  /** A second reader of the same router, with the plugin's own driver: the readings the guard gets, as they come. */
  let reader: EdgeOsRouter | undefined;
  let cameras: readonly CameraSettings[];

  const statusOf = (name: string): CameraStatus | undefined => {
    try {
      const status = JSON.parse(readFileSync(join(homebridge!.storage, statusFileName(undefined)), 'utf8')) as Omit<Status, 'running'>;
      return status.routers[0]?.cameras.find((camera) => camera.name === name);
    } catch {
      return undefined;
    }
  };
  const read = (): Promise<RouterReading> => reader!.read(cameras, 'poll');
  const blockedPackets = async (address: string): Promise<number | undefined> => (await read()).cameras.get(address)?.counters?.blockedPackets;

  beforeAll(async () => {
    lab = await startLab();
    names = await ReverseNameServer.start(HOMEBRIDGE_HOST.address, NAMES);
    const platform = {
      // Seven tries trip the sensor: the seventh comes once the log has every line of the six before it.
      ...lab.platformConfig({ pollSeconds: 1, leak: { attempts: 7, uploadMB: 100, windowMinutes: 5, quietMinutes: 5 } }),
      nameServers: [names.server],
      networkData: { asnIpv4: join(FIXTURES, 'lab-asn-ipv4-num.csv'), countryIpv4: join(FIXTURES, 'lab-country-ipv4-num.csv') },
    };
    homebridge = await startHomebridge({ platform });
    lab.trackProcess(homebridge.child.pid);
    home = await HomeKitClient.pair(homebridge.username, homebridge.port, homebridge.pin);
    const settings = parseConfig(platform).settings.routers[0] as RouterSettings & { host: string };
    cameras = settings.cameras;
    reader = new EdgeOsRouter(settings, new SshConnection(settings, new KnownHosts(join(homebridge.storage, 'lab-reader-known-hosts.json')), recordingLog()));
    await reader.connect();
    // Both cameras blocked, with their tries-log rules in the kernel, and HomeKit showing it.
    const enforced = async (): Promise<boolean> => {
      const config = await lab.router.activeConfigCommands();
      const listing = (await lab.router.dataplane.listChain('CAMGUARD_OUT')).stdout;
      return [FRONT_TRIES_RULE, FRONT_BLOCK_RULE, GARAGE_TRIES_RULE, GARAGE_BLOCK_RULE].every(
        (rule) => config.includes(`set firewall name CAMGUARD_OUT rule ${rule} action drop`) && !config.includes(`set firewall name CAMGUARD_OUT rule ${rule} disable`) && listing.includes(`/* CAMGUARD_OUT-${rule} */`),
      );
    };
    await until(enforced, 'the plugin to block both cameras with their tries-log rules in the kernel', 60_000);
    await home.waitForValue(home.id('Front Door Internet', 'on'), false);
    await home.waitForValue(home.id('Garage Internet', 'on'), false);
    await reader.read(cameras, 'full');
  }, 180_000);

  afterAll(async () => {
    reader?.close();
    await home?.close();
    await homebridge?.stop();
    homebridge?.remove();
    await names?.close();
    await stopLab();
  });

  it('(a) a blocked camera trying three destinations: the trip line and the status name all three, with their counts, DNS names and networks', async () => {
    const from = homebridge!.output.length;
    const rowsBefore = await rows(lab, GARAGE_TRIES_RULE);
    const blockBefore = await rows(lab, GARAGE_BLOCK_RULE);
    // Five tries: the limit's whole burst, so each is logged.
    await sendUdp(GARAGE, RELAY_ONE, 1);
    await sendUdp(GARAGE, RELAY_TWO, 2);
    await sendUdp(GARAGE, TELEMETRY, 2);
    const burstSpentAt = Date.now();
    await until(async () => (await rows(lab, GARAGE_TRIES_RULE)).log - rowsBefore.log === 5, 'the five tries to be logged by the kernel', 10_000);
    // The limit earns one try back every 10 s: the sixth, then, is logged too (the LOG row's count below proves it).
    await new Promise((done) => setTimeout(done, Math.max(0, burstSpentAt + LIMIT_REFILL_MS + 1_000 - Date.now())));
    await sendUdp(GARAGE, TELEMETRY, 1);
    await until(async () => (await loggedLines(lab, GARAGE_TRIES_RULE)).length === 6, 'the six logged tries to reach the router\'s log', 10_000);
    expect((await rows(lab, GARAGE_TRIES_RULE)).log - rowsBefore.log).toBe(6);
    expect(homebridge!.output.slice(from).filter((line) => line.includes('LEAK'))).toEqual([]);

    // The seventh comes right after: the limit has no try left for it, so it is dropped unlogged by the block rule.
    await sendUdp(GARAGE, SPARE, 1);
    const tries = await rows(lab, GARAGE_TRIES_RULE);
    const block = await rows(lab, GARAGE_BLOCK_RULE);
    expect(tries.log - rowsBefore.log).toBe(6);
    expect(tries.drop - rowsBefore.drop + (block.drop - blockBefore.drop)).toBe(7);
    expect(block.drop - blockBefore.drop).toBe(1);

    const trip = await homebridge!.waitFor(/Garage.* LEAK: kept trying to reach the internet while blocked/, 30_000, from);
    process.stdout.write(`lab trip line: ${trip}\n`);
    const described = (address: string, count: number): string => `${NAMES[address]} [${address}] (${NETWORKS[address]}) udp/${SERVICE_PORTS.udpSink}, ${count} ${count === 1 ? 'try' : 'tries'} logged`;
    expect(trip).toContain(`: 7 tries in 5 min, to ${described(TELEMETRY, 3)}; ${described(RELAY_TWO, 2)}; ${described(RELAY_ONE, 1)}.`);
    expect(names.answered).toEqual(expect.arrayContaining([RELAY_ONE, RELAY_TWO, TELEMETRY]));

    // The status view: the same three, with their raw counts and names.
    await until(() => (statusOf('Garage')?.destinations?.blocked.length ?? 0) >= 3, 'the status file to list Garage\'s tries', 15_000);
    const blocked = statusOf('Garage')?.destinations?.blocked.map(({ address, protocol, port, count, hostName, network }) => ({ address, protocol, port, count, hostName, network }));
    expect(blocked).toEqual(
      [
        [TELEMETRY, 3],
        [RELAY_TWO, 2],
        [RELAY_ONE, 1],
      ].map(([address, count]) => ({ address, protocol: 'udp', port: SERVICE_PORTS.udpSink, count, hostName: NAMES[address as string], network: NETWORKS[address as string] })),
    );
  });

  it('(b) an allowed camera uploading to one destination: its flow in the guard\'s reading carries its bytes', async () => {
    expect((await home.set(home.id('Front Door Internet', 'on'), true)).status ?? 0).toBe(0);
    await until(async () => (await read()).cameras.get(FRONT_DOOR.address)?.access === 'allowed', 'the router to open Front Door', 30_000);
    const upload = 2_000_000;
    const egressBefore = (await lab.router.counters('CAMGUARD_OUT')).get(FRONT_COUNT_RULE)?.bytes ?? 0;
    expect(await lab.frontDoor.upload(upload)).toMatchObject({ ok: true });

    let sent: number | undefined;
    await until(
      async () => {
        const reading = await read();
        const flows = reading.destinations?.cameras.get(FRONT_DOOR.address)?.flows;
        const cloud = flows?.destinations.find((destination) => destination.address === CLOUD && destination.port === SERVICE_PORTS.upload);
        sent = cloud?.traffic?.bytesSent;
        return sent !== undefined && sent >= upload;
      },
      'the upload\'s flow to carry its bytes',
      15_000,
    );
    process.stdout.write(`lab upload: ${upload} bytes uploaded, ${sent} bytes in the flow\n`);
    expect((await read()).destinations?.accounting).toBe(true);
    // What the camera sent, counted by the kernel per packet: the payload and each packet's IP and TCP headers.
    expect(sent).toBeGreaterThanOrEqual(upload);
    expect(sent).toBeLessThan(upload * 1.03 + 2_000);
    // The egress counter rule counts the very same packets, header for header (the upload exemption of
    // allowDestinations weighs one against the other).
    expect(((await lab.router.counters('CAMGUARD_OUT')).get(FRONT_COUNT_RULE)?.bytes ?? 0) - egressBefore).toBe(sent);
    // The plugin asked the lab's DNS server for the cloud's name.
    await until(() => names.answered.includes(CLOUD), 'the plugin to ask the lab\'s DNS server for the cloud\'s name', 15_000);

    // With the router's accounting switched off (EdgeOS's default), the reading says so, and a new upload's flow
    // is shown without bytes.
    await lab.setConntrackAccounting(false);
    try {
      expect(await lab.frontDoor.upload(100_000)).toMatchObject({ ok: true });
      const reading = await read();
      expect(reading.destinations?.accounting).toBe(false);
      expect(reading.destinations?.cameras.get(FRONT_DOOR.address)?.flows?.accounting).toBe('partly');
    } finally {
      await lab.setConntrackAccounting(true);
    }
  });

  it('(c) a flood of 2000 tries: every one counted exactly, and the log stays within the limit', async () => {
    expect((await home.set(home.id('Front Door Internet', 'on'), false)).status ?? 0).toBe(0);
    await until(async () => (await read()).cameras.get(FRONT_DOOR.address)?.access === 'blocked', 'the router to block Front Door', 30_000);
    const before = await blockedPackets(FRONT_DOOR.address);
    expect(before).toBeDefined();
    const triesBefore = await rows(lab, FRONT_TRIES_RULE);
    const blockBefore = await rows(lab, FRONT_BLOCK_RULE);
    const linesBefore = (await loggedLines(lab, FRONT_TRIES_RULE, CLOUD)).length;

    // At the internet host's UDP sink (a video stream's port), which reports every datagram it gets.
    const floodStart = Date.now();
    await sendUdp(FRONT_DOOR, CLOUD, 2000);
    const floodMs = Date.now() - floodStart;

    await until(async () => (await blockedPackets(FRONT_DOOR.address)) === (before ?? 0) + 2000, 'the guard\'s reading to count all 2000 tries', 30_000);
    const tries = await rows(lab, FRONT_TRIES_RULE);
    const block = await rows(lab, FRONT_BLOCK_RULE);
    expect(await blockedPackets(FRONT_DOOR.address)).toBe((before ?? 0) + 2000);

    // The log: what the limit lets through over the flood, every line of which the kernel's LOG row counted.
    const lines = (await loggedLines(lab, FRONT_TRIES_RULE, CLOUD)).length - linesBefore;
    const bound = LIMIT_BURST + Math.ceil((LIMIT_PER_MINUTE * floodMs) / 60_000);
    process.stdout.write(`lab flood: 2000 tries in ${floodMs} ms, ${lines} log lines (bound ${bound}), blocked counter +${(await blockedPackets(FRONT_DOOR.address) ?? 0) - (before ?? 0)}\n`);
    expect(lines).toBeGreaterThan(0);
    expect(lines).toBeLessThanOrEqual(bound);
    expect(tries.log - triesBefore.log).toBe(lines);
    // Over the limit, the tries fell through to the block rule: the two drops together hold every one of them.
    expect(tries.drop - triesBefore.drop).toBeLessThanOrEqual(bound);
    expect(tries.drop - triesBefore.drop + (block.drop - blockBefore.drop)).toBe(2000);
    expect(lab.internet.events.filter((event) => event.event === 'udp-received' && event.from === FRONT_DOOR.address)).toEqual([]);
  });
});
