/**
 * Text formats of the commands the simulator answers, column for column as the real tools print them (see
 * /work/shared/edgeos/samples). Drivers must parse these; keeping them exact is the point of the simulator.
 */
import { limitPeriod, printedRate } from './firewall';
import type { ConntrackFlow, CounterPair, IptablesChain, IptablesRow, LanHost } from './types';

/** `iptables -L -v -n -x` prints counts with `%8llu ` and pads the bytes heading to 10: the columns do not line up. */
const IPTABLES_HEADER = `${'pkts'.padStart(8)} ${'bytes'.padStart(10)} ${'target'.padEnd(9)}  prot opt ${'in'.padEnd(6)} ${'out'.padEnd(6)}  ${'source'.padEnd(19)}  ${'destination'.padEnd(19)} \n`;

function addressColumn(address: string): string {
  const inverted = address.startsWith('!');
  return `${inverted ? '!' : ' '}${(inverted ? address.slice(1) : address).padEnd(19)} `;
}

function portMatches(protocol: string, sourcePorts?: string, destinationPorts?: string): string {
  const single: string[] = [];
  const multi: string[] = [];
  for (const [ports, side] of [[sourcePorts, 's'], [destinationPorts, 'd']] as const) {
    if (ports === undefined) continue;
    if (ports.includes(',')) multi.push(` multiport ${side}ports ${ports.replace(/-/g, ':')}`);
    else if (ports.includes('-')) single.push(`${side}pts:${ports.replace('-', ':')}`);
    else single.push(`${side}pt:${ports}`);
  }
  return `${single.length > 0 ? ` ${protocol} ${single.join(' ')}` : ''}${multi.join('')}`;
}

/**
 * The `prot` column of ip6tables -n: proto_to_name(proto, nolookup=1) takes the first name of libxtables'
 * xtables_chain_protos, where ICMPv6 is `icmpv6` (six characters: it overflows the %-5s column by one). ip6tables-save
 * and -S print `ipv6-icmp` instead (from /etc/protocols).
 */
const IP6TABLES_PROTOCOL_NAMES: Record<string, string> = { 'ipv6-icmp': 'icmpv6' };

/**
 * The `opt` column. iptables prints the fragment flags `--` and a blank; ip6tables has no fragment flag and prints
 * three blanks (ip6tables.c print_firewall: `fputc(' ')` three times), so an IPv6 row reads `all      *` where an
 * IPv4 row reads `all  --  *`. The header is the same for both (`prot opt in`).
 */
const OPT_COLUMN: Record<4 | 6, string> = { 4: '-- ', 6: '   ' };

function iptablesRow(row: IptablesRow, counter: CounterPair, family: 4 | 6): string {
  const m = row.match;
  const protocol = family === 6 ? (IP6TABLES_PROTOCOL_NAMES[row.protocol] ?? row.protocol) : row.protocol;
  const matches = [
    m.comment !== undefined ? ` /* ${m.comment} */` : '',
    m.states !== undefined ? ` state ${m.states.join(',')}` : '',
    m.sourceMac !== undefined ? ` MAC ${m.sourceMac}` : '',
    m.sourceSet !== undefined ? ` match-set ${m.sourceSet} src` : '',
    m.destinationSet !== undefined ? ` match-set ${m.destinationSet} dst` : '',
    portMatches(row.protocol, m.sourcePorts, m.destinationPorts),
    // Matches print in the order the rule gives them, the target's options last (as iptables does).
    // As iptables 1.8.9 prints `-m time --datestart … --utc` (test/fixtures/edgeos/iptables_legacy_1.8.9_time_match.txt).
    m.dateStart !== undefined ? ` TIME starting from ${m.dateStart.replace('T', ' ')} UTC` : '',
    // As libxt_limit prints `-m limit` (test/fixtures/destinations/iptables_limit_fallthrough_lab_netns.txt).
    m.limit !== undefined ? ` limit: avg ${printedRate(limitPeriod(m.limit.rate) ?? 1)} burst ${m.limit.burst}` : '',
    m.logPrefix !== undefined ? ` LOG flags 0 level 4 prefix "${m.logPrefix}"` : '',
    m.rejectWith !== undefined ? ` reject-with ${m.rejectWith}` : '',
  ].join('');
  return (
    `${String(counter.packets).padStart(8)} ${String(counter.bytes).padStart(8)} ${row.target.padEnd(9)}  ${protocol.padEnd(5)}${OPT_COLUMN[family]}` +
    ` ${row.inInterface.padEnd(6)} ${row.outInterface.padEnd(6)} ${addressColumn(row.source)}${addressColumn(row.destination)}${matches}\n`
  );
}

/**
 * Exactly `iptables -t filter -L <chain> -v -n -x`, or with family 6 `ip6tables -t filter -L <chain> -v -n -x`
 * (iptables 1.4.21 / 1.6, as on EdgeOS 1.x / 2.x): the same header and columns; IPv6 rows differ only in the blank
 * `opt` column, `icmpv6` as protocol name, and IPv6 addresses (`::/0`; a host bare, without `/128`).
 */
export function formatIptablesChain(chain: IptablesChain, counters: Record<string, CounterPair>, family: 4 | 6 = 4): string {
  const rows = chain.rows.map((row) => iptablesRow(row, counters[row.id] ?? { packets: 0, bytes: 0 }, family));
  return `Chain ${chain.name} (${chain.references} references)\n${IPTABLES_HEADER}${rows.join('')}`;
}

/**
 * Sums `iptables -L -v -n -x` rows per rule number (`/* RS-N … *\/` comments), skipping LOG rows, which count the
 * same packets again. The default action is rule 10000.
 */
export function parseIptablesCounters(listing: string): Map<number, CounterPair> {
  const counters = new Map<number, CounterPair>();
  for (const line of listing.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const comment = /\/\* \S*-(\d+)(?: [^*]*)? \*\//.exec(line);
    if (comment?.[1] === undefined || fields[2] === 'LOG' || !/^\d+$/.test(fields[0] ?? '')) continue;
    const number = Number(comment[1]);
    const sum = counters.get(number) ?? { packets: 0, bytes: 0 };
    counters.set(number, { packets: sum.packets + Number(fields[0]), bytes: sum.bytes + Number(fields[1]) });
  }
  return counters;
}

export interface StatisticsRow {
  rule: string;
  counter: CounterPair;
  action: string;
  description: string;
}

const STATISTICS_RULE = '-'.repeat(82);

/** `show firewall name X statistics` (the EdgeOS layout of samples/edgeos_show_firewall_statistics_LAN_IN.txt). */
export function formatFirewallStatistics(ruleSet: string, description: string | undefined, activeOn: string[], rows: StatisticsRow[]): string {
  const line = (rule: string, packets: string, bytes: string, action: string, text: string): string =>
    `${rule.padEnd(5)} ${packets.padEnd(10)} ${bytes.padEnd(12)} ${action.padEnd(7)} ${text}\n`;
  return [
    `${STATISTICS_RULE}\n\n`,
    `IPv4 Firewall "${ruleSet}"${description !== undefined ? ` [${description}]` : ''}\n\n`,
    activeOn.length > 0 ? ` Active on ${activeOn.join(' ')}\n\n` : ' Inactive - Not applied to any interfaces\n\n',
    line('rule', 'packets', 'bytes', 'action', 'description'),
    line('----', '-------', '-----', '------', '-----------'),
    ...rows.map((row) => line(row.rule, String(row.counter.packets), String(row.counter.bytes), row.action.toUpperCase(), row.description)),
    `\n${STATISTICS_RULE}\n`,
  ].join('');
}

/** `show ubnt offload` as an ER-4 prints it. */
export function formatOffload(ipv4Forwarding: boolean, trafficAnalysis: { export: boolean; dpi: boolean }): string {
  const state = (on: boolean): string => (on ? 'enabled' : 'disabled');
  return [
    '',
    'IP offload module   : loaded',
    'IPv4',
    `  forwarding: ${state(ipv4Forwarding)}`,
    '  vlan      : disabled',
    '  pppoe     : disabled',
    '  gre       : disabled',
    '  bonding   : disabled',
    'IPv6',
    '  forwarding: disabled',
    '  vlan      : disabled',
    '  pppoe     : disabled',
    '  bonding   : disabled',
    '',
    'IPSec offload module: loaded',
    '',
    'Traffic Analysis    :',
    `  export    : ${state(trafficAnalysis.export)}`,
    `  dpi       : ${state(trafficAnalysis.dpi)}`,
    '    version       : 1.564',
    '',
    '',
  ].join('\n');
}

/** `show dhcp leases`; every host holds a lease from pool LAN that expires in a day. */
export function formatDhcpLeases(hosts: LanHost[], now: Date): string {
  const expiry = new Date(now.getTime() + 86_400_000).toLocaleDateString('en-US', { month: 'short', day: '2-digit', year: 'numeric', timeZone: 'UTC' });
  const line = (ip: string, mac: string, expiration: string, pool: string, name: string): string =>
    `${ip.padEnd(15)} ${mac.padEnd(18)} ${expiration.padEnd(20)} ${pool.padEnd(10)} ${name.padEnd(10)}\n`;
  return [
    'IP address      Hardware Address   Lease expiration     Pool       Client Name\n',
    '----------      ----------------   ----------------     ----       -----------\n',
    ...hosts.map((host) => line(host.ip, host.mac, expiry, 'LAN', host.hostname)),
  ].join('');
}

/** `show arp` (net-tools `arp -n` layout). */
export function formatArp(hosts: LanHost[], lanInterface: string): string {
  const line = (address: string, type: string, mac: string, flags: string, mask: string, iface: string): string =>
    `${address.padEnd(25)}${type.padEnd(8)}${mac.padEnd(20)}${flags.padEnd(6)}${mask.padEnd(16)}${iface}\n`;
  return [line('Address', 'HWtype', 'HWaddress', 'Flags', 'Mask', 'Iface'), ...hosts.map((host) => line(host.ip, 'ether', host.mac, 'C', '', lanInterface))].join('');
}

/** `ip neigh show`: each host's IPv4 address, then its IPv6 ones, all on the LAN interface with the host's MAC. */
export function formatNeighbours(hosts: LanHost[], lanInterface: string): string {
  return hosts
    .flatMap((host) => [`${host.ip} dev ${lanInterface} lladdr ${host.mac.toLowerCase()} REACHABLE\n`, ...(host.ipv6 ?? []).map((address) => `${address} dev ${lanInterface} lladdr ${host.mac.toLowerCase()} STALE\n`)])
    .join('');
}

/** One `conntrack -L` line, with accounting (`nf_conntrack_acct=1`) on. */
export function formatConntrackFlow(flow: ConntrackFlow): string {
  const replyPackets = flow.packets;
  const replyBytes = flow.packets * 52;
  if (flow.protocol === 'ipv6-icmp') {
    return (
      `icmpv6   58 29 src=${flow.src} dst=${flow.dst} type=128 code=0 id=${flow.sport} packets=${flow.packets} bytes=${flow.bytes} ` +
      `src=${flow.dst} dst=${flow.src} type=129 code=0 id=${flow.sport} packets=${replyPackets} bytes=${replyBytes} mark=0 use=1\n`
    );
  }
  if (flow.protocol === 'icmp') {
    return (
      `icmp     1 29 src=${flow.src} dst=${flow.dst} type=8 code=0 id=${flow.sport} packets=${flow.packets} bytes=${flow.bytes} ` +
      `src=${flow.dst} dst=${flow.src} type=0 code=0 id=${flow.sport} packets=${replyPackets} bytes=${replyBytes} mark=0 use=1\n`
    );
  }
  const head = flow.protocol === 'tcp' ? 'tcp      6 431999 ESTABLISHED' : 'udp      17 179';
  return (
    `${head} src=${flow.src} dst=${flow.dst} sport=${flow.sport} dport=${flow.dport} packets=${flow.packets} bytes=${flow.bytes} ` +
    `src=${flow.dst} dst=${flow.src} sport=${flow.dport} dport=${flow.sport} packets=${replyPackets} bytes=${replyBytes} [ASSURED] mark=0 use=1\n`
  );
}

/** `show version`, laid out as EdgeOS 2.0 prints it (samples/ntc_ubiquiti_edgerouter_show_version.raw.txt). */
export function formatVersion(now: Date): string {
  const time = now.toISOString().slice(11, 19);
  return [
    'Version:      v2.0.9-hotfix.7',
    'Build ID:     5611073',
    'Build on:     06/28/23 14:27',
    'Copyright:    2012-2023 Ubiquiti, Inc.',
    'HW model:     EdgeRouter X 5-Port',
    'HW S/N:       7483C2000001',
    `Uptime:       ${time} up 3 days,  2:11,  1 user,  load average: 0.21, 0.18, 0.12`,
    '',
  ].join('\n');
}
