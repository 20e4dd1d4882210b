/**
 * The simulator's `limit rate` / `limit burst` and `log enable` against EdgeOS and the real kernel: the values refused
 * at `set` (Vyatta's templates) and at commit (ubnt-fw), the LOG row ubnt-fw puts first (engine sample S8), the
 * listing iptables prints for `-m limit` (the lab capture), and xt_limit's token bucket: credit for `burst` packets,
 * refilled at `rate`, packets past it going on to the next row.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { limitPeriod, printedRate } from '../../tools/sim/edgeos/firewall';
import { startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { until } from '../helpers/simRouter';

const LAB = readFileSync(join(__dirname, '../fixtures/destinations/iptables_limit_fallthrough_lab_netns.txt'), 'utf8');
const ENGINE = readFileSync(join(__dirname, '../fixtures/edgeos/edgeos_engine_ubnt-fw_compile_and_refusals.txt'), 'utf8');

const listChain = async (sim: SimulatedRouterSetup, chain: string): Promise<string> => (await sim.router.run('/bin/vbash -s', `sudo /sbin/iptables -t filter -L ${chain} -v -n -x\n`)).stdout;

describe('limit and log in the simulator', () => {
  let sim: SimulatedRouterSetup;
  beforeEach(async () => {
    sim = await startSimulatedRouter();
  });
  afterEach(async () => sim.dispose());

  it('puts the LOG row first, with the same comment and the prefix of engine sample S8', async () => {
    expect(ENGINE).toContain('-A C -s 192.168.1.10/32 -m comment --comment C-10 -j LOG --log-prefix "[C-10-A]"');
    const result = await sim.router.configure([
      'set firewall name C default-action drop',
      'set firewall name C rule 10 action accept',
      'set firewall name C rule 10 source address 192.168.1.10',
      'set firewall name C rule 10 log enable',
    ]);
    expect(result.code).toBe(0);
    const rows = (await listChain(sim, 'C')).split('\n').filter((line) => line.includes('/* C-10 */'));
    expect(rows.map((row) => row.trim().split(/\s+/)[2])).toEqual(['LOG', 'RETURN']);
    expect(rows[0]).toMatch(/LOG flags 0 level 4 prefix "\[C-10-A\]"$/);
  });

  it('cuts the ruleset name to 19 characters in the prefix, as ubnt-fw does', async () => {
    const name = 'A_VERY_LONG_RULESET_NAME_X';
    await sim.router.configure([`set firewall name ${name} default-action accept`, `set firewall name ${name} rule 5 action drop`, `set firewall name ${name} rule 5 log enable`]);
    expect(await listChain(sim, name)).toContain(`prefix "[${name.slice(0, 19)}-5-D]"`);
  });

  it('lists a limited rule as the real kernel does, the limit on the LOG row and the DROP row alike', async () => {
    await sim.router.configure([
      'set firewall name C default-action accept',
      'set firewall name C rule 7 action drop',
      'set firewall name C rule 7 destination address 198.51.100.2',
      'set firewall name C rule 7 log enable',
      'set firewall name C rule 7 limit rate 6/minute',
      'set firewall name C rule 7 limit burst 5',
    ]);
    const tail = (text: string): string[] => text.split('\n').flatMap((line) => /(\/\* C-7 \*\/.*)$/.exec(line)?.[1] ?? []);
    expect(tail(await listChain(sim, 'C'))).toEqual(tail(LAB));
    expect(tail(LAB)).toHaveLength(2);
  });

  it.each([
    ['6/min', /Invalid value for rate/],
    ['6', /Invalid value for rate/],
    ['six/minute', /Invalid value for rate/],
  ])('refuses limit rate %s at set, as Vyatta\'s template does', async (rate, message) => {
    const result = await sim.router.configure(['set firewall name C default-action accept', 'set firewall name C rule 7 action drop', `set firewall name C rule 7 limit rate ${rate}`]);
    // The refused `set` prints its words; the commit after it goes on with what was set (as EdgeOS's does).
    expect(result.stdout + result.stderr).toMatch(message);
    expect(await sim.router.activeConfigCommands()).not.toContain('limit rate');
  });

  it('refuses a burst of 0 or one that is not a number at set, and a rate of 0 at commit', async () => {
    for (const [burst, message] of [
      ['0', /Burst should be a value greater then zero/],
      ['five', /is not a valid value of type "u32"/],
    ] as const) {
      const result = await sim.router.configure(['set firewall name C default-action accept', 'set firewall name C rule 7 action drop', `set firewall name C rule 7 limit burst ${burst}`]);
      expect(result.stdout + result.stderr).toMatch(message);
    }
    const zero = await sim.router.configure(['set firewall name D default-action accept', 'set firewall name D rule 7 action drop', 'set firewall name D rule 7 limit rate 0/second']);
    expect(zero.code).not.toBe(0);
    expect(zero.stdout + zero.stderr).toMatch(/rate cannot be less than 1/);
    expect(await sim.router.activeConfigCommands()).not.toContain('firewall name D');
  });

  it('prints rates back as libxt_limit does', () => {
    const printed = (rate: string): string => printedRate(limitPeriod(rate) ?? 0);
    expect(['6/minute', '1/second', '120/minute', '1/day', '10/hour', '3/second'].map(printed)).toEqual(['6/min', '1/sec', '2/sec', '1/day', '10/hour', '3/sec']);
    expect(limitPeriod('0/second')).toBeUndefined();
    expect(limitPeriod('10001/second')).toBeUndefined();
  });

  it('lets a limited drop rule take its burst, passes the rest on, and refills its bucket at the rate', async () => {
    await sim.router.configure([
      'set firewall name C default-action accept',
      'set firewall name C rule 7 action drop',
      'set firewall name C rule 7 source address 192.0.2.9',
      'set firewall name C rule 7 limit rate 20/second',
      'set firewall name C rule 7 limit burst 3',
      'set interfaces ethernet eth0 firewall out name C',
    ]);
    const packet = { from: '192.0.2.9', protocol: 'udp' as const, port: 53, packets: 1, bytes: 60 };
    // A burst of 10: the first 3 are dropped (credit), the other 7 are past the limit and go on to the default accept.
    expect(await sim.router.sendTraffic({ ...packet, packets: 10, bytes: 600 })).toBe('accepted');
    const counters = await sim.router.counters('C');
    expect(counters.get(7)).toEqual({ packets: 3, bytes: 180 });
    expect(counters.get(10000)).toEqual({ packets: 7, bytes: 420 });
    // Credit comes back at 20 a second: a lone packet is dropped again once the bucket has refilled.
    await until(async () => (await sim.router.sendTraffic(packet)) === 'dropped', 'the bucket refilled', 5_000, 20);
  });
});
