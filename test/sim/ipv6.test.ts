import { MemoryDataplane, MemoryStateStore, SimulatedEdgeRouter, compileIpv6Firewall, createInitialState, parseConfigCommands } from '../../tools/sim/edgeos';
import type { Dataplane } from '../../tools/sim/edgeos';
import { canonicalIpv6, ip6tablesAddress, ipv6Matches } from '../../tools/sim/edgeos/ipv6';

const W = '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper';
const LIST6 = 'sudo /sbin/ip6tables -t filter -L CAMGUARD6_OUT -v -n -x';

/** In tree order, as `show configuration commands` prints it (EdgeOS single-quotes values with colons). */
const INITIAL_CONFIG = `set firewall ipv6-name CAMGUARD6_OUT default-action accept
set firewall ipv6-name CAMGUARD6_OUT rule 4008 action drop
set firewall ipv6-name CAMGUARD6_OUT rule 4008 description 'camera-guard front-door block'
set firewall ipv6-name CAMGUARD6_OUT rule 4008 disable
set firewall ipv6-name CAMGUARD6_OUT rule 4008 source mac-address '00:11:22:33:44:55'
set firewall ipv6-name CAMGUARD6_OUT rule 4010 action accept
set firewall ipv6-name CAMGUARD6_OUT rule 4010 description 'camera-guard garage mail'
set firewall ipv6-name CAMGUARD6_OUT rule 4010 destination port 25,465,587
set firewall ipv6-name CAMGUARD6_OUT rule 4010 protocol tcp_udp
set firewall ipv6-name CAMGUARD6_OUT rule 4010 source address '2001:db8:1::51'
set firewall ipv6-name CAMGUARD6_OUT rule 4018 action drop
set firewall ipv6-name CAMGUARD6_OUT rule 4018 source address '2001:db8:1::51'
set firewall ipv6-name CAMGUARD6_OUT rule 4020 action drop
set firewall ipv6-name CAMGUARD6_OUT rule 4020 source address '2001:db8:1:0:0:0:0:6f/124'
set firewall name CAMGUARD_OUT default-action accept
set firewall name CAMGUARD_OUT rule 4018 action drop
set firewall name CAMGUARD_OUT rule 4018 source address 192.168.1.51
set interfaces ethernet eth0 firewall out ipv6-name CAMGUARD6_OUT
set interfaces ethernet eth0 firewall out name CAMGUARD_OUT
set interfaces switch switch0 address 192.168.1.1/24
`;

const LAN_HOSTS = [
  { ip: '192.168.1.50', mac: '00:11:22:33:44:55', hostname: 'front-door', ipv6: ['2001:db8:1::50', 'fe80::211:22ff:fe33:4455'] },
  { ip: '192.168.1.51', mac: '00:11:22:33:44:66', hostname: 'garage', ipv6: ['2001:db8:1::51'] },
];

const HEADER = '    pkts      bytes target     prot opt in     out     source               destination         ';

const transaction = (...commands: string[]): string => [`${W} begin`, ...commands.map((command) => `${W} ${command}`), `${W} end`].join('\n');

describe('IPv6 addresses as the netfilter tools print them', () => {
  it('prints addresses like glibc inet_ntop', () => {
    expect(canonicalIpv6('2001:DB8:0:0:0:0:0:50')).toBe('2001:db8::50');
    expect(canonicalIpv6('2001:db8:0:1:0:0:0:0')).toBe('2001:db8:0:1::');
    expect(canonicalIpv6('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(canonicalIpv6('2001:0:0:1:0:0:1:1')).toBe('2001::1:0:0:1:1');
    expect(canonicalIpv6('2001:db8:0:1:1:1:0:1')).toBe('2001:db8:0:1:1:1:0:1');
    expect(canonicalIpv6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIpv6('::')).toBe('::');
    expect(canonicalIpv6('::1')).toBe('::1');
    expect(canonicalIpv6('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1');
    for (const bad of ['192.0.2.1', ':::', '1:2:3:4:5:6:7:8:9', '1:2', 'g::', '1::2::3', '']) expect(canonicalIpv6(bad)).toBeUndefined();
  });

  it('prints rule addresses as ip6tables -n does: masked, with the prefix length, a host bare', () => {
    expect(ip6tablesAddress('2001:db8::50/64')).toBe('2001:db8::/64');
    expect(ip6tablesAddress('2001:DB8::50')).toBe('2001:db8::50');
    expect(ip6tablesAddress('2001:db8::50/128')).toBe('2001:db8::50');
    expect(ip6tablesAddress('::/0')).toBe('::/0');
    expect(ip6tablesAddress('!2001:db8:1::/48')).toBe('!2001:db8:1::/48');
    expect(ip6tablesAddress('2001:db8::/129')).toBeUndefined();
    expect(ipv6Matches('2001:db8::/64', '2001:db8::abcd')).toBe(true);
    expect(ipv6Matches('2001:db8::/64', '2001:db8:0:1::abcd')).toBe(false);
    expect(ipv6Matches('!2001:db8::50', '2001:db8::50')).toBe(false);
    expect(ipv6Matches('::/0', '2001:db8::50')).toBe(true);
  });
});

describe('SimulatedEdgeRouter IPv6 firewall', () => {
  let router: SimulatedEdgeRouter;
  beforeEach(() => {
    router = new SimulatedEdgeRouter({ initialConfig: INITIAL_CONFIG, lanHosts: LAN_HOSTS });
  });

  describe('configuration', () => {
    it('keeps ipv6-name rulesets and bindings next to the IPv4 ones', async () => {
      expect(await router.activeConfigCommands()).toBe(INITIAL_CONFIG);
      expect((await router.run('/bin/cli-shell-api listActiveNodes firewall ipv6-name')).stdout).toBe("'CAMGUARD6_OUT'");
      expect((await router.run('/bin/cli-shell-api returnActiveValue firewall ipv6-name CAMGUARD6_OUT rule 4018 source address')).stdout).toBe('2001:db8:1::51');
      expect((await router.run('/bin/cli-shell-api returnActiveValue interfaces ethernet eth0 firewall out ipv6-name')).stdout).toBe('CAMGUARD6_OUT');
      expect((await router.run('/bin/cli-shell-api existsActive firewall ipv6-name CAMGUARD6_OUT rule 4008 disable')).code).toBe(0);
      const result = await router.configure([
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 action accept',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 protocol ipv6-icmp',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 log enable',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 state established enable',
      ]);
      expect(result).toEqual({ stdout: '', stderr: '', code: 0 });
      expect(await router.activeConfigCommands()).toContain(
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 action accept\n' +
          'set firewall ipv6-name CAMGUARD6_OUT rule 4030 log enable\n' +
          'set firewall ipv6-name CAMGUARD6_OUT rule 4030 protocol ipv6-icmp\n' +
          'set firewall ipv6-name CAMGUARD6_OUT rule 4030 state established enable\n',
      );
    });

    it('rejects invalid IPv6 rulesets and bindings at commit with the EdgeOS error blocks, applying nothing', async () => {
      const before = await router.activeConfigCommands();
      const commit = (...lines: string[]) => router.run('/bin/vbash -s', transaction(...lines, 'commit'));
      expect((await commit('set interfaces ethernet eth1 firewall out ipv6-name MISSING')).stdout).toBe(
        '[ interfaces ethernet eth1 firewall out ipv6-name MISSING ]\nFirewall config error: Rule set MISSING is not configured\n\nCommit failed\n',
      );
      // The IPv4 and IPv6 rulesets are separate: an IPv6 ruleset cannot be bound as an IPv4 one.
      expect((await commit('set interfaces ethernet eth1 firewall out name CAMGUARD6_OUT')).stdout).toBe(
        '[ interfaces ethernet eth1 firewall out name CAMGUARD6_OUT ]\nFirewall config error: Rule set CAMGUARD6_OUT is not configured\n\nCommit failed\n',
      );
      expect((await commit('set interfaces ethernet eth1 firewall out ipv6-name CAMGUARD_OUT')).stdout).toContain('Rule set CAMGUARD_OUT is not configured\n');
      const portWithoutProtocol = await commit('set firewall ipv6-name CAMGUARD6_OUT rule 4030 action drop', 'set firewall ipv6-name CAMGUARD6_OUT rule 4030 destination port 443');
      expect(portWithoutProtocol.stdout).toMatch(/^\[ firewall ipv6-name CAMGUARD6_OUT rule 4030 \]\nFirewall config error: .*"tcp", "udp" or "tcp_udp".*\n\nCommit failed\n$/);
      const withoutAction = await commit("set firewall ipv6-name CAMGUARD6_OUT rule 4031 source address '2001:db8:1::9'");
      expect(withoutAction.stdout).toBe('[ firewall ipv6-name CAMGUARD6_OUT rule 4031 ]\nFirewall config error: Rule 4031 has no action\n\nCommit failed\n');
      expect(await router.activeConfigCommands()).toBe(before);
      // Disabled, the same rule commits, as EdgeOS's engine takes it (an owner's half-written rule, switched off).
      const disabled = await commit("set firewall ipv6-name CAMGUARD6_OUT rule 4031 source address '2001:db8:1::9'", 'set firewall ipv6-name CAMGUARD6_OUT rule 4031 disable');
      expect(disabled.stdout).toBe('');
      expect(await router.activeConfigCommands()).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4031 disable\n');
    });

    it('refuses an address that is not IPv6 in an IPv6 rule at set time', async () => {
      const result = await router.run('/bin/vbash -s', transaction('set firewall ipv6-name CAMGUARD6_OUT rule 4018 source address 192.168.1.51'));
      expect(result.stdout).toMatch(/^".*" is not a valid IPv6 address or prefix\nValue validation failed\nSet failed\n$/);
      expect((await router.configure(['set firewall ipv6-name CAMGUARD6_OUT rule 4018 destination address 2001:db8::/200'])).stdout).toContain('Set failed\n');
    });
  });

  describe('ip6tables', () => {
    it('lists a ruleset chain exactly as EdgeOS compiles it: disabled rules absent, tcp_udp as two rows, blank opt column', async () => {
      await router.sendTraffic({ from: '2001:db8:1::51', protocol: 'udp', port: 465, packets: 3, bytes: 240 });
      await router.sendTraffic({ from: '2001:db8:1::99', protocol: 'tcp', port: 443, packets: 123456789, bytes: 98765432100 });
      expect(await router.run(LIST6)).toEqual({
        stdout: [
          'Chain CAMGUARD6_OUT (1 references)',
          HEADER,
          '       0        0 RETURN     tcp      *      *       2001:db8:1::51       ::/0                 /* CAMGUARD6_OUT-4010 */ multiport dports 25,465,587',
          '       3      240 RETURN     udp      *      *       2001:db8:1::51       ::/0                 /* CAMGUARD6_OUT-4010 */ multiport dports 25,465,587',
          '       0        0 DROP       all      *      *       2001:db8:1::51       ::/0                 /* CAMGUARD6_OUT-4018 */',
          '       0        0 DROP       all      *      *       2001:db8:1::60/124   ::/0                 /* CAMGUARD6_OUT-4020 */',
          '123456789 98765432100 RETURN     all      *      *       ::/0                 ::/0                 /* CAMGUARD6_OUT-10000 default-action accept */',
          '',
        ].join('\n'),
        stderr: '',
        code: 0,
      });
    });

    it('lists the IPv6 hooks, and keeps the IPv4 and IPv6 tables apart', async () => {
      expect((await router.run('sudo ip6tables -nvxL VYATTA_FW_OUT_HOOK')).stdout).toBe(
        `Chain VYATTA_FW_OUT_HOOK (1 references)\n${HEADER}\n       0        0 CAMGUARD6_OUT  all      *      eth0    ::/0                 ::/0                \n`,
      );
      expect((await router.run('sudo iptables -nvxL VYATTA_FW_OUT_HOOK')).stdout).toContain(
        '       0        0 CAMGUARD_OUT  all  --  *      eth0    0.0.0.0/0            0.0.0.0/0           \n',
      );
      expect(await router.run('sudo iptables -t filter -L CAMGUARD6_OUT -v -n -x')).toEqual({ stdout: '', stderr: 'iptables: No chain/target/match by that name.\n', code: 1 });
      expect(await router.run('sudo ip6tables -t filter -L CAMGUARD_OUT -v -n -x')).toEqual({ stdout: '', stderr: 'ip6tables: No chain/target/match by that name.\n', code: 1 });
    });

    it('names VLAN, PPPoE and switch interfaces in the IPv6 hooks', async () => {
      expect(
        (
          await router.configure([
            'set interfaces ethernet eth1 vif 10 firewall out ipv6-name CAMGUARD6_OUT',
            'set interfaces ethernet eth0 pppoe 0 firewall in ipv6-name CAMGUARD6_OUT',
            'set interfaces switch switch0 firewall local ipv6-name CAMGUARD6_OUT',
          ])
        ).code,
      ).toBe(0);
      const hook = async (chain: string) => (await router.run(`sudo /sbin/ip6tables -t filter -L ${chain} -v -n -x`)).stdout;
      expect(await hook('VYATTA_FW_OUT_HOOK')).toMatch(/CAMGUARD6_OUT {2}all {6}\* {6}eth0 .*\n.*CAMGUARD6_OUT {2}all {6}\* {6}eth1\.10 /);
      expect(await hook('VYATTA_FW_IN_HOOK')).toContain('CAMGUARD6_OUT  all      pppoe0 *       ::/0 ');
      expect(await hook('VYATTA_FW_LOCAL_HOOK')).toContain('CAMGUARD6_OUT  all      switch0 *       ::/0 ');
      expect(await hook('CAMGUARD6_OUT')).toMatch(/^Chain CAMGUARD6_OUT \(4 references\)\n/);
      // The IPv4 hooks did not get the IPv6 bindings.
      expect((await router.run('sudo iptables -t filter -L VYATTA_FW_IN_HOOK -v -n -x')).stdout).toBe(
        `Chain VYATTA_FW_IN_HOOK (1 references)\n${HEADER}\n`,
      );
    });

    it('compiles MAC, log, reject, states and ICMPv6 the way ip6tables prints them', async () => {
      const result = await router.configure([
        'delete firewall ipv6-name CAMGUARD6_OUT rule 4008 disable',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 action reject',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4030 log enable',
        "set firewall ipv6-name CAMGUARD6_OUT rule 4030 source address '!2001:db8:1::/64'",
        'set firewall ipv6-name CAMGUARD6_OUT rule 4031 action accept',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4031 protocol ipv6-icmp',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4031 state related enable',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4031 state established enable',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4032 action accept',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4032 protocol udp',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4032 destination port 53',
        "set firewall ipv6-name CAMGUARD6_OUT rule 4032 destination address '2001:4860:4860::8888'",
      ]);
      expect(result.code).toBe(0);
      const { stdout } = await router.run(LIST6);
      expect(stdout).toContain('       0        0 DROP       all      *      *       ::/0                 ::/0                 /* CAMGUARD6_OUT-4008 */ MAC 00:11:22:33:44:55\n');
      expect(stdout).toContain(
        '       0        0 LOG        all      *      *      !2001:db8:1::/64      ::/0                 /* CAMGUARD6_OUT-4030 */ LOG flags 0 level 4 prefix "[CAMGUARD6_OUT-4030-R]"\n',
      );
      expect(stdout).toContain(
        '       0        0 REJECT     all      *      *      !2001:db8:1::/64      ::/0                 /* CAMGUARD6_OUT-4030 */ reject-with icmp6-port-unreachable\n',
      );
      // ip6tables -n names protocol 58 `icmpv6` (first in libxtables' table), one character wider than the column.
      expect(stdout).toContain('       0        0 RETURN     icmpv6    *      *       ::/0                 ::/0                 /* CAMGUARD6_OUT-4031 */ state RELATED,ESTABLISHED\n');
      expect(stdout).toContain('       0        0 RETURN     udp      *      *       ::/0                 2001:4860:4860::8888  /* CAMGUARD6_OUT-4032 */ udp dpt:53\n');
      expect(await router.sendTraffic({ from: '2001:db8:2::7', protocol: 'tcp', port: 443, packets: 2, bytes: 100 })).toBe('dropped');
      expect((await router.counters6('CAMGUARD6_OUT')).get(4030)).toEqual({ packets: 2, bytes: 100 });
    });

    it('fails like ip6tables without root and on listings the simulator cannot give', async () => {
      expect(await router.run('/sbin/ip6tables -t filter -L CAMGUARD6_OUT -v -n -x')).toEqual({
        stdout: '',
        stderr: "ip6tables v1.4.21: can't initialize ip6tables table `filter': Permission denied (you must be root)\nPerhaps ip6tables or your kernel needs to be upgraded.\n",
        code: 3,
      });
      expect((await router.run('sudo /sbin/ip6tables -L CAMGUARD6_OUT -v -n')).code).toBe(2);
      expect(await router.run('sudo ip6tables -t nat -L CAMGUARD6_OUT -v -n -x')).toMatchObject({ stderr: 'ip6tables: No chain/target/match by that name.\n', code: 1 });
    });

    it('says so when the dataplane has no IPv6 firewall', async () => {
      const store = new MemoryStateStore(createInitialState({ initialConfig: INITIAL_CONFIG }));
      const memory = new MemoryDataplane(store);
      const ipv4Only: Dataplane = {
        applyFirewall: (active, changed) => memory.applyFirewall(active, changed),
        listChain: (chain) => memory.listChain(chain),
        listFlows: (ip) => memory.listFlows(ip),
        deleteFlows: (ip) => memory.deleteFlows(ip),
        reboot: () => memory.reboot(),
      };
      const lab = new SimulatedEdgeRouter({ store, dataplane: ipv4Only });
      expect((await lab.run('sudo iptables -L CAMGUARD_OUT -v -n -x')).code).toBe(0);
      const result = await lab.run(LIST6);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('no IPv6 firewall');
      expect(await lab.counters6('CAMGUARD6_OUT')).toEqual(new Map());
    });
  });

  describe('counters and traffic', () => {
    const garage6 = { from: '2001:db8:1::51', protocol: 'tcp', packets: 10, bytes: 1000 } as const;

    it('restarts the counters of changed IPv6 rules only', async () => {
      await router.sendTraffic({ ...garage6, port: 465 });
      await router.sendTraffic({ ...garage6, port: 443 });
      await router.sendTraffic({ ...garage6, from: '2001:db8:1::99', port: 443 });
      await router.sendTraffic({ from: '192.168.1.51', protocol: 'tcp', port: 443, packets: 4, bytes: 400 });
      expect(await router.counters6('CAMGUARD6_OUT')).toEqual(
        new Map([
          [4010, { packets: 10, bytes: 1000 }],
          [4018, { packets: 10, bytes: 1000 }],
          [4020, { packets: 0, bytes: 0 }],
          [10000, { packets: 10, bytes: 1000 }],
        ]),
      );
      await router.configure([
        'set firewall ipv6-name CAMGUARD6_OUT rule 4018 description changed',
        'delete firewall ipv6-name CAMGUARD6_OUT rule 4008 disable',
        // An IPv4 ruleset of the same name and rule numbers: its changes leave the IPv6 counters alone.
        'set firewall name CAMGUARD6_OUT rule 4010 action accept',
        'set firewall name CAMGUARD6_OUT default-action accept',
      ]);
      const counters = await router.counters6('CAMGUARD6_OUT');
      expect(counters.get(4008)).toEqual({ packets: 0, bytes: 0 });
      expect(counters.get(4010)).toEqual({ packets: 10, bytes: 1000 });
      expect(counters.get(4018)).toEqual({ packets: 0, bytes: 0 });
      expect(counters.get(10000)).toEqual({ packets: 10, bytes: 1000 });
      expect((await router.counters('CAMGUARD_OUT')).get(4018)).toEqual({ packets: 4, bytes: 400 });
      // And an IPv4 change leaves IPv6 counters alone too.
      await router.configure(['set firewall name CAMGUARD_OUT rule 4018 description changed', 'set firewall name CAMGUARD6_OUT rule 4010 description changed']);
      expect((await router.counters6('CAMGUARD6_OUT')).get(4010)).toEqual({ packets: 10, bytes: 1000 });
      expect((await router.counters('CAMGUARD_OUT')).get(4018)).toEqual({ packets: 0, bytes: 0 });
    });

    it('gives verdicts by IPv6 source address and prefix from the ruleset bound to the WAN out slot', async () => {
      expect(await router.sendTraffic({ ...garage6, port: 443 })).toBe('dropped');
      expect(await router.sendTraffic({ ...garage6, protocol: 'udp', port: 587 })).toBe('accepted');
      // The same host written another way is the same address.
      expect(await router.sendTraffic({ ...garage6, from: '2001:DB8:1:0:0:0:0:0051', port: 443 })).toBe('dropped');
      expect(await router.sendTraffic({ ...garage6, from: '2001:db8:1::6a', port: 443 })).toBe('dropped');
      expect(await router.sendTraffic({ ...garage6, from: '2001:db8:1::70', port: 443 })).toBe('accepted');
      // IPv4 from the same camera meets the IPv4 ruleset only.
      expect(await router.sendTraffic({ from: '192.168.1.51', protocol: 'udp', port: 587, packets: 1, bytes: 100 })).toBe('dropped');
      expect((await router.counters6('CAMGUARD6_OUT')).get(4018)).toEqual({ packets: 20, bytes: 2000 });
      expect((await router.counters6('CAMGUARD6_OUT')).get(4020)).toEqual({ packets: 10, bytes: 1000 });
      expect((await router.counters('CAMGUARD_OUT')).get(4018)).toEqual({ packets: 1, bytes: 100 });
      await router.configure(['delete interfaces ethernet eth0 firewall out ipv6-name']);
      expect(await router.sendTraffic({ ...garage6, port: 443 })).toBe('accepted');
      expect(await router.sendTraffic({ from: '192.168.1.51', protocol: 'tcp', port: 443, packets: 1, bytes: 100 })).toBe('dropped');
    });

    it('gives verdicts by MAC for every IPv6 address of a LAN host, not for its IPv4 traffic', async () => {
      const frontDoor = { protocol: 'tcp', port: 443, packets: 5, bytes: 500 } as const;
      expect(await router.sendTraffic({ ...frontDoor, from: '2001:db8:1::50', family: 6 })).toBe('accepted');
      await router.configure(['delete firewall ipv6-name CAMGUARD6_OUT rule 4008 disable']);
      expect(await router.sendTraffic({ ...frontDoor, from: '2001:db8:1::50', family: 6 })).toBe('dropped');
      expect(await router.sendTraffic({ ...frontDoor, from: 'fe80::211:22ff:fe33:4455', to: 'fe80::1' })).toBe('dropped');
      expect(await router.sendTraffic({ ...frontDoor, from: '2001:db8:1::50', protocol: 'icmp' })).toBe('dropped');
      expect(await router.sendTraffic({ ...frontDoor, from: '192.168.1.50' })).toBe('accepted');
      expect((await router.counters6('CAMGUARD6_OUT')).get(4008)).toEqual({ packets: 15, bytes: 1500 });
      // A host the LAN table does not list has no MAC to match.
      await router.setLanHosts([]);
      expect(await router.sendTraffic({ ...frontDoor, from: '2001:db8:1::50' })).toBe('accepted');
    });

    it('never offloads IPv6: a new drop rule stops an established IPv6 flow at once', async () => {
      await router.setOffload(true);
      const upload = { ...garage6, protocol: 'udp', port: 587 } as const;
      expect(await router.sendTraffic(upload)).toBe('accepted');
      await router.configure(['set firewall ipv6-name CAMGUARD6_OUT rule 4010 disable']);
      expect(await router.sendTraffic(upload)).toBe('dropped');
      expect((await router.counters6('CAMGUARD6_OUT')).get(4018)).toEqual({ packets: 10, bytes: 1000 });
    });

    it('lists and deletes IPv6 flows with conntrack -s', async () => {
      expect(await router.sendTraffic({ ...garage6, protocol: 'udp', port: 587 })).toBe('accepted');
      expect(await router.sendTraffic({ from: '2001:db8:1::99', protocol: 'icmp', packets: 1, bytes: 104 })).toBe('accepted');
      const listed = await router.run('sudo conntrack -L -s 2001:DB8:1::51');
      expect(listed.stdout).toMatch(/^udp {6}17 179 src=2001:db8:1::51 dst=2001:db8:ffff::10 sport=\d+ dport=587 packets=10 bytes=1000 src=2001:db8:ffff::10 dst=2001:db8:1::51 /);
      expect(listed.stderr).toBe('conntrack v1.4.6 (conntrack-tools): 1 flow entries have been shown.\n');
      expect((await router.run('sudo conntrack -L -s 2001:db8:1::99')).stdout).toMatch(
        /^icmpv6 {3}58 29 src=2001:db8:1::99 dst=2001:db8:ffff::10 type=128 code=0 id=\d+ packets=1 bytes=104 src=2001:db8:ffff::10 dst=2001:db8:1::99 type=129 code=0 id=\d+ /,
      );
      expect((await router.run('sudo conntrack -D -s 2001:db8:1::51')).stderr).toBe('conntrack v1.4.6 (conntrack-tools): 1 flow entries have been deleted.\n');
      expect(await router.hasFlow('2001:db8:1::51')).toBe(false);
      expect(await router.hasFlow('2001:db8:1::99')).toBe(true);
    });

    it('zeroes the IPv6 counters and flows on reboot and restores the saved IPv6 rules', async () => {
      await router.openFlow('2001:db8:1::51', { protocol: 'udp', port: 587 });
      await router.sendTraffic({ ...garage6, port: 443 });
      await router.sendTraffic({ ...garage6, from: '2001:db8:1::99', port: 443 });
      await router.configure(['set firewall ipv6-name CAMGUARD6_OUT rule 4018 disable']);
      expect((await router.counters6('CAMGUARD6_OUT')).get(10000)).toEqual({ packets: 10, bytes: 1000 });
      await router.reboot();
      expect(await router.activeConfigCommands()).not.toContain('rule 4018 disable');
      expect(await router.hasFlow('2001:db8:1::51')).toBe(false);
      const counters = await router.counters6('CAMGUARD6_OUT');
      expect([...counters.keys()]).toEqual([4010, 4018, 4020, 10000]);
      expect([...counters.values()].every((counter) => counter.packets === 0 && counter.bytes === 0)).toBe(true);
      expect((await router.run('sudo ip6tables -L VYATTA_FW_OUT_HOOK -v -n -x')).stdout).toContain('\n       0        0 CAMGUARD6_OUT  all  ');
    });
  });

  it('compiles IPv6 rows with their own rule keys and the ICMPv6 protocol name ip6tables-save uses', () => {
    const config = parseConfigCommands(`${INITIAL_CONFIG}set firewall ipv6-name CAMGUARD6_OUT rule 4031 action accept\nset firewall ipv6-name CAMGUARD6_OUT rule 4031 protocol icmpv6\n`);
    const rows = compileIpv6Firewall(config).chains.CAMGUARD6_OUT?.rows ?? [];
    expect(rows.map((row) => row.ruleKey)).toEqual([
      'ipv6:CAMGUARD6_OUT-4010',
      'ipv6:CAMGUARD6_OUT-4010',
      'ipv6:CAMGUARD6_OUT-4018',
      'ipv6:CAMGUARD6_OUT-4020',
      'ipv6:CAMGUARD6_OUT-4031',
      'ipv6:CAMGUARD6_OUT-10000',
    ]);
    expect(rows.find((row) => row.match.comment === 'CAMGUARD6_OUT-4031')?.protocol).toBe('ipv6-icmp');
    expect(rows.map((row) => row.id)).toContain('CAMGUARD6_OUT|CAMGUARD6_OUT-4018|DROP|all');
  });
});
