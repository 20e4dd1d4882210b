import { SimulatedEdgeRouter } from '../../tools/sim/edgeos';

const W = '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper';
const OP = '/opt/vyatta/bin/vyatta-op-cmd-wrapper';
const LIST = 'sudo /sbin/iptables -t filter -L CAMGUARD_OUT -v -n -x';

/** In tree order, as `show configuration commands` prints it. */
const INITIAL_CONFIG = `set firewall name CAMGUARD_OUT default-action accept
set firewall name CAMGUARD_OUT rule 4008 action drop
set firewall name CAMGUARD_OUT rule 4008 description 'camera-guard front-door block'
set firewall name CAMGUARD_OUT rule 4008 disable
set firewall name CAMGUARD_OUT rule 4008 source address 192.168.1.50
set firewall name CAMGUARD_OUT rule 4010 action accept
set firewall name CAMGUARD_OUT rule 4010 description 'camera-guard garage mail'
set firewall name CAMGUARD_OUT rule 4010 destination port 25,465,587
set firewall name CAMGUARD_OUT rule 4010 protocol tcp_udp
set firewall name CAMGUARD_OUT rule 4010 source address 192.168.1.51
set firewall name CAMGUARD_OUT rule 4018 action drop
set firewall name CAMGUARD_OUT rule 4018 source address 192.168.1.51
set interfaces ethernet eth0 firewall out name CAMGUARD_OUT
set interfaces switch switch0 address 192.168.1.1/24
`;

const LAN_HOSTS = [
  { ip: '192.168.1.50', mac: '00:11:22:33:44:55', hostname: 'front-door' },
  { ip: '192.168.1.51', mac: '00:11:22:33:44:66', hostname: 'garage' },
];

/** A transaction script as a driver would send it to `/bin/vbash -s`. */
const transaction = (...commands: string[]): string => [`${W} begin`, ...commands.map((command) => `${W} ${command}`), `${W} end`].join('\n');

const newRouter = (): SimulatedEdgeRouter => new SimulatedEdgeRouter({ initialConfig: INITIAL_CONFIG, lanHosts: LAN_HOSTS });

describe('SimulatedEdgeRouter', () => {
  let router: SimulatedEdgeRouter;
  beforeEach(() => {
    router = newRouter();
  });

  describe('iptables', () => {
    it('lists a ruleset chain exactly as EdgeOS compiles it', async () => {
      await router.sendTraffic({ from: '192.168.1.51', protocol: 'udp', port: 465, packets: 3, bytes: 240 });
      await router.sendTraffic({ from: '192.168.1.60', protocol: 'tcp', port: 443, packets: 123456789, bytes: 98765432100 });
      const result = await router.run(LIST);
      expect(result).toEqual({
        stdout: [
          'Chain CAMGUARD_OUT (1 references)',
          '    pkts      bytes target     prot opt in     out     source               destination         ',
          '       0        0 RETURN     tcp  --  *      *       192.168.1.51         0.0.0.0/0            /* CAMGUARD_OUT-4010 */ multiport dports 25,465,587',
          '       3      240 RETURN     udp  --  *      *       192.168.1.51         0.0.0.0/0            /* CAMGUARD_OUT-4010 */ multiport dports 25,465,587',
          '       0        0 DROP       all  --  *      *       192.168.1.51         0.0.0.0/0            /* CAMGUARD_OUT-4018 */',
          '123456789 98765432100 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-10000 default-action accept */',
          '',
        ].join('\n'),
        stderr: '',
        code: 0,
      });
    });

    it('accepts the flags in any order and lists the WAN hook', async () => {
      expect((await router.run('sudo iptables -nvxL CAMGUARD_OUT')).stdout).toBe((await router.run(LIST)).stdout);
      expect((await router.run('sudo iptables -L VYATTA_FW_OUT_HOOK -x -n -v -t filter')).stdout).toContain(
        '       0        0 CAMGUARD_OUT  all  --  *      eth0    0.0.0.0/0            0.0.0.0/0           \n',
      );
    });

    it('names VLAN, PPPoE and switch interfaces in the hooks as the kernel does', async () => {
      await router.configure([
        'set interfaces ethernet eth1 vif 10 firewall out name CAMGUARD_OUT',
        'set interfaces ethernet eth0 pppoe 0 firewall in name CAMGUARD_OUT',
        'set interfaces switch switch0 firewall local name CAMGUARD_OUT',
      ]);
      const target = (chain: string) => router.run(`sudo iptables -t filter -L ${chain} -v -n -x`);
      expect((await target('VYATTA_FW_OUT_HOOK')).stdout).toMatch(/CAMGUARD_OUT {2}all {2}-- {2}\* {6}eth0 .*\n.*CAMGUARD_OUT {2}all {2}-- {2}\* {6}eth1\.10 /);
      expect((await target('VYATTA_FW_IN_HOOK')).stdout).toContain('CAMGUARD_OUT  all  --  pppoe0 *  ');
      expect((await target('VYATTA_FW_LOCAL_HOOK')).stdout).toContain('CAMGUARD_OUT  all  --  switch0 *  ');
      expect((await target('CAMGUARD_OUT')).stdout).toMatch(/^Chain CAMGUARD_OUT \(4 references\)\n/);
    });

    it('fails like iptables on a missing chain, without root, and on listings the simulator cannot give', async () => {
      expect(await router.run('sudo /sbin/iptables -t filter -L NOPE -v -n -x')).toEqual({ stdout: '', stderr: 'iptables: No chain/target/match by that name.\n', code: 1 });
      expect((await router.run('/sbin/iptables -t filter -L CAMGUARD_OUT -v -n -x')).code).toBe(3);
      expect((await router.run('sudo /sbin/iptables -L CAMGUARD_OUT -v -n')).code).toBe(2);
    });

    it('compiles logging, reject, states, MAC and address groups', async () => {
      const result = await router.configure([
        'set firewall group address-group CAMS address 192.168.1.52',
        'set firewall name CAMGUARD_OUT rule 4020 action reject',
        'set firewall name CAMGUARD_OUT rule 4020 log enable',
        'set firewall name CAMGUARD_OUT rule 4020 source group address-group CAMS',
        'set firewall name CAMGUARD_OUT rule 4021 action accept',
        'set firewall name CAMGUARD_OUT rule 4021 protocol udp',
        'set firewall name CAMGUARD_OUT rule 4021 destination port 53',
        'set firewall name CAMGUARD_OUT rule 4021 state established enable',
        'set firewall name CAMGUARD_OUT rule 4021 state new enable',
        'set firewall name CAMGUARD_OUT rule 4021 source mac-address 00:11:22:33:44:55',
      ]);
      expect(result.code).toBe(0);
      const { stdout } = await router.run(LIST);
      expect(stdout).toContain(' LOG        all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-4020 */ match-set CAMS src LOG flags 0 level 4 prefix "[CAMGUARD_OUT-4020-R]"\n');
      expect(stdout).toContain(' REJECT     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-4020 */ match-set CAMS src reject-with icmp-port-unreachable\n');
      expect(stdout).toContain(' RETURN     udp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-4021 */ state NEW,ESTABLISHED MAC 00:11:22:33:44:55 udp dpt:53\n');
      expect(await router.sendTraffic({ from: '192.168.1.52', protocol: 'tcp', port: 80, packets: 2, bytes: 100 })).toBe('dropped');
      expect((await router.counters('CAMGUARD_OUT')).get(4020)).toEqual({ packets: 2, bytes: 100 });
    });
  });

  describe('configuration transactions', () => {
    it('commits, saves and ends a transaction sent to /bin/vbash -s', async () => {
      const result = await router.run('/bin/vbash -s', transaction('delete firewall name CAMGUARD_OUT rule 4008 disable', 'commit', 'save'));
      expect(result).toEqual({ stdout: "Saving configuration to '/config/config.boot'...\nDone\n", stderr: '', code: 0 });
      expect(await router.activeConfigCommands()).not.toContain('rule 4008 disable');
      expect(await router.savedConfigCommands()).not.toContain('rule 4008 disable');
      expect((await router.run(LIST)).stdout).toContain('/* CAMGUARD_OUT-4008 */');
      expect(await router.openSessionCount()).toBe(0);
    });

    it('reports existing and missing nodes and empty commits', async () => {
      const result = await router.run(
        "sg vyattacfg -c '/bin/vbash -s'",
        transaction('set firewall name CAMGUARD_OUT rule 4008 disable', 'commit', 'delete firewall name CAMGUARD_OUT rule 4011', 'commit'),
      );
      expect(result).toEqual({
        stdout: 'The specified configuration node already exists\nNo configuration changes to commit\nNothing to delete (the specified node does not exist)\nNo configuration changes to commit\n',
        stderr: '',
        code: 0,
      });
    });

    it('rejects invalid configurations with the EdgeOS error block and applies nothing', async () => {
      const before = await router.activeConfigCommands();
      const script = (...lines: string[]): string => transaction(...lines, 'commit');
      expect(await router.run('/bin/vbash -s', script('set interfaces ethernet eth1 firewall out name MISSING', 'set firewall name CAMGUARD_OUT rule 4008 description changed'))).toMatchObject({
        stdout: '[ interfaces ethernet eth1 firewall out name MISSING ]\nFirewall config error: Rule set MISSING is not configured\n\nCommit failed\n',
      });
      const portWithoutProtocol = await router.run('/bin/vbash -s', script('set firewall name CAMGUARD_OUT rule 4030 action drop', 'set firewall name CAMGUARD_OUT rule 4030 destination port 443'));
      expect(portWithoutProtocol.stdout).toMatch(/^\[ firewall name CAMGUARD_OUT rule 4030 \]\nFirewall config error: .*"tcp", "udp" or "tcp_udp".*\n\nCommit failed\n$/);
      const withoutAction = await router.run('/bin/vbash -s', script('set firewall name CAMGUARD_OUT rule 4031 source address 192.168.1.9'));
      expect(withoutAction.stdout).toContain('[ firewall name CAMGUARD_OUT rule 4031 ]\n');
      // The script's status is that of `end`, the last command; the driver must look at commit's own status.
      expect(withoutAction.code).toBe(0);
      expect(await router.activeConfigCommands()).toBe(before);
    });

    it('returns commit failure as the exit status when commit is the last command', async () => {
      const result = await router.run(`${W} begin; ${W} set interfaces ethernet eth1 firewall out name MISSING; ${W} commit`);
      expect(result.code).toBe(1);
      expect(await router.openSessionCount()).toBe(1);
    });

    it('discards working changes', async () => {
      const result = await router.run(
        '/bin/vbash -s',
        transaction('discard', 'set firewall name CAMGUARD_OUT rule 4018 disable', 'discard', 'commit'),
      );
      expect(result.stdout).toBe('No changes have been discarded\nChanges have been discarded\nNo configuration changes to commit\n');
    });

    it('keeps sessions per shell process: begin and set on separate exec requests do not meet', async () => {
      await router.run(`${W} begin`);
      const set = await router.run(`${W} set firewall name CAMGUARD_OUT rule 4018 disable`);
      expect(set.code).toBe(1);
      expect(set.stderr).toContain('not in a configuration session');
      expect(await router.openSessionCount()).toBe(1);
    });

    it('replays a session over changes other sessions committed meanwhile', async () => {
      const session = `export CMD_WRAPPER_SESSION_ID=plugin; ${W}`;
      await router.run(`${session} begin; ${W} set firewall name CAMGUARD_OUT rule 4018 disable`);
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4010 description admin'])).code).toBe(0);
      expect(await router.run(`${session} commit; ${W} end`)).toEqual({ stdout: '', stderr: '', code: 0 });
      const active = await router.activeConfigCommands();
      expect(active).toContain('set firewall name CAMGUARD_OUT rule 4018 disable\n');
      expect(active).toContain('set firewall name CAMGUARD_OUT rule 4010 description admin\n');
    });

    it('leaves the session open when the script is aborted, like a closed SSH channel', async () => {
      await router.setCommitDelay(100);
      const abort = new AbortController();
      const running = router.run('/bin/vbash -s', transaction('set firewall name CAMGUARD_OUT rule 4018 disable', 'commit'), abort.signal);
      setTimeout(() => abort.abort(), 30);
      await running;
      expect(await router.openSessionCount()).toBe(1);
      expect(await router.activeConfigCommands()).toContain('rule 4018 disable');
    });

    it('breaks configuration until reboot when the wrapper runs through sudo', async () => {
      const viaSudo = await router.run(`sudo ${W} begin`);
      expect(viaSudo.code).toBe(1);
      expect(await router.isConfigBroken()).toBe(true);
      const later = await router.run('/bin/vbash -s', transaction('set firewall name CAMGUARD_OUT rule 4018 disable', 'commit'));
      expect(later.stdout).toBe('Set failed\nCommit failed\n');
      expect((await router.configure(['delete firewall name CAMGUARD_OUT rule 4008 disable'])).stdout).toBe('Delete failed\nCommit failed\n');
      await router.reboot();
      expect(await router.isConfigBroken()).toBe(false);
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable'])).code).toBe(0);
    });
  });

  describe('commit lock and faults', () => {
    it('lets only one commit run at a time', async () => {
      await router.setCommitDelay(150);
      const first = router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await router.configure(['set firewall name CAMGUARD_OUT rule 4010 disable']);
      expect(second).toEqual({ stdout: 'Configuration system temporarily locked due to another commit in progress\n', stderr: '', code: 1 });
      expect((await first).code).toBe(0);
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4010 disable'])).code).toBe(0);
    });

    it('fails the next commits on demand, applying nothing', async () => {
      await router.failNextCommits('fail', 1);
      const failed = await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/^\[ firewall name CAMGUARD_OUT rule 4018 \]\n.*\n\nCommit failed\n$/);
      expect(await router.activeConfigCommands()).not.toContain('rule 4018 disable');
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable'])).code).toBe(0);
    });

    it('applies part of a commit on a partial fault and keeps the rest pending in the session', async () => {
      await router.failNextCommits('partial');
      const script = transaction('set firewall name CAMGUARD_OUT rule 4010 disable', 'set firewall name CAMGUARD_OUT rule 4018 disable', 'commit', 'commit');
      const result = await router.run('/bin/vbash -s', script.replace(`${W} commit\n${W} commit`, `${W} commit\necho "first=$?"\n${W} commit`));
      expect(result.stdout).toMatch(/^\[ firewall name CAMGUARD_OUT rule 4018 \]\n.*\n\nCommit failed\nfirst=1\n$/);
      const active = await router.activeConfigCommands();
      expect(active).toContain('rule 4010 disable');
      expect(active).toContain('rule 4018 disable');
    });

    it('applies only the first half of the changed rules when the partial commit is the only one', async () => {
      await router.failNextCommits('partial');
      await router.configure(['set firewall name CAMGUARD_OUT rule 4010 disable', 'set firewall name CAMGUARD_OUT rule 4018 disable']);
      const active = await router.activeConfigCommands();
      expect(active).toContain('rule 4010 disable');
      expect(active).not.toContain('rule 4018 disable');
    });

    it('reports a locked configuration system on demand', async () => {
      await router.failNextCommits('locked', 2);
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable'])).stdout).toBe(
        'Configuration system temporarily locked due to another commit in progress\n',
      );
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable'])).code).toBe(1);
      expect((await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable'])).code).toBe(0);
    });
  });

  describe('counters and traffic', () => {
    const camera51 = { from: '192.168.1.51', protocol: 'tcp', packets: 10, bytes: 1000 } as const;

    it('restarts the counters of changed rules only', async () => {
      await router.sendTraffic({ ...camera51, port: 465 });
      await router.sendTraffic({ ...camera51, port: 443 });
      await router.sendTraffic({ ...camera51, from: '192.168.1.60', port: 443 });
      expect(await router.counters('CAMGUARD_OUT')).toEqual(
        new Map([
          [4010, { packets: 10, bytes: 1000 }],
          [4018, { packets: 10, bytes: 1000 }],
          [10000, { packets: 10, bytes: 1000 }],
        ]),
      );
      await router.configure(['set firewall name CAMGUARD_OUT rule 4018 description changed', 'delete firewall name CAMGUARD_OUT rule 4008 disable']);
      const counters = await router.counters('CAMGUARD_OUT');
      expect(counters.get(4008)).toEqual({ packets: 0, bytes: 0 });
      expect(counters.get(4010)).toEqual({ packets: 10, bytes: 1000 });
      expect(counters.get(4018)).toEqual({ packets: 0, bytes: 0 });
      expect(counters.get(10000)).toEqual({ packets: 10, bytes: 1000 });
    });

    it('gives verdicts from the ruleset bound to the WAN out slot', async () => {
      const camera50 = { from: '192.168.1.50', protocol: 'tcp', port: 443, packets: 5, bytes: 500 } as const;
      expect(await router.sendTraffic(camera50)).toBe('accepted');
      expect(await router.sendTraffic({ ...camera51, port: 443 })).toBe('dropped');
      expect(await router.sendTraffic({ ...camera51, protocol: 'udp', port: 587 })).toBe('accepted');
      await router.configure(['delete firewall name CAMGUARD_OUT rule 4008 disable']);
      expect(await router.sendTraffic(camera50)).toBe('dropped');
      await router.configure(['delete interfaces ethernet eth0 firewall']);
      expect(await router.sendTraffic(camera50)).toBe('accepted');
      expect((await router.counters('CAMGUARD_OUT')).get(4008)).toEqual({ packets: 5, bytes: 500 });
    });

    it('lets offloaded established flows bypass a new drop rule until conntrack deletes them', async () => {
      await router.setOffload(true);
      const camera50 = { from: '192.168.1.50', protocol: 'tcp', port: 443, packets: 5, bytes: 500 } as const;
      expect(await router.sendTraffic(camera50)).toBe('accepted');
      await router.configure(['delete firewall name CAMGUARD_OUT rule 4008 disable']);
      expect(await router.sendTraffic(camera50)).toBe('accepted');
      expect((await router.counters('CAMGUARD_OUT')).get(4008)).toEqual({ packets: 0, bytes: 0 });
      const listed = await router.run('sudo conntrack -L -s 192.168.1.50');
      expect(listed.stdout).toMatch(/^tcp {6}6 431999 ESTABLISHED src=192\.168\.1\.50 dst=203\.0\.113\.10 sport=\d+ dport=443 packets=10 bytes=1000 src=/);
      expect(listed.stderr).toBe('conntrack v1.4.6 (conntrack-tools): 1 flow entries have been shown.\n');
      const deleted = await router.run('sudo /usr/sbin/conntrack -D -s 192.168.1.50');
      expect(deleted.stderr).toBe('conntrack v1.4.6 (conntrack-tools): 1 flow entries have been deleted.\n');
      expect(deleted.code).toBe(0);
      expect(await router.hasFlow('192.168.1.50')).toBe(false);
      expect(await router.run('sudo /usr/sbin/conntrack -D -s 192.168.1.50')).toEqual({
        stdout: '',
        stderr: 'conntrack v1.4.6 (conntrack-tools): 0 flow entries have been deleted.\n',
        code: 1,
      });
      expect(await router.sendTraffic(camera50)).toBe('dropped');
    });

    it('zeroes counters, drops flows and sessions and restores the saved configuration on reboot', async () => {
      await router.openFlow('192.168.1.51');
      await router.sendTraffic({ ...camera51, port: 443 });
      await router.run(`${W} begin`);
      await router.configure(['set firewall name CAMGUARD_OUT rule 4018 disable']);
      await router.reboot();
      expect(await router.activeConfigCommands()).not.toContain('rule 4018 disable');
      expect(await router.openSessionCount()).toBe(0);
      expect(await router.hasFlow('192.168.1.51')).toBe(false);
      expect([...(await router.counters('CAMGUARD_OUT')).values()].every((counter) => counter.packets === 0)).toBe(true);
    });
  });

  describe('read commands', () => {
    it('answers cli-shell-api', async () => {
      await router.configure(['set firewall name CAMGUARD_OUT rule 900 action accept']);
      expect(await router.run('/bin/cli-shell-api existsActive firewall name CAMGUARD_OUT rule 4008 disable')).toEqual({ stdout: '', stderr: '', code: 0 });
      expect((await router.run('/bin/cli-shell-api existsActive firewall name CAMGUARD_OUT rule 4018 disable')).code).toBe(1);
      expect(await router.run('/bin/cli-shell-api returnActiveValue firewall name CAMGUARD_OUT rule 4008 description')).toEqual({
        stdout: 'camera-guard front-door block',
        stderr: '',
        code: 0,
      });
      expect((await router.run('/bin/cli-shell-api returnActiveValue firewall name CAMGUARD_OUT rule 4018 description')).code).toBe(1);
      expect((await router.run('/bin/cli-shell-api listActiveNodes firewall name CAMGUARD_OUT rule')).stdout).toBe("'4008' '4010' '4018' '900'");
    });

    it('shows the configuration, firewall statistics, offload, leases and ARP in EdgeOS formats', async () => {
      await router.sendTraffic({ from: '192.168.1.51', protocol: 'tcp', port: 25, packets: 7, bytes: 700 });
      expect((await router.run(`${OP} show configuration commands`)).stdout).toBe(INITIAL_CONFIG);
      expect((await router.run(`${OP} show firewall name CAMGUARD_OUT statistics`)).stdout).toBe(
        [
          '-'.repeat(82),
          '',
          'IPv4 Firewall "CAMGUARD_OUT"',
          '',
          ' Active on (eth0,OUT)',
          '',
          'rule  packets    bytes        action  description',
          '----  -------    -----        ------  -----------',
          '4010  7          700          ACCEPT  camera-guard garage mail',
          '4018  0          0            DROP    ',
          '10000 0          0            ACCEPT  DEFAULT ACTION',
          '',
          '-'.repeat(82),
          '',
        ].join('\n'),
      );
      expect((await router.run(`${OP} show ubnt offload`)).stdout).toMatch(/^\nIP offload module {3}: loaded\nIPv4\n {2}forwarding: disabled\n/);
      await router.setOffload(true);
      expect((await router.run(`${OP} show ubnt offload`)).stdout).toContain('IPv4\n  forwarding: enabled\n');
      expect((await router.run(`${OP} show dhcp leases`)).stdout).toMatch(
        /^IP address {6}Hardware Address {3}Lease expiration {5}Pool {7}Client Name\n-{10} {6}-{16} {3}-{16} {5}-{4} {7}-{11}\n192\.168\.1\.50 {4}00:11:22:33:44:55 {2}[A-Z][a-z]{2} \d\d, \d{4} {9}LAN {8}front-door\n/,
      );
      expect((await router.run(`${OP} show arp`)).stdout).toBe(
        'Address                  HWtype  HWaddress           Flags Mask            Iface\n' +
          '192.168.1.50             ether   00:11:22:33:44:55   C                     switch0\n' +
          '192.168.1.51             ether   00:11:22:33:44:66   C                     switch0\n',
      );
    });

    it('refuses bare operational commands outside an interactive shell', async () => {
      expect(await router.run('show arp')).toEqual({ stdout: '', stderr: 'Invalid command: [show]\n', code: 1 });
      expect((await router.run("vbash -ic 'show arp'")).code).toBe(0);
    });
  });
});
