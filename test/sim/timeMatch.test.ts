/**
 * The simulator's `time startdate` against the real kernel: the same listing row as iptables 1.8.9 prints for
 * `-m time --datestart … --utc` (fixture), a drop rule that does nothing before its date and drops from then on,
 * and the 32-bit limit refused at `set`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';
import { until } from '../helpers/simRouter';

const FIXTURE = readFileSync(join(__dirname, '../fixtures/edgeos/iptables_legacy_1.8.9_time_match.txt'), 'utf8');
const packet = { from: '192.0.2.5', protocol: 'tcp' as const, port: 443, packets: 1, bytes: 60 };

describe('time startdate in the simulator', () => {
  let sim: SimulatedRouterSetup;
  afterEach(async () => sim.dispose());

  it('prints the row as the real kernel does and drops only from the start date on', async () => {
    sim = await startSimulatedRouter();
    const start = new Date(Math.ceil((Date.now() + 1_500) / 1000) * 1000).toISOString().slice(0, 19);
    const result = await sim.router.configure([
      'set firewall name X default-action accept',
      'set firewall name X rule 10 action drop',
      'set firewall name X rule 10 source address 192.0.2.5',
      `set firewall name X rule 10 time startdate ${start}`,
      'set firewall name X rule 10 time utc',
      'set interfaces ethernet eth0 firewall out name X',
    ]);
    expect(result.code).toBe(0);
    const listing = (await sim.router.run('/bin/vbash -s', 'sudo /sbin/iptables -t filter -L X -v -n -x\n')).stdout;
    const real = /\/\* X-10 \*\/ TIME starting from \S+ \S+ UTC$/m.exec(FIXTURE)?.[0].replace(/from \S+ \S+/, 'from DATE');
    const simulated = /\/\* X-10 \*\/ TIME starting from \S+ \S+ UTC$/m.exec(listing)?.[0];
    expect(simulated?.replace(/from \S+ \S+/, 'from DATE')).toBe(real);
    expect(simulated).toContain(start.replace('T', ' '));
    expect(await sim.router.sendTraffic(packet)).toBe('accepted');
    await until(async () => (await sim.router.sendTraffic(packet)) === 'dropped', 'dropped from the start date', 10_000, 100);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(`${start}Z`));
  });

  it('refuses a start date past 2038-01-19T03:14:07 at set', async () => {
    sim = await startSimulatedRouter();
    const script = [
      'W=/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper',
      '$W begin',
      '$W set firewall name X rule 10 time startdate 2038-01-19T03:14:08',
      '$W end',
      '',
    ].join('\n');
    const result = await sim.router.run('/bin/vbash -s', script);
    expect(result.stdout + result.stderr).toMatch(/Set failed/);
  });
});
