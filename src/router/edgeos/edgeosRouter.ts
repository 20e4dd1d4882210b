/**
 * The EdgeOS implementation of RouterDriver: reads the configuration and counters, and turns the guard's
 * requests into one configuration transaction.
 */
import { isSafeRuleSetName } from '../../config';
import type { CameraSettings, RouterSettings } from '../../config';
import { READ_TIMEOUT_MS, TRANSACTION_TIMEOUT_MS } from '../../settings';
import { RouterError } from '../driver';
import type { AccessChange, ApplyOutcome, CameraReading, RouterDriver, RouterReading } from '../driver';
import type { SshConnection } from '../ssh';
import {
  MARK,
  OFFLOAD_COMMAND,
  READ_COMMAND,
  TRANSACTION_COMMAND,
  countersScript,
  cutFlowsCommand,
  parseTransactionOutput,
  readScript,
  rulePath,
  ruleSetPaths,
  saveScript,
  splitSections,
  transactionScript,
} from './commands';
import type { ConfigOp } from './commands';
import { interfacePathFor, readFirewall } from './firewallConfig';
import type { EdgeOsFirewall } from './firewallConfig';
import { parseChainCounters, parseConfigCommands, parseConntrackSummary, parseOffload } from './parsers';
import type { RuleCounter } from './parsers';
import { RuleSetLayout, assignSlots } from './ruleSetLayout';
import type { SlotAssignment } from './ruleSetLayout';

/** What the last read found, kept so a transaction can be built without another round trip. */
interface Snapshot {
  readonly firewall: EdgeOsFirewall;
  readonly ruleSet: string;
  readonly assignment: SlotAssignment;
}

type Router = Pick<RouterSettings, 'wanInterface' | 'ruleSet' | 'firstRule' | 'saveConfig'>;

export class EdgeOsRouter implements RouterDriver {
  private readonly layout: RuleSetLayout;
  private snapshot: Snapshot | undefined;
  /** The ruleset whose counters the next read asks for; starts as the configured one. */
  private counterChain: string;
  /** Set when a commit succeeded but its save did not: the next transaction saves. */
  private unsaved = false;

  constructor(
    private readonly router: Router,
    private readonly ssh: SshConnection,
  ) {
    this.layout = new RuleSetLayout(router.firstRule);
    this.counterChain = router.ruleSet;
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
    return parsed.ok && parsed.value.ipv4Forwarding;
  }

  async read(cameras: readonly CameraSettings[]): Promise<RouterReading> {
    const result = await this.ssh.exec(READ_COMMAND, readScript(this.counterChain), READ_TIMEOUT_MS);
    const sections = splitSections(result.stdout);
    const configText = sections.get(MARK.config);
    if (configText === undefined || !sections.has(MARK.end)) {
      throw new RouterError('protocol', `the router's answer to a read was cut short (${firstLine(result.stderr) || 'no error given'}).`);
    }
    const parsed = parseConfigCommands(configText);
    if (!parsed.ok) {
      throw new RouterError('protocol', `could not read the router's configuration: ${parsed.error}.`);
    }
    const firewall = readFirewall(parsed.value);
    const boundRuleSet = firewall.interfaces.get(this.router.wanInterface)?.outRuleSet;
    const ruleSet = boundRuleSet ?? this.router.ruleSet;
    if (!isSafeRuleSetName(ruleSet)) {
      // The name comes from the router; it goes into commands, so it gets the same check as the owner's settings.
      throw new RouterError('protocol', `the ruleset bound to ${this.router.wanInterface} out is named "${ruleSet.slice(0, 40)}", which the plugin will not put in a command; rename it on the router.`);
    }

    let countersText = sections.get(MARK.counters) ?? '';
    let countersMissing = sections.has(MARK.countersFailed);
    if (ruleSet !== this.counterChain) {
      // The plugin's rules live in another ruleset than we asked about (it was adopted): ask again, once.
      this.counterChain = ruleSet;
      const again = splitSections((await this.ssh.exec(READ_COMMAND, countersScript(ruleSet), READ_TIMEOUT_MS)).stdout);
      countersText = again.get(MARK.counters) ?? '';
      countersMissing = again.has(MARK.countersFailed) || !again.has(MARK.end);
    }
    const ruleSetConfig = firewall.ruleSets.get(ruleSet);
    let counters: Map<number, RuleCounter> | undefined;
    const warnings: string[] = [];
    if (ruleSetConfig && !countersMissing) {
      const parsedCounters = parseChainCounters(countersText, ruleSet);
      if (parsedCounters.ok) {
        counters = parsedCounters.value;
      } else {
        warnings.push(`could not read the firewall counters (${parsedCounters.error}); leak detection waits for the next good reading.`);
      }
    }

    const assignment = assignSlots(this.layout, ruleSetConfig, cameras);
    this.snapshot = { firewall, ruleSet, assignment };
    if (assignment.foreignRules.length > 0) {
      warnings.push(
        `rules ${assignment.foreignRules.join(', ')} in ${ruleSet} sit in the plugin's range ${this.router.firstRule}-${this.router.firstRule + 999} ` +
          'but were not written by it; they are left alone and the cameras that would need their numbers are skipped. Move them, or change "firstRule".',
      );
    }
    if (firewall.interfaces.get(this.router.wanInterface)?.ipv6 === true) {
      warnings.push(
        `the router has IPv6 on ${this.router.wanInterface}, and Camera Guard blocks IPv4 only: a camera with an IPv6 address can still reach the internet. ` +
          'Keep IPv6 off the camera network (no prefix delegated to its LAN), or drop the cameras\' IPv6 traffic with an ipv6-name ruleset on the WAN.',
      );
    }
    for (const camera of assignment.homeless) {
      warnings.push(`no free rule numbers for camera "${camera.name}"; it is not guarded.`);
    }

    const readings = new Map<string, CameraReading>();
    for (const camera of cameras) {
      const slot = assignment.slots.get(camera.address);
      if (slot === undefined) {
        continue;
      }
      const { status, access } = this.layout.classify(ruleSetConfig, camera, slot);
      const egress = counters?.get(this.layout.counterRule(slot));
      const blocked = counters?.get(this.layout.blockRule(slot));
      // A blocked camera whose drop row is missing from the listing has no trustworthy counters: reading it as 0
      // would make the next good reading look like a rise.
      const countable = egress !== undefined && (access !== 'blocked' || blocked !== undefined);
      readings.set(camera.address, {
        status,
        access,
        counters:
          countable && (status === 'intact' || status === 'outdated')
            ? { blockedPackets: access === 'blocked' ? blocked?.packets : undefined, egressPackets: egress.packets, egressBytes: egress.bytes }
            : undefined,
      });
    }
    const routerAddresses = [...firewall.interfaces.values()].flatMap((iface) => iface.addresses);
    return {
      cameras: readings,
      ruleSet,
      adopted: ruleSet !== this.router.ruleSet,
      enforced: ruleSetConfig !== undefined && boundRuleSet === ruleSet,
      staleCameras: assignment.stale.map((entry) => entry.address ?? `rules ${this.layout.slotRules(entry.slot)[0]}+`),
      routerAddresses,
      warnings,
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

  async cutFlows(address: string): Promise<number> {
    const result = await this.ssh.exec(cutFlowsCommand(address), undefined, READ_TIMEOUT_MS);
    const summary = parseConntrackSummary(result.stderr);
    return summary.ok ? summary.value : 0;
  }

  /** The configuration operations that bring the router to the requested state. */
  private plan(snapshot: Snapshot, changes: readonly AccessChange[]): ConfigOp[] {
    const { firewall, ruleSet, assignment } = snapshot;
    const ops: ConfigOp[] = [];
    const ruleSetConfig = firewall.ruleSets.get(ruleSet);
    if (!ruleSetConfig) {
      ops.push({ op: 'set', path: ['firewall', 'name', ruleSet, 'default-action', 'accept'] });
      ops.push({ op: 'set', path: ['firewall', 'name', ruleSet, 'description', 'Camera Guard: camera internet access'] });
    }
    if (firewall.interfaces.get(this.router.wanInterface)?.outRuleSet === undefined) {
      const path = interfacePathFor(this.router.wanInterface, firewall);
      if (!path) {
        throw new RouterError('protocol', `the WAN interface ${this.router.wanInterface} is not in the router's configuration; check "wanInterface".`);
      }
      ops.push({ op: 'set', path: [...path, 'firewall', 'out', 'name', ruleSet] });
    }
    for (const { slot } of assignment.stale) {
      for (const rule of this.layout.slotRules(slot)) {
        if (ruleSetConfig?.rules.has(rule)) {
          ops.push({ op: 'delete', path: rulePath(ruleSet, rule) });
        }
      }
    }
    for (const { camera, access } of changes) {
      const slot = assignment.slots.get(camera.address);
      if (slot === undefined) {
        continue;
      }
      const { status, access: current } = this.layout.classify(ruleSetConfig, camera, slot);
      const blockRule = rulePath(ruleSet, this.layout.blockRule(slot));
      if (status === 'intact') {
        if (current !== access) {
          ops.push({ op: access === 'allowed' ? 'set' : 'delete', path: [...blockRule, 'disable'] });
        }
        continue;
      }
      // Anything else is rewritten whole: delete what is there, then write every rule afresh.
      for (const rule of this.layout.slotRules(slot)) {
        if (ruleSetConfig?.rules.has(rule)) {
          ops.push({ op: 'delete', path: rulePath(ruleSet, rule) });
        }
      }
      for (const spec of this.layout.rulesFor(camera, slot, access)) {
        for (const path of ruleSetPaths(ruleSet, spec)) {
          ops.push({ op: 'set', path });
        }
      }
    }
    return ops;
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}
