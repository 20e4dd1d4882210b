/**
 * Shared types of the simulated EdgeRouter. Everything in SimState is plain JSON so that a file-backed store can
 * persist it between the processes of the router lab (one process per SSH login there).
 */

/** One configuration leaf as `show configuration commands` prints it, without `set`, e.g. `['firewall', 'name', 'X', 'rule', '10', 'disable']`. */
export type ConfigLine = string[];
/** A whole configuration: the set of its leaf lines, kept in tree order. */
export type ConfigLines = ConfigLine[];

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A device on the LAN, as `show dhcp leases` and `show arp` report it. */
export interface LanHost {
  ip: string;
  mac: string;
  hostname: string;
  /** The host's IPv6 addresses (SLAAC, privacy, DHCPv6): IPv6 traffic from any of them carries the host's MAC. */
  ipv6?: string[];
}

/**
 * An injected commit fault. `fail` applies nothing, `partial` applies only some of the changed rules (both exit 1
 * with `Commit failed`), `locked` reports another commit in progress.
 */
export type CommitFaultKind = 'fail' | 'partial' | 'locked';

/**
 * An open configuration session (`vyatta-cfg-cmd-wrapper begin`), keyed in SimState by its session id. Its changes
 * are `working` compared with `base`, the active configuration they were made against.
 */
export interface ConfigSession {
  base: ConfigLines;
  working: ConfigLines;
  openedAt: string;
}

export interface SimOptions {
  wanInterface: string;
  offload: boolean;
  lanHosts: LanHost[];
  /** The size /var/log/messages rotates at (rsyslog's outchannel); default DEFAULT_LOG_MAX_BYTES (255 KiB). */
  logMaxBytes?: number;
}

export interface SimState {
  active: ConfigLines;
  saved: ConfigLines;
  sessions: Record<string, ConfigSession>;
  /** The commit lock; `owner` is a random token of the commit that holds it. */
  commitLock: { owner: string; since: string } | null;
  /** Set when the configuration wrapper ran through sudo: later configuration fails until a reboot. */
  configBrokenUntilReboot: boolean;
  /**
   * `refuseEdits`: a `set`/`delete` whose path contains one of these texts is refused ("Set failed"), as EdgeOS
   * refuses a value its templates do not accept; the commit that follows still applies whatever else was set.
   */
  faults: {
    pendingCommitFaults: CommitFaultKind[];
    commitDelayMs: number;
    refuseEdits?: string[];
    /** Reading /var/log/messages(.1) fails with "Permission denied", as for a login whose sudo may not run `tail`. */
    logUnreadable?: boolean;
  };
  /** False until the dataplane has been loaded from the active configuration (the simulated boot). */
  booted: boolean;
  /** Source of process ids for simulated shells; the configuration wrapper keys sessions on them. */
  nextPid: number;
  options: SimOptions;
  /** The in-memory dataplane's compiled rules, counters and flows; absent with a real dataplane. */
  memoryDataplane?: MemoryDataplaneState;
  /**
   * The router's /var/log/messages (rsyslog's file, where the kernel's LOG lines land) and the rotated
   * /var/log/messages.1 that logrotate keeps; absent until something is logged. `inode` changes when the file is
   * rotated (renamed away, a new one created), as it does on the router.
   */
  routerLog?: { current: SimLogFile; rotated?: SimLogFile; nextInode: number };
  /** `net.netfilter.nf_conntrack_acct` (0 on EdgeOS unless the owner switches it on); absent = 0. */
  conntrackAccounting?: 0 | 1;
}

/** One simulated log file: its inode and its bytes (ASCII). */
export interface SimLogFile {
  inode: number;
  text: string;
}

export interface RouterStateStore {
  /** A private copy of the current state. */
  read(): Promise<SimState>;
  /** Atomic read-modify-write: `fn` mutates the state it is given; nothing is stored if it throws. */
  update<T>(fn: (state: SimState) => T | Promise<T>): Promise<T>;
}

export interface Dataplane {
  /**
   * Compiles the firewall of `active`; counters of rules in `changedRuleKeys` restart at 0. Keys are the rows'
   * `ruleKey`: `<RULESET>-<N>` for IPv4 rules, `ipv6:<RULESET>-<N>` for IPv6 rules (see compileIpv6Firewall).
   * A dataplane without IPv6 (no listChain6) ignores the IPv6 rulesets.
   */
  applyFirewall(active: ConfigLines, changedRuleKeys: Set<string>): Promise<void>;
  /** The output of `iptables -t filter -L <chain> -v -n -x`. */
  listChain(chain: string): Promise<CommandResult>;
  /**
   * The output of `ip6tables -t filter -L <chain> -v -n -x` (the IPv6 rulesets and their hooks). Optional: without
   * it the simulated `ip6tables` reports that the dataplane has no IPv6 firewall.
   */
  listChain6?(chain: string): Promise<CommandResult>;
  /** `conntrack -L -s <ip>`. */
  listFlows(sourceIp: string): Promise<CommandResult>;
  /** `conntrack -D -s <ip>`. */
  deleteFlows(sourceIp: string): Promise<CommandResult>;
  /**
   * `conntrack -L -o extended`: the whole table in conntrack-tools' format, with `packets= bytes=` only while
   * accounting is on. Optional: a dataplane without it makes the simulated `conntrack -L -o extended` fail.
   */
  listAllFlows?(): Promise<CommandResult>;
  /** `net.netfilter.nf_conntrack_acct` as the router's kernel has it (a real one in the lab); optional. */
  conntrackAccounting?(): Promise<0 | 1>;
  /** `ip neigh show` from a real kernel; without it the simulated `ip` prints the LAN hosts (SimOptions.lanHosts). */
  listNeighbours?(): Promise<CommandResult>;
  /** Zeroes every counter (IPv4 and IPv6) and drops every flow. */
  reboot(): Promise<void>;
}

/** `icmp` with IPv6 means ICMPv6, the same as `ipv6-icmp`. */
export type TrafficProtocol = 'tcp' | 'udp' | 'icmp' | 'ipv6-icmp';

export interface TrafficSpec {
  /** LAN source address (IPv6 with family 6). */
  from: string;
  /** Internet destination; defaults to 203.0.113.10 (IPv4) or 2001:db8:ffff::10 (IPv6). */
  to?: string;
  protocol: TrafficProtocol;
  /** Destination port (ignored for icmp). */
  port?: number;
  packets: number;
  bytes: number;
  /** 4 or 6; defaults to 6 when `from` contains a colon, else 4. IPv6 packets cross the ip6tables rulesets. */
  family?: 4 | 6;
}

export type TrafficVerdict = 'accepted' | 'dropped';

/** A dataplane that can also carry simulated packets (only the in-memory one can). */
export interface TrafficDataplane extends Dataplane {
  sendTraffic(traffic: TrafficSpec, context: { wanInterface: string; offload: boolean; lanHosts: LanHost[] }): Promise<TrafficVerdict>;
  openFlow(traffic: Omit<TrafficSpec, 'packets' | 'bytes'>): Promise<void>;
  hasFlow(sourceIp: string): Promise<boolean>;
  /**
   * Deletes rows from the kernel's tables behind EdgeOS's back, as `sudo iptables -D` by hand (or a firewall reload
   * that went wrong) would: the configuration still says the rule is there. Returns how many rows went.
   */
  deleteKernelRows(family: 4 | 6, chain: string, matches: (row: IptablesRow) => boolean): Promise<number>;
}

export interface ConntrackFlow {
  id: number;
  protocol: TrafficProtocol;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
}

export interface CounterPair {
  packets: number;
  bytes: number;
}

/** One compiled iptables rule. `matches` are the structured conditions; the listing renders them. */
export interface IptablesRow {
  /** Stable identity across recompiles, to carry counters over (unique within one table: iptables or ip6tables). */
  id: string;
  /** `<RULESET>-<N>` for ruleset rules (`ipv6:<RULESET>-<N>` in the ip6tables table), empty for hook jumps. */
  ruleKey: string;
  target: string;
  protocol: string;
  inInterface: string;
  outInterface: string;
  source: string;
  destination: string;
  match: RowMatch;
}

export interface RowMatch {
  comment?: string;
  states?: string[];
  sourceMac?: string;
  sourceSet?: string;
  destinationSet?: string;
  sourcePorts?: string;
  destinationPorts?: string;
  logPrefix?: string;
  rejectWith?: string;
  /** `-m time --datestart <date> --utc`: the row matches only from then on (UTC, `YYYY-MM-DDThh:mm:ss`). */
  dateStart?: string;
  /**
   * `-m limit --limit <rate> --limit-burst <burst>` (rate as EdgeOS writes it, `6/minute`): the row matches only while
   * its own token bucket has credit; packets past it go on to the next row.
   */
  limit?: { rate: string; burst: number };
}

export interface IptablesChain {
  name: string;
  references: number;
  rows: IptablesRow[];
}

export interface CompiledFirewall {
  chains: Record<string, IptablesChain>;
  /** Address and network groups, which EdgeOS compiles to ipsets of the same name. */
  ipsets: Record<string, string[]>;
}

export interface MemoryDataplaneState {
  firewall: CompiledFirewall;
  counters: Record<string, CounterPair>;
  /** The ip6tables filter table and its counters (by row id); absent in states stored before IPv6 support. */
  firewall6?: CompiledFirewall;
  counters6?: Record<string, CounterPair>;
  flows: ConntrackFlow[];
  nextFlowId: number;
  /** The token buckets of the rows with `-m limit`, by row id (IPv4, and IPv6 in `buckets6`); absent = full. */
  buckets?: Record<string, TokenBucket>;
  buckets6?: Record<string, TokenBucket>;
}

/** xt_limit's state of one row: packets of credit (at most its burst), as of `at` (epoch ms). */
export interface TokenBucket {
  credit: number;
  at: number;
}
