/**
 * What one transaction must change on the router: the one place that decides it, as a pure function of one reading
 * of the router and what HomeKit asks for.
 *
 * The rules, in the order they are applied:
 * - the plugin's ruleset (IPv4, and IPv6 when a camera has a MAC) exists and is bound to the WAN's `out` slot;
 * - a configured camera whose rules are missing or damaged is rewritten whole, blocked unless HomeKit asks to open
 *   it; one whose rules are outdated (allow-list, name, MAC changed, or no tries-log rule yet) is rewritten keeping what
 *   it enforces; an intact one has its drop and tries-log rules switched together when HomeKit asks for the other state;
 * - the rules of a camera that is no longer configured stay on the router and are made to block it (a camera removed
 *   by mistake must not get out), unless the owner lists it in `forget`, which deletes them;
 * - the rules of a camera whose entry was skipped (a setting is wrong) stay exactly as they are; when a skipped entry
 *   cannot be matched to its rules (its address itself is a typo), no camera's rules are removed or changed.
 * The plugin never writes, changes or deletes a rule it did not write (its description tells).
 */
import type { CameraSettings, SkippedCamera } from '../../config';
import type { Access, RuleStatus, UnlistedCamera, UnlistedFate } from '../driver';
import { rulePath, ruleSetNode, ruleSetPaths } from './commands';
import type { ConfigOp, Family } from './commands';
import type { EdgeOsFirewall, FirewallRule, RuleSetConfig } from './firewallConfig';
import { LAST_START_DATE_MS, isPluginRule, startDateText } from './ruleSetLayout';
import type { RuleSetLayout, SlotAssignment } from './ruleSetLayout';

/** One reading of the router, as the planner needs it. */
export interface PlanInput {
  readonly firewall: EdgeOsFirewall;
  readonly wanInterface: string;
  readonly layout: RuleSetLayout;
  readonly ruleSet: string;
  /** The IPv6 ruleset; undefined when no camera has a MAC and none exists. */
  readonly ruleSet6: string | undefined;
  /** True when some camera has a MAC, so the IPv6 ruleset must exist and be bound. */
  readonly wants6: boolean;
  readonly assignment: SlotAssignment;
  readonly cameras: readonly CameraSettings[];
  readonly skipped: readonly SkippedCamera[];
  readonly forget: readonly string[];
  /** The router's clock (epoch ms) when it was read; undefined when it could not be read. */
  readonly routerNow?: number;
}

export interface Plan {
  readonly ops: readonly ConfigOp[];
  /** Why each part of the plan is there, for the log at debug level. */
  readonly reasons: readonly string[];
  readonly unlisted: readonly UnlistedCamera[];
}

export interface CameraStatus {
  readonly status: RuleStatus;
  /** What its rules enforce; defined for `intact` and `outdated` only. */
  readonly access: Access | undefined;
  /** True when its IPv6 rules are intact too (so its IPv6 counters belong to it). */
  readonly counts6: boolean;
  /** When its timed opening ends (router time), while one runs. */
  readonly openUntil?: number;
  /** True when a timed opening ended on the router by itself (its deadline passed). */
  readonly timedOut?: boolean;
}

const RULESET_DESCRIPTION = 'Camera Guard: camera internet access';

/**
 * A camera's state over both families. Its IPv4 block decides; for a camera with a MAC, the IPv6 block must agree,
 * or the camera counts as damaged (and is re-created blocked): traffic could flow on one family.
 */
export function cameraStatus(
  layout: RuleSetLayout,
  camera: CameraSettings,
  slot: number,
  ruleSet: RuleSetConfig | undefined,
  ruleSet6: RuleSetConfig | undefined,
  routerNow?: number,
): CameraStatus {
  const v4 = layout.classify(ruleSet, camera, slot, routerNow);
  let { status } = v4;
  const { access } = v4;
  const v6 = layout.classify(ruleSet6, camera, slot, routerNow);
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
  const known = status === 'intact' || status === 'outdated';
  return {
    status,
    access: known ? access : undefined,
    counts6: camera.mac !== undefined && v6.status === 'intact',
    ...(known && v4.openUntil !== undefined ? { openUntil: v4.openUntil } : {}),
    ...(known && v4.timedOut === true ? { timedOut: true } : {}),
  };
}

/**
 * The deadline of a timed opening that starts now: `allowMinutes` from the router's clock, to the whole second
 * (what `time startdate` can say). Undefined when the opening is not timed, the router's clock is unknown, or the
 * deadline is past what the router can store: then the plugin's own timer closes it.
 */
function timedDeadline(camera: CameraSettings, routerNow: number | undefined): number | undefined {
  if (camera.allowMinutes <= 0 || routerNow === undefined) {
    return undefined;
  }
  const deadline = Math.ceil((routerNow + camera.allowMinutes * 60_000) / 1000) * 1000;
  return deadline <= LAST_START_DATE_MS ? deadline : undefined;
}

/** The operations that bring the router to what is asked (`requests`: camera address → access), and why. */
export function plan(input: PlanInput, requests: ReadonlyMap<string, Access>): Plan {
  const { firewall, layout, ruleSet, ruleSet6, assignment } = input;
  const ops: ConfigOp[] = [];
  const reasons: string[] = [];
  const wan = firewall.interfaces.get(input.wanInterface);
  const ruleSetConfig = firewall.ruleSets.get(ruleSet);
  const ruleSet6Config = ruleSet6 === undefined ? undefined : firewall.ruleSets6.get(ruleSet6);
  const families: { family: Family; name: string; config: RuleSetConfig | undefined }[] = [{ family: 4, name: ruleSet, config: ruleSetConfig }];
  if (ruleSet6 !== undefined) {
    families.push({ family: 6, name: ruleSet6, config: ruleSet6Config });
  }

  const ensure = (family: Family, name: string, exists: boolean, bound: boolean): void => {
    const node = ruleSetNode(family);
    if (!exists) {
      reasons.push(`create the ${family === 4 ? 'IPv4' : 'IPv6'} ruleset ${name}`);
      ops.push({ op: 'set', path: ['firewall', node, name, 'default-action', 'accept'] });
      ops.push({ op: 'set', path: ['firewall', node, name, 'description', RULESET_DESCRIPTION] });
    }
    if (!bound && wan !== undefined) {
      reasons.push(`bind ${name} to ${input.wanInterface} out`);
      ops.push({ op: 'set', path: [...wan.path, 'firewall', 'out', node, name] });
    }
  };
  ensure(4, ruleSet, ruleSetConfig !== undefined, wan?.outRuleSet !== undefined);
  if (ruleSet6 !== undefined && input.wants6) {
    ensure(6, ruleSet6, ruleSet6Config !== undefined, wan?.outRuleSet6 !== undefined);
  }

  /** Deletes the plugin's own rules of a block (never a rule it did not write), in both families. */
  const deleteSlot = (slot: number): void => {
    for (const number of layout.slotRules(slot)) {
      for (const { family, name, config } of families) {
        const rule = config?.rules.get(number);
        if (rule !== undefined && isPluginRule(rule)) {
          ops.push({ op: 'delete', path: rulePath(name, number, family) });
        }
      }
    }
  };
  /**
   * Makes a block's drop rule enforce, in every family where it is written (a disabled rule has no iptables row), and
   * its tries-log rule with it when it has one (a block of the previous version may hold an allow rule there).
   */
  const enforceBlock = (slot: number): void => {
    for (const { family, name, config } of families) {
      for (const number of [layout.triesRule(slot), layout.blockRule(slot)]) {
        const rule = config?.rules.get(number);
        if (rule !== undefined && isPluginRule(rule) && rule.action === 'drop' && rule.disabled) {
          ops.push({ op: 'delete', path: [...rulePath(name, number, family), 'disable'] });
        }
      }
    }
  };

  /**
   * A kept block whose drop rule was given another source on the router (by hand) still holds accept rules with the old
   * source: they come before that camera's new block and would let it out while its switch shows Off. They are
   * disabled (never deleted: the owner may want to see them), so the block enforces only what its drop rule names.
   */
  const disableStrayAccepts = (slot: number, source: string | undefined): void => {
    for (const number of layout.slotRules(slot)) {
      for (const { family, name, config } of families) {
        const rule = config?.rules.get(number);
        if (rule !== undefined && isPluginRule(rule) && rule.action === 'accept' && !rule.disabled && (rule.sourceMac ?? rule.sourceAddress) !== source) {
          reasons.push(`disable rule ${number} of ${name}, which lets ${rule.sourceMac ?? rule.sourceAddress ?? 'every host'} out from the block of ${source ?? 'a camera'}`);
          ops.push({ op: 'set', path: [...rulePath(name, number, family), 'disable'] });
        }
      }
    }
  };

  const unlisted = input.assignment.stale.map(({ slot, address: source }) => unlistedFate(input, slot, source, ruleSetConfig, ruleSet6Config));
  for (const camera of unlisted) {
    const slot = layout.slotOf(camera.firstRule);
    if (camera.fate === 'forgotten') {
      reasons.push(`delete the rules ${camera.firstRule}-${camera.lastRule} of ${camera.source ?? 'a camera'}, which "forget" lists`);
      deleteSlot(slot);
    } else if (camera.fate === 'kept-blocked' && camera.access === 'allowed') {
      reasons.push(`block ${camera.source ?? 'a camera'} (rules ${camera.firstRule}-${camera.lastRule}), which is no longer configured`);
      enforceBlock(slot);
    }
    if (camera.fate === 'kept-blocked') {
      disableStrayAccepts(slot, camera.source);
    }
  }

  for (const camera of input.cameras) {
    const slot = assignment.slots.get(camera.address);
    if (slot === undefined) {
      continue;
    }
    const wanted = requests.get(camera.address);
    const { status, access: current, openUntil } = cameraStatus(layout, camera, slot, ruleSetConfig, ruleSet6Config, input.routerNow);
    if (status === 'intact') {
      if (wanted !== undefined && wanted !== current) {
        // The tries-log rule switches with the drop rule, in the same transaction, the same way.
        const switched = [layout.triesRule(slot), layout.blockRule(slot)];
        const rulesOf = families.filter(({ family }) => family === 4 || camera.mac !== undefined);
        if (wanted === 'allowed') {
          // A timed opening leaves the drop rule in force from its deadline on: the router closes it by itself.
          const deadline = timedDeadline(camera, input.routerNow);
          reasons.push(`open ${camera.address}${deadline === undefined ? '' : ` until ${startDateText(deadline)} UTC (router time)`}`);
          for (const { family, name } of rulesOf) {
            for (const number of switched) {
              if (deadline === undefined) {
                ops.push({ op: 'set', path: [...rulePath(name, number, family), 'disable'] });
              } else {
                ops.push({ op: 'set', path: [...rulePath(name, number, family), 'time', 'startdate', startDateText(deadline)] });
                ops.push({ op: 'set', path: [...rulePath(name, number, family), 'time', 'utc'] });
              }
            }
          }
        } else {
          reasons.push(`block ${camera.address}`);
          for (const { family, name, config } of rulesOf) {
            for (const number of switched) {
              const rule = config?.rules.get(number);
              if (rule?.disabled === true) {
                ops.push({ op: 'delete', path: [...rulePath(name, number, family), 'disable'] });
              }
              if (rule?.startDate !== undefined || rule?.utc === true) {
                ops.push({ op: 'delete', path: [...rulePath(name, number, family), 'time'] });
              }
            }
          }
        }
      }
      continue;
    }
    // Anything else is rewritten whole: delete what is there, then write every rule afresh. Missing or damaged
    // rules enforce nothing that can be trusted, so they come back blocked unless HomeKit asks to open; outdated
    // ones keep what they enforce.
    const access = wanted ?? (status === 'outdated' ? (current ?? 'blocked') : 'blocked');
    // A timed opening kept by a rewrite keeps its deadline; one asked for now gets a new one.
    const deadline = access !== 'allowed' ? undefined : wanted === 'allowed' && current !== 'allowed' ? timedDeadline(camera, input.routerNow) : openUntil;
    reasons.push(`${status === 'missing' ? 'write' : 'rewrite'} the ${status} rules of ${camera.address} (${access})`);
    deleteSlot(slot);
    for (const spec of layout.rulesFor(camera, slot, access, deadline)) {
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
  return { ops, reasons, unlisted };
}

function unlistedFate(input: PlanInput, slot: number, source: string | undefined, ruleSet: RuleSetConfig | undefined, ruleSet6: RuleSetConfig | undefined): UnlistedCamera {
  const { layout } = input;
  const rules = layout.slotRules(slot);
  const block = pluginRule(ruleSet?.rules.get(layout.blockRule(slot))) ?? pluginRule(ruleSet6?.rules.get(layout.blockRule(slot)));
  const anyRule = rules.map((number) => pluginRule(ruleSet?.rules.get(number)) ?? pluginRule(ruleSet6?.rules.get(number))).find((rule) => rule !== undefined);
  const blocks = (config: RuleSetConfig | undefined): boolean | undefined => {
    const rule = pluginRule(config?.rules.get(layout.blockRule(slot)));
    return rule === undefined || rule.action !== 'drop' ? undefined : !rule.disabled;
  };
  const enforced = [blocks(ruleSet), blocks(ruleSet6)].filter((value): value is boolean => value !== undefined);
  const access: Access | undefined = enforced.length === 0 ? undefined : enforced.every(Boolean) ? 'blocked' : 'allowed';
  const matches = (entry: { address?: string; mac?: string }): boolean => source !== undefined && (entry.address === source || entry.mac === source);
  let fate: UnlistedFate;
  if (input.skipped.some(matches)) {
    fate = 'kept-as-is';
  } else if (input.skipped.some((entry) => entry.address === undefined && entry.mac === undefined)) {
    fate = 'frozen';
  } else if (source !== undefined && input.forget.includes(source)) {
    fate = 'forgotten';
  } else if (access === undefined) {
    fate = 'no-block-rule';
  } else {
    fate = 'kept-blocked';
  }
  return {
    source,
    name: cameraNameOf(block ?? anyRule),
    firstRule: rules[0] ?? layout.firstRule,
    lastRule: rules[rules.length - 1] ?? layout.firstRule,
    access,
    fate,
  };
}

function pluginRule(rule: FirewallRule | undefined): FirewallRule | undefined {
  return rule !== undefined && isPluginRule(rule) ? rule : undefined;
}

/** `camera-guard: Front Door (block)` → `Front Door`. */
function cameraNameOf(rule: FirewallRule | undefined): string | undefined {
  const match = /^camera-guard: (.{1,60}) \([a-z0-9 /]{1,30}\)$/.exec(rule?.description ?? '');
  return match?.[1];
}
