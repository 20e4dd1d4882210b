/**
 * Owner rules ahead of a camera's drop rule that let its packets out while the Home app would show it blocked: found
 * in realistic owner configurations, in EdgeOS's own output (the engine's quoting, its compiled chains) and in the
 * forum's groups; and the rules that surely cannot match the camera are left alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CameraSettings } from '../../../src/config';
import * as say from '../../../src/guard/messages';
import { splitSections, MARK } from '../../../src/router/edgeos/commands';
import { readFirewall } from '../../../src/router/edgeos/firewallConfig';
import type { FirewallRule, RuleSetConfig } from '../../../src/router/edgeos/firewallConfig';
import { parseConfigCommands } from '../../../src/router/edgeos/parsers';
import { isPluginRule } from '../../../src/router/edgeos/ruleSetLayout';
import { readFirewallGroups, shadowReason, shadowingRow, shadowingRule } from '../../../src/router/edgeos/shadowRules';
import type { FirewallGroups } from '../../../src/router/edgeos/shadowRules';

const SAMPLES = join(__dirname, '..', '..', 'fixtures', 'edgeos');
const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'owner-configs');

const sample = (name: string): string => readFileSync(join(SAMPLES, name), 'utf8');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

/** The `set` lines of a `cat -A` listing (the engine's samples mark each line's end with `$`). */
function catA(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.startsWith('set ') && line.endsWith('$'))
    .map((line) => line.slice(0, -1).replace(/\^I/g, '\t'))
    .join('\n');
}

interface Router {
  readonly ruleSets: Map<string, RuleSetConfig>;
  readonly ruleSets6: Map<string, RuleSetConfig>;
  readonly groups: FirewallGroups;
}

function routerFrom(text: string): Router {
  const parsed = parseConfigCommands(text);
  if (!parsed.ok) throw new Error(parsed.error);
  const firewall = readFirewall(parsed.value.paths);
  return { ruleSets: firewall.ruleSets, ruleSets6: firewall.ruleSets6, groups: readFirewallGroups(parsed.value.paths) };
}

const FIRST_RULE = 4000;
const isOwn = (rule: FirewallRule): boolean => isPluginRule(rule) && rule.number >= FIRST_RULE && rule.number < FIRST_RULE + 1000;

function camera(address: string, mac?: string): CameraSettings {
  return { name: 'Cam', address, allow: [], allowMinutes: 0, ...(mac === undefined ? {} : { mac }) };
}

/** The rule (number and why) ahead of `blockRule` in `ruleSet` that lets the camera out, if any. */
function shadowOf(router: Router, ruleSet: string, cam: CameraSettings, blockRule: number, family: 4 | 6 = 4): { number: number | undefined; why: string } | undefined {
  const config = (family === 4 ? router.ruleSets : router.ruleSets6).get(ruleSet);
  if (config === undefined) throw new Error(`no ruleset ${ruleSet}`);
  return shadowingRule(config, family, cam, blockRule, isOwn, router.groups);
}

/** The owner's WAN-out policy of the blog setup, with extra lines. */
function ownerPolicy(...extra: string[]): Router {
  return routerFrom(`${fixture('owner-wan-out-in-range.txt')}\n${extra.join('\n')}\n`);
}

describe('owner rules that let a blocked camera out', () => {
  it('finds nothing in the blog\'s owner policy: other hosts, drops, a disabled rule, rules after the block', () => {
    const router = ownerPolicy();
    // Rule 10 accepts another host, 20 and 30 drop, 4000 accepts another host, 4001 is disabled, 5000 comes after.
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.50', '00:12:41:a3:52:03'), 4018)).toBeUndefined();
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.51'), 4038)).toBeUndefined();
    // WANv6_OUT: rule 10 drops, 4025 accepts another MAC (the Apple TV).
    expect(shadowOf(router, 'WANv6_OUT', camera('192.168.1.50', '00:12:41:a3:52:03'), 4018, 6)).toBeUndefined();
  });

  it('finds an accept for any source ahead of the block, in the engine\'s own listing of awkward descriptions', () => {
    const router = routerFrom(catA(sample('edgeos_engine_show_configuration_commands_awkward_values.txt')));
    // Rules 101-128 accept everything; the first one is the one to name.
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.1.50'), 4018)).toEqual({ number: 101, why: 'any source' });
  });

  it('takes a rule outside the range whose description copies the plugin\'s tag for the owner\'s', () => {
    // Rule 106 of the engine's sample is described 'camera-guard: Front Door' but sits at 106: it is the owner's.
    const router = routerFrom(catA(sample('edgeos_engine_show_configuration_commands_awkward_values.txt')).replace(/^set firewall name CAMGUARD_OUT rule 1(0[0-57-9]|1\d|2\d) .*$/gm, ''));
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.1.50'), 4018)?.number).toBe(106);
  });

  it('finds the owner\'s MAC rule inside the range for a camera with that MAC, or with no MAC to compare', () => {
    // Rule 4000 of the engine's sample accepts MAC 00:11:22:33:44:55 and carries no description.
    const router = routerFrom(catA(sample('edgeos_engine_show_configuration_commands_awkward_values.txt')).replace(/^set firewall name CAMGUARD_OUT rule 1\d\d .*$/gm, ''));
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.1.50', '00:11:22:33:44:55'), 4018)).toEqual({ number: 4000, why: 'MAC 00:11:22:33:44:55 holds it' });
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.1.50'), 4018)?.number).toBe(4000);
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.1.50', '00:11:22:33:44:66'), 4018)).toBeUndefined();
  });

  it.each([
    ['a CIDR holding the camera', ['source address 192.168.1.0/24'], 'source 192.168.1.0/24 holds it'],
    ['the camera\'s own address, and a port subset', ['source address 192.168.1.50', 'protocol tcp', 'destination port 443'], 'source 192.168.1.50 holds it'],
    ['an address range holding the camera', ['source address 192.168.1.40-192.168.1.59'], 'source 192.168.1.40-192.168.1.59 holds it'],
    ['a negation that does not exclude the camera', ['source address !10.0.0.0/8'], 'source !10.0.0.0/8 does not exclude it'],
    ['an address group holding the camera (range member)', ['source group address-group IOT'], 'address group IOT holds it'],
    ['a network group holding the camera', ['source group network-group LAN_NETS'], 'network group LAN_NETS holds it'],
    ['an address group the configuration does not define', ['source group address-group GHOST'], 'unknown address group GHOST'],
    ['established traffic only, any source', ['state established enable', 'state related enable'], 'any source'],
    ['an unreadable source', ['source address 192.168.1.0/99'], 'unreadable source 192.168.1.0/99'],
    ['a MAC, for a camera the plugin knows by address only', ["source mac-address '3c:22:fb:01:02:03'"], 'MAC 3c:22:fb:01:02:03, camera has no "mac"'],
    ['a negated MAC of another device', ["source mac-address '!3c:22:fb:01:02:03'"], 'MAC !3c:22:fb:01:02:03, camera has no "mac"'],
  ])('finds an accept ahead of the block for %s', (_title, settings, why) => {
    const router = ownerPolicy(
      'set firewall group address-group IOT address 192.168.1.45-192.168.1.55',
      'set firewall group network-group LAN_NETS network 192.168.0.0/16',
      'set firewall name WAN_OUT rule 15 action accept',
      ...settings.map((setting) => `set firewall name WAN_OUT rule 15 ${setting}`),
    );
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.50'), 4018)).toEqual({ number: 15, why });
  });

  it.each([
    ['another host', ['action accept', 'source address 192.168.1.60']],
    ['a CIDR not holding the camera', ['action accept', 'source address 10.0.0.0/8']],
    ['a negation that excludes the camera', ['action accept', 'source address !192.168.1.0/24']],
    ['an address group without the camera', ['action accept', 'source group address-group IOT']],
    ['an empty address group', ['action accept', 'source group address-group EMPTY']],
    ['a drop', ['action drop']],
    ['a reject', ['action reject']],
    ['a disabled accept', ['action accept', 'disable']],
    ['the camera\'s address with another device\'s MAC, for a camera known by MAC', ['action accept', 'source address 192.168.1.50', "source mac-address '3c:22:fb:01:02:03'"]],
    ['another device\'s MAC, for a camera known by MAC', ['action accept', "source mac-address '3c:22:fb:01:02:03'"]],
    ['a negation of the camera\'s own MAC', ['action accept', "source mac-address '!00:12:41:a3:52:03'"]],
  ])('leaves alone %s', (_title, settings) => {
    const router = ownerPolicy(
      "set firewall group address-group EMPTY description 'nothing yet'",
      ...settings.map((setting) => `set firewall name WAN_OUT rule 15 ${setting}`),
    );
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.50', '00:12:41:a3:52:03'), 4018)).toBeUndefined();
  });

  it('finds a rule naming the IP of a camera the plugin blocks by MAC: the camera sends from that address too', () => {
    const router = ownerPolicy('set firewall name WAN_OUT rule 15 action accept', 'set firewall name WAN_OUT rule 15 source address 192.168.1.50');
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.50', '00:12:41:a3:52:03'), 4018)?.number).toBe(15);
  });

  it('leaves alone an accept numbered after the camera\'s drop rule, even inside the range', () => {
    const router = ownerPolicy('set firewall name WAN_OUT rule 4040 action accept');
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.51'), 4038)).toBeUndefined();
    // A camera whose block comes after that rule is shadowed by it.
    expect(shadowOf(router, 'WAN_OUT', camera('192.168.1.52'), 4048)?.number).toBe(4040);
  });

  it('resolves the forum\'s groups (NAS, PRIVATE_NETS) from the ER-4 owner configuration', () => {
    const router = routerFrom(
      `${fixture('er4-vlan-wan-surveillance.txt')}\nset firewall name CAMGUARD_OUT rule 10 action accept\nset firewall name CAMGUARD_OUT rule 10 source group network-group PRIVATE_NETS\n` +
        'set firewall name CAMGUARD_OUT rule 20 action accept\nset firewall name CAMGUARD_OUT rule 20 source group address-group NAS\n',
    );
    expect(router.groups.address.get('NAS')).toEqual(['192.168.0.201']);
    expect(router.groups.network.get('PRIVATE_NETS')).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
    expect(shadowOf(router, 'CAMGUARD_OUT', camera('192.168.30.60'), 4008)).toEqual({ number: 10, why: 'network group PRIVATE_NETS holds it' });
    // Only the NAS group: another host.
    const nasOnly = routerFrom(`${fixture('er4-vlan-wan-surveillance.txt')}\nset firewall name CAMGUARD_OUT rule 20 action accept\nset firewall name CAMGUARD_OUT rule 20 source group address-group NAS\n`);
    expect(shadowOf(nasOnly, 'CAMGUARD_OUT', camera('192.168.30.60'), 4008)).toBeUndefined();
  });

  it('takes any IPv6 source for possibly the camera\'s: its IPv6 addresses are not known', () => {
    const router = ownerPolicy("set firewall ipv6-name WANv6_OUT rule 5 action accept", "set firewall ipv6-name WANv6_OUT rule 5 source address '2001:db8::/32'");
    expect(shadowOf(router, 'WANv6_OUT', camera('192.168.1.50', '00:12:41:a3:52:03'), 4018, 6)).toEqual({ number: 5, why: 'IPv6 source 2001:db8::/32, maybe its' });
  });

  it('finds nothing in the plugin\'s own rules as the engine compiled them (allow-lists, counters, other cameras)', () => {
    const sections = splitSections(sample('edgeos_engine_plugin_read_after_traffic.txt').split('\n').filter((line) => !line.startsWith('#')).join('\n'));
    const router = routerFrom(sections.get(MARK.config) ?? '');
    const frontDoor = camera('192.168.1.50');
    const porch = camera('192.168.1.52', '00:12:41:a3:70:04');
    expect(shadowOf(router, 'CAMGUARD_OUT', frontDoor, 4008)).toBeUndefined();
    expect(shadowOf(router, 'CAMGUARD_OUT', porch, 4028)).toBeUndefined();
    expect(shadowOf(router, 'CAMGUARD6_OUT', porch, 4028, 6)).toBeUndefined();
  });
});

describe('kernel rows that let a blocked camera out', () => {
  const text = sample('edgeos_engine_plugin_read_after_traffic.txt').split('\n').filter((line) => !line.startsWith('#')).join('\n');
  const sections = splitSections(text);
  const router = routerFrom(sections.get(MARK.config) ?? '');
  const own = (ruleSet: RuleSetConfig | undefined): Set<number> => new Set([...(ruleSet?.rules.values() ?? [])].filter(isOwn).map((rule) => rule.number));
  const own4 = own(router.ruleSets.get('CAMGUARD_OUT'));
  const own6 = own(router.ruleSets6.get('CAMGUARD6_OUT'));
  const listing = sections.get(MARK.counters) ?? '';
  const listing6 = sections.get(MARK.counters6) ?? '';
  const frontDoor = camera('192.168.1.50');
  const porch = camera('192.168.1.52', '00:12:41:a3:70:04');

  /** The listing with a row inserted as the chain's first. */
  const withFirstRow = (chainListing: string, row: string): string => chainListing.replace(/^(\s*pkts\s+bytes.*\n)/m, `$1${row}\n`);

  it('finds nothing in the engine\'s compiled chains of the plugin\'s own rules', () => {
    expect(listing).toContain('Chain CAMGUARD_OUT');
    expect(shadowingRow(listing, 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toBeUndefined();
    expect(shadowingRow(listing, 'CAMGUARD_OUT', 4, porch, 4028, own4, router.groups)).toBeUndefined();
    expect(shadowingRow(listing6, 'CAMGUARD6_OUT', 6, porch, 4028, own6, router.groups)).toBeUndefined();
  });

  it.each([
    ['an ACCEPT for any source inserted by hand (no EdgeOS comment)', '       0        0 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0', undefined, 'any source'],
    ['a RETURN for the camera inserted by hand', '       0        0 RETURN     6    --  *      *       192.168.1.50         0.0.0.0/0            tcp dpt:443', undefined, 'source 192.168.1.50 holds it'],
    ['an owner rule EdgeOS compiled since the last full read', '       0        0 RETURN     0    --  *      *       192.168.1.0/24       0.0.0.0/0            /* CAMGUARD_OUT-20 */', 20, 'source 192.168.1.0/24 holds it'],
    ['a group (ipset) the configuration does not hold', '       0        0 RETURN     0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-30 */ match-set CAMS src', 30, 'unknown network group CAMS'],
  ])('finds %s', (_title, row, number, why) => {
    expect(shadowingRow(withFirstRow(listing, row), 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toEqual({ number, why });
  });

  it.each([
    ['a RETURN for another host', '       0        0 RETURN     0    --  *      *       192.168.1.60         0.0.0.0/0            /* CAMGUARD_OUT-20 */'],
    ['a DROP for any source', '       0        0 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-20 */'],
    ['a LOG row', '       0        0 LOG        0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* CAMGUARD_OUT-20 */ LOG flags 0 level 4 prefix "[CAMGUARD_OUT-20-A]"'],
  ])('leaves alone %s', (_title, row) => {
    expect(shadowingRow(withFirstRow(listing, row), 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toBeUndefined();
  });

  it('leaves alone the camera\'s tries-log rows (LOG and limited DROP) ahead of its drop row, and still finds an accept ahead of them', () => {
    // Rule 4007 as ubnt-fw compiles `action drop`, `log enable`, `limit rate 6/minute`, `limit burst 5` (the kernel's
    // listing of test/fixtures/destinations/iptables_limit_fallthrough_lab_netns.txt, with the camera's source).
    const tries = [
      '       5      300 LOG        0    --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4007 */ limit: avg 6/min burst 5 LOG flags 0 level 4 prefix "[CAMGUARD_OUT-4007-D]"',
      '       5      300 DROP       0    --  *      *       192.168.1.50         0.0.0.0/0            /* CAMGUARD_OUT-4007 */ limit: avg 6/min burst 5',
    ].join('\n');
    const withTries = listing.replace(/^(.*CAMGUARD_OUT-4008 \*\/.*\n)/m, `${tries}\n$1`);
    expect(withTries).not.toBe(listing);
    // Not even taken for the plugin's own (own4 is the sample's rules, which have no 4007): a LOG or DROP is never a gap.
    expect(own4.has(4007)).toBe(false);
    expect(shadowingRow(withTries, 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toBeUndefined();
    const accept = '       0        0 RETURN     0    --  *      *       192.168.1.0/24       0.0.0.0/0            /* CAMGUARD_OUT-20 */';
    expect(shadowingRow(withFirstRow(withTries, accept), 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toEqual({ number: 20, why: 'source 192.168.1.0/24 holds it' });
  });

  it('leaves alone a row after the camera\'s drop row', () => {
    const after = listing.replace(/^(.*CAMGUARD_OUT-4008 \*\/.*\n)/m, '$1       0        0 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0\n');
    expect(after).not.toBe(listing);
    expect(shadowingRow(after, 'CAMGUARD_OUT', 4, frontDoor, 4008, own4, router.groups)).toBeUndefined();
  });

  it('finds an ip6tables RETURN for another MAC only for a camera not known by that MAC', () => {
    const row = '       0        0 RETURN     0        *      *       ::/0                 ::/0                 MAC 3c:22:fb:01:02:03';
    expect(shadowingRow(withFirstRow(listing6, row), 'CAMGUARD6_OUT', 6, porch, 4028, own6, router.groups)).toBeUndefined();
    const any = '       0        0 RETURN     0        *      *       ::/0                 ::/0                 /* CAMGUARD6_OUT-5 */';
    expect(shadowingRow(withFirstRow(listing6, any), 'CAMGUARD6_OUT', 6, porch, 4028, own6, router.groups)).toEqual({ number: 5, why: 'any source' });
  });
});

describe('what the owner is told', () => {
  it('names the rule, the ruleset and what to do, in one sentence', () => {
    expect(shadowReason({ number: 20, why: 'any source' }, 'WAN_OUT', 4, 4999, false)).toBe(
      "rule 20 of WAN_OUT, ahead of Camera Guard's rules, accepts its traffic (any source): delete it, disable it, or renumber it after 4999",
    );
    expect(shadowReason({ number: 5, why: 'any source' }, 'WANv6_OUT', 6, 4999, true)).toBe(
      'a kernel row of IPv6 ruleset WANv6_OUT (rule 5), not in the configuration, accepts its traffic first (any source): delete it or restart the router',
    );
    expect(shadowReason({ number: undefined, why: 'any source' }, 'WAN_OUT', 4, 4999, true)).toBe(
      'a kernel row of WAN_OUT, not in the configuration, accepts its traffic first (any source): delete it or restart the router',
    );
  });

  it('fits the owner\'s log whole (200 characters) at its longest, with the router\'s text cleaned', () => {
    const longest = shadowReason({ number: 9999, why: `address group ${'G'.repeat(31)}\u001b[1m holds it` }, 'R'.repeat(28), 6, 9999, false);
    expect(longest.length).toBeLessThanOrEqual(200);
    expect(longest).not.toContain('\u001b');
    expect(longest).toMatch(/: delete it, disable it, or renumber it after 9999$/);
    const kernel = shadowReason({ number: 9999, why: 'x'.repeat(300) }, 'R'.repeat(28), 6, 9999, true);
    expect(kernel.length).toBeLessThanOrEqual(200);
    expect(kernel).toMatch(/: delete it or restart the router$/);
  });

  it('says it once in the log without the restart hint that does not help here', () => {
    const cam = camera('192.168.1.50');
    const reason = shadowReason({ number: 20, why: 'any source' }, 'WAN_OUT', 4, 4999, false);
    const text = say.notInForce(cam, reason).text;
    expect(text).toContain(`but ${reason}, so its packets get out`);
    expect(text).not.toContain('restarting the router');
    expect(say.notInForce(cam, "the kernel's WAN_OUT chain has no DROP row for rule 4018").text).toContain('restarting the router rebuilds its firewall');
  });
});
