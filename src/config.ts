/**
 * Reads the owner's platform configuration into checked, typed settings.
 *
 * Nothing that reaches the router comes from here unchecked: every value that ends up in a router command is
 * either a number we range-checked or a string matched against a strict pattern. A bad camera is skipped with
 * one log line that names the field; a bad router is skipped the same way; neither stops the others.
 */
import { isIP } from 'node:net';

import {
  BYTES_PER_MB,
  DEFAULTS,
  MAX_ALLOW_ENTRIES,
  MAX_CAMERAS_PER_ROUTER,
  MAX_RULE_NUMBER,
  MAX_RULESET_NAME_LENGTH,
  RULE_RANGE_SIZE,
} from './settings';
import { EXPECTED_HINT, MAX_EXPECTED_DESTINATIONS, parseExpectedDestination } from './destinations/expected';
import type { ExpectedDestination } from './destinations/expected';
import type { NetworkDataFiles } from './destinations/networkLookup';
import { reservedRuleSetNameReason } from './router/edgeos/reservedNames';

/** A service a blocked camera may still reach, as one firewall rule. */
export interface AllowEntry {
  /** The owner's spelling, for logs and rule descriptions: `dns`, `tcp/8443`. */
  readonly label: string;
  readonly protocol: 'tcp' | 'udp' | 'tcp_udp';
  readonly ports: readonly number[];
}

export interface CameraSettings {
  readonly name: string;
  readonly address: string;
  readonly allow: readonly AllowEntry[];
  /** 0 = access stays open until turned off. */
  readonly allowMinutes: number;
  /**
   * The camera's MAC address (lower case, colons), when the owner gave one: its rules then match the MAC, so a
   * camera whose DHCP address changes stays blocked.
   */
  readonly mac?: string;
  /**
   * Trip the leak sensor when the camera sends DNS (port 53 or 853) anywhere but the router: a camera that ignores
   * the resolver it was given may be hiding where it goes. Off unless the owner sets it.
   */
  readonly tripOnForeignDns?: boolean;
  /**
   * Where the camera is expected to send (`allowDestinations`: addresses, CIDRs, host names): while it is allowed,
   * bytes to these do not count toward the upload alarm (when the router counts bytes per connection), DNS to them
   * does not trip `tripOnForeignDns`, and the status view marks them expected. Absent when the owner lists none.
   */
  readonly allowDestinations?: readonly ExpectedDestination[];
}

/**
 * A camera entry that was skipped because a setting is wrong. Its rules on the router must stay exactly as they are
 * ("its access is not changed"), so whatever identifies them is kept: its address and MAC, when those parts of the
 * entry are valid. An entry with neither (a typo in the address itself, say) cannot be matched to its rules.
 */
export interface SkippedCamera {
  readonly name: string;
  readonly address?: string;
  readonly mac?: string;
}

export interface RouterSettings {
  readonly name: string;
  /** Undefined until resolved from the default gateway. */
  readonly host: string | undefined;
  readonly port: number;
  readonly username: string;
  readonly privateKeyFile: string | undefined;
  readonly passphrase: string | undefined;
  readonly password: string | undefined;
  readonly hostKey: string | undefined;
  readonly wanInterface: string;
  readonly ruleSet: string;
  /** The IPv6 ruleset for cameras with a MAC (EdgeOS keeps IPv6 rules apart, under `ipv6-name`). */
  readonly ipv6RuleSet: string;
  readonly firstRule: number;
  readonly saveConfig: boolean;
  readonly cameras: readonly CameraSettings[];
  /** Entries of `cameras` that were skipped; the rules of each are left as they are on the router. */
  readonly skipped: readonly SkippedCamera[];
  /**
   * Addresses or MACs of cameras no longer configured whose rules the owner wants removed. Without an entry here
   * the rules of a camera removed from the configuration stay on the router, blocking it.
   */
  readonly forget: readonly string[];
}

export interface LeakSettings {
  /** Blocked packets within the window that trip the sensor. */
  readonly attempts: number;
  /** Bytes uploaded within the window (while allowed) that trip the sensor; 0 = off. */
  readonly uploadBytes: number;
  readonly windowMs: number;
  readonly quietMs: number;
}

export interface PlatformSettings {
  readonly pollMs: number;
  readonly leak: LeakSettings;
  readonly routers: readonly RouterSettings[];
  /**
   * Where the names of the networks behind destinations come from: the data set installed with the plugin
   * (`bundled`, the default), the owner's own CSV files (`files`), or nowhere (`off`).
   */
  readonly networkData: NetworkDataSetting;
  /**
   * The DNS servers that reverse look-ups of destinations ask (`192.168.1.1`, `192.168.1.1:5353`, `[2001:db8::1]:53`),
   * in node's setServers form; absent unless the owner sets it: the Homebridge host's own resolvers are asked then.
   */
  readonly nameServers?: readonly string[];
}

/** The data files of `networkData`, as paths; any may be left out. */
export type { NetworkDataFiles };

/** `networkData`, read: which data set names networks. */
export type NetworkDataSetting = { readonly source: 'bundled' } | { readonly source: 'off' } | { readonly source: 'files'; readonly files: NetworkDataFiles };

const NETWORK_DATA_KEYS = ['asnIpv4', 'asnIpv6', 'countryIpv4', 'countryIpv6'] as const;
const NETWORK_DATA_SOURCES = ['bundled', 'files', 'off'] as const;
const BUNDLED: NetworkDataSetting = { source: 'bundled' };

/**
 * `networkData`: `source` is "bundled" (the default), "files" or "off"; file paths alone mean "files", as before
 * `source` existed. A mistake is said in plain words, and the bundled data set is used, so destinations still get
 * network names.
 */
function parseNetworkData(raw: unknown, errors: string[]): NetworkDataSetting {
  if (raw === undefined || raw === null) {
    return BUNDLED;
  }
  if (!isObject(raw)) {
    errors.push('Camera Guard: "networkData" must be an object (source, and the file paths asnIpv4, asnIpv6, countryIpv4, countryIpv6); the data set that comes with the plugin names networks instead.');
    return BUNDLED;
  }
  const files: Partial<Record<(typeof NETWORK_DATA_KEYS)[number], string>> = {};
  for (const key of NETWORK_DATA_KEYS) {
    const value = raw[key];
    if (value === undefined || value === '') {
      continue;
    }
    if (typeof value !== 'string' || value.length > 4096 || [...value].some((character) => character < ' ')) {
      errors.push(`Camera Guard: "networkData.${key}" must be the path of a file; it is left out.`);
      continue;
    }
    files[key] = value;
  }
  const given = Object.keys(files).length > 0;
  const chosen = raw.source;
  let source: string;
  if (chosen === undefined || chosen === '') {
    source = given ? 'files' : 'bundled';
  } else if (typeof chosen !== 'string' || !(NETWORK_DATA_SOURCES as readonly string[]).includes(chosen)) {
    errors.push(`Camera Guard: "networkData.source" must be "bundled", "files" or "off", not "${printable(chosen)}"; the data set that comes with the plugin names networks instead.`);
    return BUNDLED;
  } else {
    source = chosen;
  }
  if (source === 'files') {
    if (!given) {
      errors.push('Camera Guard: "networkData.source" is "files" but no file path is set; the data set that comes with the plugin names networks instead.');
      return BUNDLED;
    }
    return { source: 'files', files };
  }
  if (given) {
    errors.push(`Camera Guard: "networkData" has file paths, but its source is "${source}", so they are not read; set "source" to "files" to use them.`);
  }
  return source === 'off' ? { source: 'off' } : BUNDLED;
}

export interface ParsedConfig {
  readonly settings: PlatformSettings;
  /** One owner-facing sentence per rejected value; each names the field. */
  readonly errors: readonly string[];
}

type Raw = Record<string, unknown>;

/**
 * What checking one value of the owner's gave: the value to use, or the plain-words sentence that refuses it.
 * A refused value has no value to fall back on by mistake: the caller must look at `ok` before it can read one.
 */
type Checked<T> = Accepted<T> | Refused;
interface Accepted<T> {
  readonly ok: true;
  readonly value: T;
}
interface Refused {
  readonly ok: false;
  readonly problem: string;
}

function accepted<T>(value: T): Accepted<T> {
  return { ok: true, value };
}

const IPV4_OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);
const MAC = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;
/** Letters, digits, `_`, `-`, `.`; no leading `-`. Stricter than EdgeOS, and free of every shell character. */
const RULESET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** True for a ruleset name the plugin may put in a command (also used for names read from the router). */
export function isSafeRuleSetName(name: string): boolean {
  return RULESET_NAME.test(name) && name.length <= MAX_RULESET_NAME_LENGTH;
}
/** EdgeOS interface names: eth0, eth1.10, switch0, pppoe0, br0, bond0. */
const INTERFACE_NAME = /^(eth\d+(\.\d{1,4})?|switch\d+(\.\d{1,4})?|pppoe\d+|br\d+|bond\d+(\.\d{1,4})?)$/;
/** `ssh-keygen -lf` prints `SHA256:` and 43 characters of unpadded base64. */
const HOST_KEY = /^SHA256:[A-Za-z0-9+/]{43}$/;
/**
 * A file path: anything but control characters. A NUL makes Node's file calls throw, and a line break in the
 * path would be echoed into the owner's log by the "cannot read the private key file" message.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused.
const FILE_PATH = /^[^\u0000-\u001f\u007f]+$/;

export const NAMED_SERVICES: Readonly<Record<string, AllowEntry>> = {
  dns: { label: 'dns', protocol: 'tcp_udp', ports: [53] },
  ntp: { label: 'ntp', protocol: 'udp', ports: [123] },
  smtp: { label: 'smtp', protocol: 'tcp', ports: [25, 465, 587] },
};

export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

/** Addresses no camera can have: "this network", loopback, link-local, multicast, reserved, broadcast. */
function isUnusableHostAddress(address: string): boolean {
  const first = Number(address.split('.')[0]);
  const second = Number(address.split('.')[1]);
  return first === 0 || first === 127 || first >= 224 || (first === 169 && second === 254);
}

/** Parses one `allow` entry; refuses it, saying what the owner can write instead, when it is not one we know. */
function parseAllowEntry(value: unknown): Checked<AllowEntry> {
  if (typeof value !== 'string') {
    return { ok: false, problem: 'must be a string such as "dns", "ntp", "smtp", "tcp/443" or "udp/1194"' };
  }
  const text = value.trim().toLowerCase();
  // Own properties only: "constructor" or "__proto__" would otherwise find Object's and pass as a service with
  // no protocol and no ports, and building its rule would throw.
  const named = Object.hasOwn(NAMED_SERVICES, text) ? NAMED_SERVICES[text] : undefined;
  if (named) {
    return accepted(named);
  }
  const match = /^(tcp|udp)\/(\d{1,5})$/.exec(text);
  const protocol = match?.[1];
  const port = Number(match?.[2]);
  if ((protocol !== 'tcp' && protocol !== 'udp') || port < 1 || port > 65535) {
    return {
      ok: false,
      problem: `"${printable(value)}" is not a service we know; use "dns", "ntp", "smtp", "tcp/PORT" or "udp/PORT" with a port from 1 to 65535`,
    };
  }
  // The label is rebuilt from the number, so "tcp/0443" and "tcp/443" are one service, not two rules.
  return accepted({ label: `${protocol}/${port}`, protocol, ports: [port] });
}

/**
 * Characters that break or disguise a log line: C0 and C1 controls, line and paragraph separators, and the
 * invisible bidi controls that can make a line read differently from what it holds.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced.
const LOG_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A short, log-safe rendering of an owner's value (control characters removed, length capped). */
export function printable(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    // A BigInt or a cyclic object (not JSON, but the config object is only typed `unknown`): JSON.stringify
    // throws, and printable is used while reporting errors, where throwing would lose the whole config.
    text = `(a ${typeof value})`;
  }
  const clean = text.replace(LOG_UNSAFE, '?');
  if (clean.length <= 60) {
    return clean;
  }
  // Never cut between the two halves of a surrogate pair (emoji): a lone half is not valid text.
  const head = clean.slice(0, 57);
  return `${/[\ud800-\udbff]$/.test(head) ? head.slice(0, -1) : head}...`;
}

/**
 * Reads the fields of one entry (the platform block, its `leak` block, a router, a camera). Every read gives back a
 * checked value; a refused one has already been reported, its sentence added to `errors` (in the order the fields
 * are read, which is the order of the log) and its field to `rejected`. The caller only decides what a refusal
 * means: the default for a platform setting, a skipped router or camera otherwise.
 */
class FieldReader {
  /** The name of each field this reader refused, in order, for the line that says what to fix. */
  readonly rejected: string[] = [];

  constructor(
    private readonly raw: Raw,
    /** How the log names the entry: `Router "EdgeRouter", camera "Front Door"`. */
    readonly where: string,
    private readonly errors: string[],
  ) {}

  /** Reports `problem` (a whole sentence that names `field`) and refuses the field. */
  refuse(field: string, problem: string): Refused {
    this.errors.push(problem);
    this.rejected.push(field);
    return { ok: false, problem };
  }

  /** An absent or empty field gives `fallback` (`undefined` for a setting without a default). */
  string<F extends string | undefined>(field: string, fallback: F, pattern?: RegExp, hint?: string): Checked<string | F> {
    const value = this.raw[field];
    if (value === undefined || value === null || value === '') {
      return accepted(fallback);
    }
    if (typeof value !== 'string' || (pattern && !pattern.test(value))) {
      return this.refuse(field, `${this.where}: "${field}" ${hint ?? 'must be a string'} (got ${describeForError(field, value)}).`);
    }
    return accepted(value);
  }

  number(field: string, fallback: number, min: number, max: number, integer: boolean): Checked<number> {
    const value = this.raw[field];
    if (value === undefined || value === null || value === '') {
      return accepted(fallback);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      const kind = integer ? 'a whole number' : 'a number';
      return this.refuse(field, `${this.where}: "${field}" must be ${kind} from ${min} to ${max} (got ${describeForError(field, value)}).`);
    }
    return accepted(value);
  }

  boolean(field: string, fallback: boolean): Checked<boolean> {
    const value = this.raw[field];
    if (value === undefined || value === null) {
      return accepted(fallback);
    }
    if (typeof value !== 'boolean') {
      return this.refuse(field, `${this.where}: "${field}" must be true or false (got ${describeForError(field, value)}).`);
    }
    return accepted(value);
  }
}

/** A platform setting: the owner's value, or the default when it was refused (the refusal is already logged). */
function orDefault<T>(checked: Checked<T>, fallback: T): T {
  return checked.ok ? checked.value : fallback;
}

/** A setting the entry cannot do without: left out, it is refused with `missing` like a wrong value. */
function required<T>(read: FieldReader, checked: Checked<T | undefined>, field: string, missing: string): Checked<T> {
  if (!checked.ok) {
    return checked;
  }
  return checked.value === undefined ? read.refuse(field, missing) : accepted(checked.value);
}

const SECRET_FIELDS = new Set(['password', 'passphrase']);

/** Secrets are never echoed back, not even when they are the wrong type. */
function describeForError(field: string, value: unknown): string {
  return SECRET_FIELDS.has(field) ? 'a value that is not shown' : `"${printable(value)}"`;
}
/** The most servers a resolver is worth asking (each look-up tries them in turn within its 2 s). */
const MAX_NAME_SERVERS = 3;

/** One `nameServers` entry: an IP address, optionally with a port (`a.b.c.d:port`, `[v6]:port`). */
function isNameServer(value: string): boolean {
  const withPort = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(value);
  const address = withPort?.[1] ?? value;
  const port = withPort?.[2] === undefined ? 53 : Number(withPort[2]);
  return isIP(address) !== 0 && port >= 1 && port <= 65535;
}

/** `nameServers`: a list of server addresses; a bad entry is said in plain words and left out. */
function parseNameServers(raw: unknown, errors: string[]): readonly string[] | undefined {
  if (raw === undefined) {
    return undefined;
  }
  if (!isList(raw)) {
    errors.push('Camera Guard: "nameServers" must be a list of DNS server addresses such as ["192.168.1.1"]; the Homebridge host\'s own DNS servers are used.');
    return undefined;
  }
  const servers: string[] = [];
  for (const entry of raw) {
    if (typeof entry !== 'string' || !isNameServer(entry)) {
      errors.push(`Camera Guard: "nameServers" entry "${printable(entry)}" is not an IP address (optionally with ":port"); it is left out.`);
    } else if (servers.length >= MAX_NAME_SERVERS) {
      errors.push(`Camera Guard: "nameServers" holds more than ${MAX_NAME_SERVERS} servers; "${entry}" and any after it are left out.`);
      break;
    } else {
      servers.push(entry);
    }
  }
  return servers.length === 0 ? undefined : servers;
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A list from the owner's config, whose items are still unchecked. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/**
 * Checks the whole platform block. Never throws: whatever cannot be used is reported in `errors` and left out.
 */
export function parseConfig(raw: unknown): ParsedConfig {
  const errors: string[] = [];
  const top: Raw = isObject(raw) ? raw : {};
  const read = new FieldReader(top, 'Camera Guard', errors);

  const pollSeconds = orDefault(read.number('pollSeconds', DEFAULTS.pollSeconds, 1, 3600, false), DEFAULTS.pollSeconds);
  const leakRaw = isObject(top.leak) ? top.leak : {};
  if (top.leak !== undefined && !isObject(top.leak)) {
    errors.push('Camera Guard: "leak" must be an object; using the default leak settings.');
  }
  const leakRead = new FieldReader(leakRaw, 'Camera Guard leak settings', errors);
  const d = DEFAULTS.leak;
  const leak: LeakSettings = {
    attempts: orDefault(leakRead.number('attempts', d.attempts, 1, 1_000_000, true), d.attempts),
    uploadBytes: orDefault(leakRead.number('uploadMB', d.uploadMB, 0, 1_000_000, false), d.uploadMB) * BYTES_PER_MB,
    windowMs: orDefault(leakRead.number('windowMinutes', d.windowMinutes, 0.01, 10_080, false), d.windowMinutes) * 60_000,
    quietMs: orDefault(leakRead.number('quietMinutes', d.quietMinutes, 0.01, 10_080, false), d.quietMinutes) * 60_000,
  };

  const routers: RouterSettings[] = [];
  const routerList = top.routers;
  if (routerList !== undefined && !isList(routerList)) {
    errors.push('Camera Guard: "routers" must be a list of routers.');
  }
  (isList(routerList) ? routerList : []).forEach((entry, index) => {
    const router = parseRouter(entry, index, errors);
    if (!router) {
      return;
    }
    const clash = routers.find((other) => sameRouter(other, router) && rangesOverlap(other, router));
    if (clash) {
      errors.push(
        `Router "${router.name}": its rules ${router.firstRule}-${router.firstRule + RULE_RANGE_SIZE - 1} on ${router.host} ` +
          `collide with router "${clash.name}" (${clash.firstRule}-${clash.firstRule + RULE_RANGE_SIZE - 1}); ` +
          'give it a "firstRule" at least 1000 apart. This router is skipped.',
      );
      return;
    }
    // One router under two entries (two spellings of its address): the entries would fight over its rules.
    const twin = router.hostKey === undefined ? undefined : routers.find((other) => other.hostKey === router.hostKey);
    if (twin) {
      errors.push(duplicateRouterError(router.name, twin.name, `both pin host key ${router.hostKey}`));
      return;
    }
    routers.push(router);
  });

  const networkData = parseNetworkData(top.networkData, errors);
  const nameServers = parseNameServers(top.nameServers, errors);
  return {
    settings: { pollMs: pollSeconds * 1000, leak, routers, networkData, ...(nameServers === undefined ? {} : { nameServers }) },
    errors,
  };
}

/**
 * The error for a router entry that names a router another entry already guards. Two entries for one router would
 * each treat the other's cameras as removed and fight over the same rules, so the later entry does nothing.
 */
export function duplicateRouterError(name: string, firstName: string, evidence: string): string {
  return (
    `Router "${printable(name)}" is the same router as router "${printable(firstName)}" (${evidence}); ` +
    `two entries for one router would fight over its rules, so "${printable(name)}" is skipped and changes nothing on the router. ` +
    'Merge its cameras into the first entry.'
  );
}

/**
 * The error for a router entry that names a router an earlier Camera Guard platform in config.json already guards.
 * Each platform may run in a process of its own (a child bridge), so both work it out from config.json alone and agree
 * that the earlier platform keeps the router.
 */
export function otherPlatformRouterError(name: string, platformName: string, firstName: string, evidence: string): string {
  return (
    `Router "${printable(name)}" is the same router as router "${printable(firstName)}" of the Camera Guard platform "${printable(platformName)}" before this one in config.json (${evidence}); ` +
    `two platforms guarding one router would fight over its rules, so "${printable(name)}" is skipped here and changes nothing on the router. ` +
    'Keep each router in one Camera Guard platform only: remove it from this one.'
  );
}

function sameRouter(a: RouterSettings, b: RouterSettings): boolean {
  // Two entries without a host both mean "the default gateway".
  return a.host === b.host && a.port === b.port;
}

function rangesOverlap(a: RouterSettings, b: RouterSettings): boolean {
  return Math.abs(a.firstRule - b.firstRule) < RULE_RANGE_SIZE;
}

/** A router entry's settings, or undefined when the entry is skipped (every reason is already in `errors`). */
function parseRouter(entry: unknown, index: number, errors: string[]): RouterSettings | undefined {
  if (!isObject(entry)) {
    errors.push(`Router ${index + 1} in "routers" is not an object and is skipped.`);
    return undefined;
  }
  const nameValue = entry.name;
  const name = typeof nameValue === 'string' && nameValue.trim() !== '' ? nameValue.trim() : `${DEFAULTS.router.name} ${index + 1}`;
  const where = `Router "${printable(name)}"`;
  const read = new FieldReader(entry, where, errors);
  const r = DEFAULTS.router;

  const host = read.string('host', undefined, /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$/, 'must be an IP address or host name');
  const port = read.number('port', r.port, 1, 65535, true);
  const usernameValue = read.string('username', undefined, /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/, 'must be a user name of letters, digits, "_", "." or "-"');
  // The settings UI keeps a hidden key path when the owner switches to password login; honour the switch.
  const privateKeyFile =
    entry.authMethod === 'password' ? accepted(undefined) : read.string('privateKeyFile', undefined, FILE_PATH, 'must be the path of a key file, without control characters');
  const passphrase = read.string('passphrase', undefined);
  const password = read.string('password', undefined);
  const hostKey = read.string('hostKey', undefined, HOST_KEY, 'must be a fingerprint as "ssh-keygen -lf" prints it, such as SHA256:ab12...');
  const wanInterface = read.string('wanInterface', r.wanInterface, INTERFACE_NAME, 'must be an EdgeOS interface name such as eth0, eth0.10, switch0 or pppoe0');
  const ruleSet = readRuleSetName(read, 'ruleSet', r.ruleSet);
  const ipv6RuleSet = readRuleSetName(read, 'ipv6RuleSet', r.ipv6RuleSet);
  const firstRule = read.number('firstRule', r.firstRule, 1, MAX_RULE_NUMBER - RULE_RANGE_SIZE + 1, true);
  const saveConfig = read.boolean('saveConfig', r.saveConfig);

  // What the entry cannot do without, checked after the fields so the log gives those first. A field that was
  // refused above is not also called missing.
  const username = required(read, usernameValue, 'username', `${where}: "username" is required (the router account the plugin logs in as).`);
  const noLogin = privateKeyFile.ok && privateKeyFile.value === undefined && password.ok && password.value === undefined;
  const login: Checked<true> = noLogin
    ? read.refuse('privateKeyFile', `${where}: give "privateKeyFile" (preferred) or "password" so the plugin can log in.`)
    : accepted(true);
  const cameraList: Checked<readonly unknown[]> =
    isList(entry.cameras) && entry.cameras.length > 0 ? accepted(entry.cameras) : read.refuse('cameras', `${where}: "cameras" must list at least one camera.`);

  if (
    !host.ok ||
    !port.ok ||
    !username.ok ||
    !privateKeyFile.ok ||
    !passphrase.ok ||
    !password.ok ||
    !hostKey.ok ||
    !wanInterface.ok ||
    !ruleSet.ok ||
    !ipv6RuleSet.ok ||
    !firstRule.ok ||
    !saveConfig.ok ||
    !login.ok ||
    !cameraList.ok
  ) {
    // Names the fields again, so this line stands on its own in a log that interleaves other messages.
    errors.push(`${where} is skipped until these settings are fixed (${fieldList(read.rejected)}); other routers carry on.`);
    return undefined;
  }

  const { cameras, skipped } = parseCameras(cameraList.value, where, host.value, errors);
  const forget = parseForget(entry.forget, where, cameras, errors);
  return {
    name,
    host: host.value,
    port: port.value,
    username: username.value,
    privateKeyFile: privateKeyFile.value,
    passphrase: passphrase.value,
    password: password.value,
    hostKey: hostKey.value,
    wanInterface: wanInterface.value,
    ruleSet: ruleSet.value,
    ipv6RuleSet: ipv6RuleSet.value,
    firstRule: firstRule.value,
    saveConfig: saveConfig.value,
    cameras,
    skipped,
    forget,
  };
}

/**
 * `ruleSet` or `ipv6RuleSet`: a name the plugin may put in a command, that EdgeOS also takes. A name can be refused
 * twice over (too long, and reserved), and then the log says both.
 */
function readRuleSetName(read: FieldReader, field: 'ruleSet' | 'ipv6RuleSet', fallback: string): Checked<string> {
  const name = read.string(field, fallback, RULESET_NAME, `must be 1-${MAX_RULESET_NAME_LENGTH} letters, digits, "_", "-" or ".", not starting with "-"`);
  if (!name.ok) {
    return name;
  }
  const tooLong =
    name.value.length > MAX_RULESET_NAME_LENGTH
      ? read.refuse(field, `${read.where}: "${field}" must be at most ${MAX_RULESET_NAME_LENGTH} characters long (EdgeOS's limit).`)
      : undefined;
  // EdgeOS refuses these names (or fails the commit on them): every change would fail on the router.
  const reason = reservedRuleSetNameReason(name.value);
  const reserved =
    reason === undefined
      ? undefined
      : read.refuse(field, `${read.where}: "${field}" cannot be "${name.value}": ${reason}, and the router would refuse it. Choose another name, such as "${fallback}".`);
  return tooLong ?? reserved ?? name;
}

/** `"address", "allow"`: each field once, in the order it was found wrong. */
function fieldList(fields: readonly string[]): string {
  return [...new Set(fields)].map((field) => `"${field}"`).join(', ');
}

/** The valid parts of a camera entry's identity (address, MAC), whatever else is wrong with it. */
function identityOf(entry: unknown, name: string): SkippedCamera {
  const raw: Raw = isObject(entry) ? entry : {};
  const address = typeof raw.address === 'string' && IPV4.test(raw.address) ? raw.address : undefined;
  const mac = typeof raw.mac === 'string' && MAC.test(raw.mac) ? normalMac(raw.mac) : undefined;
  return { name, ...(address === undefined ? {} : { address }), ...(mac === undefined ? {} : { mac }) };
}

function normalMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ':');
}

function parseCameras(list: readonly unknown[], routerWhere: string, routerHost: string | undefined, errors: string[]): { cameras: CameraSettings[]; skipped: SkippedCamera[] } {
  const cameras: CameraSettings[] = [];
  const skipped: SkippedCamera[] = [];
  list.forEach((entry, index) => {
    if (!isObject(entry)) {
      errors.push(`${routerWhere}: camera ${index + 1} in "cameras" is not an object and is skipped; its access is not changed.`);
      skipped.push(identityOf(entry, `Camera ${index + 1}`));
      return;
    }
    const nameValue = entry.name;
    const hasName = typeof nameValue === 'string' && nameValue.trim() !== '';
    const name = hasName ? nameValue.trim() : `Camera ${index + 1}`;
    const where = `${routerWhere}, camera "${printable(name)}"`;
    const skip = (message: string): void => {
      errors.push(message);
      skipped.push(identityOf(entry, name));
    };
    const read = new FieldReader(entry, where, errors);
    const named = hasName ? accepted(name) : read.refuse('name', `${where}: "name" is required.`);
    const address = readCameraAddress(read, routerHost);
    const allowMinutes = read.number('allowMinutes', 0, 0, 10_080, false);
    const mac = readCameraMac(read);
    const allow = readAllowList(read, entry.allow, entry.allowPorts);
    const foreignDns = read.boolean('tripOnForeignDns', false);
    const expected = readExpectedDestinations(entry.allowDestinations, where, errors);
    if (!named.ok || !address.ok || !allowMinutes.ok || !mac.ok || !allow.ok || !foreignDns.ok) {
      skip(`${where} is skipped until these settings are fixed (${fieldList(read.rejected)}); its access is not changed.`);
      return;
    }
    const twin = cameras.find((other) => other.address === address.value);
    if (twin) {
      skip(`${where}: "address" ${address.value} is already used by camera "${printable(twin.name)}"; this camera is skipped and its access is not changed.`);
      return;
    }
    const macTwin = mac.value === undefined ? undefined : cameras.find((other) => other.mac === mac.value);
    if (macTwin) {
      skip(`${where}: "mac" ${mac.value} is already used by camera "${printable(macTwin.name)}"; this camera is skipped and its access is not changed.`);
      return;
    }
    if (cameras.length >= MAX_CAMERAS_PER_ROUTER) {
      skip(`${where}: "cameras" may list at most ${MAX_CAMERAS_PER_ROUTER} cameras per router; this camera is skipped and its access is not changed.`);
      return;
    }
    cameras.push({
      name,
      address: address.value,
      allow: allow.value,
      allowMinutes: allowMinutes.value,
      ...(mac.value === undefined ? {} : { mac: mac.value }),
      ...(foreignDns.value ? { tripOnForeignDns: true } : {}),
      ...(expected.length === 0 ? {} : { allowDestinations: expected }),
    });
  });
  return { cameras, skipped };
}

/** A camera's `address`: required, IPv4, and an address a camera can have. */
function readCameraAddress(read: FieldReader, routerHost: string | undefined): Checked<string> {
  const address = read.string('address', undefined, IPV4, 'must be an IPv4 address such as 192.168.1.50');
  if (!address.ok) {
    return address;
  }
  const value = address.value;
  if (value === undefined) {
    return read.refuse('address', `${read.where}: "address" is required (the camera's IPv4 address).`);
  }
  if (isUnusableHostAddress(value)) {
    return read.refuse('address', `${read.where}: "address" ${value} cannot be a camera's address (loopback, link-local, multicast or reserved).`);
  }
  if (value === routerHost) {
    return read.refuse('address', `${read.where}: "address" ${value} is the router's own address, not a camera's.`);
  }
  return accepted(value);
}

/** A camera's `mac`, when it has one: lower case with colons, and a device's own address. */
function readCameraMac(read: FieldReader): Checked<string | undefined> {
  const given = read.string('mac', undefined, MAC, 'must be a MAC address such as 00:11:22:33:44:55');
  if (!given.ok || given.value === undefined) {
    return given;
  }
  const mac = normalMac(given.value);
  if (/^(00:){5}00$/.test(mac) || /^(ff:){5}ff$/.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    return read.refuse('mac', `${read.where}: "mac" ${mac} is not a device's own address (all zeros, broadcast or multicast).`);
  }
  return accepted(mac);
}

/**
 * A camera's `allow` list (the named services, which the settings form shows as a choice) and its `allowPorts`
 * list (`tcp/PORT`, `udp/PORT`), merged, each service once. Older configs hold ports in `allow` too, which is still
 * read. Every wrong entry is reported, not only the first, so the owner can fix them all in one go.
 */
function readAllowList(read: FieldReader, value: unknown, ports: unknown): Checked<AllowEntry[]> {
  let refused: Refused | undefined;
  if (value !== undefined && !isList(value)) {
    refused = read.refuse('allow', `${read.where}: "allow" must be a list such as ["dns", "ntp"].`);
  }
  if (ports !== undefined && !isList(ports)) {
    refused = read.refuse('allowPorts', `${read.where}: "allowPorts" must be a list such as ["tcp/443", "udp/1194"].`);
  }
  const allow: AllowEntry[] = [];
  const add = (field: 'allow' | 'allowPorts', items: unknown): void => {
    for (const item of isList(items) ? items : []) {
      const parsed = parseAllowEntry(item);
      if (!parsed.ok) {
        refused = read.refuse(field, `${read.where}: "${field}" entry ${parsed.problem}.`);
      } else if (field === 'allowPorts' && Object.hasOwn(NAMED_SERVICES, parsed.value.label)) {
        refused = read.refuse(field, `${read.where}: "allowPorts" entry "${printable(item)}" is a named service; tick it under "allow" instead, or write "tcp/PORT" or "udp/PORT".`);
      } else if (!allow.some((known) => known.label === parsed.value.label)) {
        allow.push(parsed.value);
      }
    }
  };
  add('allow', value);
  add('allowPorts', ports);
  if (allow.length > MAX_ALLOW_ENTRIES) {
    // Each entry takes one of the camera's ten rule numbers; since the tries-log rule took one of them, 7 is the most.
    refused = read.refuse(
      'allow',
      `${read.where}: "allow" and "allowPorts" may list at most ${MAX_ALLOW_ENTRIES} services together, and this camera lists ${allow.length}; remove ${allow.length - MAX_ALLOW_ENTRIES === 1 ? 'one' : allow.length - MAX_ALLOW_ENTRIES}.`,
    );
  }
  return refused ?? accepted(allow);
}

/**
 * A camera's `allowDestinations`. A wrong entry only makes a destination look unexpected (never opens anything), so
 * it is reported and left out and the camera loads with the valid rest, as with `forget`; entries beyond the bound
 * are reported the same way.
 */
function readExpectedDestinations(value: unknown, where: string, errors: string[]): ExpectedDestination[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!isList(value)) {
    errors.push(`${where}: "allowDestinations" must be a list of entries, each ${EXPECTED_HINT}; no destination is treated as expected.`);
    return [];
  }
  const entries: ExpectedDestination[] = [];
  for (const item of value) {
    const parsed = parseExpectedDestination(item);
    if (!parsed.ok) {
      errors.push(`${where}: "allowDestinations" entry "${printable(item)}" ${parsed.problem}; it is left out, and the camera is guarded with the other entries.`);
    } else if (!entries.some((known) => known.label === parsed.entry.label)) {
      if (entries.length >= MAX_EXPECTED_DESTINATIONS) {
        errors.push(`${where}: "allowDestinations" may list at most ${MAX_EXPECTED_DESTINATIONS} entries; "${printable(item)}" and those after it are left out (use a CIDR to cover several addresses).`);
        break;
      }
      entries.push(parsed.entry);
    }
  }
  return entries;
}

/**
 * `forget`: the addresses or MACs of cameras no longer configured whose rules the owner wants removed. A bad entry
 * only fails to release a camera, so it is reported and left out; an entry naming a configured camera is refused
 * (the owner cannot both guard and forget one camera).
 */
function parseForget(value: unknown, where: string, cameras: readonly CameraSettings[], errors: string[]): string[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!isList(value)) {
    errors.push(`${where}: "forget" must be a list of addresses or MACs such as ["192.168.1.70"]; no camera's rules are removed.`);
    return [];
  }
  const forget: string[] = [];
  for (const item of value) {
    const text = typeof item === 'string' ? item.trim() : undefined;
    const entry = text !== undefined && IPV4.test(text) ? text : text !== undefined && MAC.test(text) ? normalMac(text) : undefined;
    if (entry === undefined) {
      errors.push(`${where}: "forget" entry "${printable(item)}" is not an IPv4 address or a MAC address; it is ignored and those rules stay.`);
    } else if (cameras.some((camera) => camera.address === entry || camera.mac === entry)) {
      errors.push(`${where}: "forget" entry ${entry} belongs to a configured camera; it is ignored (remove the camera from "cameras" first).`);
    } else if (!forget.includes(entry)) {
      forget.push(entry);
    }
  }
  return forget;
}

/**
 * Checks made once the machine's own addresses and the router's host are known (both come from the network,
 * so they cannot be part of the pure parse). Returns the cameras that pass and one error per camera that does not.
 */
export function excludeInfrastructureAddresses(
  router: RouterSettings,
  ownAddresses: readonly string[],
): { cameras: CameraSettings[]; skipped: SkippedCamera[]; errors: string[] } {
  const errors: string[] = [];
  const skipped: SkippedCamera[] = [...router.skipped];
  const cameras = router.cameras.filter((camera) => {
    const where = `Router "${printable(router.name)}", camera "${printable(camera.name)}": "address" ${camera.address}`;
    let problem: string | undefined;
    if (camera.address === router.host) {
      problem = `${where} is the router's own address, not a camera's; this camera is skipped and its access is not changed.`;
    } else if (ownAddresses.includes(camera.address)) {
      problem = `${where} belongs to this Homebridge machine; blocking it would cut Homebridge off, so this camera is skipped and its access is not changed.`;
    }
    if (problem === undefined) {
      return true;
    }
    errors.push(problem);
    skipped.push({ name: camera.name, address: camera.address, ...(camera.mac === undefined ? {} : { mac: camera.mac }) });
    return false;
  });
  return { cameras, skipped, errors };
}
