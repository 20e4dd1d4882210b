/**
 * The EdgeOS implementation of RouterDriver: reads the configuration and counters, and turns the guard's
 * requests into one configuration transaction.
 */
import { isIPv6 } from 'node:net';

import { isIPv4, isSafeRuleSetName, printable } from '../../config';
import type { CameraSettings, RouterSettings } from '../../config';
import { routerWords } from '../../log';
import { CONFIG_REREAD_MS, MAX_CONFIGURATION_OUTPUT_BYTES, READ_TIMEOUT_MS, RULE_RANGE_SIZE, TRANSACTION_TIMEOUT_MS } from '../../settings';
import { RouterError } from '../driver';
import type { AllowedReading, ApplyOutcome, BlockedReading, CameraReading, EgressCounters, FlowCut, LanDevice, Plan, PlanScript, ReadKind, Requests, RouterIdentity, SetupProbe, RouterDriver, RouterReading } from '../driver';
import type { SshConnection } from '../ssh';
import {
  MARK,
  OUT_HOOK_CHAIN,
  OFFLOAD_COMMAND,
  READ_COMMAND,
  TRANSACTION_COMMAND,
  NEIGHBOURS_COMMAND,
  countersScript,
  cutManyFlowsScript,
  parseTransactionOutput,
  pollScript,
  readScript,
  saveScript,
  splitCutReports,
  splitLogPart,
  splitSections,
  transactionScript,
} from './commands';
import type { DestinationsQuery } from './commands';
import { readDestinations, triesLogPrefixes } from './destinations';
import type { CameraQuery } from './destinations';
import type { LogCursor } from '../../destinations/logCursor';
import { canonicalAddress } from '../../destinations/address';
import { readFirewall } from './firewallConfig';
import type { EdgeOsFirewall, FirewallRule, RuleSetConfig } from './firewallConfig';
import { cameraStatus, plan } from './planner';
import type { PlanInput } from './planner';
import type { ConfigOp } from './commands';
import { kernelRows, kernelRowsChanged, parseChainListing, parseConfigCommands, parseHookJumps, parseNeighbours, parseOffload, sumConntrackSummaries } from './parsers';
import type { ChainListing, DropRow, HookJump, KernelRows, RuleCounter } from './parsers';
import { RuleSetLayout, assignSlots, isPluginRule } from './ruleSetLayout';
import { readFirewallGroups, shadowReason, shadowingRow, shadowingRule } from './shadowRules';
import type { FirewallGroups } from './shadowRules';
import { DISCOVERY_SCRIPT, IDENTIFY_SCRIPT, devicesFrom, identityFrom } from './setupProbe';

type Router = Pick<RouterSettings, 'wanInterface' | 'ruleSet' | 'firstRule' | 'saveConfig'> &
  Partial<Pick<RouterSettings, 'ipv6RuleSet' | 'skipped' | 'forget'>>;

const DEFAULT_IPV6_RULESET = 'CAMGUARD6_OUT';

/** The kernel sections of a read, whose rows tell whether the firewall changed since the configuration was read. */
const KERNEL_MARKS = [MARK.counters, MARK.countersFailed, MARK.hook, MARK.hookFailed, MARK.counters6, MARK.counters6Failed, MARK.hook6, MARK.hook6Failed];

export interface EdgeOsRouterOptions {
  /** The clock the age of the configuration read is measured on (tests); default Date.now. */
  readonly now?: () => number;
  /** See CONFIG_REREAD_MS. */
  readonly configRereadMs?: number;
}

/** What the last full read found in the configuration, and when (on this machine's clock). */
interface ConfigRead {
  readonly firewall: EdgeOsFirewall;
  /** The address and network groups, to tell whether an owner's rule ahead of a camera's block matches it. */
  readonly groups: FirewallGroups;
  readonly notes: readonly string[];
  readonly readAt: number;
}

export class EdgeOsRouter implements RouterDriver, SetupProbe {
  private readonly layout: RuleSetLayout;
  /** The rulesets whose counters the next read asks for; start as the configured ones. */
  private counterChain: string;
  private counterChain6: string | undefined;
  /** Set when a commit succeeded but its save did not: the next transaction saves. */
  private unsaved: boolean;
  /** The planner's view of each reading this driver made, so a plan rests on exactly one reading. */
  private readonly inputs = new WeakMap<RouterReading, PlanInput>();
  /** The configuration commands of each plan this driver made. */
  private readonly scripts = new WeakMap<Plan, readonly ConfigOp[]>();
  /**
   * The configuration as last read in full, which polls build their readings on while the kernel's rows stay as they
   * were then; forgotten at each connection, close and transaction, so those are always followed by a full read.
   */
  private config: ConfigRead | undefined;
  /** The kernel's rows at the last read (full or poll), to tell whether the firewall changed since. */
  private kernel: KernelRows | undefined;
  private readonly now: () => number;
  private readonly configRereadMs: number;
  /**
   * Where the last read of the router's log stopped (memory only: the first read after a start reads the newest
   * 64 KiB). Moved on only by a read that succeeded as a whole, so a read that fails loses no log lines.
   */
  private logCursor: LogCursor | undefined;
  /** The other addresses each camera with a MAC was last seen using (from the neighbour table, at a flow cut). */
  private readonly knownAddresses = new Map<string, readonly string[]>();

  constructor(
    private readonly router: Router,
    private readonly ssh: SshConnection,
    options: EdgeOsRouterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.configRereadMs = options.configRereadMs ?? CONFIG_REREAD_MS;
    this.layout = new RuleSetLayout(router.firstRule);
    this.counterChain = router.ruleSet;
    // A Homebridge that was stopped (or lost power) between a commit and its save cannot know it after the restart:
    // the router would then bring back the old rules at its next reboot. One save after each start closes that gap.
    this.unsaved = router.saveConfig;
  }

  get connected(): boolean {
    return this.ssh.connected;
  }

  connect(): Promise<void> {
    // Whatever happened on the router while it was out of reach, the first reading after a connection is a full one.
    this.forgetConfig();
    return this.ssh.connect();
  }

  close(): void {
    this.forgetConfig();
    this.ssh.close();
  }

  private forgetConfig(): void {
    this.config = undefined;
    this.kernel = undefined;
  }

  async identify(): Promise<RouterIdentity> {
    const result = await this.ssh.exec(READ_COMMAND, IDENTIFY_SCRIPT, READ_TIMEOUT_MS);
    const identity = identityFrom(result.stdout);
    if (identity === undefined) throw new RouterError('protocol', `the router's answer to the connection test was cut short (${firstLine(result.stderr) || 'no error given'}).`);
    return identity;
  }

  async lanDevices(): Promise<readonly LanDevice[]> {
    const identity = await this.identify();
    const wan = [...new Set([...identity.defaultRouteInterfaces, this.router.wanInterface])];
    const result = await this.ssh.exec(READ_COMMAND, DISCOVERY_SCRIPT, READ_TIMEOUT_MS);
    const devices = devicesFrom(result.stdout, wan);
    if (devices === undefined) throw new RouterError('protocol', `the router's answer to the device listing was cut short (${firstLine(result.stderr) || 'no error given'}).`);
    return devices;
  }

  async hardwareOffload(): Promise<boolean> {
    const result = await this.ssh.exec(OFFLOAD_COMMAND, undefined, READ_TIMEOUT_MS);
    const parsed = parseOffload(result.stdout);
    // Offloaded IPv6 forwarding under-counts what cameras with a MAC send over IPv6, as IPv4 offload does over IPv4.
    return parsed.ok && (parsed.value.ipv4Forwarding || parsed.value.ipv6Forwarding);
  }

  /**
   * One read of the router: what it has, with the planner's view of it kept beside it (so a decision rests on this one
   * reading). A `poll` reads only the router's clock and the kernel's rows and counters, and builds the reading on the
   * configuration of the last full read, as long as the kernel's rows are as they were then and that read is younger
   * than `configRereadMs`; otherwise (and in that same poll when the rows changed) it reads the configuration too.
   */
  async read(cameras: readonly CameraSettings[], kind: ReadKind = 'full'): Promise<RouterReading> {
    const config = this.config;
    if (kind === 'poll' && config !== undefined && this.kernel !== undefined && this.now() - config.readAt < this.configRereadMs) {
      const query = this.destinationsQuery(cameras);
      const result = await this.ssh.exec(READ_COMMAND, pollScript(this.counterChain, this.counterChain6, query), READ_TIMEOUT_MS, MAX_CONFIGURATION_OUTPUT_BYTES);
      const { head, log } = splitLogPart(result.stdout);
      const sections = splitSections(head);
      if (!sections.has(MARK.end)) {
        throw new RouterError('protocol', `the router's answer to a poll was cut short (${firstLine(result.stderr) || 'no error given'}).`);
      }
      if (!kernelRowsChanged(this.kernel, kernelRows(sections, KERNEL_MARKS))) {
        return this.reading(cameras, config, sections, { query, log });
      }
      // The kernel's firewall changed (on the router, by hand or by another tool): what it now enforces has to be
      // matched against the configuration, read again now rather than at the next poll.
    }
    return this.fullRead(cameras);
  }

  /** Reads the clock, the kernel's rows and counters, and the whole configuration. */
  private async fullRead(cameras: readonly CameraSettings[]): Promise<RouterReading> {
    this.forgetConfig();
    const readAt = this.now();
    const query = this.destinationsQuery(cameras);
    const result = await this.ssh.exec(READ_COMMAND, readScript(this.counterChain, this.counterChain6, query), READ_TIMEOUT_MS, MAX_CONFIGURATION_OUTPUT_BYTES);
    const { head, log } = splitLogPart(result.stdout);
    const sections = splitSections(head);
    const configText = sections.get(MARK.config);
    if (configText === undefined || !sections.has(MARK.end)) {
      throw new RouterError('protocol', `the router's answer to a read was cut short (${firstLine(result.stderr) || 'no error given'}).`);
    }
    const parsed = parseConfigCommands(configText);
    if (!parsed.ok) {
      throw new RouterError('protocol', `could not read the router's configuration: ${parsed.error}.`);
    }
    const notes = parsed.value.skipped.map(
      ({ line, reason }) => `left out a configuration line the plugin does not use and could not read (${reason}): ${routerWords(line, 160)}`,
    );
    const config: ConfigRead = { firewall: readFirewall(parsed.value.paths), groups: readFirewallGroups(parsed.value.paths), notes, readAt };
    const reading = await this.reading(cameras, config, sections, { query, log });
    this.config = config;
    return reading;
  }

  /** What a read asks about destinations: the log from where the last read stopped, and every camera's connections. */
  private destinationsQuery(cameras: readonly CameraSettings[]): DestinationsQuery {
    return { logCursor: this.logCursor, flowAddresses: [...new Set(cameras.flatMap((camera) => this.flowAddressesOf(camera)))] };
  }

  /** A camera's configured address and the others it was seen using, in conntrack's spelling. */
  private flowAddressesOf(camera: CameraSettings): string[] {
    const addresses = [camera.address, ...(camera.mac === undefined ? [] : (this.knownAddresses.get(camera.address) ?? []))];
    return [...new Set(addresses.flatMap((address) => (isRoutedAddress(address) ? (canonicalAddress(address) ?? []) : [])))];
  }

  /** A reading from a configuration read and the sections of the latest read (clock and kernel listings). */
  private async reading(
    cameras: readonly CameraSettings[],
    config: ConfigRead,
    readSections: Map<string, string>,
    destinations: { readonly query: DestinationsQuery; readonly log: string | undefined },
  ): Promise<RouterReading> {
    // The destinations parts come from the first round trip, whatever the counters re-read below brings back.
    const firstSections = readSections;
    let sections = readSections;
    const clock = /^(\d{9,11})$/.exec((sections.get(MARK.clock) ?? '').trim());
    const routerNow = clock ? Number(clock[1]) * 1000 : undefined;
    const { firewall, notes } = config;
    const wan = firewall.interfaces.get(this.router.wanInterface);
    if (wan === undefined) {
      // Binding a ruleset to an interface the router does not have would create it (a VLAN interface's template
      // runs `ip link add`), and the cameras would stay unblocked on the real WAN: refuse instead.
      throw new RouterError(
        'config',
        `the router has no interface ${this.router.wanInterface}, which "wanInterface" names; it has ${interfaceList(firewall)}. ` +
          'Set "wanInterface" to the interface that leads to the internet; until then the plugin changes nothing on this router.',
      );
    }
    const ruleSet = checkedName(wan.outRuleSet ?? this.router.ruleSet, this.router.wanInterface);
    // IPv6 rules exist only for cameras with a MAC (IPv6 addresses change too often to match on).
    const wanted6 = this.router.ipv6RuleSet ?? DEFAULT_IPV6_RULESET;
    const candidate6 = checkedName(wan.outRuleSet6 ?? wanted6, this.router.wanInterface);
    const wants6 = cameras.some((camera) => camera.mac !== undefined);
    const ruleSet6 = wants6 || firewall.ruleSets6.has(candidate6) ? candidate6 : undefined;

    if (ruleSet !== this.counterChain || ruleSet6 !== this.counterChain6) {
      // The plugin's rules live in other rulesets than we asked about (adopted, or IPv6 just needed): ask again.
      this.counterChain = ruleSet;
      this.counterChain6 = ruleSet6;
      sections = splitSections((await this.ssh.exec(READ_COMMAND, countersScript(ruleSet, ruleSet6), READ_TIMEOUT_MS, MAX_CONFIGURATION_OUTPUT_BYTES)).stdout);
      if (!sections.has(MARK.end)) {
        throw new RouterError('protocol', "the router's answer to a counter read was cut short.");
      }
    }
    this.kernel = kernelRows(sections, KERNEL_MARKS);
    const warnings: string[] = [];
    const ruleSetConfig = firewall.ruleSets.get(ruleSet);
    const ruleSet6Config = ruleSet6 === undefined ? undefined : firewall.ruleSets6.get(ruleSet6);
    const listing = ruleSetConfig && readListing(sections, MARK.counters, MARK.countersFailed, ruleSet, warnings);
    const listing6 = ruleSet6 !== undefined && ruleSet6Config ? readListing(sections, MARK.counters6, MARK.counters6Failed, ruleSet6, warnings) : undefined;
    const counters = listing?.counters;
    const counters6 = listing6?.counters;
    const hooked = (mark: string, failedMark: string, chain: string): boolean | undefined => {
      const jumps = readHook(sections, mark, failedMark, warnings);
      return jumps === undefined ? undefined : jumps.some((jump) => jump.target === chain && jump.out === this.router.wanInterface);
    };
    const kernel: KernelView = {
      listing,
      listing6,
      hooked: ruleSetConfig && wan.outRuleSet === ruleSet ? hooked(MARK.hook, MARK.hookFailed, ruleSet) : undefined,
      hooked6: ruleSet6 !== undefined && ruleSet6Config && wan.outRuleSet6 === ruleSet6 ? hooked(MARK.hook6, MARK.hook6Failed, ruleSet6) : undefined,
      ruleSet,
      ruleSet6,
      sections,
    };

    const assignment = assignSlots(this.layout, [ruleSetConfig, ruleSet6Config], cameras);
    const input: PlanInput = {
      firewall,
      wanInterface: this.router.wanInterface,
      layout: this.layout,
      ruleSet,
      ruleSet6,
      wants6,
      assignment,
      cameras,
      skipped: this.router.skipped ?? [],
      forget: this.router.forget ?? [],
      ...(routerNow === undefined ? {} : { routerNow }),
    };
    const repairs = plan(input, new Map());
    if (assignment.foreignRules.length > 0) {
      const where = ruleSet6 === undefined ? ruleSet : `${ruleSet} or ${ruleSet6}`;
      warnings.push(
        `rules ${assignment.foreignRules.join(', ')} in ${where} sit in the plugin's range ${this.router.firstRule}-${this.router.firstRule + 999} ` +
          'but were not written by it; they are left alone and the cameras that would need their numbers are skipped. Move them, or change "firstRule".',
      );
    }
    const withoutMac = cameras.filter((camera) => camera.mac === undefined);
    if (wan.ipv6 && withoutMac.length > 0) {
      warnings.push(
        `the router has IPv6 on ${this.router.wanInterface}, and ${withoutMac.map((camera) => `"${printable(camera.name)}"`).join(', ')} ha${withoutMac.length === 1 ? 's' : 've'} no "mac", ` +
          'so their IPv6 traffic is not blocked. Add each camera\'s "mac" so the plugin can block it by MAC, or keep IPv6 off the camera network.',
      );
    }
    for (const camera of assignment.homeless) {
      warnings.push(`no free rule numbers for camera "${printable(camera.name)}"; it is not guarded.`);
    }

    const readings = new Map<string, CameraReading>();
    for (const camera of cameras) {
      const slot = assignment.slots.get(camera.address);
      if (slot !== undefined) {
        const reading = this.cameraReading(camera, slot, ruleSetConfig, ruleSet6Config, counters, counters6, routerNow);
        const notInForce =
          reading.access === 'blocked'
            ? (this.blockNotInForce(camera, slot, kernel) ?? this.blockShadowed(camera, slot, kernel, config.groups, ruleSetConfig, ruleSet6Config))
            : undefined;
        readings.set(camera.address, reading.access === 'blocked' && notInForce !== undefined ? { ...reading, notInForce } : reading);
      }
    }
    const queries: CameraQuery[] = cameras.flatMap((camera) => {
      const slot = assignment.slots.get(camera.address);
      const base = slot === undefined ? undefined : this.layout.slotRules(slot)[0];
      return base === undefined
        ? []
        : [{ address: camera.address, prefixes: triesLogPrefixes(base, ruleSet, camera.mac === undefined ? undefined : ruleSet6), flowAddresses: this.flowAddressesOf(camera) }];
    });
    const found = readDestinations(firstSections, destinations.log, queries, destinations.query.flowAddresses.length > 0);
    const routerAddresses = [...firewall.interfaces.values()].flatMap((iface) => iface.addresses);
    const enforced4 = ruleSetConfig !== undefined && wan.outRuleSet === ruleSet;
    const enforced6 = !wants6 || (ruleSet6Config !== undefined && wan.outRuleSet6 === ruleSet6);
    const reading: RouterReading = {
      cameras: readings,
      ruleSet,
      adopted: ruleSet !== this.router.ruleSet,
      enforced: enforced4 && enforced6,
      unlisted: repairs.unlisted,
      repairs: repairs.reasons,
      routerAddresses,
      warnings,
      notes,
      unsaved: this.unsaved,
      destinations: found.reading,
    };
    this.inputs.set(reading, input);
    // The read succeeded as a whole: only now does the log's cursor move on.
    if (found.cursor !== undefined) {
      this.logCursor = found.cursor;
    }
    return reading;
  }

  /**
   * Why a camera that its configuration blocks still gets out, as the kernel shows it: its ruleset is not hooked to
   * the WAN, or its drop rule has no DROP row for it. Undefined when the block is in force, or when the kernel could
   * not be read (that is warned about on its own).
   */
  private blockNotInForce(camera: CameraSettings, slot: number, kernel: KernelView): string | undefined {
    const rule = this.layout.blockRule(slot);
    const wanInterface = this.router.wanInterface;
    const matches = (row: DropRow): boolean => (camera.mac === undefined ? row.source === camera.address : row.mac === camera.mac.toLowerCase());
    if (kernel.hooked === false) {
      return `the kernel does not send ${wanInterface}'s traffic through ${kernel.ruleSet} (no jump in ${OUT_HOOK_CHAIN})`;
    }
    if (kernel.listing !== undefined && !(kernel.listing.drops.get(rule) ?? []).some(matches)) {
      return `the kernel's ${kernel.ruleSet} chain has no DROP row for rule ${rule}`;
    }
    if (camera.mac !== undefined && kernel.ruleSet6 !== undefined) {
      if (kernel.hooked6 === false) {
        return `the kernel does not send ${wanInterface}'s IPv6 traffic through ${kernel.ruleSet6} (no jump in ${OUT_HOOK_CHAIN})`;
      }
      if (kernel.listing6 !== undefined && !(kernel.listing6.drops.get(rule) ?? []).some(matches)) {
        return `the kernel's IPv6 ${kernel.ruleSet6} chain has no DROP row for rule ${rule}`;
      }
    }
    return undefined;
  }

  /**
   * Why a camera that its configuration blocks still gets out past its drop rule: an owner's rule or a kernel row
   * ahead of it lets the camera's packets out (see shadowRules.ts). Undefined when nothing ahead of it does.
   */
  private blockShadowed(
    camera: CameraSettings,
    slot: number,
    kernel: KernelView,
    groups: FirewallGroups,
    ruleSet: RuleSetConfig | undefined,
    ruleSet6: RuleSetConfig | undefined,
  ): string | undefined {
    const rule = this.layout.blockRule(slot);
    const last = this.router.firstRule + RULE_RANGE_SIZE - 1;
    const isOwn = (candidate: FirewallRule): boolean => isPluginRule(candidate) && this.layout.contains(candidate.number);
    const families: [4 | 6, RuleSetConfig | undefined, string | undefined, string][] = [[4, ruleSet, kernel.ruleSet, MARK.counters]];
    if (camera.mac !== undefined) families.push([6, ruleSet6, kernel.ruleSet6, MARK.counters6]);
    for (const [family, config, name, mark] of families) {
      if (config === undefined || name === undefined) continue;
      const shadow = shadowingRule(config, family, camera, rule, isOwn, groups);
      if (shadow !== undefined) return shadowReason(shadow, name, family, last, false);
      const own = new Set([...config.rules.values()].filter(isOwn).map((candidate) => candidate.number));
      const row = shadowingRow(kernel.sections.get(mark) ?? '', name, family, camera, rule, own, groups);
      if (row !== undefined) return shadowReason(row, name, family, last, true);
    }
    return undefined;
  }

  /** A camera's state over both families, with its counters when they can be trusted. */
  private cameraReading(
    camera: CameraSettings,
    slot: number,
    ruleSet: RuleSetConfig | undefined,
    ruleSet6: RuleSetConfig | undefined,
    counters: Map<number, RuleCounter> | undefined,
    counters6: Map<number, RuleCounter> | undefined,
    routerNow: number | undefined,
  ): CameraReading {
    const { status, access, counts6, openUntil, timedOut } = cameraStatus(this.layout, camera, slot, ruleSet, ruleSet6, routerNow);
    if (access === undefined || status === 'missing' || status === 'damaged') {
      // Rules that enforce nothing known are damaged, whatever else they look like.
      return { status: status === 'missing' ? 'missing' : 'damaged' };
    }
    const counted = this.countersOf(slot, access, counts6, counters, counters6, ruleSet, ruleSet6);
    if (access === 'allowed') {
      const reading: AllowedReading = { status, access, counters: counted };
      return openUntil !== undefined && routerNow !== undefined ? { ...reading, openForMs: openUntil - routerNow } : reading;
    }
    const reading: BlockedReading = { status, access, counters: counted };
    return timedOut === true ? { ...reading, timedOut } : reading;
  }

  /**
   * A camera's counters, when they can be trusted. A blocked camera's dropped packets are its tries-log rule's DROP
   * rows plus its drop rule's (the parser never counts LOG rows): each packet is dropped by exactly one of them.
   */
  private countersOf(
    slot: number,
    access: 'allowed' | 'blocked',
    counts6: boolean,
    counters: Map<number, RuleCounter> | undefined,
    counters6: Map<number, RuleCounter> | undefined,
    ruleSet: RuleSetConfig | undefined,
    ruleSet6: RuleSetConfig | undefined,
  ): EgressCounters | undefined {
    const add = (a: RuleCounter | undefined, b: RuleCounter | undefined): RuleCounter | undefined =>
      a === undefined || b === undefined ? undefined : { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
    const sum = (family4: RuleCounter | undefined, family6: RuleCounter | undefined, needs6: boolean): RuleCounter | undefined =>
      family4 === undefined || (needs6 && family6 === undefined) ? undefined : { packets: family4.packets + (family6?.packets ?? 0), bytes: family4.bytes + (family6?.bytes ?? 0) };
    if (counts6 && counters6 === undefined) {
      return undefined;
    }
    const egress = sum(counters?.get(this.layout.counterRule(slot)), counters6?.get(this.layout.counterRule(slot)), counts6);
    /**
     * One family's dropped packets. A tries-log rule that the configuration does not enforce (a block of the previous
     * version has none; a disabled rule has no row) adds nothing; one it enforces must have its row in the listing.
     */
    const dropped = (listed: Map<number, RuleCounter> | undefined, config: RuleSetConfig | undefined): RuleCounter | undefined => {
      const tries = config?.rules.get(this.layout.triesRule(slot));
      const triesListed = tries !== undefined && !tries.disabled && tries.action === 'drop';
      const triesCounter = triesListed ? listed?.get(this.layout.triesRule(slot)) : { packets: 0, bytes: 0 };
      return add(triesCounter, listed?.get(this.layout.blockRule(slot)));
    };
    const blocked = sum(dropped(counters, ruleSet), counts6 ? dropped(counters6, ruleSet6) : undefined, counts6);
    // A blocked camera whose drop row is missing from the listing has no trustworthy counters: reading it as 0
    // would make the next good reading look like a rise.
    const countable = egress !== undefined && (access !== 'blocked' || blocked !== undefined);
    return countable ? { blockedPackets: access === 'blocked' ? blocked?.packets : undefined, egressPackets: egress.packets, egressBytes: egress.bytes } : undefined;
  }

  plan(reading: RouterReading, requests: Requests): Plan {
    const input = this.inputs.get(reading);
    if (input === undefined) {
      throw new Error('a plan can only be made on a reading this driver took');
    }
    const planned = plan(input, requests);
    const save = reading.unsaved && this.router.saveConfig ? ['save the configuration, which may differ from the one the router boots with'] : [];
    const repairs = [...reading.repairs, ...save];
    const result: Plan = { reading, requests, steps: [...planned.reasons, ...save], empty: planned.ops.length === 0 && save.length === 0, repairs };
    this.scripts.set(result, planned.ops);
    return result;
  }

  describe(planned: Plan): PlanScript {
    const ops = this.scripts.get(planned);
    const input = this.inputs.get(planned.reading);
    if (ops === undefined || input === undefined) {
      throw new Error('only a plan this driver made can be described');
    }
    const script = planned.empty ? '' : ops.length === 0 ? saveScript() : transactionScript(ops, this.router.saveConfig);
    const leftAlone: string[] = [];
    const describeOwnerRules = (config: RuleSetConfig | undefined, family: string): void => {
      if (config === undefined) return;
      for (const rule of [...config.rules.values()].sort((a, b) => a.number - b.number)) {
        if (this.layout.contains(rule.number)) continue;
        const what = [rule.action ?? 'no action', rule.disabled ? 'disabled' : undefined].filter(Boolean).join(', ');
        const description = rule.description === undefined ? '' : ` "${printable(rule.description)}"`;
        leftAlone.push(`${family} ruleset ${config.name} rule ${rule.number}${description} (${what}) is the owner's: left as it is.`);
      }
    };
    describeOwnerRules(input.firewall.ruleSets.get(input.ruleSet), 'IPv4');
    describeOwnerRules(input.ruleSet6 === undefined ? undefined : input.firewall.ruleSets6.get(input.ruleSet6), 'IPv6');
    return { script, leftAlone };
  }

  /** Runs a plan as one transaction that is discarded whole if the router refuses any part of it. */
  async apply(planned: Plan): Promise<ApplyOutcome> {
    const ops = this.scripts.get(planned);
    if (ops === undefined) {
      throw new Error('only a plan this driver made can be applied');
    }
    if (planned.empty) {
      return { result: 'committed', saved: true, detail: 'nothing to change' };
    }
    // Whatever comes of it, the reading after a transaction reads the configuration again.
    this.forgetConfig();
    const script = ops.length === 0 ? saveScript() : transactionScript(ops, this.router.saveConfig);
    let output;
    try {
      output = await this.ssh.exec(TRANSACTION_COMMAND, script, TRANSACTION_TIMEOUT_MS);
    } catch (error) {
      // Nobody knows whether the commit (or the save after it) happened: save at the next chance.
      this.unsaved = this.router.saveConfig;
      throw error;
    }
    const report = parseTransactionOutput(output.stdout, output.stderr);
    const words = routerWords(report.errors.slice(0, 6).join(' | '));
    if (ops.length === 0) {
      this.unsaved = !report.saved;
      return { result: 'committed', saved: report.saved, detail: words };
    }
    if (report.refused !== undefined) {
      const op = ops[report.refused];
      const what = op === undefined ? 'a change' : `"${op.op} ${op.path.join(' ')}"`;
      return { result: 'failed', saved: false, detail: `the router refused ${what} (${words || 'it gave no reason'}), so the whole change was discarded and nothing was committed` };
    }
    if (!report.committed) {
      return { result: report.locked ? 'locked' : 'failed', saved: false, detail: words || 'the router gave no reason' };
    }
    const saved = !this.router.saveConfig || report.saved;
    this.unsaved = !saved;
    return { result: 'committed', saved, detail: words };
  }

  async cutFlows(cameras: readonly CameraSettings[]): Promise<ReadonlyMap<string, FlowCut | RouterError>> {
    const cuts = new Map<string, FlowCut | RouterError>();
    if (cameras.length === 0) {
      return cuts;
    }
    const addresses = new Map(cameras.map((camera) => [camera.address, [camera.address]]));
    let problem: string | undefined;
    const withMac = cameras.filter((camera) => camera.mac !== undefined);
    if (withMac.length > 0) {
      // Flows are tracked by address, not MAC: a camera that DHCP moved, or that talks IPv6 from addresses no
      // config names (SLAAC, privacy addresses), has open connections from the addresses the router sees it use.
      const result = await this.ssh.exec(NEIGHBOURS_COMMAND, undefined, READ_TIMEOUT_MS);
      const parsed = result.code === 0 ? parseNeighbours(result.stdout) : { ok: false as const, error: firstLine(result.stderr) || `exit status ${String(result.code)}` };
      if (parsed.ok) {
        for (const camera of withMac) {
          const own = addresses.get(camera.address) ?? [];
          for (const neighbour of parsed.value) {
            if (neighbour.mac === camera.mac?.toLowerCase() && isRoutedAddress(neighbour.address) && !own.includes(neighbour.address)) {
              own.push(neighbour.address);
            }
          }
          // Reads list these addresses' connections too, until the next cut sees the camera again.
          this.knownAddresses.set(camera.address, own.slice(1));
        }
      } else {
        problem = `could not read the router's neighbour table (${parsed.error})`;
      }
    }
    const groups = cameras.map((camera) => addresses.get(camera.address) ?? [camera.address]);
    const result = await this.ssh.exec(READ_COMMAND, cutManyFlowsScript(groups), READ_TIMEOUT_MS);
    const reports = splitCutReports(result.stderr, groups.length);
    cameras.forEach((camera, index) => {
      const own = groups[index] ?? [];
      const summary = sumConntrackSummaries(reports[index] ?? '', own.length);
      cuts.set(
        camera.address,
        summary.ok
          ? { flows: summary.value, addresses: own, problem: camera.mac === undefined ? undefined : problem }
          : new RouterError('protocol', `cutting the open connections of ${own.join(', ')} failed: ${summary.error} (${firstLine(reports[index] ?? '') || firstLine(result.stderr) || 'no error given'}).`),
      );
    });
    return cuts;
  }
}

/** A ruleset name read from the router goes into commands, so it gets the same check as the owner's settings. */
function checkedName(name: string, wanInterface: string): string {
  if (!isSafeRuleSetName(name)) {
    throw new RouterError('protocol', `the ruleset bound to ${wanInterface} out is named "${name.slice(0, 40)}", which the plugin will not put in a command; rename it on the router.`);
  }
  return name;
}

/** What the kernel's firewall really holds, for checking that configured blocks are in force. */
interface KernelView {
  readonly listing: ChainListing | undefined;
  readonly listing6: ChainListing | undefined;
  /** Whether the out hook jumps to the ruleset for the WAN; undefined when not read or not expected. */
  readonly hooked: boolean | undefined;
  readonly hooked6: boolean | undefined;
  readonly ruleSet: string;
  readonly ruleSet6: string | undefined;
  /** The read's sections, whose chain listings show the rows ahead of each drop row. */
  readonly sections: ReadonlyMap<string, string>;
}

function readHook(sections: Map<string, string>, mark: string, failedMark: string, warnings: string[]): HookJump[] | undefined {
  if (sections.has(failedMark) || !sections.has(mark)) {
    warnings.push(`could not read the firewall's ${OUT_HOOK_CHAIN} chain, so whether the camera rules are in force in the kernel is not checked; give the plugin's user sudo for iptables.`);
    return undefined;
  }
  const parsed = parseHookJumps(sections.get(mark) ?? '', OUT_HOOK_CHAIN);
  if (!parsed.ok) {
    warnings.push(`could not read the firewall's ${OUT_HOOK_CHAIN} chain (${parsed.error}), so whether the camera rules are in force in the kernel is not checked.`);
    return undefined;
  }
  return parsed.value;
}

function readListing(sections: Map<string, string>, mark: string, failedMark: string, chain: string, warnings: string[]): ChainListing | undefined {
  if (sections.has(failedMark) || !sections.has(mark)) {
    return undefined;
  }
  const parsed = parseChainListing(sections.get(mark) ?? '', chain);
  if (!parsed.ok) {
    warnings.push(`could not read the firewall counters (${parsed.error}); leak detection waits for the next good reading.`);
    return undefined;
  }
  return parsed.value;
}

/**
 * An address a camera's internet traffic can come from, safe to put in a command: a plain IPv4 address, or a
 * global IPv6 one (link-local addresses never leave the LAN; zone suffixes and anything else are refused).
 */
function isRoutedAddress(address: string): boolean {
  if (isIPv4(address)) {
    return true;
  }
  return isIPv6(address) && /^[0-9a-f:.]+$/i.test(address) && !/^fe[89ab]/i.test(address);
}

/** The router's interfaces, for a message: kernel names only, a sane number of them. */
function interfaceList(firewall: EdgeOsFirewall): string {
  const names = [...firewall.interfaces.values()]
    .filter((iface) => iface.path[1] !== 'loopback' && /^[A-Za-z0-9._-]{1,24}$/.test(iface.name))
    .map((iface) => iface.name)
    .sort();
  if (names.length === 0) {
    return 'no interfaces in its configuration';
  }
  return names.length > 16 ? `${names.slice(0, 16).join(', ')} and ${names.length - 16} more` : names.join(', ');
}

/** The first line of the router's text, cleaned and cut for a message (see routerWords). */
function firstLine(text: string): string {
  return routerWords(text.slice(0, 4096).split('\n').find((line) => line.trim() !== '') ?? '', 160);
}
