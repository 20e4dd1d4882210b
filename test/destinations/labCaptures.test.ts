/**
 * Real kernel output, captured in a private network namespace (test/fixtures/destinations/*_lab_netns.txt, how in
 * docs/design/destinations.md section 8): the facts the destinations design rests on, checked against a real
 * Linux kernel and conntrack-tools. Not EdgeOS's kernel: the lab and a real router must still confirm them there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { destinationsOfCamera, parseConntrack } from '../../src/destinations/conntrack';
import { parseChainCounters } from '../../src/router/edgeos/parsers';

const capture = (name: string): string => readFileSync(join(__dirname, '../fixtures/destinations', name), 'utf8');

/** The lines of a capture after the line `from` up to the next line starting with `$ ` or `===`. */
function section(text: string, from: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(from);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith('$ ') || line.startsWith('==='));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

describe('a logged, rate-limited drop ahead of the unlimited drop (real iptables)', () => {
  const lab = capture('iptables_limit_fallthrough_lab_netns.txt');

  it('logs only the burst, drops every packet, and the two rules’ counters add up to exactly what was sent', () => {
    const counters = parseChainCounters(section(lab, '$ iptables -L C -v -n -x'), 'C');
    if (!counters.ok) {
      throw new Error(counters.error);
    }
    // The reader skips LOG rows: rule 7 counts its DROP row only, the packets that had credit.
    expect(counters.value.get(7)).toEqual({ packets: 5, bytes: 150 });
    // Over the limit, packets fell through to rule 8 and were dropped there.
    expect(counters.value.get(8)).toEqual({ packets: 95, bytes: 2850 });
    expect(counters.value.get(7)!.packets + counters.value.get(8)!.packets).toBe(100);
    // The LOG row has its own bucket, and logged as many as its DROP row dropped; iptables' default level is warning.
    expect(lab).toMatch(/^ +5 +150 LOG .*\/\* C-7 \*\/ limit: avg 6\/min burst 5 LOG flags 0 level 4 prefix "\[C-7-D\]"$/m);
  });

  it('keeps dropped packets out of conntrack: only the allowed flows are there', () => {
    const { flows, skipped } = parseConntrack(section(lab, '$ conntrack -L'));
    expect(skipped).toBe(0);
    expect(flows.map((flow) => flow.original.dst)).toEqual(['198.51.100.3', '198.51.100.3', '198.51.100.3']);
    expect(section(lab, '$ cat /proc/sys/net/netfilter/nf_conntrack_acct').trim()).toBe('0');
  });
});

describe('conntrack -L as conntrack-tools 1.4.7 prints it (real flows)', () => {
  const lab = capture('conntrack_L_lab_netns.txt');

  it('reads TCP, UDP, ICMP and ICMPv6 flows over IPv4 and IPv6, plain and extended, with counters', () => {
    for (const heading of ['=== conntrack -L (acct on)', '=== conntrack -L -o extended']) {
      const { flows, skipped } = parseConntrack(section(lab, heading));
      expect(skipped).toBe(0);
      // conntrack lists flows in hash order: compare them sorted.
      expect(flows.map((flow) => `${flow.family} ${flow.protocol} ${flow.original.dst} ${flow.original.dport ?? flow.original.icmpType} ${flow.state ?? '-'}`).sort()).toEqual([
        'ipv4 icmp 198.51.100.2 8 -',
        'ipv4 tcp 198.51.100.2 8000 SYN_SENT',
        'ipv4 udp 198.51.100.2 8000 -',
        'ipv6 icmpv6 2001:db8:1::2 128 -',
        'ipv6 tcp 2001:db8:1::2 443 SYN_SENT',
        'ipv6 udp 2001:db8:1::2 123 -',
      ]);
      expect(flows.every((flow) => flow.unreplied && flow.original.packets === 1 && flow.reply.bytes === 0)).toBe(true);
    }
  });

  it('says accounting is partly on when it was switched off between two flows', () => {
    const { flows } = parseConntrack(section(lab, '=== conntrack -L -s 198.51.100.1 -p udp (acct switched off after the first udp flow)'));
    const summary = destinationsOfCamera(flows, ['198.51.100.1']);
    expect(summary.accounting).toBe('partly');
    expect(summary.destinations.map((destination) => [destination.port, destination.traffic?.bytesSent])).toEqual([
      [8000, 30],
      [8001, undefined],
    ]);
  });

  it('adds up a camera’s IPv6 flows per destination', () => {
    const summary = destinationsOfCamera(parseConntrack(section(lab, '=== conntrack -L -f ipv6 -s 2001:db8:1::50')).flows, ['2001:db8:1::50']);
    expect(summary.accounting).toBe('on');
    expect(summary.destinations.map((destination) => `${destination.protocol}/${destination.port ?? '-'} ${destination.traffic?.bytesSent}`)).toEqual(['tcp/443 80', 'icmpv6/- 56', 'udp/123 50']);
  });
});
