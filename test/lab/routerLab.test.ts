/**
 * The router lab: a real Homebridge with the built plugin, driven by a real HomeKit controller, against a router
 * made of Linux network namespaces, real OpenSSH and real iptables, with cameras that really send traffic.
 *
 * Needs root, network namespaces and a few Debian packages (installed when missing). Without them the tests are
 * skipped with one line saying why; under CI=true they fail instead.
 */
import { randomBytes } from 'node:crypto';

import type { IptablesDataplane } from '../../tools/lab/iptablesDataplane';
import { startLab, stopLab } from '../../tools/lab/lab';
import type { Lab, LabPlatformOptions } from '../../tools/lab/lab';
import { labUnavailableReason } from '../../tools/lab/prerequisites';
import { IMPOSTOR, LAB_FAULTS, LOGIN_REFUSED } from '../../tools/lab/soakTarget';
import { DHCP_MOVE_ADDRESS, FRESH_LAB_ROUTER_CONFIG, FRONT_DOOR, GARAGE, HOMEBRIDGE_HOST, INTERNET, NVR, OWNER_CAMERA_POLICY_CONFIG } from '../../tools/lab/topology';
import { startHomebridge } from '../../tools/sim/homebridgeRunner';
import { captureSecret } from '../../tools/sim/logCapture';
import type { RunningHomebridge } from '../../tools/sim/homebridgeRunner';
import { HOMEBRIDGE_RESTART, runSoak } from '../../tools/sim/soak';
import { HomeKitClient, NO_RESPONSE } from '../helpers/homeKitClient';

const unavailable = labUnavailableReason();
if (unavailable !== undefined) {
  if (process.env.CI === 'true') {
    throw new Error(`The router lab tests must run under CI=true, but the lab cannot start here: ${unavailable}`);
  }
  process.stderr.write(`\n*** ROUTER LAB TESTS SKIPPED: ${unavailable} ***\n\n`);
}
const describeLab = unavailable === undefined ? describe : describe.skip;

jest.setTimeout(120_000);

const POLL_SECONDS = 1;
/** Rule numbers the plugin gives the first two cameras (blocks of 10 from firstRule 4000): drop, then egress count (the tries-log rule is the one before the drop rule). */
const FRONT_BLOCK_RULE = 4008;
const FRONT_COUNT_RULE = 4009;
const GARAGE_BLOCK_RULE = 4018;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** What the router's active configuration says about a camera's drop rule. */
async function access(lab: Lab, ruleSet: string, blockRule: number): Promise<'allowed' | 'blocked' | 'missing'> {
  const config = await lab.router.activeConfigCommands();
  if (!config.includes(`set firewall name ${ruleSet} rule ${blockRule} action drop`)) return 'missing';
  return config.includes(`set firewall name ${ruleSet} rule ${blockRule} disable`) ? 'allowed' : 'blocked';
}

async function counter(lab: Lab, ruleSet: string, rule: number): Promise<{ packets: number; bytes: number }> {
  return (await lab.router.counters(ruleSet)).get(rule) ?? { packets: 0, bytes: 0 };
}

/**
 * The packets a blocked camera's rules dropped: its tries-log rule (the one before its block rule) drops the first
 * tries, within its limit, and its block rule the rest. `counters` holds the rules' DROP rows (LOG rows are not counted).
 */
function droppedBy(counters: Map<number, { packets: number }>, blockRule: number): number {
  return (counters.get(blockRule - 1)?.packets ?? 0) + (counters.get(blockRule)?.packets ?? 0);
}
async function dropped(lab: Lab, ruleSet: string, blockRule: number): Promise<number> {
  return droppedBy(await lab.router.counters(ruleSet), blockRule);
}

/** Waits for a HAP event carrying `value` on `id` among the events received after index `since`. */
async function eventSince(home: HomeKitClient, id: string, value: number, since: number, timeoutMs: number): Promise<void> {
  const normalise = (v: unknown): unknown => (v === true ? 1 : v === false ? 0 : v);
  await until(() => home.events.slice(since).some((event) => event.id === id && normalise(event.value) === value), `a HAP event ${id} = ${value}`, timeoutMs);
}

function leakEventsSince(home: HomeKitClient, ids: string[], since: number): unknown[] {
  return home.events.slice(since).filter((event) => ids.includes(event.id) && (event.value === 1 || event.value === true));
}

/** The lines Homebridge printed from index `from` of its output on that contain `text`. */
function linesSince(homebridge: RunningHomebridge, from: number, text: string): string[] {
  return homebridge.output.slice(from).filter((line) => line.includes(text));
}

/** An established TCP flow from this camera to the camera cloud, in the router's connection tracking. */
const establishedUpload = (address: string): RegExp => new RegExp(`ESTABLISHED src=${address.replace(/[.]/g, '\\.')} dst=\\S+ sport=\\d+ dport=443 `);

describeLab('the router lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab();
  });

  afterAll(async () => {
    await stopLab();
  });

  async function startPairedHomebridge(options: LabPlatformOptions = {}): Promise<{ homebridge: RunningHomebridge; home: HomeKitClient }> {
    const homebridge = await startHomebridge({ platform: lab.platformConfig({ pollSeconds: POLL_SECONDS, ...options }) });
    lab.trackProcess(homebridge.child.pid);
    try {
      const home = await HomeKitClient.pair(homebridge.username, homebridge.port, homebridge.pin);
      return { homebridge, home };
    } catch (error) {
      await homebridge.stop();
      homebridge.remove();
      throw error;
    }
  }

  describe('a fresh router', () => {
    let homebridge: RunningHomebridge | undefined;
    let home: HomeKitClient;
    const id = (service: string, kind: 'on' | 'leakDetected' | 'statusFault'): string => home.id(service, kind);

    beforeAll(async () => {
      ({ homebridge, home } = await startPairedHomebridge());
      await home.subscribe(['Front Door', 'Garage'].flatMap((camera) => [id(`${camera} Internet`, 'on'), id(`${camera} Leak`, 'leakDetected'), id(`${camera} Leak`, 'statusFault')]));
    });

    afterAll(async () => {
      await home?.close();
      await homebridge?.stop();
      homebridge?.remove();
    });

    // The router's faults and its sshd as they were, also after a test that failed half-way.
    afterEach(async () => {
      await lab.router.clearFaults();
      await lab.ssh.start();
    });

    /** Brings a camera to `state` from HomeKit, for a test that starts from it (whatever the tests before it left). */
    async function switchTo(camera: 'Front Door' | 'Garage', state: 'allowed' | 'blocked'): Promise<void> {
      const blockRule = camera === 'Front Door' ? FRONT_BLOCK_RULE : GARAGE_BLOCK_RULE;
      if ((await access(lab, 'CAMGUARD_OUT', blockRule)) !== state) {
        expect((await home.set(id(`${camera} Internet`, 'on'), state === 'allowed')).status ?? 0).toBe(0);
        await until(async () => (await access(lab, 'CAMGUARD_OUT', blockRule)) === state, `the router to have ${camera} ${state}`, 30_000);
      }
      await home.waitForValue(id(`${camera} Internet`, 'on'), state === 'allowed');
    }

    it('1. gets the plugin\'s ruleset and rules, with both cameras blocked but still able to resolve names', async () => {
      await until(
        async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked' && (await access(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)) === 'blocked',
        'the plugin to create both cameras\' rules',
        30_000,
      );
      // Compiled the EdgeOS way into the router's real iptables.
      expect((await lab.router.dataplane.listChain('VYATTA_FW_OUT_HOOK')).stdout).toMatch(/ CAMGUARD_OUT .* eth0 /);
      expect((await lab.router.dataplane.listChain('CAMGUARD_OUT')).stdout).toMatch(/ DROP .* 198\.51\.100\.50 .*\/\* CAMGUARD_OUT-4008 \*\//);
      await home.waitForValue(id('Front Door Internet', 'on'), false);
      await home.waitForValue(id('Garage Internet', 'on'), false);

      const [frontConnect, garageConnect, frontDns, garageDns] = await Promise.all([lab.frontDoor.connect(), lab.garage.connect(), lab.frontDoor.dns(), lab.garage.dns()]);
      expect(frontConnect.ok).toBe(false);
      expect(garageConnect.ok).toBe(false);
      expect(frontDns).toMatchObject({ ok: true });
      expect(garageDns).toMatchObject({ ok: true });
      expect(lab.internet.answers('dns', FRONT_DOOR.address)).toBeGreaterThan(0);
    });

    it('2. opens camera 1 when its switch is turned On in HomeKit, and only camera 1', async () => {
      expect((await home.set(id('Front Door Internet', 'on'), true)).status ?? 0).toBe(0);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door', 15_000);
      expect(await lab.frontDoor.connect()).toMatchObject({ ok: true });
      expect((await lab.garage.connect()).ok).toBe(false);
      await home.waitForValue(id('Front Door Internet', 'on'), true);
    });

    it('3. cuts a running upload within seconds when camera 1 is switched Off, and refuses new connections', async () => {
      await switchTo('Front Door', 'allowed');
      const upload = lab.frontDoor.startUpload(100_000);
      try {
        await until(() => upload.acked > 50_000, 'the upload to get going', 10_000);
        expect(await lab.flows(FRONT_DOOR.address)).toMatch(establishedUpload(FRONT_DOOR.address));

        const switchedAt = Date.now();
        await home.set(id('Front Door Internet', 'on'), false);
        await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked', 'the router to block Front Door', 15_000);
        await until(() => Date.now() - upload.lastProgressAt > 2_000, 'the upload to stop arriving', 15_000);
        expect(upload.lastProgressAt - switchedAt).toBeLessThan(5_000);
        // The plugin deleted the camera's connection tracking entries, as EdgeOS needs for established flows.
        await until(async () => !establishedUpload(FRONT_DOOR.address).test(await lab.flows(FRONT_DOOR.address)), 'the upload\'s flow to leave conntrack', 5_000);
        expect((await lab.frontDoor.connect()).ok).toBe(false);
      } finally {
        await upload.stop();
      }
    });

    it('4. raises LeakDetected from the real counters: a blocked camera phoning home, an allowed one uploading too much', async () => {
      const garageLeak = id('Garage Leak', 'leakDetected');
      await home.waitForValue(garageLeak, 0, 30_000);
      const blockedBefore = await dropped(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE);
      let since = home.events.length;
      expect((await lab.garage.connect()).ok).toBe(false);
      expect(await dropped(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)).toBeGreaterThan(blockedBefore);
      await eventSince(home, garageLeak, 1, since, 10_000);

      const frontLeak = id('Front Door Leak', 'leakDetected');
      await home.set(id('Front Door Internet', 'on'), true);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door', 15_000);
      await home.waitForValue(frontLeak, 0, 30_000);
      const egressBefore = await counter(lab, 'CAMGUARD_OUT', FRONT_COUNT_RULE);
      since = home.events.length;
      expect(await lab.frontDoor.upload(3_000_000)).toMatchObject({ ok: true });
      expect((await counter(lab, 'CAMGUARD_OUT', FRONT_COUNT_RULE)).bytes - egressBefore.bytes).toBeGreaterThan(3_000_000);
      await eventSince(home, frontLeak, 1, since, 10_000);
    });

    it('can make commits fail or wait for the commit lock, on demand, through the real SSH path', async () => {
      const on = id('Garage Internet', 'on');
      await lab.router.setCommitDelay(1_000);
      await lab.router.failNextCommits('fail');
      await home.set(on, true);
      await until(async () => (await lab.router.store.read()).faults.pendingCommitFaults.length === 0, 'the plugin to try its commit', 15_000);
      await home.waitForValue(on, false, 10_000);
      expect(await access(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)).toBe('blocked');

      await lab.router.failNextCommits('locked', 2);
      await home.set(on, true);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)) === 'allowed', 'the plugin to retry the locked commit', 30_000);
      await home.waitForValue(on, true);
    });

    it('5. raises no false alarm across a router reboot, and keeps the switches On', async () => {
      const leaks = [id('Front Door Leak', 'leakDetected'), id('Garage Leak', 'leakDetected')];
      await switchTo('Front Door', 'allowed');
      await switchTo('Garage', 'allowed');
      for (const leak of leaks) await home.waitForValue(leak, 0, 30_000);
      const since = home.events.length;

      await lab.rebootRouter();
      expect((await counter(lab, 'CAMGUARD_OUT', FRONT_COUNT_RULE)).bytes).toBeLessThan(10_000);
      await home.waitForValue(id('Front Door Leak', 'statusFault'), 0, 60_000);
      // A few polls on the zeroed counters, however slowly they come: the plugin runs one command per poll, and it
      // has weighed a poll's counters once the next command starts.
      const polled = lab.ssh.logMark();
      await until(() => lab.ssh.logEventsSince(polled, HOMEBRIDGE_HOST.address).sessions >= 6, 'five polls of the zeroed counters', 60_000);

      expect(leakEventsSince(home, leaks, since)).toEqual([]);
      await home.waitForValue(id('Front Door Internet', 'on'), true, 1_000);
      await home.waitForValue(id('Garage Internet', 'on'), true, 1_000);
      expect(await lab.frontDoor.connect()).toMatchObject({ ok: true });
    });

    it('6. shows a change made on the router outside HomeKit within one poll', async () => {
      const on = id('Garage Internet', 'on');
      await switchTo('Garage', 'allowed');
      const since = home.events.length;
      const changedAt = Date.now();
      const result = await lab.router.configure([`delete firewall name CAMGUARD_OUT rule ${GARAGE_BLOCK_RULE} disable`], { save: true });
      expect(result.code).toBe(0);
      await eventSince(home, on, 0, since, 10_000);
      expect(Date.now() - changedAt).toBeLessThan(2 * POLL_SECONDS * 1000 + 3_000);
      expect((await lab.garage.connect()).ok).toBe(false);
    });

    it('17. a block the kernel lost (its DROP row deleted by hand): real packets get out, the switch shows On and the leak sensor trips, until the router rebuilds its firewall', async () => {
      const on = id('Garage Internet', 'on');
      const leak = id('Garage Leak', 'leakDetected');
      await switchTo('Garage', 'blocked');
      expect((await lab.garage.connect()).ok).toBe(false);
      const from = homebridge?.output.length ?? 0;
      try {
        // `sudo iptables -D` on the router: the configuration still blocks Garage, the kernel no longer does.
        expect(await (lab.router.dataplane as IptablesDataplane).deleteRows(4, 'CAMGUARD_OUT', { ruleKey: `CAMGUARD_OUT-${GARAGE_BLOCK_RULE}` })).toBe(1);
        // And its tries-log rule's limited DROP row, which would still drop the first few SYNs of a connection (deleteRows
        // leaves rows with quoted words alone: the LOG row, which stops nothing, stays).
        expect(await (lab.router.dataplane as IptablesDataplane).deleteRows(4, 'CAMGUARD_OUT', { ruleKey: `CAMGUARD_OUT-${GARAGE_BLOCK_RULE - 1}` })).toBe(1);
        expect(await access(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)).toBe('blocked');
        expect(await lab.garage.connect()).toMatchObject({ ok: true });
        await home.waitForValue(on, true, 30_000);
        await home.waitForValue(leak, 1, 10_000);
        expect(linesSince(homebridge as RunningHomebridge, from, 'its block is not in force')).toHaveLength(1);
      } finally {
        // A reboot loads the firewall from the configuration again.
        await lab.rebootRouter();
      }
      await home.waitForValue(on, false, 60_000);
      expect((await lab.garage.connect()).ok).toBe(false);
      expect(linesSince(homebridge as RunningHomebridge, from, 'its block is in force in the router\'s firewall again')).toHaveLength(1);
    });

    it('8. shows No Response and faults while sshd is stopped, and recovers by itself when it is back', async () => {
      const on = id('Front Door Internet', 'on');
      await lab.ssh.stop();
      await home.waitForValue(id('Front Door Leak', 'statusFault'), 1, 30_000);
      await home.waitForValue(id('Garage Leak', 'statusFault'), 1, 10_000);
      expect((await home.set(on, false)).status).toBe(NO_RESPONSE);

      await lab.ssh.start();
      await home.waitForValue(id('Front Door Leak', 'statusFault'), 0, 90_000);
      expect((await home.set(on, false)).status ?? 0).toBe(0);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked', 'the router to block Front Door after recovery', 20_000);
    });
  });

  describe('a router whose WAN out slot holds the owner\'s camera policy', () => {
    let homebridge: RunningHomebridge | undefined;
    let home: HomeKitClient;

    beforeAll(async () => {
      await lab.resetRouter(OWNER_CAMERA_POLICY_CONFIG);
      ({ homebridge, home } = await startPairedHomebridge());
    });

    afterAll(async () => {
      await home?.close();
      await homebridge?.stop();
      homebridge?.remove();
    });

    it('7. gets the plugin\'s rules inside the owner\'s ruleset, and the owner\'s rules keep working', async () => {
      await until(
        async () => (await access(lab, 'CAMERAS_OUT', FRONT_BLOCK_RULE)) === 'blocked' && (await access(lab, 'CAMERAS_OUT', GARAGE_BLOCK_RULE)) === 'blocked',
        'the plugin to add its rules to CAMERAS_OUT',
        30_000,
      );
      const config = await lab.router.activeConfigCommands();
      expect(config).not.toContain('CAMGUARD_OUT');
      for (const line of OWNER_CAMERA_POLICY_CONFIG.split('\n').filter((text) => text.includes('CAMERAS_OUT'))) {
        expect(config).toContain(line);
      }

      // The owner's policy: the NVR may resolve names, set its clock and send mail, and nothing else.
      const [dns, ntp, smtp, cloud] = await Promise.all([lab.nvr.dns(), lab.nvr.ntp(), lab.nvr.smtp(), lab.nvr.connect()]);
      expect([dns.ok, ntp.ok, smtp.ok, cloud.ok]).toEqual([true, true, true, false]);
      expect(lab.internet.answers('smtp', NVR.address)).toBeGreaterThan(0);
      expect((await counter(lab, 'CAMERAS_OUT', 40)).packets).toBeGreaterThan(0);

      // The plugin's rules work inside it.
      expect((await lab.frontDoor.connect()).ok).toBe(false);
      expect(await lab.garage.dns()).toMatchObject({ ok: true });
      expect((await home.set(home.id('Front Door Internet', 'on'), true)).status ?? 0).toBe(0);
      await until(async () => (await access(lab, 'CAMERAS_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door', 15_000);
      expect(await lab.frontDoor.connect()).toMatchObject({ ok: true });
      expect((await lab.nvr.connect()).ok).toBe(false);
      expect((await lab.garage.connect()).ok).toBe(false);
    });

    it('19. an owner\'s accept rule ahead of the camera rules: real packets get out, the switch shows On, the leak sensor trips and the log names the rule, until the owner removes it', async () => {
      const on = home.id('Garage Internet', 'on');
      const leak = home.id('Garage Leak', 'leakDetected');
      expect((await lab.garage.connect()).ok).toBe(false);
      const from = homebridge?.output.length ?? 0;
      try {
        const added = await lab.router.configure(['set firewall name CAMERAS_OUT rule 50 action accept', `set firewall name CAMERAS_OUT rule 50 source address ${GARAGE.address}`], { save: true });
        expect(added.code).toBe(0);
        // The configuration still blocks Garage, and the kernel has its DROP row: the owner's rule lets it out first.
        expect(await access(lab, 'CAMERAS_OUT', GARAGE_BLOCK_RULE)).toBe('blocked');
        expect(await lab.garage.connect()).toMatchObject({ ok: true });
        await home.waitForValue(on, true, 30_000);
        await home.waitForValue(leak, 1, 10_000);
        expect(linesSince(homebridge as RunningHomebridge, from, "rule 50 of CAMERAS_OUT, ahead of Camera Guard's rules")).toHaveLength(1);
        expect(await lab.router.activeConfigCommands()).toContain('set firewall name CAMERAS_OUT rule 50 action accept');
      } finally {
        await lab.router.configure(['delete firewall name CAMERAS_OUT rule 50'], { save: true });
      }
      await home.waitForValue(on, false, 30_000);
      expect((await lab.garage.connect()).ok).toBe(false);
    });
  });

  describe('timed access, enforced by the router', () => {
    afterAll(async () => {
      await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
    });

    it('18. an opening with allowMinutes closes at its deadline in the router\'s kernel, with Homebridge stopped', async () => {
      await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
      const { homebridge, home } = await startPairedHomebridge({ cameras: [{ name: FRONT_DOOR.name, address: FRONT_DOOR.address, allow: ['dns'], allowMinutes: 0.5 }] });
      let stopped = false;
      try {
        const on = home.id('Front Door Internet', 'on');
        await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked', 'the plugin to create the rules', 30_000);
        await home.waitForValue(on, false);
        expect((await home.set(on, true)).status ?? 0).toBe(0);
        await until(async () => (await lab.router.activeConfigCommands()).includes(`rule ${FRONT_BLOCK_RULE} time utc`), 'the timed opening on the router', 15_000);
        const deadline = Date.parse(`${/time startdate '?([^'\s]+)/.exec(await lab.router.activeConfigCommands())?.[1] ?? ''}Z`);
        expect(deadline).toBeGreaterThan(Date.now());
        // Compiled by the lab into the namespace's real iptables as ubnt-fw does.
        expect((await lab.router.dataplane.listChain('CAMGUARD_OUT')).stdout).toMatch(/ DROP .*\/\* CAMGUARD_OUT-4008 \*\/ TIME starting from /);
        await home.close();
        await homebridge.stop();
        stopped = true;
        expect(await lab.frontDoor.connect()).toMatchObject({ ok: true });
        // Nobody is left to send a command: the kernel starts dropping at the deadline.
        await until(async () => Date.now() > deadline && !(await lab.frontDoor.connect()).ok, 'the router to close access at the deadline', 90_000);
        expect(Date.now()).toBeGreaterThanOrEqual(deadline);
      } finally {
        if (!stopped) {
          await home.close();
          await homebridge.stop();
        }
        homebridge.remove();
      }
    }, 180_000);
  });

  describe('a camera identified by its MAC', () => {
    let homebridge: RunningHomebridge | undefined;
    let home: HomeKitClient;

    beforeAll(async () => {
      await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
      ({ homebridge, home } = await startPairedHomebridge({ cameras: [{ name: FRONT_DOOR.name, address: FRONT_DOOR.address, mac: FRONT_DOOR.mac, allow: ['dns'] }] }));
    });

    afterAll(async () => {
      await home?.close();
      await homebridge?.stop();
      homebridge?.remove();
    });

    // Front Door's own address again, also after a test that failed half-way.
    afterEach(async () => {
      if (lab.frontDoor.address !== FRONT_DOOR.address) await lab.moveHost(lab.frontDoor, FRONT_DOOR.address);
    });

    it('9. stays blocked when DHCP gives it another address, and opens at the new address from HomeKit', async () => {
      const on = home.id('Front Door Internet', 'on');
      const macRule = `set firewall name CAMGUARD_OUT rule ${FRONT_BLOCK_RULE} source mac-address '${FRONT_DOOR.mac}'`;
      await until(
        async () => (await lab.router.activeConfigCommands()).includes(macRule) && (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked',
        'the plugin to create Front Door\'s rules on its MAC',
        30_000,
      );
      // The kernel matches the MAC, not the address.
      expect((await lab.router.dataplane.listChain('CAMGUARD_OUT')).stdout).toMatch(new RegExp(` DROP .*/\\* CAMGUARD_OUT-${FRONT_BLOCK_RULE} \\*/ MAC ${FRONT_DOOR.mac}\\s*$`, 'im'));
      await home.waitForValue(on, false);
      expect((await lab.frontDoor.connect()).ok).toBe(false);

      // A new lease: the camera comes back at another address, which the configuration never mentions.
      await lab.moveHost(lab.frontDoor, DHCP_MOVE_ADDRESS);
      expect(lab.frontDoor.address).toBe(DHCP_MOVE_ADDRESS);
      expect(await lab.router.activeConfigCommands()).not.toContain(DHCP_MOVE_ADDRESS);
      const droppedBefore = await dropped(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE);
      const connect = await lab.frontDoor.connect();
      expect(connect.ok).toBe(false);
      expect(await dropped(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)).toBeGreaterThan(droppedBefore);
      expect(await lab.frontDoor.dns()).toMatchObject({ ok: true });
      expect(lab.internet.answers('dns', DHCP_MOVE_ADDRESS)).toBeGreaterThan(0);

      // Turned On in HomeKit, it gets out from its new address.
      expect((await home.set(on, true)).status ?? 0).toBe(0);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door', 15_000);
      await home.waitForValue(on, true);
      const closedBefore = lab.internet.events.filter((event) => event.event === 'upload-closed' && event.from === DHCP_MOVE_ADDRESS).length;
      expect(await lab.frontDoor.connect()).toMatchObject({ ok: true });
      await until(
        () => lab.internet.events.filter((event) => event.event === 'upload-closed' && event.from === DHCP_MOVE_ADDRESS).length > closedBefore,
        'the internet host to see the connection from the new address',
        5_000,
      );
    });
  });

  describe('IPv6, with real packets through the router\'s ip6tables', () => {
    let homebridge: RunningHomebridge | undefined;
    let home: HomeKitClient;
    /** A second global address of Front Door's, as IPv6 privacy extensions make one: no configuration knows it. */
    const PRIVACY_ADDRESS = '2001:db8:100::5e:1';
    const ipv6Access = async (): Promise<'allowed' | 'blocked' | 'missing'> => {
      const config = await lab.router.activeConfigCommands();
      if (!config.includes(`set firewall ipv6-name CAMGUARD6_OUT rule ${FRONT_BLOCK_RULE} action drop`)) return 'missing';
      return config.includes(`set firewall ipv6-name CAMGUARD6_OUT rule ${FRONT_BLOCK_RULE} disable`) ? 'allowed' : 'blocked';
    };
    const counter6 = async (rule: number): Promise<{ packets: number; bytes: number }> => (await lab.router.counters6('CAMGUARD6_OUT')).get(rule) ?? { packets: 0, bytes: 0 };

    beforeAll(async () => {
      await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
      // Front Door has its MAC in the config; Garage has none.
      ({ homebridge, home } = await startPairedHomebridge({
        cameras: [
          { name: FRONT_DOOR.name, address: FRONT_DOOR.address, mac: FRONT_DOOR.mac, allow: ['dns'] },
          { name: GARAGE.name, address: GARAGE.address, allow: ['dns'] },
        ],
      }));
      await home.subscribe([home.id('Front Door Internet', 'on'), home.id('Front Door Leak', 'leakDetected')]);
    });

    afterAll(async () => {
      await home?.close();
      await homebridge?.stop();
      homebridge?.remove();
    });

    // Only Front Door's own IPv6 address again, also after a test that failed half-way.
    afterEach(async () => {
      await lab.frontDoor.removeExtraIpv6Addresses();
    });

    it('11. blocks a camera\'s IPv6 egress by its MAC, from any of its addresses, counts it for the leak sensor, and opens and cuts both families together', async () => {
      const on = home.id('Front Door Internet', 'on');
      const leak = home.id('Front Door Leak', 'leakDetected');
      await until(async () => (await ipv6Access()) === 'blocked' && (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked', 'the plugin to create Front Door\'s IPv4 and IPv6 rules', 30_000);
      // The EdgeOS way, in the kernel's ip6tables: bound to eth0 out, the drop matching the MAC.
      expect(await lab.router.activeConfigCommands()).toContain('set interfaces ethernet eth0 firewall out ipv6-name CAMGUARD6_OUT');
      expect((await lab.router.dataplane.listChain6?.('VYATTA_FW_OUT_HOOK'))?.stdout).toMatch(/ CAMGUARD6_OUT .* eth0 /);
      expect((await lab.router.dataplane.listChain6?.('CAMGUARD6_OUT'))?.stdout).toMatch(new RegExp(` DROP .*::/0 .*/\\* CAMGUARD6_OUT-${FRONT_BLOCK_RULE} \\*/`, 'i'));
      await home.waitForValue(on, false);

      // Blocked over IPv6 as over IPv4, from its global address and from a privacy address no config names; DNS still works.
      await lab.frontDoor.addIpv6Address(PRIVACY_ADDRESS);
      const [v4, v6, privacy, dns6] = await Promise.all([lab.frontDoor.connect(), lab.frontDoor.ipv6().connect(), lab.frontDoor.ipv6(PRIVACY_ADDRESS).connect(), lab.frontDoor.ipv6().dns()]);
      expect([v4.ok, v6.ok, privacy.ok]).toEqual([false, false, false]);
      expect(dns6).toMatchObject({ ok: true });
      expect(lab.internet.answers('dns', FRONT_DOOR.address6)).toBeGreaterThan(0);

      // IPv6 attempts alone trip the leak sensor: the plugin adds the ip6tables drop counter to the IPv4 one.
      await home.waitForValue(leak, 0, 30_000);
      const dropped6 = droppedBy(await lab.router.counters6('CAMGUARD6_OUT'), FRONT_BLOCK_RULE);
      const dropped4 = await dropped(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE);
      let since = home.events.length;
      expect((await lab.frontDoor.ipv6(PRIVACY_ADDRESS).connect()).ok).toBe(false);
      expect(droppedBy(await lab.router.counters6('CAMGUARD6_OUT'), FRONT_BLOCK_RULE)).toBeGreaterThan(dropped6);
      expect(await dropped(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)).toBe(dropped4);
      await eventSince(home, leak, 1, since, 10_000);

      // Opened in HomeKit: both families, every address.
      expect((await home.set(on, true)).status ?? 0).toBe(0);
      await until(async () => (await ipv6Access()) === 'allowed' && (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door on both families', 15_000);
      await home.waitForValue(on, true);
      const opened = await Promise.all([lab.frontDoor.connect(), lab.frontDoor.ipv6().connect(), lab.frontDoor.ipv6(PRIVACY_ADDRESS).connect()]);
      expect(opened.map((outcome) => outcome.ok)).toEqual([true, true, true]);
      await until(() => lab.internet.events.some((event) => event.event === 'upload-closed' && event.from === PRIVACY_ADDRESS), 'the internet host to see the privacy address', 5_000);

      // An IPv6 upload is counted as egress: more than uploadMB trips the sensor.
      await home.waitForValue(leak, 0, 30_000);
      const egress6 = await counter6(FRONT_COUNT_RULE);
      since = home.events.length;
      expect(await lab.frontDoor.ipv6().upload(3_000_000)).toMatchObject({ ok: true });
      expect((await counter6(FRONT_COUNT_RULE)).bytes - egress6.bytes).toBeGreaterThan(3_000_000);
      await eventSince(home, leak, 1, since, 10_000);

      // Switched Off during an IPv6 upload from the privacy address: the upload stops, and its flow is cut from
      // connection tracking although no configuration names that address (the router's neighbour table does).
      const upload = lab.frontDoor.ipv6(PRIVACY_ADDRESS).startUpload(100_000);
      try {
        await until(() => upload.acked > 50_000, 'the IPv6 upload to get going', 10_000);
        expect(await lab.flows(PRIVACY_ADDRESS)).toMatch(establishedUpload(PRIVACY_ADDRESS));
        const switchedAt = Date.now();
        await home.set(on, false);
        await until(async () => (await ipv6Access()) === 'blocked', 'the router to block Front Door over IPv6', 15_000);
        await until(() => Date.now() - upload.lastProgressAt > 2_000, 'the IPv6 upload to stop arriving', 15_000);
        expect(upload.lastProgressAt - switchedAt).toBeLessThan(5_000);
        await until(async () => !establishedUpload(PRIVACY_ADDRESS).test(await lab.flows(PRIVACY_ADDRESS)), 'the IPv6 upload\'s flow to leave conntrack', 5_000);
        expect(homebridge?.output.some((line) => line.includes(`cut`) && line.includes(PRIVACY_ADDRESS))).toBe(true);
      } finally {
        await upload.stop();
      }
      expect((await lab.frontDoor.ipv6(PRIVACY_ADDRESS).connect()).ok).toBe(false);
    });

    it('12. names the camera without a MAC in a warning that its IPv6 egress is not covered, which real traffic confirms', async () => {
      const warning = await homebridge!.waitFor(/has IPv6 on eth0, and "Garage" has no "mac", so their IPv6 traffic is not blocked/, 10_000);
      expect(warning).not.toMatch(/Front Door/);
      expect(homebridge!.output.filter((line) => line.includes('has no "mac"'))).toHaveLength(1);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', GARAGE_BLOCK_RULE)) === 'blocked', 'Garage to be blocked', 30_000);
      expect((await lab.garage.connect()).ok).toBe(false);
      // What the warning says: the IPv4 block does not stop it over IPv6.
      expect(await lab.garage.ipv6().connect()).toMatchObject({ ok: true, detail: `connected to ${INTERNET.address6}:443` });
    });
  });

  describe('logins, host keys and restarts', () => {
    let homebridge: RunningHomebridge | undefined;
    let home: HomeKitClient;
    /** Whether the running Homebridge has the lab's own platform block (not one a test changed). */
    let defaultPlatform = true;
    const on = (): string => home.id('Front Door Internet', 'on');
    const fault = (): string => home.id('Front Door Leak', 'statusFault');

    beforeAll(async () => {
      await lab.resetRouter(FRESH_LAB_ROUTER_CONFIG);
      ({ homebridge, home } = await startPairedHomebridge());
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'blocked', 'the plugin to set up the router', 30_000);
      await home.waitForValue(fault(), 0, 30_000);
    });

    afterAll(async () => {
      await home?.close();
      await homebridge?.stop();
      homebridge?.remove();
    });

    /** Restarts Homebridge on the same storage (same accessories, same pairing), optionally with another platform block. */
    async function restartHomebridge(platform?: Record<string, unknown>): Promise<void> {
      const previous = homebridge!;
      await home.close();
      await previous.stop();
      homebridge = await startHomebridge({ platform: platform ?? lab.platformConfig({ pollSeconds: POLL_SECONDS }), storage: previous.storage, pin: previous.pin, username: previous.username });
      defaultPlatform = platform === undefined;
      lab.trackProcess(homebridge.child.pid);
      home = await HomeKitClient.connect(homebridge.username, homebridge.port, home.pairing);
    }

    /**
     * Restarts Homebridge with the lab's own settings and waits until it has made the save it makes once after each
     * start (see EdgeOsRouter): its first transaction, a session that opens and ends on the router. Then the next
     * transaction is one a test asks for, and a reboot cannot cut that save.
     */
    async function restartAndAwaitItsSave(start: () => Promise<void> = restartHomebridge): Promise<void> {
      const save = await lab.holdRouterAt('session-open', 0);
      await start();
      expect(await save.claimed(60_000)).toBe(true);
      await until(async () => (await lab.router.openSessionCount()) === 0, 'the save after the start to end on the router', 30_000);
    }

    /** Whether Homebridge runs with the lab's own settings and guards the router (not waiting out a backoff). */
    async function guarding(): Promise<boolean> {
      const child = homebridge?.child;
      if (!defaultPlatform || child === undefined || child.exitCode !== null || child.signalCode !== null) return false;
      try {
        await home.waitForValue(fault(), 0, 10_000);
        return true;
      } catch {
        return false;
      }
    }

    /**
     * Whatever a test did to the router's keys, password, host key, faults and sshd, and to Homebridge (another
     * platform block, a login backoff of minutes, a stop), is undone after it, also when it failed half-way: the next
     * test starts from a router with its own keys and a Homebridge that guards it.
     */
    afterEach(async () => {
      await lab.withdrawHold();
      await lab.router.clearFaults();
      await lab.ssh.restoreKeys();
      await lab.ssh.start();
      if (!(await guarding())) {
        await restartHomebridge();
        await home.waitForValue(fault(), 0, 60_000);
      }
    }, 120_000);

    it('13. a login the router refuses: one clear error, No Response, retries that back off instead of a login storm, and recovery by itself', async () => {
      const other = await lab.ssh.generateClientKey('someone_else_ed25519');
      const outputBefore = homebridge!.output.length;
      const mark = lab.ssh.logMark();
      // The router stops accepting the plugin's key (an owner rotating keys, a reset router), and the plugin must log in again.
      lab.ssh.setAuthorizedKey(other.publicKeyLine);
      await lab.ssh.cutConnections();
      await home.waitForValue(fault(), 1, 30_000);
      expect((await home.set(on(), true)).status).toBe(NO_RESPONSE);

      // Watch the plugin's login attempts, as the router's sshd logs them.
      const refusedAt: number[] = [];
      const watchRefusals = async (count: number, timeoutMs: number): Promise<void> =>
        until(
          () => {
            const { refusedLogins } = lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address);
            while (refusedAt.length < refusedLogins) refusedAt.push(Date.now());
            return refusedAt.length >= count;
          },
          `${count} refused logins from Homebridge`,
          timeoutMs,
        );
      await watchRefusals(2, 45_000);
      // sshd logs a refusal before the plugin hears of it: wait for the plugin's own line about the second one.
      const refusals = (): string[] => linesSince(homebridge!, outputBefore, 'refused the login');
      await until(() => refusals().length >= 2, 'Homebridge to log the second refused login', 30_000);
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address)).toMatchObject({ connections: 2, refusedLogins: 2, acceptedLogins: 0 });
      // 30 s (less up to 20% jitter) between the first two attempts, not a retry a second.
      expect(refusedAt[1]! - refusedAt[0]!).toBeGreaterThan(20_000);
      // One line per refused attempt: the first (an error) says what to check and when the next try comes; Homebridge
      // prints the plugin's debug repeats of it the same way (test/integration/guardOverSsh.test.ts checks the levels).
      const said = refusals();
      expect(said).toHaveLength(2);
      expect(said[0]).toMatch(/the router refused the login for user "homebridge"; check "username" and the key or password in the config\. .*retrying in (2[4-9]|30) s\./);
      expect(said[1]).toMatch(/retrying in ([4-5]\d|60) s\./);

      // The owner puts the key back: the next attempt, twice as far off, gets in, and guarding resumes by itself.
      lab.ssh.setAuthorizedKey(undefined);
      const restoredAt = Date.now();
      await home.waitForValue(fault(), 0, 90_000);
      expect(Date.now() - refusedAt[1]!).toBeGreaterThan(40_000);
      expect(Date.now() - restoredAt).toBeLessThan(65_000);
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address)).toMatchObject({ connections: 3, refusedLogins: 2, acceptedLogins: 1 });
      await homebridge!.waitFor(/connected to the router again; guarding resumes\./, 30_000, outputBefore);
      expect((await home.set(on(), true)).status ?? 0).toBe(0);
      await until(async () => (await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)) === 'allowed', 'the router to open Front Door', 15_000);
    }, 180_000);

    it('14. a host key that changes while running: nothing more is sent, faults, both keys named; the owner pins the new key and all is well', async () => {
      const pinned = lab.ssh.hostKeyFingerprint;
      const shown = await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE);
      await home.waitForValue(on(), shown === 'allowed', 10_000);
      const outputBefore = homebridge!.output.length;
      const mark = lab.ssh.logMark();
      const presented = await lab.ssh.replaceHostKey();
      expect(presented).not.toBe(pinned);

      await home.waitForValue(fault(), 1, 30_000);
      // Logins cut by the restart may still be winding down; once none runs, none may start.
      await until(async () => !(await lab.loginRunning()), 'the logins cut by the sshd restart to end', 30_000);
      const loginsBefore = (await lab.router.store.read()).nextPid;
      const error = await homebridge!.waitFor(/refused to connect: the router at/, 30_000, outputBefore);
      expect(error).toContain(`presented host key ${presented}, but ${pinned} is pinned in the config as "hostKey"`);
      expect((await home.set(on(), shown !== 'allowed')).status).toBe(NO_RESPONSE);
      // The plugin met the new key, and went no further: no login attempt (no key, no password sent), no command run.
      await until(() => lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address).hungUpBeforeLogin >= 1, 'the plugin to meet the new key and hang up', 30_000);
      await new Promise((done) => setTimeout(done, 3_000));
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address)).toMatchObject({ authAttempts: 0, acceptedLogins: 0 });
      expect((await lab.router.store.read()).nextPid).toBe(loginsBefore);
      // What the owner asked for during the refusal was refused with No Response, not queued behind their back.
      expect(await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE)).toBe(shown);

      // The owner checks the new key on the router's console and pins it: the plugin talks to the router again.
      const platform = lab.platformConfig({ pollSeconds: POLL_SECONDS });
      (platform.routers as Record<string, unknown>[])[0]!.hostKey = presented;
      await restartHomebridge(platform);
      await home.waitForValue(fault(), 0, 30_000);
      await home.waitForValue(on(), shown === 'allowed', 10_000);
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address).acceptedLogins).toBeGreaterThan(0);
    }, 120_000);

    it('15. Homebridge stopped by SIGTERM with a transaction in flight: it finishes or ends cleanly on the router, and after the restart HomeKit shows what the router has, also after a reboot', async () => {
      // A short pause lets the transaction finish within Homebridge's 5 s; a long one outlasts Homebridge.
      const moments = [
        { point: 'commit-running', pauseMs: 2_000 },
        { point: 'session-open', pauseMs: 8_000 },
        { point: 'commit-running', pauseMs: 8_000 },
        { point: 'commit-done', pauseMs: 8_000 },
      ] as const;
      // A Homebridge that has just started saves once: let that be done, so the pause below catches the toggle's own
      // transaction.
      await restartAndAwaitItsSave();
      await home.waitForValue(fault(), 0, 90_000);
      for (const { point, pauseMs } of moments) {
        const before = await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE);
        const requested = before === 'allowed' ? 'blocked' : 'allowed';
        const hold = await lab.holdRouterAt(point, pauseMs);
        expect((await home.set(on(), requested === 'allowed')).status ?? 0).toBe(0);
        expect(await hold.reached(15_000)).toBe(true);
        const stopping = homebridge!;
        await home.close();
        await stopping.stop();
        const where = `SIGTERM at ${point}, router paused ${pauseMs} ms`;
        expect({ where, unhandled: stopping.output.filter((line) => /unhandled/i.test(line)) }).toEqual({ where, unhandled: [] });
        // The router's side of the transaction runs to its end or is discarded: no session is left open.
        await until(async () => (await lab.router.openSessionCount()) === 0, `the session to end on the router (${where})`, 20_000);
        const after = await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE);
        if (after !== requested) {
          // Not applied: the log of the Homebridge that stopped says so.
          expect({ where, said: stopping.output.some((line) => line.includes('could not confirm that internet access was') && line.includes('before Homebridge stopped')) }).toEqual({ where, said: true });
        }

        await restartAndAwaitItsSave(async () => {
          homebridge = await startHomebridge({ platform: lab.platformConfig({ pollSeconds: POLL_SECONDS }), storage: stopping.storage, pin: stopping.pin, username: stopping.username });
          defaultPlatform = true;
          lab.trackProcess(homebridge.child.pid);
          home = await HomeKitClient.connect(homebridge.username, homebridge.port, home.pairing);
        });
        await home.waitForValue(fault(), 0, 30_000);
        await home.waitForValue(on(), after === 'allowed', 10_000);
        // What HomeKit shows is also what the router comes back with after a reboot.
        await until(async () => (await lab.router.savedConfigCommands()).includes(`rule ${FRONT_BLOCK_RULE} disable`) === (after === 'allowed'), `the router to have saved what it enforces (${where})`, 15_000);
        await lab.rebootRouter();
        await home.waitForValue(fault(), 0, 60_000);
        expect({ where, access: await access(lab, 'CAMGUARD_OUT', FRONT_BLOCK_RULE) }).toEqual({ where, access: after });
        await home.waitForValue(on(), after === 'allowed', 10_000);
      }
    }, 300_000);

    it('16. a wrong password: one clear error, no second try for 20 s, recovery by itself once the router has that password; neither password in any log', async () => {
      const right = `lab-pw-${randomBytes(9).toString('base64url')}`;
      const wrong = `lab-pw-${randomBytes(9).toString('base64url')}`;
      captureSecret(right);
      captureSecret(wrong);
      await lab.ssh.setPassword(right);
      const platform = lab.platformConfig({ pollSeconds: POLL_SECONDS });
      const router = (platform.routers as Record<string, unknown>[])[0]!;
      delete router.privateKeyFile;
      router.password = wrong;
      const mark = lab.ssh.logMark();
      await restartHomebridge(platform);
      await home.waitForValue(fault(), 1, 30_000);
      await until(() => lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address).refusedLogins >= 1, 'the router to refuse the password', 30_000);
      const refusedAt = Date.now();
      const said = await homebridge!.waitFor(/refused the login/, 30_000);
      expect(said).toMatch(/the router refused the login for user "homebridge"; check "username" and the key or password in the config\. .*retrying in (2[4-9]|30) s\./);
      // Real OpenSSH saw a password login (not a key), refused once: no storm while the plugin waits.
      await new Promise((done) => setTimeout(done, 20_000 - (Date.now() - refusedAt)));
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address)).toMatchObject({ refusedLogins: 1, acceptedLogins: 0, passwordLogins: 1 });

      // The owner sets the router's password to the one in the config: the plugin gets in at its next try.
      await lab.ssh.setPassword(wrong);
      await home.waitForValue(fault(), 0, 30_000);
      expect(lab.ssh.logEventsSince(mark, HOMEBRIDGE_HOST.address)).toMatchObject({ refusedLogins: 1, acceptedLogins: 1, passwordLogins: 2 });
      // Everything this Homebridge printed, debug included (the suite also checks every line of every test).
      expect(homebridge!.output.filter((line) => line.includes(right) || line.includes(wrong))).toEqual([]);
    }, 120_000);
  });

  describe('the soak, in the lab', () => {
    /**
     * Every lab fault and a Homebridge restart, but three that cost half a minute each of the plugin's own backoff
     * (six locked commits in a row; a refused login; an impostor's key): tests 13 and 14 cover the last two, and
     * npm run soak has all three.
     */
    const slow = new Set([LOGIN_REFUSED, IMPOSTOR]);
    // The restart first: the cycle must meet it in the first half of the run, the only half it is made in.
    const faults = [HOMEBRIDGE_RESTART, ...LAB_FAULTS.filter((fault) => !fault.startsWith('commit locked 6 times') && !slow.has(fault))];

    it('10. keeps HomeKit and the router in agreement through 110 toggles of 8 cameras, with the lab\'s faults at their worst moments', async () => {
      const result = await runSoak({ target: 'lab', lab, toggles: 110, cameras: 8, faultRate: 1, faultOrder: 'cycle', faults, maxPauseMs: 4_500, seed: 20261125 });
      process.stdout.write(`lab soak: ${JSON.stringify(result)}\n`);
      expect({
        wrong: result.wrongStates,
        lost: result.lostStates,
        openSessions: result.openSessions,
        sessionsLeftOpen: result.sessionsLeftOpen,
        unhandledRejections: result.unhandledRejections,
        crashed: result.homebridgeCrashed,
        trafficMismatches: result.trafficMismatches,
        violations: result.faultViolations,
        evidence: result.evidence,
      }).toEqual({ wrong: 0, lost: 0, openSessions: 0, sessionsLeftOpen: 0, unhandledRejections: 0, crashed: false, trafficMismatches: 0, violations: 0, evidence: [] });
      expect(result.homebridgeRestarts).toBe(result.faults[HOMEBRIDGE_RESTART]);
      expect(result.accepted).toBeGreaterThan(50);
      // Each fault met a transaction at its moment: the cycle goes through them in order, one at a time.
      expect(faults.filter((fault) => (result.faults[fault] ?? 0) === 0)).toEqual([]);
      // About 4 minutes on an idle machine (its pauses between toggles alone take 2); a busy one makes every login,
      // commit and restart slower, and the soak waits for each.
    }, 600_000);
  });
});
