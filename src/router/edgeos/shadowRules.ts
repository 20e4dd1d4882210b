/**
 * Owner rules that shadow a camera's block: an enabled rule numbered before the camera's drop rule, in the same
 * ruleset, that lets packets go on (anything but drop or reject) and could match a packet the camera sends. EdgeOS
 * evaluates a ruleset in rule order and stops at the first match, so such a rule lets a "blocked" camera's packets
 * out while its drop rule is in place. The plugin never edits the owner's rules: it reads such a camera's block as
 * not in force and tells the owner which rule to move.
 *
 * Judged the way a security control must be: a rule is harmless only when it surely cannot match the camera. Every
 * part of a rule the plugin cannot read with certainty (an unknown group, an IPv6 source, a MAC for a camera whose
 * MAC is not configured) is taken to match.
 */
import { BlockList, isIPv4 } from 'node:net';

import type { CameraSettings } from '../../config';
import { routerWords } from '../../log';
import type { FirewallRule, RuleSetConfig } from './firewallConfig';

/** The IPv4 address and network groups of `firewall group`, by name, with their members as written. */
export interface FirewallGroups {
  readonly address: ReadonlyMap<string, readonly string[]>;
  readonly network: ReadonlyMap<string, readonly string[]>;
}

/** Reads `firewall group address-group NAME address X` and `firewall group network-group NAME network X`. */
export function readFirewallGroups(paths: readonly (readonly string[])[]): FirewallGroups {
  const address = new Map<string, string[]>();
  const network = new Map<string, string[]>();
  for (const path of paths) {
    if (path[0] !== 'firewall' || path[1] !== 'group' || path[3] === undefined) continue;
    const groups = path[2] === 'address-group' ? address : path[2] === 'network-group' ? network : undefined;
    if (groups === undefined) continue;
    // A group that exists with no members (only a description) is empty: it matches nothing.
    const members = groups.get(path[3]) ?? [];
    groups.set(path[3], members);
    const member = path[5];
    if ((path[4] === 'address' || path[4] === 'network') && member !== undefined) {
      members.push(member);
    }
  }
  return { address, network };
}

/** A rule or kernel row ahead of a camera's drop rule that lets its packets out, and why it matches the camera. */
export interface ShadowingRule {
  /** The EdgeOS rule number; undefined for a kernel row without an EdgeOS comment (added outside EdgeOS). */
  readonly number: number | undefined;
  /** Why it could match the camera, in the owner's words: `it matches any source`. */
  readonly why: string;
}

/** What one source condition of a rule says about the camera: it surely excludes it, or it may match (and why). */
type Verdict = { excludes: true } | { excludes: false; why: string; certain: boolean };

const EXCLUDES: Verdict = { excludes: true };
const holds = (why: string): Verdict => ({ excludes: false, why, certain: true });
const unsure = (why: string): Verdict => ({ excludes: false, why, certain: false });

/** Actions that stop a packet: every other action (accept, and anything the plugin does not know) lets it go on. */
const STOPPING_ACTIONS = new Set(['drop', 'reject']);

/**
 * The first enabled rule of `ruleSet` numbered before `blockRule` that lets packets on and could match a packet from
 * the camera; undefined when there is none. `isOwn` tells the plugin's own rules (each camera's allow-list, tries-log
 * and counter rules, which match only that camera's address or MAC), which are not a gap: the tries-log rule drops,
 * and stops nothing that the drop rule after it would not.
 * `family` 6 is the IPv6 ruleset, which holds rules only for cameras with a MAC.
 */
export function shadowingRule(
  ruleSet: RuleSetConfig,
  family: 4 | 6,
  camera: CameraSettings,
  blockRule: number,
  isOwn: (rule: FirewallRule) => boolean,
  groups: FirewallGroups,
): ShadowingRule | undefined {
  const ahead = [...ruleSet.rules.values()].filter((rule) => rule.number < blockRule).sort((a, b) => a.number - b.number);
  for (const rule of ahead) {
    if (rule.disabled || isOwn(rule) || (rule.action !== undefined && STOPPING_ACTIONS.has(rule.action))) continue;
    const verdict = ruleVerdict(rule, family, camera, groups);
    if (!verdict.excludes) {
      return { number: rule.number, why: verdict.why };
    }
  }
  return undefined;
}

/** Combines the source conditions of a rule: it matches the camera unless one of them surely excludes it. */
function ruleVerdict(rule: FirewallRule, family: 4 | 6, camera: CameraSettings, groups: FirewallGroups): Verdict {
  const verdicts: Verdict[] = [];
  if (rule.sourceAddress !== undefined) verdicts.push(addressVerdict(rule.sourceAddress, family, camera));
  if (rule.sourceMac !== undefined) verdicts.push(macVerdict(rule.sourceMac, camera));
  for (const setting of rule.otherSettings) {
    const group = /^source group (address-group|network-group) (\S+)$/.exec(setting);
    if (group) {
      verdicts.push(groupVerdict(group[1] === 'address-group' ? 'address' : 'network', group[2] ?? '', family, camera, groups));
    } else if (setting.startsWith('source group ') && !setting.startsWith('source group port-group ')) {
      verdicts.push(unsure(`unreadable ${setting}`));
    }
  }
  return combine(verdicts);
}

function combine(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.some((verdict) => verdict.excludes)) return EXCLUDES;
  const open = verdicts.filter((verdict): verdict is Extract<Verdict, { excludes: false }> => !verdict.excludes);
  return open.find((verdict) => verdict.certain) ?? open[0] ?? holds('any source');
}

/** `!` in front of a value inverts it. */
function negation(value: string): { negated: boolean; value: string } {
  return value.startsWith('!') ? { negated: true, value: value.slice(1) } : { negated: false, value };
}

/** Applies a `!` to what a condition says when it is not negated. */
function inverted(contains: boolean | undefined, negated: boolean, written: string, what: string): Verdict {
  if (contains === undefined) return unsure(`unreadable ${what} ${written}`);
  if (contains === negated) return EXCLUDES;
  return holds(negated ? `${what} ${written} does not exclude it` : `${what} ${written} holds it`);
}

function addressVerdict(written: string, family: 4 | 6, camera: CameraSettings): Verdict {
  if (family === 6) {
    // The plugin knows no IPv6 address of the camera (it has several, and they change): any may be named.
    return unsure(`IPv6 source ${written}, maybe its`);
  }
  const { negated, value } = negation(written);
  return inverted(ipv4Contains([value], camera.address), negated, written, 'source');
}

function macVerdict(written: string, camera: CameraSettings): Verdict {
  const { negated, value } = negation(written);
  if (camera.mac === undefined) {
    return unsure(`MAC ${written}, camera has no "mac"`);
  }
  return inverted(value.toLowerCase() === camera.mac.toLowerCase(), negated, written, 'MAC');
}

function groupVerdict(kind: 'address' | 'network', written: string, family: 4 | 6, camera: CameraSettings, groups: FirewallGroups): Verdict {
  const { negated, value } = negation(written);
  if (family === 6) return unsure(`${kind} group ${written}, maybe its`);
  const members = (kind === 'address' ? groups.address : groups.network).get(value);
  if (members === undefined) return unsure(`unknown ${kind} group ${written}`);
  return inverted(ipv4Contains(members, camera.address), negated, written, `${kind} group`);
}

/**
 * True when one of the members (an address, `a.b.c.d/n` or `a-b`) holds the address, false when none does, undefined
 * when a member cannot be read (it may be the one that holds it).
 */
function ipv4Contains(members: readonly string[], address: string): boolean | undefined {
  if (!isIPv4(address)) return undefined;
  const list = new BlockList();
  for (const member of members) {
    try {
      const range = /^([^-/]+)-([^-/]+)$/.exec(member);
      const subnet = /^([^/]+)\/(\d{1,2})$/.exec(member);
      if (range && isIPv4(range[1] ?? '') && isIPv4(range[2] ?? '')) {
        list.addRange(range[1] ?? '', range[2] ?? '', 'ipv4');
      } else if (subnet && isIPv4(subnet[1] ?? '') && Number(subnet[2]) <= 32) {
        list.addSubnet(subnet[1] ?? '', Number(subnet[2]), 'ipv4');
      } else if (isIPv4(member)) {
        list.addAddress(member, 'ipv4');
      } else {
        return undefined;
      }
    } catch {
      // BlockList refuses a range whose end comes before its start: a member the plugin cannot read.
      return undefined;
    }
  }
  return list.check(address, 'ipv4');
}

/**
 * The first kernel row of `chain` in an `iptables -L <chain> -v -n -x` listing, ahead of the camera's DROP row for
 * `blockRule`, whose target lets packets out of the chain (RETURN, ACCEPT) and whose source could be the camera.
 * Rows of the rules in `own` (the plugin's own rules, as the configuration shows them) are not a gap. Catches a rule added on the router between
 * two full reads, and a row inserted with iptables by hand, that the configuration does not show.
 * Undefined when there is none, or when the listing holds no drop row for the camera (that is reported on its own).
 */
export function shadowingRow(
  listing: string,
  chain: string,
  family: 4 | 6,
  camera: CameraSettings,
  blockRule: number,
  own: ReadonlySet<number>,
  groups: FirewallGroups,
): ShadowingRule | undefined {
  const lines = listing.split('\n').map((line) => line.replace(/\r$/, ''));
  const at = lines.findIndex((line) => line.startsWith(`Chain ${chain} `));
  if (at < 0) return undefined;
  const comment = new RegExp(`/\\* ${chain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{1,5})(?: [^*]*)? \\*/`);
  const mac = camera.mac?.toLowerCase();
  let found: ShadowingRule | undefined;
  for (const line of lines.slice(at + 2)) {
    if (line.trim() === '') break;
    const fields = line.trim().split(/\s+/);
    const target = fields[2] ?? '';
    const number = comment.exec(line)?.[1];
    const rule = number === undefined ? undefined : Number(number);
    // The columns from the source on: ip6tables may leave `opt` blank, so it is found by its shape.
    const sourceAt = fields.findIndex((field, index) => index >= 5 && /^!?[0-9a-f:.]+(\/\d{1,3})?$/i.test(field) && /[.:]/.test(field));
    const source = sourceAt < 0 ? undefined : fields[sourceAt];
    const rowMac = /\bMAC (! )?([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i.exec(line);
    if (target === 'DROP' && rule === blockRule && (mac === undefined ? source === camera.address : rowMac?.[2]?.toLowerCase() === mac)) {
      return found;
    }
    if (found !== undefined || (target !== 'RETURN' && target !== 'ACCEPT') || (rule !== undefined && own.has(rule))) continue;
    const verdicts: Verdict[] = [];
    if (source === undefined) {
      verdicts.push(unsure('unreadable source'));
    } else if (source !== '0.0.0.0/0' && source !== '::/0') {
      verdicts.push(addressVerdict(source, family, camera));
    }
    if (rowMac) verdicts.push(macVerdict(`${rowMac[1] === undefined ? '' : '!'}${rowMac[2] ?? ''}`, camera));
    const set = /(! )?match-set (\S+) src\b/.exec(line);
    if (set) {
      const name = `${set[1] === undefined ? '' : '!'}${set[2] ?? ''}`;
      const kind = groups.address.has(set[2] ?? '') ? 'address' : 'network';
      verdicts.push(groupVerdict(kind, name, family, camera, groups));
    }
    const verdict = combine(verdicts);
    if (!verdict.excludes) {
      found = { number: rule, why: verdict.why };
    }
  }
  return undefined;
}

/**
 * Why the camera's block is not in force, and what to do, short enough to show whole in the owner's log (the reason is
 * cut to 200 characters there): `rule 20 of WAN_OUT, ahead of Camera Guard's rules, accepts its traffic (any source):
 * delete it, disable it, or renumber it after 4999`. `lastRule` is the end of the plugin's range; `kernel` says the
 * row was found in the kernel's chain but not in the configuration.
 */
export function shadowReason(shadow: ShadowingRule, ruleSet: string, family: 4 | 6, lastRule: number, kernel: boolean): string {
  const where = `${family === 6 ? 'IPv6 ruleset ' : ''}${ruleSet}`;
  const why = routerWords(shadow.why, 40);
  if (kernel) {
    const rule = shadow.number === undefined ? '' : ` (rule ${shadow.number})`;
    return `a kernel row of ${where}${rule}, not in the configuration, accepts its traffic first (${why}): delete it or restart the router`;
  }
  return `rule ${String(shadow.number)} of ${where}, ahead of Camera Guard's rules, accepts its traffic (${why}): delete it, disable it, or renumber it after ${lastRule}`;
}
