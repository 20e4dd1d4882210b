/**
 * The simulated router serves what the destinations read runs, as EdgeOS would: the log files (root:adm 0640, so
 * only through sudo), coreutils in the forms used, and `conntrack -L -o extended` in conntrack-tools' own format,
 * checked against a listing captured from a real kernel (test/fixtures/destinations/conntrack_L_lab_netns.txt).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseConntrackLine } from '../../src/destinations/conntrack';
import { SimulatedEdgeRouter } from '../../tools/sim/edgeos/router';

const CONFIG = [
  'set interfaces ethernet eth0 address 203.0.113.2/24',
  'set interfaces ethernet eth1 address 192.0.2.1/24',
].join('\n');

async function routerWithLog(): Promise<SimulatedEdgeRouter> {
  const router = new SimulatedEdgeRouter({ initialConfig: CONFIG });
  await router.store.update((state) => {
    state.routerLog = { current: { inode: 42, text: 'one\ntwo\n' }, rotated: { inode: 41, text: 'old\n' }, nextInode: 43 };
  });
  return router;
}

/** The words before the first tuple, with their spacing, of each line of the captured `-o extended` listing. */
function capturedHeads(): string[] {
  const text = readFileSync(join(__dirname, '../fixtures/destinations/conntrack_L_lab_netns.txt'), 'utf8');
  const part = text.slice(text.indexOf('=== conntrack -L -o extended'));
  return part
    .split('\n')
    .filter((line) => line.startsWith('ipv'))
    .map((line) => line.slice(0, line.indexOf(' src=')).replace(/ [0-9]+( [A-Z_]+)?$/, ''));
}

describe('the simulated router serves the destinations read', () => {
  it('lets only root read the log, and stats it for anyone', async () => {
    const router = await routerWithLog();
    expect(await router.run("stat -L -c '%i %s' /var/log/messages /var/log/messages.1")).toEqual({ stdout: '42 8\n41 4\n', stderr: '', code: 0 });
    expect((await router.run('stat -L -c %i /var/log/nothing')).stderr).toBe("stat: cannot stat '/var/log/nothing': No such file or directory\n");
    expect(await router.run('tail -c +1 /var/log/messages')).toEqual({ stdout: '', stderr: "tail: cannot open '/var/log/messages' for reading: Permission denied\n", code: 1 });
    expect((await router.run('sudo tail -c +5 /var/log/messages | head -c 2')).stdout).toBe('tw');
    await router.store.update((state) => {
      state.faults.logUnreadable = true;
    });
    expect((await router.run('sudo tail -c +1 /var/log/messages')).code).toBe(1);
  });

  it("cleans bytes with tr -c as coreutils does, and filters lines with grep -F", async () => {
    const router = await routerWithLog();
    await router.store.update((state) => {
      state.routerLog!.current.text = 'caf\u00e9\tok\u0007\n';
    });
    expect((await router.run("sudo tail -c +1 /var/log/messages | tr -c '\\11\\12\\40-\\176' '?'")).stdout).toBe('caf??\tok?\n');
    expect(await router.run("sudo tail -c +1 /var/log/messages.1 | grep -F -e nothing -e ol")).toEqual({ stdout: 'old\n', stderr: '', code: 0 });
    expect((await router.run('sudo tail -c +1 /var/log/messages.1 | grep -F -e nothing')).code).toBe(1);
  });

  it('refuses the forms it does not serve, loudly', async () => {
    const router = await routerWithLog();
    for (const command of ['tail -n 5 /var/log/messages', 'head -n 1', 'tr a b', 'grep -e x', 'stat /var/log/messages', 'cat -A /etc/passwd', 'sudo conntrack -L -o xml']) {
      const result = await router.run(command);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('the simulator supports only');
    }
  });

  it('prints the whole connection table in the format conntrack-tools prints, with counters only while accounting is on', async () => {
    const router = new SimulatedEdgeRouter({ initialConfig: CONFIG });
    await router.sendTraffic({ from: '192.0.2.50', to: '198.51.100.2', protocol: 'tcp', port: 8000, packets: 2, bytes: 120 });
    await router.sendTraffic({ from: '192.0.2.50', to: '198.51.100.2', protocol: 'udp', port: 123, packets: 1, bytes: 76 });
    await router.sendTraffic({ from: '192.0.2.50', to: '198.51.100.2', protocol: 'icmp', packets: 1, bytes: 84 });
    await router.sendTraffic({ from: '2001:db8:1::50', to: '2001:db8:1::2', protocol: 'icmp', packets: 1, bytes: 104 });

    expect((await router.run('conntrack -L -o extended')).stderr).toContain('Operation not permitted');
    expect((await router.run('cat /proc/sys/net/netfilter/nf_conntrack_acct')).stdout).toBe('0\n');
    const off = await router.run('sudo /usr/sbin/conntrack -L -o extended');
    expect(off.stderr).toBe('conntrack v1.4.6 (conntrack-tools): 4 flow entries have been shown.\n');
    const offLines = off.stdout.trimEnd().split('\n');
    expect(offLines).toHaveLength(4);
    expect(off.stdout).not.toContain('packets=');
    // The same words, the same spacing, as the real tool.
    const heads = new Set(capturedHeads());
    for (const line of offLines) {
      expect(heads).toContain(line.slice(0, line.indexOf(' src=')).replace(/ [0-9]+( [A-Z_]+)?$/, ''));
      expect(parseConntrackLine(line)).toBeDefined();
    }

    await router.store.update((state) => {
      state.conntrackAccounting = 1;
    });
    expect((await router.run('cat /proc/sys/net/netfilter/nf_conntrack_acct')).stdout).toBe('1\n');
    const on = (await router.run('sudo /usr/sbin/conntrack -L -o extended')).stdout.trimEnd().split('\n');
    const tcp = parseConntrackLine(on.find((line) => line.includes('tcp')) ?? '');
    expect(tcp?.original).toMatchObject({ src: '192.0.2.50', dst: '198.51.100.2', dport: 8000, packets: 2, bytes: 120 });
  });
});
