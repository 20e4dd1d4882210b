import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import { MAX_ATTEMPTS, MAX_LOG_LINE_LENGTH, attemptsPerRule, logPrefixOf, parseFirewallLog } from '../../src/destinations/firewallLog';

const fixture = (name: string): string => readFileSync(join(__dirname, '../fixtures/edgeos', name), 'utf8');

/**
 * Log lines in the kernel's LOG format (nf_log_syslog.c's format strings: the prefix glued to `IN=`, IPv6 addresses
 * in full) behind rsyslog's traditional time stamp, as /var/log/messages holds them. Constructed, not captured: the
 * lab's real packets must confirm them (docs/design/destinations.md).
 */
const LOG = [
  'Dec  3 12:00:01 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:08:00 SRC=192.168.1.50 DST=47.96.1.2 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF PROTO=TCP SPT=40000 DPT=8000 WINDOW=29200 RES=0x00 SYN URGP=0 ',
  'Dec  3 12:00:02 ubnt dnsmasq[1234]: query[A] example.com from 192.168.1.50',
  'Dec  3 12:00:02 ubnt kernel: [WAN_LOCAL-default-D]IN=eth0 OUT= MAC=fc:dc:dd:24:22:f7:00:3d:45:42:83:19:08:00 SRC=198.51.100.7 DST=203.0.113.2 LEN=40 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT=56057 DPT=443 WINDOW=65535 RES=0x00 SYN URGP=0 ',
  'Dec  3 12:00:03 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:08:00 SRC=192.168.1.50 DST=47.96.1.2 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4243 DF PROTO=TCP SPT=40002 DPT=8000 WINDOW=29200 RES=0x00 SYN URGP=0 ',
  'Dec  3 12:00:04 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:08:00 SRC=192.168.1.50 DST=8.8.8.8 LEN=84 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=4711 SEQ=1 ',
  'Dec  3 12:00:05 ubnt kernel: [CAMGUARD6_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:86:dd SRC=2001:0db8:0001:0000:0000:0000:0000:0050 DST=2a00:1450:4001:0000:0000:0000:0000:0005 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=12345 PROTO=UDP SPT=40001 DPT=123 LEN=40 ',
  'Dec  3 12:00:06 ubnt kernel: [CAMGUARD6_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:86:dd SRC=2001:0db8:0001:0000:0000:0000:0000:0050 DST=2606:4700:0000:0000:0000:0000:0000:1111 LEN=104 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=9 SEQ=1 ',
  // An ICMP error quotes the packet it is about; that packet's fields are not the attempt's.
  'Dec  3 12:00:07 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC=04:18:d6:00:00:01:00:12:41:a3:70:04:08:00 SRC=192.168.1.50 DST=47.96.1.2 LEN=56 TOS=0x00 PREC=0x00 TTL=63 ID=7 PROTO=ICMP TYPE=3 CODE=3 [SRC=47.96.1.2 DST=192.168.1.50 LEN=28 TOS=0x00 PREC=0x00 TTL=50 ID=0 PROTO=UDP SPT=8000 DPT=40001 LEN=8 ] ',
  // rsyslog's high-precision time stamp, and the kernel's own time in front of the prefix.
  '2026-12-03T12:00:08.123456+00:00 ubnt kernel: [ 1234.567890] [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC= SRC=192.168.1.50 DST=47.96.1.2 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4244 DF PROTO=TCP SPT=40004 DPT=8000 WINDOW=29200 RES=0x00 SYN URGP=0 ',
  // A fragment: no ports.
  'Dec  3 12:00:09 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC= SRC=192.168.1.50 DST=47.96.1.2 LEN=1500 TOS=0x00 PREC=0x00 TTL=63 ID=99 FRAG:185 PROTO=UDP ',
  'Dec  3 12:00:10 ubnt kernel: [CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 MAC= SRC=192.168.1.50 DST=198.51.100.1 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=9 PROTO=47 ',
].join('\n');

const PREFIXES = [logPrefixOf('CAMGUARD_OUT', 4017, 'drop'), logPrefixOf('CAMGUARD6_OUT', 4017, 'drop')];

describe('the LOG prefix of a rule', () => {
  it('is what EdgeOS’s engine gave rule 10 of ruleset C (samples/edgeos_engine_ubnt-fw_compile_and_refusals.txt)', () => {
    const engine = fixture('edgeos_engine_ubnt-fw_compile_and_refusals.txt');
    expect(engine).toContain(`-A C -s 192.168.1.10/32 -m comment --comment C-10 -j LOG --log-prefix "${logPrefixOf('C', 10, 'accept')}"`);
    expect(fixture('edgeos_ip6tables_S_WANv6_enable-default-log.txt')).toContain('--log-prefix "[WANv6_IN-default-D]"');
  });

  it('keeps only the first 19 characters of a long ruleset name, as ubnt-fw does', () => {
    expect(logPrefixOf('OWNERS_VERY_LONG_RULESET_NAME', 4017, 'drop')).toBe('[OWNERS_VERY_LONG_RU-4017-D]');
  });
});

describe('reading the firewall log', () => {
  it('reads the wanted rules’ packets and passes over other rules and daemons', () => {
    const { packets, skipped, truncated } = parseFirewallLog(LOG, PREFIXES);
    expect(skipped).toBe(0);
    expect(truncated).toBe(false);
    expect(packets).toHaveLength(9);
    expect(packets[0]).toEqual({
      prefix: '[CAMGUARD_OUT-4017-D]',
      time: 'Dec  3 12:00:01',
      family: 'ipv4',
      protocol: 'tcp',
      protocolNumber: 6,
      src: '192.168.1.50',
      dst: '47.96.1.2',
      sport: 40000,
      dport: 8000,
    });
    expect(packets[2]).toMatchObject({ protocol: 'icmp', dst: '8.8.8.8', icmpType: 8, icmpCode: 0 });
    expect(packets[3]).toMatchObject({ prefix: '[CAMGUARD6_OUT-4017-D]', family: 'ipv6', src: '2001:db8:1::50', dst: '2a00:1450:4001::5', protocol: 'udp', dport: 123 });
    expect(packets[4]).toMatchObject({ protocol: 'icmpv6', dst: '2606:4700::1111', icmpType: 128 });
    expect(packets[5]).toMatchObject({ protocol: 'icmp', dst: '47.96.1.2', icmpType: 3, icmpCode: 3 });
    expect(packets[5]!.dport).toBeUndefined();
    expect(packets[6]).toMatchObject({ time: '2026-12-03T12:00:08.123456+00:00', dport: 8000 });
    expect(packets[7]).toMatchObject({ protocol: 'udp', dst: '47.96.1.2' });
    expect(packets[7]!.dport).toBeUndefined();
    expect(packets[8]).toMatchObject({ protocol: 'other', protocolNumber: 47, dst: '198.51.100.1' });
  });

  it('reads a prefix one space apart from IN= (the Perl compiler’s quoted prefix keeps its trailing space)', () => {
    const line = 'Dec  3 12:00:01 vyos kernel: [CAMGUARD_OUT-4017-D] IN=eth1 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 LEN=60 PROTO=TCP SPT=1 DPT=2 ';
    expect(parseFirewallLog(line, PREFIXES).packets).toHaveLength(1);
  });

  it('skips and counts wanted lines it cannot read, without throwing', () => {
    const bad = [
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 LEN=60 PROTO=TCP SPT=1 DPT=2',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.999 PROTO=TCP SPT=1 DPT=2',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=2001:db8::1 PROTO=TCP SPT=1 DPT=2',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=TCP SPT=1 DPT=70000',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=constructor',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=ICMPv6 TYPE=1 CODE=0',
      '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=TCP SPT=1 DPT=2 \u001b[31m',
      `[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=TCP SPT=1 DPT=2 ${'A'.repeat(MAX_LOG_LINE_LENGTH)}`,
    ];
    const other = ['garbage', '', 'IN=', '[]IN=', `${'['.repeat(5000)}IN=`, `x${']'.repeat(3000)}IN=`, '[CAMGUARD_OUT-4018-D]IN=switch0 SRC=1.1.1.1 DST=2.2.2.2 PROTO=TCP'];
    const reading = parseFirewallLog([...bad, ...other].join('\n'), PREFIXES);
    expect(reading.skipped).toBe(bad.length);
    expect(reading.packets).toEqual([]);
  });

  it('stops at MAX_ATTEMPTS packets and says so', () => {
    const line = '[CAMGUARD_OUT-4017-D]IN=switch0 OUT=eth0 SRC=192.168.1.50 DST=47.96.1.2 PROTO=TCP SPT=1 DPT=2\n';
    const reading = parseFirewallLog(line.repeat(MAX_ATTEMPTS + 3), PREFIXES);
    expect(reading.packets).toHaveLength(MAX_ATTEMPTS);
    expect(reading.truncated).toBe(true);
  });

  it('never throws on arbitrary text', () => {
    const words = fc.constantFrom('[CAMGUARD_OUT-4017-D]', 'IN=', 'SRC=192.168.1.50', 'DST=::1', 'DST=1.2.3.4', 'PROTO=TCP', 'PROTO=ICMP', 'SPT=1', 'DPT=', 'TYPE=3', '[', ']', ' ', '\n');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.array(words, { maxLength: 40 }).map((parts) => parts.join(''))), (text) => {
        const reading = parseFirewallLog(text, PREFIXES);
        expect(reading.packets.length + reading.skipped).toBeLessThanOrEqual(text.split('\n').length);
      }),
    );
  });
});

describe('attempts per rule and destination', () => {
  it('counts logged packets per destination, protocol and port, the most tried first, with first and last sight', () => {
    const perRule = attemptsPerRule(parseFirewallLog(LOG, PREFIXES).packets);
    expect([...perRule.keys()]).toEqual(['[CAMGUARD_OUT-4017-D]', '[CAMGUARD6_OUT-4017-D]']);
    const v4 = perRule.get('[CAMGUARD_OUT-4017-D]')!;
    expect(v4.logged).toBe(7);
    expect(v4.otherDestinations).toBe(0);
    expect(v4.destinations[0]).toEqual({
      address: '47.96.1.2',
      protocol: 'tcp',
      protocolNumber: 6,
      port: 8000,
      logged: 3,
      firstSeen: 'Dec  3 12:00:01',
      lastSeen: '2026-12-03T12:00:08.123456+00:00',
    });
    expect(v4.destinations.map((destination) => `${destination.protocol}/${destination.port ?? destination.icmpType ?? '-'} ${destination.address}`)).toEqual([
      'tcp/8000 47.96.1.2',
      'other/- 198.51.100.1',
      'icmp/3 47.96.1.2',
      'udp/- 47.96.1.2',
      'icmp/8 8.8.8.8',
    ]);
    expect(perRule.get('[CAMGUARD6_OUT-4017-D]')!.destinations.map((destination) => destination.address)).toEqual(['2606:4700::1111', '2a00:1450:4001::5']);
  });
});
