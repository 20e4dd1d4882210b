/**
 * What the router prints can be cut short, reordered, enormous, not UTF-8, worded differently, or hold counters
 * that jump backwards or past 64 bits. The parsers must return an error rather than a wrong number, nothing may
 * crash, and no leak sensor may trip on traffic the router did not really count.
 *
 * "A false trip" below means: the leak sensor trips although the router's counters for that camera did not
 * really rise by the threshold (blocked drops >= attempts, any egress while blocked, more than uploadBytes while
 * allowed) within the window plus one poll (counters are only seen at polls). A counter that goes down was
 * reset (rule re-inserted, reboot, cleared): whatever it shows afterwards was counted after the reset.
 */
import fc from 'fast-check';

import type { CameraSettings, LeakSettings } from '../../src/config';
import { NAMED_SERVICES } from '../../src/config';
import { LeakDetector } from '../../src/guard/leakDetector';
import type { LeakTrip } from '../../src/guard/leakDetector';
import type { Access, EgressCounters, RouterReading } from '../../src/router/driver';
import { RouterError } from '../../src/router/driver';
import { MARK, parseTransactionOutput, ruleSetPaths, shellWord } from '../../src/router/edgeos/commands';
import { EdgeOsRouter } from '../../src/router/edgeos/edgeosRouter';
import { readFirewall } from '../../src/router/edgeos/firewallConfig';
import type { EdgeOsFirewall } from '../../src/router/edgeos/firewallConfig';
import { parseChainCounters, parseConfigCommands, parseNeighbours, parseOffload } from '../../src/router/edgeos/parsers';
import type { RuleCounter } from '../../src/router/edgeos/parsers';
import { RuleSetLayout } from '../../src/router/edgeos/ruleSetLayout';
import { KnownHosts } from '../../src/router/hostKeys';
import { SshConnection } from '../../src/router/ssh';
import { MAX_CONFIGURATION_OUTPUT_BYTES } from '../../src/settings';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWithHeapLimit } from '../helpers/heapLimitedNode';
import { recordingLog } from '../helpers/recordingLog';
import { startRecordingSshServer, USER } from '../helpers/recordingSshServer';
import type { RecordingSshServer } from '../helpers/recordingSshServer';
import { countGeneratedInputs } from './countInputs';

countGeneratedInputs(__filename);

const RS = 'CAMGUARD_OUT';
const frontDoor: CameraSettings = { name: 'Front Door', address: '192.168.1.50', allow: [NAMED_SERVICES.dns!], allowMinutes: 0 };
const garage: CameraSettings = { name: 'Garage Küche', address: '192.168.1.51', allow: [], allowMinutes: 0 };
const cameras = [frontDoor, garage];
const layout = new RuleSetLayout(4000);

// ---- realistic samples, built with the real command builders and the real EdgeOS/iptables layouts ----

function pluginLines(camera: CameraSettings, slot: number, access: Access): string[] {
  return layout.rulesFor(camera, slot, access).flatMap((spec) => ruleSetPaths(RS, spec).map((path) => `set ${path.map(shellWord).join(' ')}`));
}

/** `show configuration commands` of a router with the plugin's ruleset bound to WAN out and the owner's own rules. */
const CONFIG = [
  'set firewall all-ping enable',
  'set firewall broadcast-ping disable',
  `set firewall name ${RS} default-action accept`,
  `set firewall name ${RS} description 'Camera Guard: camera internet access'`,
  ...pluginLines(frontDoor, 0, 'blocked'),
  ...pluginLines(garage, 1, 'allowed'),
  'set firewall name WAN_IN default-action drop',
  "set firewall name WAN_IN description 'WAN to internal'",
  'set firewall name WAN_IN rule 10 action accept',
  "set firewall name WAN_IN rule 10 description 'Allow established/related'",
  'set firewall name WAN_IN rule 10 state established enable',
  'set firewall name WAN_IN rule 10 state related enable',
  'set interfaces ethernet eth0 address dhcp',
  "set interfaces ethernet eth0 description 'Internet (Glasfaser Küche)'",
  'set interfaces ethernet eth0 firewall in name WAN_IN',
  `set interfaces ethernet eth0 firewall out name ${RS}`,
  'set interfaces switch switch0 address 192.168.1.1/24',
  "set interfaces switch switch0 description 'Local'",
  'set service ssh port 22',
  'set system host-name ubnt',
  '',
].join('\n');

/** One `iptables -L -v -n -x` row, with the column widths iptables uses (%8llu, and numbers that overflow them). */
function row(packets: number | string, bytes: number | string, target: string, protocol: string, source: string, comment: string, tail = ''): string {
  return `${String(packets).padStart(8)} ${String(bytes).padStart(8)} ${target.padEnd(10)} ${protocol.padEnd(4)} --  *      *       ${source.padEnd(20)} 0.0.0.0/0            /* ${comment} */${tail}`;
}

const HEADER = '    pkts      bytes target     prot opt in     out     source               destination         ';

/** The chain as EdgeOS compiles the configuration above: Garage's block rule is disabled, so it has no row. */
function listing(counts: { dnsTcp: number; dnsUdp: number; frontDrop: number; frontEgress: number; garageEgress: number; garageBytes: number }): string {
  return [
    `Chain ${RS} (1 references)`,
    HEADER,
    row(counts.dnsTcp, counts.dnsTcp * 70, 'RETURN', 'tcp', frontDoor.address, `${RS}-4000`, ' tcp dpt:53'),
    row(counts.dnsUdp, counts.dnsUdp * 70, 'RETURN', 'udp', frontDoor.address, `${RS}-4000`, ' udp dpt:53'),
    // Front Door's tries-log rule: its LOG row (never counted) and its limited DROP row (counted with 4008).
    row(0, 0, 'LOG', 'all', frontDoor.address, `${RS}-4007`, ` limit: avg 6/min burst 5 LOG flags 0 level 4 prefix "[${RS}-4007-D]"`),
    row(0, 0, 'DROP', 'all', frontDoor.address, `${RS}-4007`, ' limit: avg 6/min burst 5'),
    row(counts.frontDrop, counts.frontDrop * 60, 'DROP', 'all', frontDoor.address, `${RS}-4008`),
    row(counts.frontEgress, counts.frontEgress * 500, 'RETURN', 'all', frontDoor.address, `${RS}-4009`),
    row(counts.garageEgress, counts.garageBytes, 'RETURN', 'all', garage.address, `${RS}-4019`),
    row(1778, 980898, 'RETURN', 'all', '0.0.0.0/0', `${RS}-10000 default-action accept`),
    '',
  ].join('\n');
}

const COUNTS = { dnsTcp: 12, dnsUdp: 3, frontDrop: 77, frontEgress: 0, garageEgress: 52113, garageBytes: 81025601206 };
const LISTING = listing(COUNTS);
const LISTING_COUNTERS = new Map<number, RuleCounter>([
  [4000, { packets: 15, bytes: 1050 }],
  [4007, { packets: 0, bytes: 0 }],
  [4008, { packets: 77, bytes: 4620 }],
  [4009, { packets: 0, bytes: 0 }],
  [4019, { packets: 52113, bytes: 81025601206 }],
  [10000, { packets: 1778, bytes: 980898 }],
]);

const readOutput = (config: string, chain: string): string => `${MARK.config}\n${config}${MARK.counters}\n${chain}${MARK.end}\n`;
const READ = readOutput(CONFIG, LISTING);

const OFFLOAD = readFileSync(join(__dirname, '../fixtures/edgeos/edgeos_show_ubnt_offload_ER-4.txt'), 'utf8').split('\n').slice(2).join('\n');

const TRANSACTION_OK = [
  `${MARK.op} 0`,
  'The specified configuration node already exists',
  MARK.edited,
  MARK.committed,
  "Saving configuration to '/config/config.boot'...",
  'Done',
  MARK.saved,
  'No changes have been discarded',
  MARK.done,
  '',
].join('\n');
const TRANSACTION_FAILED = [`${MARK.op} 0`, MARK.edited, '[ firewall name CAMGUARD_OUT rule 4008 ]', 'Firewall config error: Rule set CAMGUARD_OUT is not configured', '', 'Commit failed', MARK.done, ''].join('\n');

// ---- helpers ----

/** Decodes bytes the way the SSH layer does: each packet on its own with `chunk.toString('utf8')`. */
function sshDecode(bytes: Buffer, chunkSize = bytes.length): string {
  let text = '';
  for (let at = 0; at < bytes.length; at += Math.max(1, chunkSize)) {
    text += bytes.subarray(at, at + Math.max(1, chunkSize)).toString('utf8');
  }
  return text;
}

/** Every prefix of the sample, cut at each byte (a multi-byte character cut in half decodes to U+FFFD). */
function* cuts(sample: string): Generator<[number, string]> {
  const bytes = Buffer.from(sample, 'utf8');
  for (let at = 0; at <= bytes.length; at++) {
    yield [at, bytes.subarray(0, at).toString('utf8')];
  }
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!result.ok) {
    throw new Error(result.error);
  }
  return result.value;
}

/** A router driver whose SSH connection answers every command with the given output. */
function driverAnswering(answer: () => string): EdgeOsRouter {
  const ssh = {
    connected: true,
    connect: () => Promise.resolve(),
    close: () => undefined,
    exec: () => Promise.resolve({ stdout: answer(), stderr: '', code: 0 }),
  } as unknown as SshConnection;
  return new EdgeOsRouter({ wanInterface: 'eth0', ruleSet: RS, firstRule: 4000, saveConfig: true }, ssh);
}

async function readWith(stdout: string): Promise<RouterReading | RouterError> {
  try {
    return await driverAnswering(() => stdout).read(cameras);
  } catch (error) {
    if (error instanceof RouterError) {
      return error;
    }
    throw error;
  }
}

/** The firewall in a form that does not depend on line order (map order, address and setting order). */
function normalised(firewall: EdgeOsFirewall): unknown {
  return {
    ruleSets: [...firewall.ruleSets.values()]
      .map((ruleSet) => ({
        ...ruleSet,
        rules: [...ruleSet.rules.values()].map((rule) => ({ ...rule, otherSettings: [...rule.otherSettings].sort() })).sort((a, b) => a.number - b.number),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    interfaces: [...firewall.interfaces.values()].map((iface) => ({ ...iface, addresses: [...iface.addresses].sort() })).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

const timings: string[] = [];
afterAll(() => {
  process.stdout.write(`${timings.join('\n')}\n`);
});

// ---- the samples themselves ----

describe('the realistic samples', () => {
  it('read as the router means them (so the hostile variants below are compared with the truth)', async () => {
    expect(unwrap(parseChainCounters(LISTING, RS))).toEqual(LISTING_COUNTERS);
    expect(unwrap(parseOffload(OFFLOAD))).toEqual({ ipv4Forwarding: true, ipv6Forwarding: false });
    const reading = await readWith(READ);
    expect(reading).not.toBeInstanceOf(RouterError);
    const cams = (reading as RouterReading).cameras;
    expect(cams.get(frontDoor.address)).toEqual({ status: 'intact', access: 'blocked', counters: { blockedPackets: 77, egressPackets: 0, egressBytes: 0 } });
    expect(cams.get(garage.address)).toEqual({ status: 'intact', access: 'allowed', counters: { blockedPackets: undefined, egressPackets: 52113, egressBytes: 81025601206 } });
  });
});

// ---- truncated at every byte ----

describe('output cut short at every byte', () => {
  it('never gives a counter for a rule whose row was cut: the chain listing is exact or an error', () => {
    let exact = 0;
    let refused = 0;
    for (const [at, text] of cuts(LISTING)) {
      const parsed = parseChainCounters(text, RS);
      if (parsed.ok) {
        expect({ at, counters: parsed.value }).toEqual({ at, counters: LISTING_COUNTERS });
        exact++;
      } else {
        refused++;
      }
    }
    // Only the cuts after the default action's comment are complete listings.
    expect(exact).toBeLessThanOrEqual(2);
    expect(exact + refused).toBe(Buffer.byteLength(LISTING) + 1);
  });

  it('never invents a configuration line: every complete line reads as in the full output; only the cut line may be partial', () => {
    const full = unwrap(parseConfigCommands(CONFIG)).paths;
    for (const [at, text] of cuts(CONFIG)) {
      const parsed = parseConfigCommands(text);
      if (!parsed.ok) {
        continue;
      }
      const paths = parsed.value.paths;
      const complete = text.endsWith('\n') ? paths.length : paths.length - 1;
      expect({ at, paths: paths.slice(0, complete) }).toEqual({ at, paths: full.slice(0, complete) });
      if (complete < paths.length) {
        // The cut line is a prefix of the real one; the driver refuses such a read (its end mark is missing).
        expect(full[complete]!.join(' ').startsWith(paths[complete]!.join(' ').replace(/\uFFFD$/, ''))).toBe(true);
      }
      expect(() => readFirewall(paths)).not.toThrow();
    }
  });

  it('makes the driver refuse the whole read, or read exactly what the full output says, wherever it is cut', async () => {
    const full = await readWith(READ);
    let refused = 0;
    for (const [at, text] of cuts(READ)) {
      const reading = await readWith(text);
      if (reading instanceof RouterError) {
        refused++;
        continue;
      }
      expect({ at, reading }).toEqual({ at, reading: full });
    }
    expect(refused).toBeGreaterThanOrEqual(Buffer.byteLength(READ) - 2);
  });

  it('never reports hardware offload that the full output does not, and never guesses "off" from a cut report', () => {
    for (const sample of [OFFLOAD, OFFLOAD.replace('forwarding: enabled', 'forwarding: disabled')]) {
      const truth = unwrap(parseOffload(sample));
      for (const [at, text] of cuts(sample)) {
        const parsed = parseOffload(text);
        if (parsed.ok) {
          expect({ at, value: parsed.value }).toEqual({ at, value: truth });
        }
      }
    }
  });

  it('never reads a cut transaction as more successful than the full one, and keeps every complete error line', () => {
    for (const sample of [TRANSACTION_OK, TRANSACTION_FAILED]) {
      const truth = parseTransactionOutput(sample, '');
      for (const [at, text] of cuts(sample)) {
        const report = parseTransactionOutput(text, '');
        for (const flag of ['edited', 'committed', 'saved', 'locked'] as const) {
          if (report[flag]) {
            expect({ at, flag, truth: truth[flag] }).toEqual({ at, flag, truth: true });
          }
        }
        const complete = text.endsWith('\n') ? report.errors : report.errors.slice(0, -1);
        expect(truth.errors.slice(0, complete.length)).toEqual(complete.filter((line) => line !== ''));
      }
      expect(parseTransactionOutput(sample, '')).toEqual(truth);
    }
    // A transaction whose output stops before the commit mark is never taken as committed.
    expect(parseTransactionOutput(TRANSACTION_OK.slice(0, TRANSACTION_OK.indexOf(MARK.committed) + 10), '').committed).toBe(false);
  });
});

// ---- reordered ----

describe('the neighbour table, cut or damaged anywhere (fast-check)', () => {
  const NEIGHBOURS = readFileSync(join(__dirname, '../fixtures/lab/iproute2_ip_neigh_show.txt'), 'utf8').split('\n').slice(1).join('\n');
  const truth = unwrap(parseNeighbours(NEIGHBOURS));
  const known = new Set(truth.map((neighbour) => `${neighbour.address} ${neighbour.mac}`));

  // Damage as a broken transport makes it: the text ends anywhere, and a byte may be one that is not text at all
  // (a control character, or one that is not UTF-8). A byte that turns one digit into another cannot be told from the truth.
  const notText = fc.oneof(fc.integer({ min: 0, max: 0x1f }).filter((byte) => byte !== 0x0a), fc.integer({ min: 0x7f, max: 0xff }));

  it('never names an address with a MAC the full table does not pair it with (that would cut another device\'s connections)', () => {
    fc.assert(
      fc.property(fc.nat({ max: NEIGHBOURS.length }), fc.nat({ max: NEIGHBOURS.length }), notText, fc.boolean(), (cut, at, byte, corrupt) => {
        const damaged = Buffer.from(NEIGHBOURS.slice(0, cut), 'latin1');
        if (corrupt && at < damaged.length) damaged[at] = byte;
        const parsed = parseNeighbours(damaged.toString('utf8'));
        if (parsed.ok) {
          for (const neighbour of parsed.value) expect(known.has(`${neighbour.address} ${neighbour.mac}`)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an entry whose first digit became a tab or a space (found by the property above: it read as another address)', () => {
    const first = NEIGHBOURS.split('\n')[0]!;
    expect(parseNeighbours(`\t${first.slice(1)}`).ok).toBe(false);
    expect(parseNeighbours(` ${first.slice(1)}`).ok).toBe(false);
  });
});

describe('reordered lines', () => {
  const setLines = CONFIG.split('\n').filter((line) => line !== '');

  it('give the same firewall, whatever order the configuration lines come in (fast-check)', () => {
    const truth = normalised(readFirewall(unwrap(parseConfigCommands(CONFIG)).paths));
    fc.assert(
      fc.property(fc.shuffledSubarray(setLines, { minLength: setLines.length, maxLength: setLines.length }), (shuffled) => {
        expect(normalised(readFirewall(unwrap(parseConfigCommands(shuffled.join('\n'))).paths))).toEqual(truth);
      }),
      { numRuns: 300 },
    );
  });

  it('give the same counters or an error, whatever order the listing lines come in (fast-check)', () => {
    const lines = LISTING.split('\n');
    fc.assert(
      fc.property(fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }), (shuffled) => {
        const parsed = parseChainCounters(shuffled.join('\n'), RS);
        if (parsed.ok) {
          expect(parsed.value).toEqual(LISTING_COUNTERS);
        }
      }),
      { numRuns: 500 },
    );
    // Rows shuffled under the header, default action still last: same sums.
    const last = lines.findIndex((line) => line.includes('default-action'));
    const rows = lines.slice(2, last);
    const reordered = [lines[0], lines[1], ...rows.reverse(), lines[last], ''].join('\n');
    expect(unwrap(parseChainCounters(reordered, RS))).toEqual(LISTING_COUNTERS);
  });

  it('refuse a listing whose default action is not last, or that lists the chain twice', () => {
    const lines = LISTING.split('\n');
    const last = lines.findIndex((line) => line.includes('default-action'));
    const defaultFirst = [lines[0], lines[1], lines[last], ...lines.slice(2, last), ''].join('\n');
    expect(parseChainCounters(defaultFirst, RS).ok).toBe(false);
    expect(parseChainCounters(`${LISTING}\n${LISTING}`, RS).ok).toBe(false);
  });
});

// ---- enormous ----

describe('100,000 rules', () => {
  const N = 100_000;

  /** The owner's rules spread over rulesets of 9,999 (EdgeOS's limit), around the plugin's own. */
  function bigConfig(): string {
    const lines: string[] = [];
    for (let i = 0; i < N; i++) {
      const ruleSet = `OWNER_${Math.floor(i / 9999)}`;
      const rule = (i % 9999) + 1;
      lines.push(`set firewall name ${ruleSet} rule ${rule} action ${i % 2 === 0 ? 'accept' : 'drop'}`);
      lines.push(`set firewall name ${ruleSet} rule ${rule} description 'owner rule ${i}'`);
      lines.push(`set firewall name ${ruleSet} rule ${rule} source address 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    }
    return `${CONFIG}${lines.join('\n')}\n`;
  }

  /** 100,000 rows in the plugin's chain: the owner's rules 1-3999 several rows each, the plugin's, the default. */
  function bigListing(): { text: string; expected: Map<number, RuleCounter> } {
    const expected = new Map<number, RuleCounter>(LISTING_COUNTERS);
    const rows: string[] = [];
    for (let i = 0; i < N; i++) {
      const rule = (i % 3999) + 1;
      const packets = i * 7919;
      const bytes = packets * 1500;
      rows.push(row(packets, bytes, i % 5 === 0 ? 'DROP' : 'RETURN', 'all', `10.0.${(i >> 8) & 255}.${i & 255}`, `${RS}-${rule}`));
      const sum = expected.get(rule) ?? { packets: 0, bytes: 0 };
      expected.set(rule, { packets: sum.packets + packets, bytes: sum.bytes + bytes });
    }
    const small = LISTING.split('\n');
    return { text: [small[0], small[1], ...rows, ...small.slice(2)].join('\n'), expected };
  }

  it('a 100k-rule configuration parses completely and the cameras are still found in it, but over SSH the read refuses it at the configuration cap', async () => {
    const config = bigConfig();
    const started = performance.now();
    const paths = unwrap(parseConfigCommands(config)).paths;
    const firewall = readFirewall(paths);
    const elapsed = performance.now() - started;
    timings.push(`100k-rule configuration (${(config.length / 1e6).toFixed(1)} MB, ${paths.length} lines): parse + readFirewall ${elapsed.toFixed(0)} ms`);
    expect(paths.length).toBe(CONFIG.split('\n').filter((line) => line.startsWith('set ')).length + 3 * N);
    // The owner's N, WAN_IN's rule 10, and the plugin's seven (Front Door: dns, tries log, block, count; Garage: tries log, block, count).
    expect([...firewall.ruleSets.values()].reduce((total, ruleSet) => total + ruleSet.rules.size, 0)).toBe(N + 1 + 7);
    expect(firewall.ruleSets.get('OWNER_10')?.rules.get(1)).toMatchObject({ action: 'accept', description: 'owner rule 99990', sourceAddress: '10.1.134.150' });
    expect(elapsed).toBeLessThan(10_000);

    // 17.9 MB is more than twice the cap: a router printing this much is broken or hostile, and is told so plainly.
    const output = readOutput(config, LISTING);
    expect(Buffer.byteLength(output)).toBeGreaterThan(2 * MAX_CONFIGURATION_OUTPUT_BYTES);
    const reading = await readOverSsh(output);
    expect(reading).toBeInstanceOf(RouterError);
    expect(reading).toMatchObject({ kind: 'protocol', message: expect.stringMatching(/^the router sent more than 8 MB in answer to one command, so the plugin stopped reading/) });
  });

  it('a 100k-row chain listing sums every rule exactly', () => {
    const { text, expected } = bigListing();
    const started = performance.now();
    const counters = unwrap(parseChainCounters(text, RS));
    const elapsed = performance.now() - started;
    timings.push(`100k-row chain listing (${(text.length / 1e6).toFixed(1)} MB): parseChainCounters ${elapsed.toFixed(0)} ms`);
    expect(counters).toEqual(expected);
    expect(elapsed).toBeLessThan(10_000);
  });
});

/** `n` owner rules (three lines each, 180 bytes a rule) in rulesets of 9,999, around the realistic sample. */
function ownerRules(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const ruleSet = `OWNER_${Math.floor(i / 9999)}`;
    const rule = (i % 9999) + 1;
    lines.push(`set firewall name ${ruleSet} rule ${rule} action ${i % 2 === 0 ? 'accept' : 'drop'}`);
    lines.push(`set firewall name ${ruleSet} rule ${rule} description 'owner rule ${i}'`);
    lines.push(`set firewall name ${ruleSet} rule ${rule} source address 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  return `${CONFIG}${lines.join('\n')}\n`;
}

/** A router on loopback SSH that answers every command with `output`. */
async function routerPrinting(output: string): Promise<RecordingSshServer> {
  return startRecordingSshServer({
    answer: (_command, channel) => {
      channel.write(output);
      channel.exit(0);
      channel.end();
    },
  });
}

const DRIVER_SETTINGS = { wanInterface: 'eth0', ruleSet: RS, firstRule: 4000, saveConfig: true };

/** The driver's read of a router that prints `output`, through the real SSH connection (and so its output caps). */
async function readOverSsh(output: string): Promise<RouterReading | RouterError> {
  const router = await routerPrinting(output);
  const directory = mkdtempSync(join(tmpdir(), 'cg-hostile-'));
  const target = { host: router.address, port: router.port, username: USER, privateKeyFile: router.privateKeyFile, passphrase: undefined, password: undefined, hostKey: router.hostKeyFingerprint };
  const ssh = new SshConnection(target, new KnownHosts(join(directory, 'known.json')), recordingLog());
  try {
    await ssh.connect();
    return await new EdgeOsRouter(DRIVER_SETTINGS, ssh).read(cameras);
  } catch (error) {
    if (error instanceof RouterError) {
      return error;
    }
    throw error;
  } finally {
    ssh.close();
    await router.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

describe('large configurations read over SSH', () => {
  const frontDoorBlocked = { status: 'intact', access: 'blocked', counters: { blockedPackets: 77 } };

  it('a 5,000-rule configuration (a large home setup) reads completely', async () => {
    const started = performance.now();
    const reading = await readOverSsh(readOutput(ownerRules(5_000), LISTING));
    timings.push(`5,000-rule configuration over SSH through the driver's read: ${(performance.now() - started).toFixed(0)} ms`);
    expect(reading).not.toBeInstanceOf(RouterError);
    expect((reading as RouterReading).cameras.get(frontDoor.address)).toMatchObject(frontDoorBlocked);
  });

  it('a configuration past the 1 MB cap of other commands reads completely: the configuration read has its own, larger cap', async () => {
    const output = readOutput(ownerRules(30_000), LISTING);
    expect(Buffer.byteLength(output)).toBeGreaterThan(4 * 1024 * 1024);
    expect(Buffer.byteLength(output)).toBeLessThan(MAX_CONFIGURATION_OUTPUT_BYTES);
    const reading = await readOverSsh(output);
    expect(reading).not.toBeInstanceOf(RouterError);
    expect((reading as RouterReading).cameras.get(frontDoor.address)).toMatchObject(frontDoorBlocked);
  });

  it('one line longer than the cap (no newline in 9 MB) is refused at the cap', async () => {
    const reading = await readOverSsh(`${MARK.config}\nset system login banner pre-login '${'x'.repeat(9 * 1024 * 1024)}`);
    expect(reading).toMatchObject({ kind: 'protocol', message: expect.stringMatching(/^the router sent more than 8 MB in answer to one command/) });
  });

  it('one 6 MB line within the cap is read or refused within a 64 MB heap, never kept many times over', async () => {
    // A parser that builds a long word one character at a time keeps a rope node per character (over 20 times the
    // line): it would die here of "heap out of memory".
    const config = CONFIG.replace('set system host-name ubnt', `set system login banner pre-login '${'x'.repeat(6 * 1024 * 1024)}'\nset system host-name ubnt`);
    const router = await routerPrinting(readOutput(config, LISTING));
    try {
      const target = { host: router.address, port: router.port, username: USER, privateKeyFile: router.privateKeyFile, hostKey: router.hostKeyFingerprint };
      const outcome = await runWithHeapLimit(
        `
        const { SshConnection } = source('router/ssh');
        const { KnownHosts } = source('router/hostKeys');
        const { EdgeOsRouter } = source('router/edgeos/edgeosRouter');
        const log = { info() {}, warn() {}, error() {}, debug() {} };
        const known = require('node:path').join(require('node:os').tmpdir(), 'cg-unused-' + process.pid + '.json');
        const ssh = new SshConnection(${JSON.stringify(target)}, new KnownHosts(known), log);
        await ssh.connect();
        let outcome;
        try {
          const reading = await new EdgeOsRouter(${JSON.stringify(DRIVER_SETTINGS)}, ssh).read(${JSON.stringify(cameras)});
          outcome = { read: reading.cameras.size };
        } catch (error) {
          outcome = { kind: error.kind };
        }
        ssh.close();
        process.stdout.write(JSON.stringify(outcome));
        `,
        64,
        110_000,
      );
      expect({ code: outcome.code, outOfMemory: outcome.outOfMemory, stderr: outcome.stderr.slice(0, 500) }).toEqual({ code: 0, outOfMemory: false, stderr: '' });
      // Read (the banner is in a tree the plugin never touches) or refused as unreadable; either way an answer.
      expect([{ read: cameras.length }, { kind: 'protocol' }]).toContainEqual(JSON.parse(outcome.stdout));
    } finally {
      await router.stop();
    }
  }, 120_000);
});

// ---- not UTF-8 ----

describe('bytes that are not UTF-8', () => {
  /** The sample with one byte replaced by 0xFF (never valid in UTF-8) where `marker` starts. */
  function corrupt(sample: string, marker: string, offset = 0): string {
    const bytes = Buffer.from(sample, 'utf8');
    const at = bytes.indexOf(marker) + offset;
    expect(at).toBeGreaterThanOrEqual(offset);
    bytes[at] = 0xff;
    return sshDecode(bytes);
  }

  it.each([
    ['a packet counter', '      77', 7],
    ['a rule comment', `${RS}-4008`, RS.length + 2],
    ['the LOG/DROP target', 'DROP', 1],
    ['the default action', 'default-action', 3],
    ['the header', 'pkts', 1],
    ['the chain line', `Chain ${RS}`, 8],
  ])('in %s of the chain listing give an error, never counters', (_where, marker, offset) => {
    expect(parseChainCounters(corrupt(LISTING, marker, offset), RS).ok).toBe(false);
  });

  it('in a source address column still give an error: iptables prints ASCII only, so the row cannot be trusted', () => {
    expect(parseChainCounters(corrupt(LISTING, '192.168.1.51', 3), RS).ok).toBe(false);
  });

  it.each([
    ['a rule number', 'rule 4008 action', 7],
    ['a ruleset name', `name ${RS} rule 4009 action`, 7],
    ['a setting name', 'rule 4018 disable', 12],
    ['the word "set" of a line', 'set firewall name CAMGUARD_OUT rule 4018 disable', 1],
    ['the tree name of a line', 'set firewall name CAMGUARD_OUT rule 4018 disable', 4],
    ['the address of a camera', 'address 192.168.1.51', 13],
    ['the ruleset bound to the WAN', `out name ${RS}`, 9],
  ])('in %s of the plugin\'s configuration give an error, not a rule moved or lost', (_where, marker, offset) => {
    expect(parseConfigCommands(corrupt(CONFIG, marker, offset)).ok).toBe(false);
  });

  it('in an owner\'s description (or a character split across two SSH packets) leave every rule of the plugin as it is', async () => {
    const full = await readWith(READ);
    const bytes = Buffer.from(READ, 'utf8');
    const umlaut = bytes.indexOf('Küche'.slice(0, 2)) + 1;
    for (const chunk of [umlaut, umlaut + 1, 7, 64, 1000]) {
      // Decoded packet by packet, a packet boundary inside "ü" turns it into two U+FFFD.
      const text = sshDecode(bytes, chunk);
      const reading = await readWith(text);
      expect(reading).toEqual(full);
    }
    const owner = corrupt(CONFIG, 'Glasfaser');
    expect(readFirewall(unwrap(parseConfigCommands(owner)).paths).ruleSets.get(RS)).toEqual(readFirewall(unwrap(parseConfigCommands(CONFIG)).paths).ruleSets.get(RS));
  });

  it('anywhere in the read give the truth or an error, never other numbers (every byte position, bad bytes and packet sizes rotating)', async () => {
    const full = (await readWith(READ)) as RouterReading;
    const bytes = Buffer.from(READ, 'utf8');
    let refused = 0;
    let read = 0;
    for (let at = 0; at < bytes.length; at++) {
      // One variant per position, rotating: 0xFF in one packet, 0x80 with one-byte packets, 0xC3 (a lead byte
      // left without its continuation) with packets of varying size.
      const variants = [[0xff, bytes.length], [0x80, 1], [0xc3, 1 + (at % 97)]] as const;
      for (const [value, chunk] of [variants[at % 3]!]) {
        const damaged = Buffer.from(bytes);
        damaged[at] = value;
        const reading = await readWith(sshDecode(damaged, chunk));
        if (reading instanceof RouterError) {
          refused++;
          continue;
        }
        read++;
        // Whatever was damaged, the leak sensors get the real counters or none, and each camera's state is right.
        for (const camera of cameras) {
          const seen = reading.cameras.get(camera.address);
          const truth = full.cameras.get(camera.address);
          if (seen?.counters !== undefined) {
            expect({ at, value, counters: seen.counters }).toEqual({ at, value, counters: truth?.counters });
          }
          if (seen !== undefined && seen.status === truth?.status) {
            expect({ at, value, access: seen.access }).toEqual({ at, value, access: truth.access });
          }
        }
      }
    }
    timings.push(`bad byte at each of ${bytes.length} positions: ${refused} reads refused, ${read} read (owner text, or output the plugin does not use)`);
    expect(refused).toBeGreaterThan(0);
  });
});

// ---- unexpected wording ----

describe('unexpected wording', () => {
  it.each([
    ['nothing at all', ''],
    ['an op-mode error', 'Invalid command: [show]\n'],
    ['a sudo prompt', 'sudo: a password is required\n'],
    ['a shell error', '/bin/vbash: line 2: /opt/vyatta/bin/vyatta-op-cmd-wrapper: No such file or directory\n'],
  ])('in place of the configuration (%s) is an error, not an empty router whose WAN binding the plugin would replace', async (_what, text) => {
    expect(parseConfigCommands(text).ok).toBe(false);
    expect(await readWith(readOutput(text, LISTING))).toBeInstanceOf(RouterError);
  });

  it.each([
    ['a missing chain', 'iptables: No chain/target/match by that name.\n'],
    ['a listing without counters (no -v)', `Chain ${RS} (1 references)\ntarget     prot opt source               destination\nRETURN     all  --  0.0.0.0/0            0.0.0.0/0            /* ${RS}-10000 default-action accept */\n`],
    ['a listing with rounded counters (no -x)', LISTING.replace('52113 81025601206', '  52K    81G')],
    ['a chain with no rows at all', `Chain ${RS} (1 references)\n${HEADER}\n`],
    ['a sudo error after the header', `Chain ${RS} (1 references)\n${HEADER}\nsudo: unable to resolve host ubnt\n`],
  ])('in place of the counters (%s) leaves the cameras without counters and says why', async (_what, text) => {
    expect(parseChainCounters(text, RS).ok).toBe(false);
    const reading = await readWith(readOutput(CONFIG, text));
    expect(reading).not.toBeInstanceOf(RouterError);
    const cams = (reading as RouterReading).cameras;
    expect(cams.get(frontDoor.address)?.counters).toBeUndefined();
    expect(cams.get(garage.address)?.counters).toBeUndefined();
    expect((reading as RouterReading).warnings.join(' ')).toMatch(/could not read the firewall counters/);
  });

  it('around a well-formed listing (an iptables-nft warning, the next chain) is ignored', () => {
    const warned = `# Warning: iptables-legacy tables present, use iptables-legacy to see them\n${LISTING}`;
    expect(unwrap(parseChainCounters(warned, RS))).toEqual(LISTING_COUNTERS);
    const twoChains = `${LISTING}\nChain WAN_IN (1 references)\n${HEADER}\n${row(5, 300, 'DROP', 'all', '0.0.0.0/0', 'WAN_IN-10000 default-action drop')}\n`;
    expect(unwrap(parseChainCounters(twoChains, RS))).toEqual(LISTING_COUNTERS);
  });

  it.each([
    ['offload output from a model we do not know', 'IP offload module   : loaded\nsomething: else\n'],
    ['an offload value that is neither enabled nor disabled', 'IP offload module   : loaded\nIPv4\n  forwarding: unknown\n'],
    ['"offload" in an error message', 'Invalid command: show ubnt offload\n'],
  ])('%s is an error, not a confident "off"', (_what, text) => {
    expect(parseOffload(text).ok).toBe(false);
  });

  it('an ER-X style hwnat line is read', () => {
    expect(unwrap(parseOffload('IP offload module   : loaded\nhwnat: enable\n'))).toEqual({ ipv4Forwarding: true, ipv6Forwarding: false });
    expect(unwrap(parseOffload('IP offload module   : loaded\nhwnat: disable\n'))).toEqual({ ipv4Forwarding: false, ipv6Forwarding: false });
  });

  it('a commit that fails in words we have never seen is a failure, with those words kept for the log', () => {
    const report = parseTransactionOutput('Der Commit ist fehlgeschlagen\nFehler 42\n', '');
    expect(report).toMatchObject({ committed: false, saved: false, errors: ['Der Commit ist fehlgeschlagen', 'Fehler 42'] });
    const warned = parseTransactionOutput(`${MARK.edited}\nWarning: something odd\n${MARK.committed}\n${MARK.done}\n`, '');
    expect(warned).toMatchObject({ committed: true, errors: ['Warning: something odd'] });
  });
});

// ---- counters that cannot be right ----

describe('counters that cannot be counted exactly', () => {
  const withFrontDrop = (packets: string, bytes = '4620'): string => LISTING.replace('      77     4620', `${packets.padStart(8)} ${bytes.padStart(8)}`);

  it.each([
    ['2^64', '18446744073709551616'],
    ['far past 2^64', '99999999999999999999999'],
    ['2^64 - 1 (a real 64-bit value, but past what a double counts exactly)', '18446744073709551615'],
    ['2^53', '9007199254740992'],
    ['a K suffix', '77K'],
    ['an M suffix', '2M'],
    ['a negative number', '-77'],
    ['a plus sign', '+77'],
    ['a decimal point', '77.0'],
    ['hexadecimal', '0x4d'],
    ['an exponent', '7e1'],
  ])('%s is an error, never a number', (_what, packets) => {
    expect(parseChainCounters(withFrontDrop(packets), RS).ok).toBe(false);
    expect(parseChainCounters(withFrontDrop('77', packets), RS).ok).toBe(false);
  });

  it('2^53 - 1 is still counted exactly', () => {
    expect(unwrap(parseChainCounters(withFrontDrop('9007199254740991'), RS)).get(4008)?.packets).toBe(9007199254740991);
  });

  it('two rows of one rule that add up past 2^53 are an error, not a rounded sum', () => {
    const text = LISTING.replace(/^ +12 +840 RETURN/m, `${'4503599627370496'.padStart(8)} ${'840'.padStart(8)} RETURN`).replace(/^ +3 +210 RETURN/m, `${'4503599627370497'.padStart(8)} ${'210'.padStart(8)} RETURN`);
    expect(parseChainCounters(text, RS).ok).toBe(false);
  });
});

// ---- the leak sensor fed hostile counters ----

const MINUTE = 60_000;
const LEAK: LeakSettings = { attempts: 3, uploadBytes: 100_000_000, windowMs: 10 * MINUTE, quietMs: 5 * MINUTE };
const blocked = (packets: number | undefined, egress = 0): EgressCounters => ({ blockedPackets: packets, egressPackets: egress, egressBytes: egress * 100 });
const allowed = (bytes: number): EgressCounters => ({ blockedPackets: undefined, egressPackets: Math.floor(bytes / 1000), egressBytes: bytes });

/** Feeds readings one per minute as the guard does (undefined = no counters this poll: the baseline restarts). */
function feed(detector: LeakDetector, access: Access, readings: Array<EgressCounters | undefined>, startMinute = 0): Array<LeakTrip | undefined> {
  return readings.map((counters, index) => {
    if (counters === undefined) {
      detector.resetBaseline();
      return undefined;
    }
    return detector.observe({ at: (startMinute + index) * MINUTE, access, counters });
  });
}

describe('leak sensor fed counters that jump, repeat, vanish or overflow', () => {
  it('does not trip when a blocked camera\'s drop counter jumps backwards (a reset) and rises less than `attempts` afterwards', () => {
    const detector = new LeakDetector(LEAK);
    // 5000 -> 40 is a reset (40 counted after it, before the reading: not in any delta), then +1; reset again, then +1.
    expect(feed(detector, 'blocked', [blocked(5000), blocked(40), blocked(41), blocked(0), blocked(1)]).every((trip) => trip === undefined)).toBe(true);
    expect(detector.detected).toBe(false);
  });

  it('does not trip on a counter that repeats the same value for hours, and does trip on a real rise of `attempts` afterwards', () => {
    const detector = new LeakDetector(LEAK);
    const trips = feed(detector, 'blocked', [...Array.from({ length: 300 }, () => blocked(123_456)), blocked(123_459)]);
    expect(trips.slice(0, 300).every((trip) => trip === undefined)).toBe(true);
    expect(trips[300]).toMatchObject({ reason: 'blocked-attempts', amount: 3 });
  });

  it('does not trip when counters vanish (unreadable) and come back higher: the rise across the gap is not counted', () => {
    const detector = new LeakDetector(LEAK);
    expect(feed(detector, 'blocked', [blocked(10), undefined, blocked(5000), blocked(5001)]).every((trip) => trip === undefined)).toBe(true);
    const upload = new LeakDetector(LEAK);
    expect(feed(upload, 'allowed', [allowed(0), undefined, allowed(9e12), allowed(9e12 + 10)]).every((trip) => trip === undefined)).toBe(true);
  });

  it('does not trip when the drop counter is missing from one reading while blocked (blockedPackets undefined)', () => {
    const detector = new LeakDetector(LEAK);
    expect(feed(detector, 'blocked', [blocked(100), blocked(undefined), blocked(100), blocked(101)]).every((trip) => trip === undefined)).toBe(true);
  });

  it('trips on a huge count right after a reset, because those packets were really counted after it', () => {
    const detector = new LeakDetector(LEAK);
    const trips = feed(detector, 'blocked', [blocked(100), blocked(0), blocked(2 ** 52)]);
    expect(trips[2]).toMatchObject({ reason: 'blocked-attempts', amount: 2 ** 52 });
  });

  it('does not trip on readings that arrive with the same or an earlier time, and still trips on the next real rise', () => {
    const detector = new LeakDetector(LEAK);
    expect(detector.observe({ at: 10 * MINUTE, access: 'blocked', counters: blocked(0) })).toBeUndefined();
    expect(detector.observe({ at: 10 * MINUTE, access: 'blocked', counters: blocked(50) })).toBeUndefined();
    expect(detector.observe({ at: 5 * MINUTE, access: 'blocked', counters: blocked(60) })).toBeUndefined();
    expect(detector.observe({ at: 6 * MINUTE, access: 'blocked', counters: blocked(63) })).toMatchObject({ reason: 'blocked-attempts', amount: 3 });
  });

  it('does not trip through the driver when the router prints counters of 2^64 and more after a reset, and trips on the real rise after', async () => {
    const detector = new LeakDetector(LEAK);
    const outputs = [
      listing({ ...COUNTS, frontDrop: 500 }),
      listing({ ...COUNTS, frontDrop: 0 }),
      LISTING.replace('      77     4620', '18446744073709551615     4620'),
      LISTING.replace('      77     4620', '18446744073709551616     4620'),
      listing({ ...COUNTS, frontDrop: 1 }),
      listing({ ...COUNTS, frontDrop: 1 }),
      listing({ ...COUNTS, frontDrop: 4 }),
    ];
    const trips: Array<LeakTrip | undefined> = [];
    for (const [index, chain] of outputs.entries()) {
      const reading = (await readWith(readOutput(CONFIG, chain))) as RouterReading;
      const counters = reading.cameras.get(frontDoor.address)?.counters;
      trips.push(...feed(detector, 'blocked', [counters], index));
    }
    expect(trips.slice(0, 6)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(trips[6]).toMatchObject({ reason: 'blocked-attempts', amount: 3 });
  });
});

/** The value type an arbitrary generates. */
type PollOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

describe('leak sensor against a model of the router (fast-check)', () => {
  /** One poll: the real traffic since the last one, and what happened to the router's counters. */
  const poll = fc.record({
    drops: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) }),
    bytes: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 60_000_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 45 }) }),
    event: fc.constantFrom('none', 'none', 'none', 'reset', 'unreadable', 'no-drop-counter', 'access-change'),
    /** Of the traffic in a poll with a reset, how much came after the reset (and so shows on the counter). */
    afterReset: fc.double({ min: 0, max: 1, noNaN: true }),
    gapMinutes: fc.integer({ min: 1, max: 4 }),
  });

  function run(access: Access, polls: ReadonlyArray<PollOf<typeof poll>>, settings: LeakSettings): void {
    const detector = new LeakDetector(settings);
    let counter = { drops: 1_000_000, bytes: 5_000_000_000 };
    let at = 0;
    /** Real traffic per poll time, to judge each trip. */
    const history: Array<{ at: number; drops: number; bytes: number }> = [];
    let lastGoodAt: number | undefined;
    for (const step of polls) {
      at += step.gapMinutes * MINUTE;
      // A blocked camera's traffic is dropped; an allowed camera's goes out (and is what the egress rule counts).
      const drops = access === 'blocked' ? step.drops : 0;
      const bytes = access === 'allowed' ? step.bytes : 0;
      history.push({ at, drops, bytes });
      if (step.event === 'reset') {
        counter = { drops: Math.floor(drops * step.afterReset), bytes: Math.floor(bytes * step.afterReset) };
      } else {
        counter = { drops: counter.drops + drops, bytes: counter.bytes + bytes };
      }
      if (step.event === 'access-change') {
        // Switched and switched back between two polls: the guard starts a new baseline.
        detector.resetBaseline();
      }
      if (step.event === 'unreadable') {
        detector.resetBaseline();
        lastGoodAt = undefined;
        continue;
      }
      const counters: EgressCounters =
        access === 'blocked'
          ? { blockedPackets: step.event === 'no-drop-counter' ? undefined : counter.drops, egressPackets: 0, egressBytes: 0 }
          : { blockedPackets: undefined, egressPackets: Math.floor(counter.bytes / 1000), egressBytes: counter.bytes };
      const trip = detector.observe({ at, access, counters });
      if (trip) {
        // Everything the detector may have counted happened after the oldest reading it could still be comparing with.
        const since = at - settings.windowMs - 4 * MINUTE;
        const real = history.filter((entry) => entry.at > since).reduce((sum, entry) => ({ drops: sum.drops + entry.drops, bytes: sum.bytes + entry.bytes }), { drops: 0, bytes: 0 });
        if (trip.reason === 'blocked-attempts') {
          expect(real.drops).toBeGreaterThanOrEqual(settings.attempts);
          expect(trip.amount).toBeLessThanOrEqual(real.drops);
        } else if (trip.reason === 'upload') {
          expect(real.bytes).toBeGreaterThan(settings.uploadBytes);
          expect(trip.amount).toBeLessThanOrEqual(real.bytes);
        } else {
          throw new Error('no camera in this model gets past its block, so a bypass alarm is false');
        }
      }
      // A real rise past the threshold between two good readings in one access period must trip.
      const comparable = lastGoodAt !== undefined && step.event === 'none';
      if (comparable && access === 'blocked' && drops >= settings.attempts) {
        expect(trip?.reason).toBe('blocked-attempts');
      }
      if (comparable && access === 'allowed' && settings.uploadBytes > 0 && bytes > settings.uploadBytes) {
        expect(trip?.reason).toBe('upload');
      }
      lastGoodAt = step.event === 'no-drop-counter' && access === 'blocked' ? undefined : at;
    }
  }

  const settings = fc.record({
    attempts: fc.integer({ min: 1, max: 10 }),
    uploadBytes: fc.constantFrom(0, 1_000_000, 100_000_000),
    windowMs: fc.constantFrom(MINUTE, 10 * MINUTE, 60 * MINUTE),
    quietMs: fc.constantFrom(MINUTE, 5 * MINUTE),
  });

  it('never trips a blocked camera without `attempts` real drops, and always trips on them', () => {
    fc.assert(fc.property(settings, fc.array(poll, { maxLength: 40 }), (leak, polls) => run('blocked', polls, leak)), { numRuns: 1500 });
  });

  it('never trips an allowed camera without more than uploadMB really sent, and always trips on it', () => {
    fc.assert(fc.property(settings, fc.array(poll, { maxLength: 40 }), (leak, polls) => run('allowed', polls, leak)), { numRuns: 1500 });
  });
});

describe('leak sensor behind the real driver, with damaged router output (fast-check)', () => {
  type Damage = { kind: 'none' } | { kind: 'cut'; at: number } | { kind: 'byte'; at: number; value: number } | { kind: 'swap'; a: number; b: number } | { kind: 'overflow' };
  const damage: fc.Arbitrary<Damage> = fc.oneof(
    fc.constant<Damage>({ kind: 'none' }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.constantFrom(0x80, 0xff, 0xc3) }),
    fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
    fc.constant<Damage>({ kind: 'overflow' }),
  );

  function damaged(output: string, how: Damage): string {
    const bytes = Buffer.from(output, 'utf8');
    switch (how.kind) {
      case 'none':
        return output;
      case 'cut':
        return bytes.subarray(0, how.at % bytes.length).toString('utf8');
      case 'byte': {
        const copy = Buffer.from(bytes);
        copy[how.at % copy.length] = how.value;
        return copy.toString('utf8');
      }
      case 'swap': {
        const lines = output.split('\n');
        const a = how.a % lines.length;
        const b = how.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        return lines.join('\n');
      }
      case 'overflow':
        return output.replace(/^ +\d+ +(\d+) DROP/m, '18446744073709551616 $1 DROP');
    }
  }

  it('a silent blocked camera never trips, whatever happens to the output; its real attempts still trip it afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 12 }), async (damages) => {
        const detector = new LeakDetector(LEAK);
        const silent = readOutput(CONFIG, listing({ ...COUNTS, frontDrop: 4000 }));
        for (const [index, how] of damages.entries()) {
          const reading = await readWith(damaged(silent, how));
          if (reading instanceof RouterError) {
            continue; // the guard reconnects; the detector keeps its baseline
          }
          const seen = reading.cameras.get(frontDoor.address);
          const trips = feed(detector, seen?.access ?? 'blocked', [seen?.access === 'blocked' ? seen.counters : undefined], index);
          expect(trips[0]).toBeUndefined();
        }
        // Then the camera really tries `attempts` times: the sensor must still trip.
        const base = damages.length;
        const before = (await readWith(silent)) as RouterReading;
        feed(detector, 'blocked', [before.cameras.get(frontDoor.address)?.counters], base);
        const after = (await readWith(readOutput(CONFIG, listing({ ...COUNTS, frontDrop: 4003 })))) as RouterReading;
        expect(feed(detector, 'blocked', [after.cameras.get(frontDoor.address)?.counters], base + 1)[0]).toMatchObject({ reason: 'blocked-attempts', amount: 3 });
      }),
      { numRuns: 300 },
    );
  });
});

describe('what the driver makes of a reading it cannot fully trust', () => {
  it('gives a blocked camera no counters when its drop row is missing, rather than a 0 that a later reading would turn into a rise', async () => {
    const withoutDrop = LISTING.split('\n').filter((line) => !line.includes(`${RS}-4008 `)).join('\n');
    const reading = await readWith(readOutput(CONFIG, withoutDrop));
    expect(reading).not.toBeInstanceOf(RouterError);
    const front = (reading as RouterReading).cameras.get(frontDoor.address);
    expect(front?.access).toBe('blocked');
    expect(front?.counters).toBeUndefined();
  });

  it('refuses a ruleset name read from the router that it would not accept from the owner', async () => {
    const hostile = CONFIG.replace(`set interfaces ethernet eth0 firewall out name ${RS}`, "set interfaces ethernet eth0 firewall out name 'X;reboot'");
    const result = await readWith(readOutput(hostile, LISTING));
    expect(result).toBeInstanceOf(RouterError);
    expect((result as RouterError).message).toMatch(/will not put in a command/);
  });
});
