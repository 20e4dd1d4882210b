/**
 * A dataplane that keeps the compiled iptables rules, their counters and the conntrack table in the router state,
 * and walks simulated packets through the rules the way netfilter does for forwarded traffic leaving the WAN.
 */
import { compileFirewall } from './firewall';
import { formatConntrackFlow, formatIptablesChain } from './formats';
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
  TrafficDataplane,
  TrafficSpec,
  TrafficVerdict,
} from './types';

const DEFAULT_DESTINATION = '203.0.113.10';
const CONNTRACK = 'conntrack v1.4.6 (conntrack-tools)';

function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + part, 0);
}

/** Whether `ip` is in `spec`: an address, a CIDR network, either prefixed with `!` for "not". */
function addressMatches(spec: string, ip: string): boolean {
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
    (m.destinationPorts === undefined || portMatches(m.destinationPorts, packet.dport))
  );
}

function emptyState(): MemoryDataplaneState {
  return { firewall: { chains: {}, ipsets: {} }, counters: {}, flows: [], nextFlowId: 1 };
}

export class MemoryDataplane implements TrafficDataplane {
  constructor(private readonly store: RouterStateStore) {}

  private withState<T>(fn: (dataplane: MemoryDataplaneState) => T): Promise<T> {
    return this.store.update((state) => fn((state.memoryDataplane ??= emptyState())));
  }

  async applyFirewall(active: ConfigLines, changedRuleKeys: Set<string>): Promise<void> {
    const firewall = compileFirewall(active);
    await this.withState((dataplane) => {
      const counters: Record<string, CounterPair> = {};
      for (const row of Object.values(firewall.chains).flatMap((chain) => chain.rows)) {
        const previous = dataplane.counters[row.id];
        counters[row.id] = previous !== undefined && !changedRuleKeys.has(row.ruleKey) ? previous : { packets: 0, bytes: 0 };
      }
      dataplane.firewall = firewall;
      dataplane.counters = counters;
    });
  }

  async listChain(chain: string): Promise<CommandResult> {
    const dataplane = (await this.store.read()).memoryDataplane ?? emptyState();
    const compiled = dataplane.firewall.chains[chain];
    if (compiled === undefined) return { stdout: '', stderr: 'iptables: No chain/target/match by that name.\n', code: 1 };
    return { stdout: formatIptablesChain(compiled, dataplane.counters), stderr: '', code: 0 };
  }

  async listFlows(sourceIp: string): Promise<CommandResult> {
    const flows = ((await this.store.read()).memoryDataplane ?? emptyState()).flows.filter((flow) => flow.src === sourceIp);
    return { stdout: flows.map(formatConntrackFlow).join(''), stderr: `${CONNTRACK}: ${flows.length} flow entries have been shown.\n`, code: 0 };
  }

  deleteFlows(sourceIp: string): Promise<CommandResult> {
    return this.withState((dataplane) => {
      const deleted = dataplane.flows.filter((flow) => flow.src === sourceIp);
      dataplane.flows = dataplane.flows.filter((flow) => flow.src !== sourceIp);
      return {
        stdout: deleted.map(formatConntrackFlow).join(''),
        stderr: `${CONNTRACK}: ${deleted.length} flow entries have been deleted.\n`,
        code: deleted.length > 0 ? 0 : 1,
      };
    });
  }

  reboot(): Promise<void> {
    return this.withState((dataplane) => {
      for (const id of Object.keys(dataplane.counters)) dataplane.counters[id] = { packets: 0, bytes: 0 };
      dataplane.flows = [];
    });
  }

  /**
   * Forwards traffic from a LAN host to the internet. Packets of a flow conntrack already knows are ESTABLISHED, new
   * ones NEW. With hardware offload on, an established flow bypasses iptables entirely: no counter moves and no new
   * drop rule stops it until its conntrack entry is deleted.
   */
  sendTraffic(traffic: TrafficSpec, context: { wanInterface: string; offload: boolean; lanHosts: LanHost[] }): Promise<TrafficVerdict> {
    return this.withState((dataplane) => {
      const flow = this.findFlow(dataplane, traffic);
      if (context.offload && flow !== undefined) {
        flow.packets += traffic.packets;
        flow.bytes += traffic.bytes;
        return 'accepted';
      }
      const packet: Packet = {
        protocol: traffic.protocol,
        from: traffic.from,
        to: traffic.to ?? DEFAULT_DESTINATION,
        sport: flow?.sport ?? 40000 + (dataplane.nextFlowId % 20000),
        dport: traffic.port ?? 0,
        mac: context.lanHosts.find((host) => host.ip === traffic.from)?.mac,
        state: flow === undefined ? 'NEW' : 'ESTABLISHED',
      };
      const verdict = this.forward(dataplane, packet, context.wanInterface, traffic);
      if (verdict === 'accepted') {
        const accepted = flow ?? this.addFlow(dataplane, traffic);
        accepted.packets += traffic.packets;
        accepted.bytes += traffic.bytes;
      }
      return verdict;
    });
  }

  async openFlow(traffic: Omit<TrafficSpec, 'packets' | 'bytes'>): Promise<void> {
    await this.withState((dataplane) => this.findFlow(dataplane, traffic) ?? this.addFlow(dataplane, traffic));
  }

  async hasFlow(sourceIp: string): Promise<boolean> {
    return ((await this.store.read()).memoryDataplane?.flows ?? []).some((flow) => flow.src === sourceIp);
  }

  private findFlow(dataplane: MemoryDataplaneState, traffic: Omit<TrafficSpec, 'packets' | 'bytes'>): ConntrackFlow | undefined {
    return dataplane.flows.find(
      (flow) => flow.src === traffic.from && flow.dst === (traffic.to ?? DEFAULT_DESTINATION) && flow.protocol === traffic.protocol && flow.dport === (traffic.port ?? 0),
    );
  }

  private addFlow(dataplane: MemoryDataplaneState, traffic: Omit<TrafficSpec, 'packets' | 'bytes'>): ConntrackFlow {
    const id = dataplane.nextFlowId++;
    const flow = { id, protocol: traffic.protocol, src: traffic.from, dst: traffic.to ?? DEFAULT_DESTINATION, sport: 40000 + (id % 20000), dport: traffic.port ?? 0, packets: 0, bytes: 0 };
    dataplane.flows.push(flow);
    return flow;
  }

  /** FORWARD → VYATTA_FW_OUT_HOOK → the ruleset bound to the WAN's `out` slot; RETURN goes back to the hook. */
  private forward(dataplane: MemoryDataplaneState, packet: Packet, wanInterface: string, traffic: TrafficSpec): TrafficVerdict {
    const { chains, ipsets } = dataplane.firewall;
    const count = (row: IptablesRow): void => {
      const counter = (dataplane.counters[row.id] ??= { packets: 0, bytes: 0 });
      counter.packets += traffic.packets;
      counter.bytes += traffic.bytes;
    };
    for (const jump of chains.VYATTA_FW_OUT_HOOK?.rows ?? []) {
      if (jump.outInterface !== wanInterface) continue;
      count(jump);
      for (const row of chains[jump.target]?.rows ?? []) {
        if (!rowMatches(row, packet, ipsets)) continue;
        count(row);
        if (row.target === 'RETURN') break;
        if (row.target === 'DROP' || row.target === 'REJECT') return 'dropped';
      }
    }
    return 'accepted';
  }
}
