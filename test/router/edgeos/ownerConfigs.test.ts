/**
 * A corpus of realistic owner configurations (test/fixtures/owner-configs, each written as EdgeOS prints it, plus one
 * generated with thousands of rules): for each, the simulated router starts with it, the driver reads it over real SSH,
 * blocks and opens cameras with and without a MAC, the router's traffic follows, and afterwards every line the plugin
 * did not write is byte for byte what it was, in the same order.
 */
import { applyChanges } from '../../helpers/applyChanges';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import { NAMED_SERVICES } from '../../../src/config';
import type { RouterReading } from '../../../src/router/driver';
import { EdgeOsRouter } from '../../../src/router/edgeos/edgeosRouter';
import { KnownHosts } from '../../../src/router/hostKeys';
import { SshConnection } from '../../../src/router/ssh';
import { splitConfigLine } from '../../../tools/sim/edgeos/configTree';
import type { LanHost } from '../../../tools/sim/edgeos';
import { startSimulatedRouter } from '../../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../../tools/sim/simulatedSetup';
import { recordingLog } from '../../helpers/recordingLog';
import { scratchDirectory } from '../../helpers/scratchDirectory';
import { simRouterSettings } from '../../helpers/simRouter';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'owner-configs');
const TAG = 'camera-guard: ';
const FIRST_RULE = 4000;

function fixture(file: string): string {
  return readFileSync(join(FIXTURES, file), 'utf8');
}

/** The `set` lines of a listing or fixture (a fixture's `#` lines are for the reader: EdgeOS prints no comments). */
function setLines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

interface Camera {
  readonly settings: CameraSettings;
  /** Its IPv6 address on the LAN (cameras with a MAC only). */
  readonly ipv6?: string;
}

interface OwnerConfig {
  readonly title: string;
  readonly config: () => string;
  /** The kernel name of the WAN (the plugin's `wanInterface`, and where the simulated traffic leaves). */
  readonly wan: string;
  /** The `interfaces …` node of the WAN, where the plugin's `firewall out` bindings go. */
  readonly wanPath: string;
  /** The first camera has a MAC (IPv4 and IPv6 rules), the second none (IPv4 only). */
  readonly cameras: readonly [Camera, Camera];
  /** The rulesets the plugin's rules must end up in, and whether they are the owner's (adopted). */
  readonly ruleSet: string;
  readonly ruleSet6: string;
  readonly adopted: boolean;
  /** Each camera's drop rule, when some blocks are taken by the owner's rules; undefined = no block for it. */
  readonly blockRules?: readonly (number | undefined)[];
  /** Owner rules inside the plugin's range, as `name|ipv6-name RULESET N`. */
  readonly ownerRulesInRange?: readonly string[];
  /** An owner host whose traffic the owner's rules drop, and one they let through (both unchanged by the plugin). */
  readonly ownerDropped?: string;
  readonly ownerAccepted: string;
  /** True when the fixture text must equal the router's listing line for line (false for generated text). */
  readonly canonical: boolean;
}

function camera(name: string, address: string, mac?: string, ipv6?: string): Camera {
  return { settings: { name, address, allow: [NAMED_SERVICES.dns!], allowMinutes: 0, ...(mac === undefined ? {} : { mac }) }, ipv6 };
}

const CONFIGS: readonly OwnerConfig[] = [
  {
    title: 'ER-X after the Basic Setup wizard (eth0 WAN, switch0 LAN, UTF-8 names)',
    config: () => fixture('erx-basic-setup.txt'),
    wan: 'eth0',
    wanPath: 'interfaces ethernet eth0',
    cameras: [camera('Haustür #1: Einfahrt $2', '192.168.1.50', 'b4:a3:82:10:20:30', '2001:db8:1::50'), camera('Garage\tcam\\2', '192.168.1.51')],
    ruleSet: 'CAMGUARD_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: false,
    ownerAccepted: '192.168.1.20',
    canonical: true,
  },
  {
    title: 'EdgeRouter PoE with DHCPv6 prefix delegation (the blog\'s IPv6 setup, eth1 WAN)',
    config: () => fixture('erpoe-ipv6-prefix-delegation.txt'),
    wan: 'eth1',
    wanPath: 'interfaces ethernet eth1',
    cameras: [camera('Porch', '192.168.2.50', '00:12:41:a3:70:04', '2001:db8:2::50'), camera('Yard', '192.168.2.51')],
    ruleSet: 'CAMGUARD_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: false,
    ownerAccepted: '192.168.2.20',
    canonical: true,
  },
  {
    title: 'EdgeRouter Lite on PPPoE (pppoe0 WAN)',
    config: () => fixture('erlite-pppoe-wan.txt'),
    wan: 'pppoe0',
    wanPath: 'interfaces ethernet eth0 pppoe 0',
    cameras: [camera('Hof', '192.168.10.50', '00:0e:58:11:22:33', '2001:db8:10::50'), camera('Carport', '192.168.10.51')],
    ruleSet: 'CAMGUARD_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: false,
    ownerAccepted: '192.168.10.20',
    canonical: true,
  },
  {
    title: 'EdgeRouter 4 with a VLAN WAN (eth0.10) and the forum\'s SURVEILLANCE_IN camera VLAN',
    config: () => fixture('er4-vlan-wan-surveillance.txt'),
    wan: 'eth0.10',
    wanPath: 'interfaces ethernet eth0 vif 10',
    cameras: [camera('NVR', '192.168.30.60', '24:52:6a:01:02:03', '2001:db8:30::60'), camera('Dome', '192.168.30.51')],
    ruleSet: 'CAMGUARD_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: false,
    ownerAccepted: '192.168.0.20',
    canonical: true,
  },
  {
    title: 'the owner\'s WAN-out rulesets, with owner rules inside the plugin\'s range in both families',
    config: () => fixture('owner-wan-out-in-range.txt'),
    wan: 'eth0',
    wanPath: 'interfaces ethernet eth0',
    cameras: [camera('Front Door', '192.168.1.50', '00:12:41:a3:52:03', '2001:db8:1::50'), camera('Garage', '192.168.1.51')],
    ruleSet: 'WAN_OUT',
    ruleSet6: 'WANv6_OUT',
    adopted: true,
    // Block 0 (4000-4009) holds owner rules 4000 and 4001 (IPv4), block 2 (4020-4029) owner rule 4025 (IPv6).
    blockRules: [4018, 4038],
    ownerRulesInRange: ['name WAN_OUT 4000', 'name WAN_OUT 4001', 'ipv6-name WANv6_OUT 4025'],
    ownerDropped: '192.168.1.99',
    ownerAccepted: '192.168.1.70',
    canonical: true,
  },
  {
    title: 'two WANs in failover, each with the owner\'s WAN-out ruleset, and one bound to nothing',
    config: () => fixture('dual-wan-two-out-rulesets.txt'),
    wan: 'eth0',
    wanPath: 'interfaces ethernet eth0',
    cameras: [camera('Einfahrt', '192.168.1.50', '00:12:41:a3:52:04', '2001:db8:1::50'), camera('Terrasse', '192.168.1.51')],
    ruleSet: 'WAN1_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: true,
    ownerAccepted: '192.168.1.20',
    canonical: true,
  },
  {
    title: 'a generated configuration with thousands of unrelated rules and owner rules in all but one block of the range',
    config: () => thousandsOfRules(),
    wan: 'eth0',
    wanPath: 'interfaces ethernet eth0',
    cameras: [camera('Front Door', '192.168.1.50', '00:12:41:a3:52:05', '2001:db8:1::50'), camera('Garage', '192.168.1.51')],
    ruleSet: 'WAN_OUT',
    ruleSet6: 'CAMGUARD6_OUT',
    adopted: true,
    // Only block 50 (4500-4509) is free of owner rules: the first camera gets it, the second none.
    blockRules: [4508, undefined],
    ownerRulesInRange: Array.from({ length: 100 }, (_, block) => block)
      .filter((block) => block !== 50)
      .map((block) => `name WAN_OUT ${FIRST_RULE + block * 10 + 3}`),
    ownerDropped: '10.200.0.7',
    ownerAccepted: '192.168.1.20',
    canonical: false,
  },
];

/** Descriptions of the generated rules: every character class EdgeOS quotes, and some it does not. */
const AWKWARD = ['Regel #N: $HOME', 'C:\\Daten\\N', 'tab\there N', 'café → N ✓', 'plain-N', '(N) [x] {y} <z> | ? ~ ! & ;', 'N'];

/**
 * An ER-X wizard configuration with 20 LAN-side rulesets of 125 rules each (2,500 rules, about 9,000 lines), and the
 * owner's WAN_OUT on eth0 out with 100 rules before the plugin's range, one rule in every block of the range but block
 * 50, and 100 rules after it. Printed the way EdgeOS would print it (quoting by the engine's rule, tree order).
 */
function thousandsOfRules(): string {
  const lines = setLines(fixture('erx-basic-setup.txt'));
  const quote = (word: string): string => (/[\s*}{[\];&`!$><|?#\\~():]/.test(word) ? `'${word}'` : word);
  const rule = (ruleSet: string, n: number, settings: string[]): string[] => settings.map((setting) => `set firewall name ${ruleSet} rule ${n} ${setting}`);
  for (let set = 1; set <= 20; set++) {
    const name = `VLAN${String(set).padStart(2, '0')}_IN`;
    lines.push(`set firewall name ${name} default-action accept`, `set firewall name ${name} description ${quote(`VLAN ${set}: Gäste & IoT`)}`);
    for (let n = 1; n <= 125; n++) {
      const ports = n % 3 === 0;
      lines.push(
        ...rule(name, n * 10, [
          `action ${n % 4 === 0 ? 'drop' : 'accept'}`,
          `description ${quote((AWKWARD[n % AWKWARD.length] ?? '').replace('N', String(n)))}`,
          ...(ports ? [`destination port ${1000 + n}`] : []),
          ...(n % 5 === 0 ? ['log enable'] : []),
          ...(ports ? ['protocol tcp'] : []),
          `source address 10.${set}.0.${n}`,
        ]),
      );
    }
  }
  lines.push('set firewall name WAN_OUT default-action accept', `set firewall name WAN_OUT description ${quote('LAN → Internet: $everything')}`);
  const outRule = (n: number, action: string, description: string, source: string): void => {
    lines.push(...rule('WAN_OUT', n, [`action ${action}`, `description ${quote(description)}`, ...(n % 7 === 0 ? ['log enable'] : []), `source address ${source}`]));
  };
  for (let n = 10; n <= 1000; n += 10) outRule(n, 'drop', `blocked #${n}`, `10.200.0.${n / 10}`);
  for (let block = 0; block < 100; block++) {
    if (block !== 50) outRule(FIRST_RULE + block * 10 + 3, 'accept', `owner: block ${block}`, `10.201.0.${block + 1}`);
  }
  for (let n = 5010; n <= 6000; n += 10) outRule(n, 'accept', `after\\range ${n}`, `10.202.0.${(n - 5000) / 10}`);
  lines.push('set interfaces ethernet eth0 firewall out name WAN_OUT');
  return `${lines.join('\n')}\n`;
}

/** The words of each line of a listing. */
function parsed(lines: readonly string[]): string[][] {
  return lines.map((line) => splitConfigLine(line.slice('set '.length)));
}

/**
 * The lines the plugin wrote: its own rulesets when it created them, its tagged rules (description `camera-guard: …`)
 * in any ruleset, and a WAN `out` binding of its rulesets that was not there before. Everything else is the owner's.
 */
function pluginLines(after: readonly string[], before: readonly string[], config: OwnerConfig): Set<string> {
  const words = parsed(after);
  const tagged = new Set(
    words
      .filter((w) => w[0] === 'firewall' && w[3] === 'rule' && w[5] === 'description' && w.length === 7 && (w[6] ?? '').startsWith(TAG))
      .map((w) => w.slice(1, 5).join(' ')),
  );
  const beforeLines = new Set(before);
  const own = new Set([...(config.adopted ? [] : [`name ${config.ruleSet}`]), ...(config.ruleSet6.startsWith('CAMGUARD') ? [`ipv6-name ${config.ruleSet6}`] : [])]);
  const bindings = new Set([`set ${config.wanPath} firewall out name ${config.ruleSet}`, `set ${config.wanPath} firewall out ipv6-name ${config.ruleSet6}`]);
  return new Set(
    after.filter((line, i) => {
      const w = words[i] ?? [];
      if (w[0] === 'firewall' && own.has(w.slice(1, 3).join(' '))) return true;
      if (w[0] === 'firewall' && w[3] === 'rule' && tagged.has(w.slice(1, 5).join(' '))) return true;
      return bindings.has(line) && !beforeLines.has(line);
    }),
  );
}

function ownerPart(after: readonly string[], before: readonly string[], config: OwnerConfig): string[] {
  const plugin = pluginLines(after, before, config);
  return after.filter((line) => !plugin.has(line));
}

/** The lines of one rule, as `name|ipv6-name RULESET N`. */
function ruleLines(lines: readonly string[], rule: string): string[] {
  const [kind, ruleSet, n] = rule.split(' ');
  return lines.filter((line) => line.startsWith(`set firewall ${kind} ${ruleSet} rule ${n} `));
}

const tcp443 = (from: string) => ({ from, protocol: 'tcp' as const, port: 443, packets: 1, bytes: 100 });
const udp53 = (from: string) => ({ from, protocol: 'udp' as const, port: 53, packets: 1, bytes: 80 });

function driverFor(sim: SimulatedRouterSetup, config: OwnerConfig): EdgeOsRouter {
  const settings = simRouterSettings(
    sim,
    config.cameras.map((c) => c.settings),
    { wanInterface: config.wan },
  );
  const knownHosts = new KnownHosts(join(scratchDirectory('cg-known-'), 'known.json'));
  return new EdgeOsRouter(settings, new SshConnection(settings, knownHosts, recordingLog()));
}

/** Reads, blocks every camera, opens the first, blocks it again; checks readings, traffic and the owner's lines at each step. */
async function guardCamerasIn(config: OwnerConfig): Promise<void> {
  const text = config.config();
  const cameras = config.cameras.map((c) => c.settings);
  const [withMac, withoutMac] = config.cameras;
  const lanHosts: LanHost[] = config.cameras.map((c) => ({
    ip: c.settings.address,
    mac: c.settings.mac ?? '00:00:5e:00:53:01',
    hostname: c.settings.name,
    ...(c.ipv6 === undefined ? {} : { ipv6: [c.ipv6] }),
  }));
  const sim = await startSimulatedRouter({ initialConfig: text, lanHosts });
  // The simulated packets leave through this WAN (the option the simulator takes at its creation).
  await sim.router.store.update((state) => {
    state.options.wanInterface = config.wan;
  });
  const driver = driverFor(sim, config);
  try {
    const before = setLines(await sim.router.activeConfigCommands());
    if (config.canonical) {
      // The fixture is exactly what EdgeOS prints, and the router holds every one of its lines.
      expect(before).toEqual(setLines(text));
    } else {
      expect(new Set(before)).toEqual(new Set(setLines(text)));
      expect(before).toHaveLength(setLines(text).length);
    }
    expect(pluginLines(before, before, config).size).toBe(0);

    await driver.connect();
    const first = await driver.read(cameras);
    // It read every line: nothing left out, the WAN and the LAN addresses found, the owner's ruleset adopted or not.
    expect(first.notes).toEqual([]);
    // Enforced already only when the owner's rulesets of both families are on WAN out.
    const enforced = config.adopted && config.ruleSet6 !== 'CAMGUARD6_OUT';
    expect(first).toMatchObject({ ruleSet: config.ruleSet, adopted: config.adopted, enforced, unlisted: [] });
    expect(first.routerAddresses.length).toBeGreaterThan(0);
    checkRangeWarnings(first, config);
    const blockRules = config.blockRules ?? [4008, 4018];
    const guarded = config.cameras.filter((_, i) => blockRules[i] !== undefined);
    for (const c of guarded) {
      expect(first.cameras.get(c.settings.address)?.status).toBe('missing');
    }

    const blocked = await applyChanges(driver, cameras, cameras.map((c) => ({ camera: c, access: 'blocked' as const })));
    expect(blocked).toMatchObject({ result: 'committed', saved: true });
    const afterBlock = await driver.read(cameras);
    expect(afterBlock).toMatchObject({ ruleSet: config.ruleSet, adopted: config.adopted, enforced: true, repairs: [] });
    for (const c of guarded) {
      expect(afterBlock.cameras.get(c.settings.address)).toMatchObject({ status: 'intact', access: 'blocked' });
      expect(afterBlock.cameras.get(c.settings.address)?.notInForce).toBeUndefined();
      expect(await sim.router.sendTraffic(tcp443(c.settings.address))).toBe('dropped');
      expect(await sim.router.sendTraffic(udp53(c.settings.address))).toBe('accepted');
    }
    if (withMac.ipv6 !== undefined && guarded.includes(withMac)) {
      expect(await sim.router.sendTraffic(tcp443(withMac.ipv6))).toBe('dropped');
      expect(await sim.router.sendTraffic(udp53(withMac.ipv6))).toBe('accepted');
    }
    await checkOwnerTraffic(sim, config);
    await checkRules(sim, before, config);

    const opened = await applyChanges(driver, cameras, [{ camera: withMac.settings, access: 'allowed' }]);
    expect(opened).toMatchObject({ result: 'committed', saved: true });
    const afterOpen = await driver.read(cameras);
    if (guarded.includes(withMac)) {
      expect(afterOpen.cameras.get(withMac.settings.address)).toMatchObject({ status: 'intact', access: 'allowed' });
      expect(await sim.router.sendTraffic(tcp443(withMac.settings.address))).toBe('accepted');
      if (withMac.ipv6 !== undefined) expect(await sim.router.sendTraffic(tcp443(withMac.ipv6))).toBe('accepted');
    }
    if (guarded.includes(withoutMac)) {
      expect(afterOpen.cameras.get(withoutMac.settings.address)).toMatchObject({ status: 'intact', access: 'blocked' });
      expect(await sim.router.sendTraffic(tcp443(withoutMac.settings.address))).toBe('dropped');
    }
    await checkOwnerTraffic(sim, config);
    await checkRules(sim, before, config);

    expect((await applyChanges(driver, cameras, [{ camera: withMac.settings, access: 'blocked' }])).result).toBe('committed');
    const last = await driver.read(cameras);
    for (const c of guarded) {
      expect(last.cameras.get(c.settings.address)).toMatchObject({ status: 'intact', access: 'blocked' });
      expect(await sim.router.sendTraffic(tcp443(c.settings.address))).toBe('dropped');
    }
    checkRangeWarnings(last, config);
    await checkOwnerTraffic(sim, config);
    const after = await checkRules(sim, before, config);
    expect(setLines(await sim.router.savedConfigCommands())).toEqual(after);
    expect(await sim.router.openSessionCount()).toBe(0);
  } finally {
    driver.close();
    await sim.dispose();
  }
}

/** Owner rules in the plugin's range are named in a warning, and a camera left without a block is named too. */
function checkRangeWarnings(reading: RouterReading, config: OwnerConfig): void {
  const warnings = reading.warnings.join('\n');
  const inRange = (config.ownerRulesInRange ?? []).map((rule) => Number(rule.split(' ')[2])).sort((a, b) => a - b);
  if (inRange.length === 0) {
    expect(warnings).not.toMatch(/plugin's range/);
  } else {
    expect(warnings).toContain(`rules ${inRange.join(', ')} in ${config.ruleSet}`);
    expect(warnings).toContain(`sit in the plugin's range ${FIRST_RULE}-${FIRST_RULE + 999} but were not written by it; they are left alone`);
  }
  config.cameras.forEach((c, i) => {
    const homeless = `no free rule numbers for camera "${c.settings.name}"`;
    if ((config.blockRules ?? [4008, 4018])[i] === undefined) {
      expect(warnings).toContain(homeless);
      expect(reading.cameras.has(c.settings.address)).toBe(false);
    } else {
      expect(warnings).not.toContain(homeless);
    }
  });
}

/** The owner's own rules still decide the owner's traffic. */
async function checkOwnerTraffic(sim: SimulatedRouterSetup, config: OwnerConfig): Promise<void> {
  expect(await sim.router.sendTraffic(tcp443(config.ownerAccepted))).toBe('accepted');
  if (config.ownerDropped !== undefined) {
    expect(await sim.router.sendTraffic(tcp443(config.ownerDropped))).toBe('dropped');
  }
}

/**
 * The owner's part is the configuration as it was, line for line and in order; the plugin's rules sit in its range, in
 * the expected rulesets, in the expected blocks; the owner's rules in the range are untouched. Returns the listing.
 */
async function checkRules(sim: SimulatedRouterSetup, before: readonly string[], config: OwnerConfig): Promise<string[]> {
  const after = setLines(await sim.router.activeConfigCommands());
  expect(ownerPart(after, before, config)).toEqual(before);
  for (const rule of config.ownerRulesInRange ?? []) {
    expect(ruleLines(before, rule).length).toBeGreaterThan(0);
    expect(ruleLines(after, rule)).toEqual(ruleLines(before, rule));
  }
  const plugin = [...pluginLines(after, before, config)];
  const ruleNumbers = new Set(
    parsed(plugin)
      .filter((w) => w[0] === 'firewall' && w[3] === 'rule')
      .map((w) => `${w[1]} ${w[2]} ${w[4]}`),
  );
  const blockRules = (config.blockRules ?? [4008, 4018]).filter((n): n is number => n !== undefined);
  for (const key of ruleNumbers) {
    const [kind, ruleSet, n] = key.split(' ');
    expect(`${kind} ${ruleSet}`).toBe(kind === 'name' ? `name ${config.ruleSet}` : `ipv6-name ${config.ruleSet6}`);
    // Every plugin rule belongs to the block of a guarded camera (block rule = base + 8).
    expect(blockRules).toContain(Math.floor(Number(n) / 10) * 10 + 8);
  }
  for (const n of blockRules) {
    expect(ruleNumbers.has(`name ${config.ruleSet} ${n}`)).toBe(true);
  }
  const withMacBlock = config.blockRules?.[0] ?? 4008;
  expect(ruleNumbers.has(`ipv6-name ${config.ruleSet6} ${withMacBlock}`)).toBe(true);
  // Both families' rulesets are on the WAN's out slot (bound by the owner, or by the plugin).
  expect(after).toContain(`set ${config.wanPath} firewall out name ${config.ruleSet}`);
  expect(after).toContain(`set ${config.wanPath} firewall out ipv6-name ${config.ruleSet6}`);
  return after;
}

/**
 * PPPoE inside a VLAN, the usual fibre setup in Germany, the UK and New Zealand. The driver does not find pppoe0 there:
 * it reads `interfaces ethernet eth0 vif 7 pppoe 0 …` as settings of eth0.7 (firewallConfig.ts, readInterfaceLine,
 * looks one `vif`/`pppoe` level deep only), so the read fails with "the router has no interface pppoe0, which
 * "wanInterface" names; it has eth0, eth0.7, eth1, eth2, switch0". Marked failing until the driver is fixed.
 */
const PPPOE_OVER_VLAN: OwnerConfig = {
  title: 'PPPoE inside VLAN 7 on a fibre line (pppoe0 WAN under eth0 vif 7)',
  config: () => fixture('pppoe-over-vlan-wan.txt'),
  wan: 'pppoe0',
  wanPath: 'interfaces ethernet eth0 vif 7 pppoe 0',
  cameras: [camera('Tor', '192.168.178.50', '00:12:41:a3:52:06', '2001:db8:178::50'), camera('Garten', '192.168.178.51')],
  ruleSet: 'CAMGUARD_OUT',
  ruleSet6: 'CAMGUARD6_OUT',
  adopted: false,
  ownerAccepted: '192.168.178.20',
  canonical: true,
};

describe('realistic owner configurations: the plugin guards its cameras and leaves every owner line as it was', () => {
  for (const config of CONFIGS) {
    it(`${config.title}`, () => guardCamerasIn(config), 300_000);
  }
  // It did not find pppoe0 under a vif ("the router has no interface pppoe0") until the driver followed vif and pppoe as deep as they go.
  it(`${PPPOE_OVER_VLAN.title}`, () => guardCamerasIn(PPPOE_OVER_VLAN), 300_000);
});
