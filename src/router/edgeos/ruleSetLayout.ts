/**
 * Where each camera's rules live in the ruleset, what they must say, and how to tell whether the rules on the
 * router are still the ones the plugin wrote.
 *
 * The plugin owns `firstRule .. firstRule + 999`. Each camera gets a fixed block of RULES_PER_CAMERA numbers:
 *   base + 0 .. base + 6   accept rules for its allow-list (dns, ntp, ...), so they work even while blocked;
 *   base + 7               tries-log rule: drop, `log enable`, `limit rate 6/minute`, `limit burst 5`, same source
 *                          as the drop rule. It names in the router's log where a blocked camera tried to go, a few
 *                          lines a minute at most; packets past the limit fall through to base + 8. It is enforced,
 *                          disabled or timed exactly as the drop rule is, always in the same transaction;
 *   base + 8               drop rule for all its traffic: enforced = blocked, carrying `disable` = allowed;
 *   base + 9               accept rule for all its traffic: counts what reaches the internet while allowed.
 * A blocked camera's dropped packets are base + 7's DROP row plus base + 8's (never a LOG row): see countersOf in
 * edgeosRouter.ts. A camera keeps its block for as long as it is configured, found again by its address, so its
 * rule numbers never move when other cameras come and go.
 *
 * Blocks written before the tries-log rule existed (no rule at base + 7) read as `outdated`, and a rewrite adds
 * it while keeping what the drop rule enforces. A tries-log rule that drops while the drop rule lets the camera out
 * is damage: the camera is partly blocked, which no switch position means.
 */
import type { AllowEntry, CameraSettings } from '../../config';
import { MAX_ALLOW_ENTRIES, RULE_RANGE_SIZE, RULE_TAG, RULES_PER_CAMERA, TRIES_LOG_BURST, TRIES_LOG_RATE } from '../../settings';
import type { Access, RuleStatus } from '../driver';
import type { FirewallRule, RuleSetConfig } from './firewallConfig';

export interface RuleSpec {
  readonly number: number;
  readonly action: 'accept' | 'drop';
  readonly description: string;
  /** The camera's address, or undefined when its rules match its MAC instead. */
  readonly sourceAddress: string | undefined;
  readonly sourceMac: string | undefined;
  readonly protocol: 'tcp' | 'udp' | 'tcp_udp' | undefined;
  readonly destinationPort: string | undefined;
  readonly disabled: boolean;
  /**
   * For the drop and tries-log rules of a camera opened for a while (`allowMinutes`): the rule matches only from this
   * moment on (`time startdate`, UTC), so the router itself closes access at the deadline, with or without Homebridge.
   */
  readonly startDate?: string;
  /** `log enable`: the tries-log rule only. */
  readonly log?: boolean;
  /** `limit rate` and `limit burst`: the tries-log rule only. */
  readonly limit?: { readonly rate: string; readonly burst: number };
}

/**
 * The last moment `time startdate` can name: the router's iptables keeps dates as 32-bit seconds (ubnt-fw refuses
 * later ones). An opening whose deadline would fall after it is closed by the plugin's own timer instead.
 */
export const LAST_START_DATE_MS = Date.UTC(2038, 0, 19, 3, 14, 7);

/** `time startdate` as the plugin writes it: `YYYY-MM-DDThh:mm:ss`, in UTC (with `time utc`). */
export function startDateText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** The moment a `time startdate` value names, read as UTC; undefined for anything but the plugin's exact form. */
function startDateMs(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) {
    return undefined;
  }
  const ms = Date.parse(`${text}Z`);
  return Number.isNaN(ms) || startDateText(ms) !== text ? undefined : ms;
}

/** What a camera's block enforces, read from its drop rule. */
export interface BlockState {
  readonly status: RuleStatus;
  readonly access: Access | undefined;
  /** When a timed opening ends (router time, epoch ms): the drop rule starts matching then. */
  readonly openUntil?: number;
  /** True when a timed opening's deadline has passed: the router closed it by itself. */
  readonly timedOut?: boolean;
}

const DESCRIPTION_PREFIX = `${RULE_TAG}: `;
const BLOCK_ROLE = 'block';
const TRIES_ROLE = 'tries log';
const COUNTER_ROLE = 'egress count';

/**
 * Makes a camera name safe inside a rule description: letters, digits and a few punctuation marks only, so the
 * description can never break the command line or the router's parser, whatever the owner typed.
 */
export function descriptionName(name: string): string {
  const clean = name
    .normalize('NFKD')
    // Tabs and line breaks separate words as much as spaces do: keep the gap instead of gluing the words.
    .replace(/\s/g, ' ')
    .replace(/[^A-Za-z0-9 _.,:()#@+-]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 48)
    .trim();
  return clean === '' ? 'camera' : clean;
}

export function isPluginRule(rule: FirewallRule): boolean {
  return rule.description?.startsWith(DESCRIPTION_PREFIX) ?? false;
}

export class RuleSetLayout {
  readonly slotCount = RULE_RANGE_SIZE / RULES_PER_CAMERA;

  constructor(readonly firstRule: number) {}

  contains(rule: number): boolean {
    return rule >= this.firstRule && rule < this.firstRule + RULE_RANGE_SIZE;
  }

  slotOf(rule: number): number {
    return Math.floor((rule - this.firstRule) / RULES_PER_CAMERA);
  }

  slotRules(slot: number): number[] {
    const base = this.firstRule + slot * RULES_PER_CAMERA;
    return Array.from({ length: RULES_PER_CAMERA }, (_, i) => base + i);
  }

  /** The tries-log rule, right before the drop rule (destinations.ts TRIES_LOG_OFFSET names the same number). */
  triesRule(slot: number): number {
    return this.firstRule + slot * RULES_PER_CAMERA + MAX_ALLOW_ENTRIES;
  }

  blockRule(slot: number): number {
    return this.triesRule(slot) + 1;
  }

  counterRule(slot: number): number {
    return this.blockRule(slot) + 1;
  }

  /** The rules a camera must have in its block, in order; `openUntil` makes an opening timed (see RuleSpec.startDate). */
  rulesFor(camera: CameraSettings, slot: number, access: Access, openUntil?: number): RuleSpec[] {
    const name = descriptionName(camera.name);
    const base = this.firstRule + slot * RULES_PER_CAMERA;
    // With a MAC the rules follow the camera wherever DHCP puts it; otherwise they match its address.
    const source = { sourceAddress: camera.mac === undefined ? camera.address : undefined, sourceMac: camera.mac };
    const allowRules = camera.allow.map((entry: AllowEntry, i): RuleSpec => ({
      number: base + i,
      action: 'accept',
      description: `${DESCRIPTION_PREFIX}${name} (allow ${entry.label})`,
      ...source,
      protocol: entry.protocol,
      destinationPort: entry.ports.join(','),
      disabled: false,
    }));
    const whole = { ...source, protocol: undefined, destinationPort: undefined };
    // The tries-log and drop rules switch together: both disabled (allowed), both timed, or both enforced.
    const switched = {
      disabled: access === 'allowed' && openUntil === undefined,
      ...(access === 'allowed' && openUntil !== undefined ? { startDate: startDateText(openUntil) } : {}),
    };
    return [
      ...allowRules,
      {
        ...whole,
        ...switched,
        number: this.triesRule(slot),
        action: 'drop',
        description: `${DESCRIPTION_PREFIX}${name} (${TRIES_ROLE})`,
        log: true,
        limit: { rate: TRIES_LOG_RATE, burst: TRIES_LOG_BURST },
      },
      {
        ...whole,
        ...switched,
        number: this.blockRule(slot),
        action: 'drop',
        description: `${DESCRIPTION_PREFIX}${name} (${BLOCK_ROLE})`,
      },
      { ...whole, number: this.counterRule(slot), action: 'accept', description: `${DESCRIPTION_PREFIX}${name} (${COUNTER_ROLE})`, disabled: false },
    ];
  }

  /**
   * Compares a camera's block on the router with what it should be. `routerNow` is the router's clock (epoch ms),
   * which decides whether a timed opening still runs; without it a timed drop rule cannot be read and counts as
   * damaged (re-created blocked).
   */
  classify(ruleSet: RuleSetConfig | undefined, camera: CameraSettings, slot: number, routerNow?: number): BlockState {
    const present = this.slotRules(slot)
      .map((number) => ruleSet?.rules.get(number))
      .filter((rule): rule is FirewallRule => rule !== undefined);
    if (present.length === 0) {
      return { status: 'missing', access: undefined };
    }
    const wanted = this.rulesFor(camera, slot, 'blocked');
    const block = ruleSet?.rules.get(this.blockRule(slot));
    const counter = ruleSet?.rules.get(this.counterRule(slot));
    const tries = ruleSet?.rules.get(this.triesRule(slot));
    const triesSpec = wanted[wanted.length - 3] as RuleSpec;
    const blockSpec = wanted[wanted.length - 2] as RuleSpec;
    const counterSpec = wanted[wanted.length - 1] as RuleSpec;
    // The block and counter rules still do their job if they match the camera by its address or by its MAC
    // (the owner just added or removed "mac"): then the access they enforce is kept while they are rewritten.
    const stillMatches = (rule: FirewallRule, spec: RuleSpec): boolean =>
      enforces({ ...rule, sourceAddress: spec.sourceAddress, sourceMac: spec.sourceMac }, spec) &&
      (rule.sourceAddress === camera.address || (camera.mac !== undefined && rule.sourceMac === camera.mac));
    if (!block || !counter || !stillMatches(block, blockSpec) || !stillMatches(counter, counterSpec) || counter.disabled) {
      return { status: 'damaged', access: undefined };
    }
    let access: Access = block.disabled ? 'allowed' : 'blocked';
    let openUntil: number | undefined;
    let timedOut = false;
    if (block.startDate !== undefined && !block.disabled) {
      const deadline = startDateMs(block.startDate);
      if (deadline === undefined || block.utc !== true || routerNow === undefined) {
        return { status: 'damaged', access: undefined };
      }
      if (deadline > routerNow) {
        access = 'allowed';
        openUntil = deadline;
      } else {
        timedOut = true;
      }
    }
    // A tries-log rule that drops while the drop rule lets the camera out (disabled, or timed to another moment) blocks
    // it partly: neither switch position says that, so it counts as a damaged block. A missing one (a block written by
    // the previous version) or a disabled one while blocked is only outdated: the drop rule blocks on its own.
    if (access === 'allowed' && tries !== undefined && !tries.disabled && tries.action === 'drop' && !(openUntil !== undefined && sameSwitch(tries, block))) {
      return { status: 'damaged', access: undefined };
    }
    // The time settings belong to a timed opening of the drop and tries-log rules only; a leftover (deadline passed,
    // or next to a `disable`) is cleaned up by a rewrite that keeps what the rule enforces.
    const timeTidy = timedOut ? false : block.disabled ? block.startDate === undefined && block.utc !== true : (block.startDate === undefined) === (block.utc !== true);
    const exact =
      timeTidy &&
      present.length === wanted.length &&
      wanted.every((spec) => {
        const rule = ruleSet?.rules.get(spec.number);
        return (
          rule !== undefined &&
          enforces(rule, spec) &&
          rule.description === spec.description &&
          (spec === blockSpec || (spec === triesSpec ? sameSwitch(rule, block) : !rule.disabled && rule.startDate === undefined && rule.utc !== true))
        );
      });
    return { status: exact ? 'intact' : 'outdated', access, ...(openUntil === undefined ? {} : { openUntil }), ...(timedOut ? { timedOut } : {}) };
  }
}

/** True when the rule matches the traffic the spec describes and does what it says (ignoring `disable`). */
function enforces(rule: FirewallRule, spec: RuleSpec): boolean {
  return (
    rule.action === spec.action &&
    rule.sourceAddress === spec.sourceAddress &&
    rule.sourceMac === spec.sourceMac &&
    rule.protocol === spec.protocol &&
    rule.destinationPort === spec.destinationPort &&
    (rule.log === true) === (spec.log === true) &&
    rule.limitRate === spec.limit?.rate &&
    rule.limitBurst === (spec.limit === undefined ? undefined : String(spec.limit.burst)) &&
    rule.otherSettings.length === 0
  );
}

/** True when two rules are switched alike: both disabled or both not, with the same time match (see rulesFor). */
function sameSwitch(rule: FirewallRule, other: FirewallRule): boolean {
  return rule.disabled === other.disabled && rule.startDate === other.startDate && (rule.utc === true) === (other.utc === true);
}

export interface SlotAssignment {
  /** Camera address → its block. */
  readonly slots: ReadonlyMap<string, number>;
  /**
   * Blocks holding the plugin's rules for no configured camera: a camera removed from the configuration, or one
   * whose entry was skipped. `source` is the address or MAC its block rule matches.
   */
  readonly stale: readonly { slot: number; address: string | undefined }[];
  /** Cameras that found no free block (the range is full, or the owner's rules sit in it). */
  readonly homeless: readonly CameraSettings[];
  /** Rule numbers in the plugin's range that the owner wrote (in any of the rulesets); the plugin never touches them. */
  readonly foreignRules: readonly number[];
}

/**
 * Finds each camera's block: the block whose rules name the camera's address if there is one, otherwise the
 * lowest block that is completely empty. Blocks with any rule the plugin did not write, in any of the rulesets
 * given (the IPv4 one and, for cameras with a MAC, the IPv6 one), are never used.
 */
export function assignSlots(
  layout: RuleSetLayout,
  ruleSets: RuleSetConfig | undefined | readonly (RuleSetConfig | undefined)[],
  cameras: readonly CameraSettings[],
): SlotAssignment {
  const slotAddress = new Map<number, string | undefined>();
  /** The description of each block's drop rule, which names its camera. */
  const slotDescription = new Map<number, string | undefined>();
  const foreignSlots = new Set<number>();
  const foreignRules = new Set<number>();
  const lists = Array.isArray(ruleSets) ? (ruleSets as readonly (RuleSetConfig | undefined)[]) : [ruleSets as RuleSetConfig | undefined];
  // The IPv4 ruleset comes first: its block rule's address (or MAC) is authoritative when the families disagree.
  for (const [index, ruleSet] of lists.entries()) {
    for (const rule of ruleSet?.rules.values() ?? []) {
      if (!layout.contains(rule.number)) {
        continue;
      }
      const slot = layout.slotOf(rule.number);
      if (!isPluginRule(rule)) {
        foreignSlots.add(slot);
        foreignRules.add(rule.number);
      } else if (!slotAddress.has(slot) || (index === 0 && rule.number === layout.blockRule(slot))) {
        // The block rule's address (or MAC) is authoritative when the rules of a block disagree.
        slotAddress.set(slot, rule.sourceMac ?? rule.sourceAddress);
        if (rule.number === layout.blockRule(slot)) {
          slotDescription.set(slot, rule.description);
        }
      }
    }
  }
  const slots = new Map<string, number>();
  for (const [slot, source] of [...slotAddress.entries()].sort((a, b) => a[0] - b[0])) {
    // A block belongs to the camera with that address or that MAC, so adding or removing a camera's "mac"
    // rewrites its rules in place instead of treating it as a new camera.
    const owner = cameras.find((c) => source !== undefined && (c.address === source || c.mac === source));
    if (owner && !foreignSlots.has(slot) && !slots.has(owner.address)) {
      slots.set(owner.address, slot);
    }
  }
  // A camera whose "mac" was removed: its rules match a MAC no camera has now. Its block is found by the name in
  // its drop rule's description, when exactly one such block and one such camera fit, so the rules are rewritten in
  // place (blocked) instead of staying behind and blocking the camera by its old MAC.
  const claimed = new Set(slots.values());
  for (const camera of cameras) {
    if (slots.has(camera.address) || camera.mac !== undefined) {
      continue;
    }
    const wanted = `${DESCRIPTION_PREFIX}${descriptionName(camera.name)} (${BLOCK_ROLE})`;
    const sameName = cameras.filter((other) => descriptionName(other.name) === descriptionName(camera.name));
    const candidates = [...slotAddress.entries()].filter(
      ([slot, source]) =>
        !claimed.has(slot) &&
        !foreignSlots.has(slot) &&
        source !== undefined &&
        /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(source) &&
        !cameras.some((other) => other.mac === source) &&
        slotDescription.get(slot) === wanted,
    );
    const [only] = candidates;
    if (only !== undefined && candidates.length === 1 && sameName.length === 1) {
      slots.set(camera.address, only[0]);
      claimed.add(only[0]);
    }
  }
  const used = new Set([...slotAddress.keys(), ...foreignSlots]);
  const homeless: CameraSettings[] = [];
  let next = 0;
  for (const camera of cameras) {
    if (slots.has(camera.address)) {
      continue;
    }
    while (next < layout.slotCount && used.has(next)) {
      next++;
    }
    if (next >= layout.slotCount) {
      homeless.push(camera);
      continue;
    }
    slots.set(camera.address, next);
    used.add(next);
  }
  const assigned = new Set(slots.values());
  const stale = [...slotAddress.entries()]
    .filter(([slot]) => !assigned.has(slot))
    .map(([slot, address]) => ({ slot, address }));
  return { slots, stale, homeless, foreignRules: [...foreignRules].sort((a, b) => a - b) };
}
