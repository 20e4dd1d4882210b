/**
 * A dataplane that keeps the compiled iptables and ip6tables rules, their counters and the conntrack table in the
 * router state, and walks simulated packets through the rules the way netfilter does for forwarded traffic leaving
 * the WAN: IPv4 packets through the iptables filter table, IPv6 packets through the ip6tables one.
 *
 * A row with `-m limit` has its own token bucket (xt_limit: `burst` packets of credit, refilled at `rate`, kept per
 * row): while it has credit the row matches, past it the packets go on to the next row. A LOG row that matches writes
 * one kernel line per packet to the router's /var/log/messages (SimState.routerLog), which rotates to
 * /var/log/messages.1 (a new file, a new inode) when it would grow past its bound (SimOptions.logMaxBytes).
 */
import { compileFirewall, compileIpv6Firewall, limitPeriod } from './firewall';
import { formatConntrackFlow, formatIptablesChain } from './formats';
import { canonicalIpv6, ipv6Matches, parseIpv6 } from './ipv6';
import type {
  CommandResult,
  CompiledFirewall,
  ConfigLines,
  ConntrackFlow,
  CounterPair,
  IptablesRow,
  LanHost,
  MemoryDataplaneState,
  RouterStateStore,
  SimState,
  TokenBucket,
  TrafficDataplane,
  TrafficSpec,
  TrafficVerdict,
} from './types';

const DEFAULT_DESTINATION = '203.0.113.10';
/** rsyslog's size bound of /var/log/messages on Vyatta: `archive size` 250 KiB + 5 (destinations.md section 2). */
export const DEFAULT_LOG_MAX_BYTES = 255 * 1024;
/** The router's own MAC on the LAN, as the kernel writes it first in a LOG line's `MAC=`. */
const ROUTER_LAN_MAC = '04:18:d6:00:00:01';
const LAN_INTERFACE = 'switch0';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DEFAULT_DESTINATION6 = '2001:db8:ffff::10';
const CONNTRACK = 'conntrack v1.4.6 (conntrack-tools)';

type FlowSpec = Omit<TrafficSpec, 'packets' | 'bytes'>;

/** The packet's family: explicit, else IPv6 when the source has a colon. */
function familyOf(traffic: Pick<TrafficSpec, 'from' | 'family'>): 4 | 6 {
  return traffic.family ?? (traffic.from.includes(':') ? 6 : 4);
}

/**
 * The traffic with its addresses as conntrack prints them (IPv6 in inet_ntop form, so that `2001:DB8::0050` and
 * `2001:db8::50` are one host), its destination defaulted and ICMP meaning ICMPv6 for IPv6.
 */
function normalizeFlowSpec<T extends FlowSpec>(traffic: T): T & { to: string; family: 4 | 6 } {
  const family = familyOf(traffic);
  if (family === 4) return { ...traffic, to: traffic.to ?? DEFAULT_DESTINATION, family };
  const address = (text: string): string => {
    const canonical = canonicalIpv6(text);
    if (canonical === undefined) throw new Error(`simulated IPv6 traffic: '${text}' is not an IPv6 address`);
    return canonical;
  };
  const protocol = traffic.protocol === 'icmp' ? 'ipv6-icmp' : traffic.protocol;
  return { ...traffic, from: address(traffic.from), to: address(traffic.to ?? DEFAULT_DESTINATION6), protocol, family };
}

/** A source address as conntrack compares it: IPv6 addresses canonical, anything else as given. */
function normalizeSource(ip: string): string {
  return (ip.includes(':') ? canonicalIpv6(ip) : undefined) ?? ip;
}

function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + part, 0);
}

/** Whether `ip` is in `spec`: an address, a CIDR network, either prefixed with `!` for "not" (IPv4 or IPv6). */
function addressMatches(spec: string, ip: string): boolean {
  if (spec.includes(':') || ip.includes(':')) return ipv6Matches(spec, ip);
  const inverted = spec.startsWith('!');
  const [network = '', bits = '32'] = (inverted ? spec.slice(1) : spec).split('/');
  const size = 2 ** (32 - Number(bits));
  const start = ipv4ToNumber(network);
  const address = ipv4ToNumber(ip);
  const inside = start !== undefined && address !== undefined && Math.floor(address / size) === Math.floor(start / size);
  return inside !== inverted;
}

/** Whether `port` is in an EdgeOS port list such as `25,465,587` or `1000-2000`. */
function portMatches(spec: string, port: number): boolean {
  return spec.split(',').some((item) => {
    const [low = '', high = low] = item.split('-');
    return port >= Number(low) && port <= Number(high);
  });
}

interface Packet {
  protocol: string;
  from: string;
  to: string;
  sport: number;
  dport: number;
  mac?: string;
  state: 'NEW' | 'ESTABLISHED';
}

function rowMatches(row: IptablesRow, packet: Packet, ipsets: CompiledFirewall['ipsets']): boolean {
  const m = row.match;
  const inSet = (name: string, ip: string): boolean => (ipsets[name] ?? []).some((member) => addressMatches(member, ip));
  return (
    (row.protocol === 'all' || row.protocol === packet.protocol) &&
    addressMatches(row.source, packet.from) &&
    addressMatches(row.destination, packet.to) &&
    (m.states === undefined || m.states.includes(packet.state)) &&
    (m.sourceMac === undefined || m.sourceMac === packet.mac?.toUpperCase()) &&
    (m.sourceSet === undefined || inSet(m.sourceSet, packet.from)) &&
    (m.destinationSet === undefined || inSet(m.destinationSet, packet.to)) &&
    (m.sourcePorts === undefined || portMatches(m.sourcePorts, packet.sport)) &&
    (m.destinationPorts === undefined || portMatches(m.destinationPorts, packet.dport)) &&
    (m.dateStart === undefined || Date.now() >= Date.parse(`${m.dateStart}Z`))
  );
}

/** The packets of `wanted` a limited row lets match now, taking them from its bucket (xt_limit's limit_mt, per packet). */
function takeCredit(buckets: Record<string, TokenBucket>, row: IptablesRow, wanted: number, now: number): number {
  const limit = row.match.limit;
  if (limit === undefined) return wanted;
  // The period between two packets, in 1/10000 s: refill one packet of credit per period, up to `burst`.
  const period = limitPeriod(limit.rate) ?? Number.POSITIVE_INFINITY;
  const bucket = (buckets[row.id] ??= { credit: limit.burst, at: now });
  bucket.credit = Math.min(limit.burst, bucket.credit + ((now - bucket.at) * 10) / period);
  bucket.at = now;
  const taken = Math.min(wanted, Math.floor(bucket.credit));
  bucket.credit -= taken;
  return taken;
}

/** An IPv6 address with all eight groups written out, as the kernel's %pI6 prints it. */
function fullIpv6(address: string): string {
  const value = parseIpv6(address);
  if (value === undefined) return address;
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(16 * (7 - i))) & 0xffffn).toString(16).padStart(4, '0')).join(':');
}

/** `Dec  3 12:00:01`, rsyslog's traditional time stamp (UTC here). */
function syslogTime(now: number): string {
  const date = new Date(now);
  return `${MONTHS[date.getUTCMonth()] ?? 'Jan'} ${String(date.getUTCDate()).padStart(2, ' ')} ${date.toISOString().slice(11, 19)}`;
}

/** One kernel LOG line as rsyslog files it (the format of src/destinations/firewallLog.ts, from nf_log_syslog.c). */
function logLine(prefix: string, packet: Packet, family: 4 | 6, wanInterface: string, id: number, now: number): string {
  const mac = `${ROUTER_LAN_MAC}:${(packet.mac ?? '00:00:00:00:00:00').toLowerCase()}:${family === 4 ? '08:00' : '86:dd'}`;
  const head = `${syslogTime(now)} ubnt kernel: ${prefix}IN=${LAN_INTERFACE} OUT=${wanInterface} MAC=${mac} `;
  const ip =
    family === 4
      ? `SRC=${packet.from} DST=${packet.to} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${id} DF `
      : `SRC=${fullIpv6(packet.from)} DST=${fullIpv6(packet.to)} LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=0 `;
  let transport: string;
  if (packet.protocol === 'tcp') transport = `PROTO=TCP SPT=${packet.sport} DPT=${packet.dport} WINDOW=29200 RES=0x00 SYN URGP=0 `;
  else if (packet.protocol === 'udp') transport = `PROTO=UDP SPT=${packet.sport} DPT=${packet.dport} LEN=40 `;
  else if (family === 4) transport = `PROTO=ICMP TYPE=8 CODE=0 ID=${packet.sport} SEQ=${id % 65536} `;
  else transport = `PROTO=ICMPv6 TYPE=128 CODE=0 ID=${packet.sport} SEQ=${id % 65536} `;
  return `${head}${ip}${transport}\n`;
}

/** Appends lines to /var/log/messages, rotating it first (renamed to messages.1, a new file) when it would overflow. */
function appendRouterLog(state: SimState, text: string): void {
  const max = state.options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const log = (state.routerLog ??= { current: { inode: 1000, text: '' }, nextInode: 1001 });
  if (log.current.text.length > 0 && log.current.text.length + text.length > max) {
    log.rotated = log.current;
    log.current = { inode: log.nextInode++, text: '' };
  }
  log.current.text += text;
}

function emptyState(): MemoryDataplaneState {
  return { firewall: { chains: {}, ipsets: {} }, counters: {}, firewall6: { chains: {}, ipsets: {} }, counters6: {}, flows: [], nextFlowId: 1 };
}

/** Counters of the rows of `firewall`: carried over from `previous` unless the row's rule changed. */
function carryCounters(firewall: CompiledFirewall, previous: Record<string, CounterPair>, changedRuleKeys: Set<string>): Record<string, CounterPair> {
  const counters: Record<string, CounterPair> = {};
  for (const row of Object.values(firewall.chains).flatMap((chain) => chain.rows)) {
    const kept = previous[row.id];
    counters[row.id] = kept !== undefined && !changedRuleKeys.has(row.ruleKey) ? kept : { packets: 0, bytes: 0 };
  }
  return counters;
}

/** The buckets of the limited rows of `firewall` whose rule did not change. */
function carryBuckets(firewall: CompiledFirewall, previous: Record<string, TokenBucket>, changedRuleKeys: Set<string>): Record<string, TokenBucket> {
  const buckets: Record<string, TokenBucket> = {};
  for (const row of Object.values(firewall.chains).flatMap((chain) => chain.rows)) {
    const kept = previous[row.id];
    if (row.match.limit !== undefined && kept !== undefined && !changedRuleKeys.has(row.ruleKey)) buckets[row.id] = kept;
  }
  return buckets;
}

function listing(firewall: CompiledFirewall | undefined, counters: Record<string, CounterPair> | undefined, chain: string, family: 4 | 6): CommandResult {
  const compiled = firewall?.chains[chain];
  const tool = family === 4 ? 'iptables' : 'ip6tables';
  if (compiled === undefined) return { stdout: '', stderr: `${tool}: No chain/target/match by that name.\n`, code: 1 };
  return { stdout: formatIptablesChain(compiled, counters ?? {}, family), stderr: '', code: 0 };
}

export class MemoryDataplane implements TrafficDataplane {
  constructor(private readonly store: RouterStateStore) {}

  private withState<T>(fn: (dataplane: MemoryDataplaneState, state: SimState) => T): Promise<T> {
    // Copied before it is written: the memory store shares the dataplane between its copies of the state.
    return this.store.update((state) => fn((state.memoryDataplane = structuredClone(state.memoryDataplane ?? emptyState())), state));
  }

  async applyFirewall(active: ConfigLines, changedRuleKeys: Set<string>): Promise<void> {
    const firewall = compileFirewall(active);
    const firewall6 = compileIpv6Firewall(active);
    await this.withState((dataplane) => {
      dataplane.counters = carryCounters(firewall, dataplane.counters, changedRuleKeys);
      dataplane.counters6 = carryCounters(firewall6, dataplane.counters6 ?? {}, changedRuleKeys);
      // A re-inserted row starts with a full bucket, as a new xt_limit match does.
      dataplane.buckets = carryBuckets(firewall, dataplane.buckets ?? {}, changedRuleKeys);
      dataplane.buckets6 = carryBuckets(firewall6, dataplane.buckets6 ?? {}, changedRuleKeys);
      dataplane.firewall = firewall;
      dataplane.firewall6 = firewall6;
    });
  }

  async listChain(chain: string): Promise<CommandResult> {
    const dataplane = (await this.store.read()).memoryDataplane ?? emptyState();
    return listing(dataplane.firewall, dataplane.counters, chain, 4);
  }

  async listChain6(chain: string): Promise<CommandResult> {
    const dataplane = (await this.store.read()).memoryDataplane ?? emptyState();
    return listing(dataplane.firewall6, dataplane.counters6, chain, 6);
  }

  /** `conntrack -L -s <ip>`; an IPv6 source lists the IPv6 flows (conntrack takes the family from the address). */
  async listFlows(sourceIp: string): Promise<CommandResult> {
    const source = normalizeSource(sourceIp);
    const flows = ((await this.store.read()).memoryDataplane ?? emptyState()).flows.filter((flow) => flow.src === source);
    return { stdout: flows.map(formatConntrackFlow).join(''), stderr: `${CONNTRACK}: ${flows.length} flow entries have been shown.\n`, code: 0 };
  }

  deleteKernelRows(family: 4 | 6, chain: string, matches: (row: IptablesRow) => boolean): Promise<number> {
    return this.withState((dataplane) => {
      const table = family === 4 ? dataplane.firewall : dataplane.firewall6;
      const compiled = table?.chains[chain];
      if (compiled === undefined) return 0;
      const before = compiled.rows.length;
      compiled.rows = compiled.rows.filter((row) => !matches(row));
      return before - compiled.rows.length;
    });
  }

  /** `conntrack -D -s <ip>`, IPv4 or IPv6. */
  deleteFlows(sourceIp: string): Promise<CommandResult> {
    const source = normalizeSource(sourceIp);
    return this.withState((dataplane) => {
      const deleted = dataplane.flows.filter((flow) => flow.src === source);
      dataplane.flows = dataplane.flows.filter((flow) => flow.src !== source);
      return {
        stdout: deleted.map(formatConntrackFlow).join(''),
        stderr: `${CONNTRACK}: ${deleted.length} flow entries have been deleted.\n`,
        code: deleted.length > 0 ? 0 : 1,
      };
    });
  }

  reboot(): Promise<void> {
    return this.withState((dataplane) => {
      for (const counters of [dataplane.counters, dataplane.counters6 ?? {}]) {
        for (const id of Object.keys(counters)) counters[id] = { packets: 0, bytes: 0 };
      }
      dataplane.flows = [];
    });
  }

  /**
   * Forwards traffic from a LAN host to the internet. Packets of a flow conntrack already knows are ESTABLISHED, new
   * ones NEW. With hardware offload on, an established IPv4 flow bypasses iptables entirely: no counter moves and no
   * new drop rule stops it until its conntrack entry is deleted. IPv6 is never offloaded (the `offload` option is
   * IPv4 forwarding; `show ubnt offload` reports IPv6 forwarding disabled), so IPv6 always crosses ip6tables. An
   * IPv6 packet carries the MAC of the LAN host that lists its source among its `ipv6` addresses.
   */
  sendTraffic(traffic: TrafficSpec, context: { wanInterface: string; offload: boolean; lanHosts: LanHost[] }): Promise<TrafficVerdict> {
    const spec = normalizeFlowSpec(traffic);
    return this.withState((dataplane, state) => {
      const flow = this.findFlow(dataplane, spec);
      if (context.offload && spec.family === 4 && flow !== undefined) {
        flow.packets += spec.packets;
        flow.bytes += spec.bytes;
        return 'accepted';
      }
      const host =
        spec.family === 4
          ? context.lanHosts.find((candidate) => candidate.ip === spec.from)
          : context.lanHosts.find((candidate) => (candidate.ipv6 ?? []).some((address) => canonicalIpv6(address) === spec.from));
      const packet: Packet = {
        protocol: spec.protocol,
        from: spec.from,
        to: spec.to,
        sport: flow?.sport ?? 40000 + (dataplane.nextFlowId % 20000),
        dport: spec.port ?? 0,
        mac: host?.mac,
        state: flow === undefined ? 'NEW' : 'ESTABLISHED',
      };
      const passed = this.forward(dataplane, state, packet, context.wanInterface, spec);
      if (passed.packets > 0) {
        const accepted = flow ?? this.addFlow(dataplane, spec);
        accepted.packets += passed.packets;
        accepted.bytes += passed.bytes;
      }
      // Any packet that got out makes the traffic "accepted": a partly dropped flood still leaked.
      return passed.packets > 0 ? 'accepted' : 'dropped';
    });
  }

  async openFlow(traffic: FlowSpec): Promise<void> {
    const spec = normalizeFlowSpec(traffic);
    await this.withState((dataplane) => this.findFlow(dataplane, spec) ?? this.addFlow(dataplane, spec));
  }

  async hasFlow(sourceIp: string): Promise<boolean> {
    const source = normalizeSource(sourceIp);
    return ((await this.store.read()).memoryDataplane?.flows ?? []).some((flow) => flow.src === source);
  }

  /** `traffic` must be normalized (normalizeFlowSpec). */
  private findFlow(dataplane: MemoryDataplaneState, traffic: FlowSpec & { to: string }): ConntrackFlow | undefined {
    return dataplane.flows.find((flow) => flow.src === traffic.from && flow.dst === traffic.to && flow.protocol === traffic.protocol && flow.dport === (traffic.port ?? 0));
  }

  private addFlow(dataplane: MemoryDataplaneState, traffic: FlowSpec & { to: string }): ConntrackFlow {
    const id = dataplane.nextFlowId++;
    const flow = { id, protocol: traffic.protocol, src: traffic.from, dst: traffic.to, sport: 40000 + (id % 20000), dport: traffic.port ?? 0, packets: 0, bytes: 0 };
    dataplane.flows.push(flow);
    return flow;
  }

  /**
   * FORWARD → VYATTA_FW_OUT_HOOK → the ruleset bound to the WAN's `out` slot; RETURN goes back to the hook. IPv4
   * walks the iptables table, IPv6 the ip6tables one (each has its own VYATTA_FW_OUT_HOOK and counters). The
   * traffic's packets walk together, except where a limited row matches only some of them: those it takes, the rest go
   * on. Returns the packets (and their bytes) that got out.
   */
  private forward(dataplane: MemoryDataplaneState, state: SimState, packet: Packet, wanInterface: string, traffic: TrafficSpec & { family: 4 | 6 }): CounterPair {
    const { chains, ipsets } = traffic.family === 4 ? dataplane.firewall : (dataplane.firewall6 ?? { chains: {}, ipsets: {} });
    const counters = traffic.family === 4 ? dataplane.counters : (dataplane.counters6 ??= {});
    const buckets = traffic.family === 4 ? (dataplane.buckets ??= {}) : (dataplane.buckets6 ??= {});
    const now = Date.now();
    // The packets still walking, and their bytes; a share of n packets carries its part of the bytes.
    let packets = traffic.packets;
    let bytes = traffic.bytes;
    const share = (n: number): number => (n === packets ? bytes : Math.floor((bytes * n) / packets));
    const count = (row: IptablesRow, n: number, b: number): void => {
      const counter = (counters[row.id] ??= { packets: 0, bytes: 0 });
      counter.packets += n;
      counter.bytes += b;
    };
    for (const jump of chains.VYATTA_FW_OUT_HOOK?.rows ?? []) {
      if (packets === 0) break;
      if (jump.outInterface !== wanInterface) continue;
      count(jump, packets, bytes);
      // Packets that RETURN from this chain go back to the hook, and on to the next jump, with those that fell off its end.
      let returned = { packets: 0, bytes: 0 };
      for (const row of chains[jump.target]?.rows ?? []) {
        if (packets === 0) break;
        if (!rowMatches(row, packet, ipsets)) continue;
        const taken = takeCredit(buckets, row, packets, now);
        if (taken === 0) continue;
        const takenBytes = share(taken);
        count(row, taken, takenBytes);
        if (row.target === 'LOG') {
          const lines = Array.from({ length: taken }, () => logLine(row.match.logPrefix ?? '', packet, traffic.family, wanInterface, dataplane.nextFlowId++, now));
          appendRouterLog(state, lines.join(''));
          continue;
        }
        if (row.target === 'RETURN') {
          returned = { packets: returned.packets + taken, bytes: returned.bytes + takenBytes };
        } else if (row.target !== 'DROP' && row.target !== 'REJECT') {
          continue;
        }
        packets -= taken;
        bytes -= takenBytes;
      }
      packets += returned.packets;
      bytes += returned.bytes;
    }
    return { packets, bytes };
  }
}
