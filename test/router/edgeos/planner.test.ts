/**
 * The planner as a truth table for timed access (`allowMinutes`): what one transaction sends, and what a reading
 * of the drop rule means, as pure functions of a listing and the router's clock.
 */
import type { CameraSettings } from '../../../src/config';
import { readFirewall } from '../../../src/router/edgeos/firewallConfig';
import { parseConfigCommands } from '../../../src/router/edgeos/parsers';
import { cameraStatus, plan } from '../../../src/router/edgeos/planner';
import type { PlanInput } from '../../../src/router/edgeos/planner';
import { RuleSetLayout, assignSlots } from '../../../src/router/edgeos/ruleSetLayout';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0, 400);
const camera: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [], allowMinutes: 30 };
const layout = new RuleSetLayout(4000);

/** The tries-log rule, as the plugin writes it and `show configuration commands` prints it. */
const TRIES = [
  'set firewall name CAMGUARD_OUT rule 4007 action drop',
  "set firewall name CAMGUARD_OUT rule 4007 description 'camera-guard: Front Door (tries log)'",
  'set firewall name CAMGUARD_OUT rule 4007 limit burst 5',
  'set firewall name CAMGUARD_OUT rule 4007 limit rate 6/minute',
  'set firewall name CAMGUARD_OUT rule 4007 log enable',
  'set firewall name CAMGUARD_OUT rule 4007 source address 192.0.2.50',
];

const BASE = [
  'set firewall name CAMGUARD_OUT default-action accept',
  "set firewall name CAMGUARD_OUT description 'Camera Guard: camera internet access'",
  ...TRIES,
  'set firewall name CAMGUARD_OUT rule 4008 action drop',
  "set firewall name CAMGUARD_OUT rule 4008 description 'camera-guard: Front Door (block)'",
  'set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.50',
  'set firewall name CAMGUARD_OUT rule 4009 action accept',
  "set firewall name CAMGUARD_OUT rule 4009 description 'camera-guard: Front Door (egress count)'",
  'set firewall name CAMGUARD_OUT rule 4009 source address 192.0.2.50',
  'set interfaces ethernet eth0 firewall out name CAMGUARD_OUT',
];

/** `clock`: the router's clock, or 'unknown' when it could not be read. */
function input(extra: string[], cameras: CameraSettings[] = [camera], clock: number | 'unknown' = NOW): PlanInput {
  const routerNow = clock === 'unknown' ? undefined : clock;
  const parsed = parseConfigCommands([...BASE, ...extra].map((line) => `${line}\n`).join(''));
  if (!parsed.ok) throw new Error(parsed.error);
  const firewall = readFirewall(parsed.value.paths);
  const ruleSet = firewall.ruleSets.get('CAMGUARD_OUT');
  return {
    firewall,
    wanInterface: 'eth0',
    layout,
    ruleSet: 'CAMGUARD_OUT',
    ruleSet6: undefined,
    wants6: false,
    assignment: assignSlots(layout, [ruleSet, undefined], cameras),
    cameras,
    skipped: [],
    forget: [],
    ...(routerNow === undefined ? {} : { routerNow }),
  };
}

/** The same setting on the tries-log rule (4007) and the drop rule (4008), which always switch together. */
const both = (...settings: string[]): string[] => [4007, 4008].flatMap((rule) => settings.map((setting) => `set firewall name CAMGUARD_OUT rule ${rule} ${setting}`));
const TIMED = both("time startdate '2026-12-02T12:30:00'", 'time utc');

const words = (given: PlanInput, requests: Map<string, 'allowed' | 'blocked'>): string[] => plan(given, requests).ops.map(({ op, path }) => `${op} ${path.join(' ')}`);
const status = (given: PlanInput, which: CameraSettings = camera) => cameraStatus(layout, which, 0, given.firewall.ruleSets.get('CAMGUARD_OUT'), undefined, given.routerNow);
const open = new Map([[camera.address, 'allowed' as const]]);
const block = new Map([[camera.address, 'blocked' as const]]);

describe('timed access on the router', () => {
  it('opens a timed camera by making its drop and tries-log rules start at the deadline, in router time, to the whole second', () => {
    expect(words(input([]), open)).toEqual([
      'set firewall name CAMGUARD_OUT rule 4007 time startdate 2026-12-02T12:30:01',
      'set firewall name CAMGUARD_OUT rule 4007 time utc',
      'set firewall name CAMGUARD_OUT rule 4008 time startdate 2026-12-02T12:30:01',
      'set firewall name CAMGUARD_OUT rule 4008 time utc',
    ]);
  });

  it('opens with `disable` (and the plugin\'s timer) when the camera is not timed, the router\'s clock is unknown, or the deadline is past 2038-01-19', () => {
    const disable = ['set firewall name CAMGUARD_OUT rule 4007 disable', 'set firewall name CAMGUARD_OUT rule 4008 disable'];
    expect(words(input([], [{ ...camera, allowMinutes: 0 }]), open)).toEqual(disable);
    expect(words(input([], [camera], 'unknown'), open)).toEqual(disable);
    expect(words(input([], [camera], Date.UTC(2038, 0, 19, 3, 0, 0)), open)).toEqual(disable);
  });

  it('reads a drop rule with a deadline ahead as open until then, and one whose deadline passed as closed by the router', () => {
    const timed = TIMED;
    expect(status(input(timed))).toMatchObject({ status: 'intact', access: 'allowed', openUntil: Date.UTC(2026, 11, 2, 12, 30, 0) });
    const later = input(timed, [camera], Date.UTC(2026, 11, 2, 12, 30, 0));
    expect(status(later)).toMatchObject({ status: 'outdated', access: 'blocked', timedOut: true });
    // The expired time settings are tidied away by a rewrite that keeps the camera blocked.
    const tidy = words(later, new Map());
    expect(tidy).toContain('delete firewall name CAMGUARD_OUT rule 4008');
    expect(tidy).not.toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
    expect(tidy).not.toContain('set firewall name CAMGUARD_OUT rule 4007 disable');
    expect(tidy.some((line) => line.includes('time'))).toBe(false);
  });

  it('blocks a timed opening early by deleting its time settings, and an untimed one by deleting `disable`, on both drop rules', () => {
    expect(words(input(TIMED), block)).toEqual(['delete firewall name CAMGUARD_OUT rule 4007 time', 'delete firewall name CAMGUARD_OUT rule 4008 time']);
    expect(words(input(both('disable')), block)).toEqual(['delete firewall name CAMGUARD_OUT rule 4007 disable', 'delete firewall name CAMGUARD_OUT rule 4008 disable']);
  });

  it('cannot trust time settings it does not write: local time, another date form, or no clock to compare with, and re-creates the camera blocked', () => {
    for (const extra of [
      ["set firewall name CAMGUARD_OUT rule 4008 time startdate '2026-12-02T12:30:00'"],
      ['set firewall name CAMGUARD_OUT rule 4008 time startdate 2026-12-02', 'set firewall name CAMGUARD_OUT rule 4008 time utc'],
    ]) {
      expect(status(input(extra))).toMatchObject({ status: 'damaged', access: undefined });
    }
    const timed = TIMED;
    expect(status(input(timed, [camera], 'unknown'))).toMatchObject({ status: 'damaged', access: undefined });
    expect(words(input(timed, [camera], 'unknown'), new Map())).toContain('set firewall name CAMGUARD_OUT rule 4008 action drop');
  });

  it('keeps the deadline of a timed opening when its rules are rewritten (a name changed)', () => {
    const renamed = { ...camera, name: 'Front Gate' };
    const ops = words(input(TIMED, [renamed]), new Map());
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4007 time startdate 2026-12-02T12:30:00');
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4008 time startdate 2026-12-02T12:30:00');
    expect(ops).not.toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
  });
});

describe('a block whose drop rule was given another source on the router', () => {
  const config = [
    ...BASE.filter((line) => !line.includes('rule 4008 source')),
    'set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.200',
  ];
  const given = (): PlanInput => {
    const parsed = parseConfigCommands(config.map((line) => `${line}\n`).join(''));
    if (!parsed.ok) throw new Error(parsed.error);
    const firewall = readFirewall(parsed.value.paths);
    const cameras = [{ ...camera, allowMinutes: 0 }];
    return { firewall, wanInterface: 'eth0', layout, ruleSet: 'CAMGUARD_OUT', ruleSet6: undefined, wants6: false, assignment: assignSlots(layout, [firewall.ruleSets.get('CAMGUARD_OUT'), undefined], cameras), cameras, skipped: [], forget: [] };
  };

  it('keeps the host its drop rule names blocked, disables the accept rule that would let the camera out ahead of its new block, and re-creates the camera blocked', () => {
    const ops = words(given(), new Map());
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4009 disable');
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4018 action drop');
    expect(ops.filter((op) => op.includes('rule 4008'))).toEqual([]);
  });
});

describe('the tries-log rule (issue 12)', () => {
  const untimed = { ...camera, allowMinutes: 0 };
  /** The configuration the previous version wrote: a drop and a counter rule, no tries-log rule. */
  const previousVersion = (extra: string[] = []): string[] => [...BASE.filter((line) => !line.includes('rule 4007 ')), ...extra];
  const inputOf = (lines: string[], cameras: CameraSettings[] = [untimed]): PlanInput => {
    const given = input([], cameras);
    const parsed = parseConfigCommands(lines.map((line) => `${line}\n`).join(''));
    if (!parsed.ok) throw new Error(parsed.error);
    const firewall = readFirewall(parsed.value.paths);
    return { ...given, firewall, assignment: assignSlots(layout, [firewall.ruleSets.get('CAMGUARD_OUT'), firewall.ruleSets6.get('CAMGUARD6_OUT')], cameras) };
  };

  it('writes a new camera with the exact set lines: allow rules, the limited and logged drop, the drop, the counter', () => {
    const withDns: CameraSettings = { ...untimed, allow: [{ label: 'dns', protocol: 'tcp_udp', ports: [53] }] };
    const empty = inputOf(BASE.filter((line) => !line.includes(' rule ')), [withDns]);
    expect(words(empty, new Map())).toEqual([
      'set firewall name CAMGUARD_OUT rule 4000 action accept',
      'set firewall name CAMGUARD_OUT rule 4000 description camera-guard: Front Door (allow dns)',
      'set firewall name CAMGUARD_OUT rule 4000 source address 192.0.2.50',
      'set firewall name CAMGUARD_OUT rule 4000 protocol tcp_udp',
      'set firewall name CAMGUARD_OUT rule 4000 destination port 53',
      'set firewall name CAMGUARD_OUT rule 4007 action drop',
      'set firewall name CAMGUARD_OUT rule 4007 description camera-guard: Front Door (tries log)',
      'set firewall name CAMGUARD_OUT rule 4007 source address 192.0.2.50',
      'set firewall name CAMGUARD_OUT rule 4007 log enable',
      'set firewall name CAMGUARD_OUT rule 4007 limit rate 6/minute',
      'set firewall name CAMGUARD_OUT rule 4007 limit burst 5',
      'set firewall name CAMGUARD_OUT rule 4008 action drop',
      'set firewall name CAMGUARD_OUT rule 4008 description camera-guard: Front Door (block)',
      'set firewall name CAMGUARD_OUT rule 4008 source address 192.0.2.50',
      'set firewall name CAMGUARD_OUT rule 4009 action accept',
      'set firewall name CAMGUARD_OUT rule 4009 description camera-guard: Front Door (egress count)',
      'set firewall name CAMGUARD_OUT rule 4009 source address 192.0.2.50',
    ]);
    // What it wrote reads back as intact and blocked: no rewrite at the next read.
    expect(status(inputOf(BASE, [untimed]), untimed)).toMatchObject({ status: 'intact', access: 'blocked' });
  });

  it('reads a block of the previous version as outdated, and adds the rule in one transaction that never lifts the block', () => {
    const old = inputOf(previousVersion());
    expect(status(old, untimed)).toMatchObject({ status: 'outdated', access: 'blocked' });
    const ops = words(old, new Map());
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4007 log enable');
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4008 action drop');
    // Blocked before, blocked after, and nothing in between says otherwise: no `disable`, no time match.
    expect(ops.filter((op) => op.includes(' disable') || op.includes(' time '))).toEqual([]);
  });

  it('keeps an allowed camera of the previous version allowed, its new tries-log rule disabled with its drop rule', () => {
    const old = inputOf(previousVersion(['set firewall name CAMGUARD_OUT rule 4008 disable']));
    expect(status(old, untimed)).toMatchObject({ status: 'outdated', access: 'allowed' });
    const ops = words(old, new Map());
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4007 disable');
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4008 disable');
  });

  it('reads a tries-log rule that drops while the drop rule is disabled as a damaged block, and re-creates the camera blocked', () => {
    const partly = inputOf([...BASE, 'set firewall name CAMGUARD_OUT rule 4008 disable']);
    expect(status(partly, untimed)).toMatchObject({ status: 'damaged', access: undefined });
    const ops = words(partly, new Map());
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4008 action drop');
    expect(ops.filter((op) => op.includes(' disable'))).toEqual([]);
    // Timed to another moment than the drop rule, it is damage too.
    const skewed = inputOf([...BASE, ...both('time utc'), "set firewall name CAMGUARD_OUT rule 4008 time startdate '2026-12-02T12:30:00'", "set firewall name CAMGUARD_OUT rule 4007 time startdate '2026-12-02T12:20:00'"], [camera]);
    expect(status(skewed)).toMatchObject({ status: 'damaged' });
  });

  it('reads a tries-log rule disabled while the camera is blocked, or one with another limit, as outdated (the drop rule blocks on its own)', () => {
    expect(status(inputOf([...BASE, 'set firewall name CAMGUARD_OUT rule 4007 disable']), untimed)).toMatchObject({ status: 'outdated', access: 'blocked' });
    const other = BASE.map((line) => line.replace('limit rate 6/minute', 'limit rate 60/second'));
    expect(status(inputOf(other), untimed)).toMatchObject({ status: 'outdated', access: 'blocked' });
  });

  it('writes the same tries-log rule in the IPv6 ruleset for a camera with a MAC, and switches it there too', () => {
    const withMac: CameraSettings = { ...untimed, mac: '00:11:22:33:44:55' };
    const given = { ...inputOf(BASE.filter((line) => !line.includes(' rule ')), [withMac]), ruleSet6: 'CAMGUARD6_OUT', wants6: true };
    const ops = words(given, new Map());
    expect(ops).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4007 source mac-address 00:11:22:33:44:55');
    expect(ops).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4007 log enable');
    expect(ops).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4007 limit rate 6/minute');
    expect(ops).toContain('set firewall ipv6-name CAMGUARD6_OUT rule 4007 limit burst 5');
    expect(ops).toContain('set firewall name CAMGUARD_OUT rule 4007 source mac-address 00:11:22:33:44:55');
  });
});
