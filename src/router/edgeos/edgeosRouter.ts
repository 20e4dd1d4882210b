/**
 * The EdgeOS implementation of RouterDriver: reads the configuration and counters, and turns the guard's
 * requests into one configuration transaction.
 */
import { isIPv6 } from 'node:net';

import { isIPv4, isSafeRuleSetName, printable } from '../../config';
import type { CameraSettings, RouterSettings } from '../../config';
import { MAX_CONFIGURATION_OUTPUT_BYTES, READ_TIMEOUT_MS, TRANSACTION_TIMEOUT_MS } from '../../settings';
import { RouterError } from '../driver';
import type { AccessChange, ApplyOutcome, CameraReading, FlowCut, RouterDriver, RouterReading } from '../driver';
import type { SshConnection } from '../ssh';
import {
  MARK,
  OFFLOAD_COMMAND,
  READ_COMMAND,
  TRANSACTION_COMMAND,
  NEIGHBOURS_COMMAND,
  countersScript,
  cutFlowsScript,
  parseTransactionOutput,
  readScript,
  rulePath,
  ruleSetNode,
  ruleSetPaths,
  saveScript,
  splitSections,
  transactionScript,
} from './commands';
import type { ConfigOp, Family } from './commands';
import { interfacePathFor, readFirewall } from './firewallConfig';
import type { EdgeOsFirewall, RuleSetConfig } from './firewallConfig';
import { parseChainCounters, parseConfigCommands, parseNeighbours, parseOffload, sumConntrackSummaries } from './parsers';
import type { RuleCounter } from './parsers';
import { RuleSetLayout, assignSlots } from './ruleSetLayout';
import type { SlotAssignment } from './ruleSetLayout';

/** What the last read found, kept so a transaction can be built without another round trip. */
interface Snapshot {
  readonly firewall: EdgeOsFirewall;
  readonly ruleSet: string;
  /** The IPv6 ruleset for cameras with a MAC; undefined when no camera has one and none exists. */
  readonly ruleSet6: string | undefined;
  /** True when some camera has a MAC, so the IPv6 ruleset must exist and be bound. */
  readonly wants6: boolean;
  readonly assignment: SlotAssignment;
}

type Router = Pick<RouterSettings, 'wanInterface' | 'ruleSet' | 'firstRule' | 'saveConfig'> & Partial<Pick<RouterSettings, 'ipv6RuleSet'>>;

const DEFAULT_IPV6_RULESET = 'CAMGUARD6_OUT';

export class EdgeOsRouter implements RouterDriver {
  private readonly layout: RuleSetLayout;
  private snapshot: Snapshot | undefined;
  /** The rulesets whose counters the next read asks for; start as the configured ones. */
  private counterChain: string;
  private counterChain6: string | undefined;
  /** Set when a commit succeeded but its save did not: the next transaction saves. */
  private unsaved: boolean;

  constructor(
    private readonly router: Router,
    private readonly ssh: SshConnection,
  ) {
    this.layout = new RuleSetLayout(router.firstRule);
    this.counterChain = router.ruleSet;
    // A Homebridge that was stopped (or lost power) between a commit and its save cannot know it after the restart:
    // the router would then bring back the old rules at its next reboot. One save after each start closes that gap.
    this.unsaved = router.saveConfig;
  }

  get connected(): boolean {
    return this.ssh.connected;
  }

  get unsavedChanges(): boolean {
    return this.unsaved;
  }

  connect(): Promise<void> {
    this.snapshot = undefined;
    return this.ssh.connect();
  }

  close(): void {
    this.ssh.close();
  }

  async hardwareOffload(): Promise<boolean> {
    const result = await this.ssh.exec(OFFLOAD_COMMAND, undefined, READ_TIMEOUT_MS);
    const parsed = parseOffload(result.stdout);
    // Offloaded IPv6 forwarding under-counts what cameras with a MAC send over IPv6, as IPv4 offload does over IPv4.
    return parsed.ok && (parsed.value.ipv4Forwarding || parsed.value.ipv6Forwarding);
  }

  async read(cameras: readonly CameraSettings[]): Promise<RouterReading> {
    const result = await this.ssh.exec(READ_COMMAND, readScript(this.counterChain, this.counterChain6), READ_TIMEOUT_MS, MAX_CONFIGURATION_OUTPUT_BYTES);
    let sections = splitSections(result.stdout);
    const configText = sections.get(MARK.config);
    if (configText === undefined || !sections.has(MARK.end)) {
      throw new RouterError('protocol', `the router's answer to a read was cut short (${firstLine(result.stderr) || 'no error given'}).`);
    }
    const parsed = parseConfigCommands(configText);
    if (!parsed.ok) {
      throw new RouterError('protocol', `could not read the router's configuration: ${parsed.error}.`);
    }
    const firewall = readFirewall(parsed.value.paths);
    const wan = firewall.interfaces.get(this.router.wanInterface);
    const ruleSet = checkedName(wan?.outRuleSet ?? this.router.ruleSet, this.router.wanInterface);
    // IPv6 rules exist only for cameras with a MAC (IPv6 addresses change too often to match on).
    const wanted6 = this.router.ipv6RuleSet ?? DEFAULT_IPV6_RULESET;
    const candidate6 = checkedName(wan?.outRuleSet6 ?? wanted6, this.router.wanInterface);
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
    const warnings: string[] = [];
    const ruleSetConfig = firewall.ruleSets.get(ruleSet);
    const ruleSet6Config = ruleSet6 === undefined ? undefined : firewall.ruleSets6.get(ruleSet6);
    const counters = ruleSetConfig && readCounters(sections, MARK.counters, MARK.countersFailed, ruleSet, warnings);
    const counters6 = ruleSet6 !== undefined && ruleSet6Config ? readCounters(sections, MARK.counters6, MARK.counters6Failed, ruleSet6, warnings) : undefined;

    const assignment = assignSlots(this.layout, ruleSetConfig, cameras);
    this.snapshot = { firewall, ruleSet, ruleSet6, wants6, assignment };
    if (assignment.foreignRules.length > 0) {
      warnings.push(
        `rules ${assignment.foreignRules.join(', ')} in ${ruleSet} sit in the plugin's range ${this.router.firstRule}-${this.router.firstRule + 999} ` +
          'but were not written by it; they are left alone and the cameras that would need their numbers are skipped. Move them, or change "firstRule".',
      );
    }
    const withoutMac = cameras.filter((camera) => camera.mac === undefined);
    if (wan?.ipv6 === true && withoutMac.length > 0) {
      warnings.push(
        `the router has IPv6 on ${this.router.wanInterface}, and ${withoutMac.map((camera) => `"${printable(camera.name)}"`).join(', ')} ha${withoutMac.length === 1 ? 's' : 've'} no "mac", ` +
          'so their IPv6 traffic is not blocked. Add each camera\'s "mac" so the plugin can block it by MAC, or keep IPv6 off the camera network.',
      );
    }
    for (const camera of assignment.homeless) {
      warnings.push(`no free rule numbers for camera "${camera.name}"; it is not guarded.`);
    }

    const readings = new Map<string, CameraReading>();
    for (const camera of cameras) {
      const slot = assignment.slots.get(camera.address);
      if (slot !== undefined) {
        readings.set(camera.address, this.cameraReading(camera, slot, ruleSetConfig, ruleSet6Config, counters, counters6));
      }
    }
    const routerAddresses = [...firewall.interfaces.values()].flatMap((iface) => iface.addresses);
    const enforced4 = ruleSetConfig !== undefined && wan?.outRuleSet === ruleSet;
    const enforced6 = !wants6 || (ruleSet6Config !== undefined && wan?.outRuleSet6 === ruleSet6);
    return {
      cameras: readings,
      ruleSet,
      adopted: ruleSet !== this.router.ruleSet,
      enforced: enforced4 && enforced6,
      staleCameras: assignment.stale.map((entry) => entry.address ?? `rules ${this.layout.slotRules(entry.slot)[0]}+`),
      routerAddresses,
      warnings,
    };
  }

  /**
   * A camera's state over both families. Its IPv4 block decides; for a camera with a MAC, the IPv6 block must
   * agree, or the camera counts as damaged (and is re-created blocked): traffic could flow on one family.
   */
  private cameraReading(
    camera: CameraSettings,
    slot: number,
    ruleSet: RuleSetConfig | undefined,
    ruleSet6: RuleSetConfig | undefined,
    counters: Map<number, RuleCounter> | undefined,
    counters6: Map<number, RuleCounter> | undefined,
  ): CameraReading {
    const v4 = this.layout.classify(ruleSet, camera, slot);
    let { status } = v4;
    const { access } = v4;
    const v6 = this.layout.classify(ruleSet6, camera, slot);
    if (camera.mac === undefined) {
      // IPv6 rules left from when the camera had a MAC are removed by a rewrite.
      if (v6.status !== 'missing' && (status === 'intact' || status === 'outdated')) {
        status = 'outdated';
      }
    } else if (status === 'intact' || status === 'outdated') {
      if (v6.status === 'damaged' || (v6.status !== 'missing' && v6.access !== access)) {
        status = 'damaged';
      } else if (v6.status !== 'intact') {
        status = 'outdated';
      }
    }
    if (status !== 'intact' && status !== 'outdated') {
      return { status, access: undefined, counters: undefined };
    }
    const sum = (family4: RuleCounter | undefined, family6: RuleCounter | undefined, needs6: boolean): RuleCounter | undefined =>
      family4 === undefined || (needs6 && family6 === undefined) ? undefined : { packets: family4.packets + (family6?.packets ?? 0), bytes: family4.bytes + (family6?.bytes ?? 0) };
    const counts6 = camera.mac !== undefined && v6.status === 'intact';
    if (counts6 && counters6 === undefined) {
      return { status, access, counters: undefined };
    }
    const egress = sum(counters?.get(this.layout.counterRule(slot)), counters6?.get(this.layout.counterRule(slot)), counts6);
    const blocked = sum(counters?.get(this.layout.blockRule(slot)), counters6?.get(this.layout.blockRule(slot)), counts6);
    // A blocked camera whose drop row is missing from the listing has no trustworthy counters: reading it as 0
    // would make the next good reading look like a rise.
    const countable = egress !== undefined && (access !== 'blocked' || blocked !== undefined);
    return {
      status,
      access,
      counters: countable ? { blockedPackets: access === 'blocked' ? blocked?.packets : undefined, egressPackets: egress.packets, egressBytes: egress.bytes } : undefined,
    };
  }

  async apply(cameras: readonly CameraSettings[], changes: readonly AccessChange[]): Promise<ApplyOutcome> {
    if (!this.snapshot) {
      await this.read(cameras);
    }
    const snapshot = this.snapshot as Snapshot;
    const ops = this.plan(snapshot, changes);
    if (ops.length === 0 && !this.unsaved) {
      return { result: 'committed', saved: true, detail: 'nothing to change' };
    }
    const script = ops.length === 0 ? saveScript() : transactionScript(ops, this.router.saveConfig);
    // Whatever happens next, the snapshot no longer describes the router.
    this.snapshot = undefined;
    let output;
    try {
      output = await this.ssh.exec(TRANSACTION_COMMAND, script, TRANSACTION_TIMEOUT_MS);
    } catch (error) {
      // Nobody knows whether the commit (or the save after it) happened: save at the next chance.
      this.unsaved = this.router.saveConfig;
      throw error;
    }
    const report = parseTransactionOutput(output.stdout, output.stderr);
    const detail = report.errors.slice(0, 6).join(' | ');
    if (ops.length === 0) {
      this.unsaved = !report.saved;
      return { result: 'committed', saved: report.saved, detail };
    }
    if (!report.committed) {
      return { result: report.locked ? 'locked' : 'failed', saved: false, detail: detail || 'the router gave no reason' };
    }
    const saved = !this.router.saveConfig || report.saved;
    this.unsaved = !saved;
    return { result: 'committed', saved, detail };
  }

  async cutFlows(camera: CameraSettings): Promise<FlowCut> {
    const addresses = [camera.address];
    let problem: string | undefined;
    if (camera.mac !== undefined) {
      // Flows are tracked by address, not MAC: a camera that DHCP moved, or that talks IPv6 from addresses no
      // config names (SLAAC, privacy addresses), has open connections from the addresses the router sees it use.
      const result = await this.ssh.exec(NEIGHBOURS_COMMAND, undefined, READ_TIMEOUT_MS);
      const parsed = result.code === 0 ? parseNeighbours(result.stdout) : { ok: false as const, error: firstLine(result.stderr) || `exit status ${String(result.code)}` };
      if (parsed.ok) {
        for (const neighbour of parsed.value) {
          if (neighbour.mac === camera.mac.toLowerCase() && isRoutedAddress(neighbour.address) && !addresses.includes(neighbour.address)) {
            addresses.push(neighbour.address);
          }
        }
      } else {
        problem = `could not read the router's neighbour table (${parsed.error})`;
      }
    }
    const result = await this.ssh.exec(READ_COMMAND, cutFlowsScript(addresses), READ_TIMEOUT_MS);
    const summary = sumConntrackSummaries(result.stderr, addresses.length);
    if (!summary.ok) {
      throw new RouterError('protocol', `cutting the open connections of ${addresses.join(', ')} failed: ${summary.error} (${firstLine(result.stderr) || 'no error given'}).`);
    }
    return { flows: summary.value, addresses, problem };
  }

  /** The configuration operations that bring the router to the requested state. */
  private plan(snapshot: Snapshot, changes: readonly AccessChange[]): ConfigOp[] {
    const { firewall, ruleSet, ruleSet6, wants6, assignment } = snapshot;
    const ops: ConfigOp[] = [];
    const wan = firewall.interfaces.get(this.router.wanInterface);
    const ruleSetConfig = firewall.ruleSets.get(ruleSet);
    const ruleSet6Config = ruleSet6 === undefined ? undefined : firewall.ruleSets6.get(ruleSet6);
    const ensure = (family: Family, name: string, exists: boolean, bound: boolean): void => {
      const node = ruleSetNode(family);
      if (!exists) {
        ops.push({ op: 'set', path: ['firewall', node, name, 'default-action', 'accept'] });
        ops.push({ op: 'set', path: ['firewall', node, name, 'description', 'Camera Guard: camera internet access'] });
      }
      if (!bound) {
        const path = interfacePathFor(this.router.wanInterface, firewall);
        if (!path) {
          throw new RouterError('protocol', `the WAN interface ${this.router.wanInterface} is not in the router's configuration; check "wanInterface".`);
        }
        ops.push({ op: 'set', path: [...path, 'firewall', 'out', node, name] });
      }
    };
    ensure(4, ruleSet, ruleSetConfig !== undefined, wan?.outRuleSet !== undefined);
    if (ruleSet6 !== undefined && wants6) {
      ensure(6, ruleSet6, ruleSet6Config !== undefined, wan?.outRuleSet6 !== undefined);
    }
    const deleteSlot = (slot: number): void => {
      for (const rule of this.layout.slotRules(slot)) {
        if (ruleSetConfig?.rules.has(rule)) {
          ops.push({ op: 'delete', path: rulePath(ruleSet, rule) });
        }
        if (ruleSet6 !== undefined && ruleSet6Config?.rules.has(rule)) {
          ops.push({ op: 'delete', path: rulePath(ruleSet6, rule, 6) });
        }
      }
    };
    for (const { slot } of assignment.stale) {
      deleteSlot(slot);
    }
    for (const { camera, access } of changes) {
      const slot = assignment.slots.get(camera.address);
      if (slot === undefined) {
        continue;
      }
      const { status, access: current } = this.cameraReading(camera, slot, ruleSetConfig, ruleSet6Config, undefined, undefined);
      if (status === 'intact') {
        if (current !== access) {
          const op = access === 'allowed' ? 'set' : 'delete';
          ops.push({ op, path: [...rulePath(ruleSet, this.layout.blockRule(slot)), 'disable'] });
          if (camera.mac !== undefined && ruleSet6 !== undefined) {
            ops.push({ op, path: [...rulePath(ruleSet6, this.layout.blockRule(slot), 6), 'disable'] });
          }
        }
        continue;
      }
      // Anything else is rewritten whole: delete what is there, then write every rule afresh.
      deleteSlot(slot);
      for (const spec of this.layout.rulesFor(camera, slot, access)) {
        for (const path of ruleSetPaths(ruleSet, spec)) {
          ops.push({ op: 'set', path });
        }
        if (camera.mac !== undefined && ruleSet6 !== undefined) {
          for (const path of ruleSetPaths(ruleSet6, spec, 6)) {
            ops.push({ op: 'set', path });
          }
        }
      }
    }
    return ops;
  }
}

/** A ruleset name read from the router goes into commands, so it gets the same check as the owner's settings. */
function checkedName(name: string, wanInterface: string): string {
  if (!isSafeRuleSetName(name)) {
    throw new RouterError('protocol', `the ruleset bound to ${wanInterface} out is named "${name.slice(0, 40)}", which the plugin will not put in a command; rename it on the router.`);
  }
  return name;
}

function readCounters(sections: Map<string, string>, mark: string, failedMark: string, chain: string, warnings: string[]): Map<number, RuleCounter> | undefined {
  if (sections.has(failedMark) || !sections.has(mark)) {
    return undefined;
  }
  const parsed = parseChainCounters(sections.get(mark) ?? '', chain);
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

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}
