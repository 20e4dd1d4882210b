/**
 * The EdgeOS configuration as the set of lines `show configuration commands` prints, and the edits of
 * `set`/`delete` on it. The simulator has no full EdgeOS schema, so node kinds are recognised by name and position:
 * enough for firewall, interface and system nodes, permissive for everything else.
 */
import { parseIpv6Prefix } from './ipv6';
import type { ConfigLine, ConfigLines } from './types';

/** Nodes that never take a value, wherever they appear. */
const ALWAYS_VALUELESS = new Set([
  'enable-default-log',
  'disable-password-authentication',
  'disable-host-validation',
  'disable-dhcp-nameservers',
  'allow-root',
  'no-dns',
]);

/** Tag nodes (their child is a user-chosen name or number) found anywhere below the top level. */
const TAG_NODES = new Set(['rule', 'vif', 'pppoe', 'user', 'shared-network-name', 'subnet', 'static-mapping']);
const FIREWALL_RULESET_NODES = new Set(['name', 'ipv6-name', 'modify', 'ipv6-modify']);
const FIREWALL_GROUP_NODES = new Set(['address-group', 'network-group', 'port-group', 'ipv6-address-group', 'ipv6-network-group']);
/** Leaves that must be given a value. */
const VALUE_LEAVES = new Set(['action', 'default-action', 'description', 'protocol', 'address', 'port', 'mac-address', 'network', 'host-name']);

/** True when `path[index]` is the name of a tag node instance (`X` in `firewall name X`, `10` in `rule 10`). */
export function isTagValueAt(path: readonly string[], index: number): boolean {
  const parent = path[index - 1];
  if (index < 1 || parent === undefined) return false;
  if (path[0] === 'interfaces') return index === 2 || parent === 'vif' || parent === 'pppoe';
  if (path[0] === 'firewall') {
    if (index === 2) return FIREWALL_RULESET_NODES.has(parent);
    if (index === 3) return path[1] === 'group' && FIREWALL_GROUP_NODES.has(parent);
  }
  return TAG_NODES.has(parent);
}

/**
 * True when the path ends in a flag node. `disable` is a value after a leaf (`log disable`) and a flag after a tag
 * instance (`rule 10 disable`, `ethernet eth1 disable`).
 */
function isFlag(path: readonly string[]): boolean {
  const last = path[path.length - 1] ?? '';
  return ALWAYS_VALUELESS.has(last) || (last === 'disable' && isTagValueAt(path, path.length - 2));
}

/** True when the line's last token is a node rather than a value: a flag, or a bare tag instance (`interfaces loopback lo`). */
export function isValueless(path: readonly string[]): boolean {
  return isFlag(path) || isTagValueAt(path, path.length - 1);
}

/** Leaves that hold several values, one line each. */
export function isMultiValued(path: readonly string[]): boolean {
  const leaf = path[path.length - 2];
  if (path[0] === 'interfaces') return leaf === 'address';
  if (path[0] === 'firewall' && path[1] === 'group') return leaf === 'address' || leaf === 'network' || leaf === 'port';
  return path[0] === 'system' && leaf === 'name-server';
}

function compareTokens(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Tree order: children alphabetical, numeric tag names (rule numbers) numerical. */
export function compareLines(a: ConfigLine, b: ConfigLine): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareTokens(a[i] ?? '', b[i] ?? '');
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

export function hasPrefix(line: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= line.length && prefix.every((token, i) => line[i] === token);
}

function sameLine(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && hasPrefix(a, b);
}

export function sameConfig(a: ConfigLines, b: ConfigLines): boolean {
  return a.length === b.length && a.every((line) => b.some((other) => sameLine(line, other)));
}

/** Splits one command line into words, honouring '…' and "…" quoting (no expansion: this is data, not a script). */
export function splitQuotedWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\\.|[^\s'"\\]+)|(\s+)/gy;
  let current: string | null = null;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const [, single, double, bare, space] = match;
    if (space !== undefined) {
      if (current !== null) words.push(current);
      current = null;
    } else {
      const piece = single ?? double?.replace(/\\(.)/g, '$1') ?? bare?.replace(/\\(.)/g, '$1') ?? '';
      current = (current ?? '') + piece;
    }
  }
  if (current !== null) words.push(current);
  return words;
}

/** Parses `show configuration commands` text; lines that are not `set …` (comments, blanks) are skipped. */
export function parseConfigCommands(text: string): ConfigLines {
  const lines = text
    .split('\n')
    .map((line) => splitQuotedWords(line.trim()))
    .filter((words) => words[0] === 'set' && words.length > 1)
    .map((words) => words.slice(1));
  return lines.reduce<ConfigLines>((config, line) => setPath(config, line).config, []);
}

function quoteValue(value: string): string {
  return /^[A-Za-z0-9_./,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** EdgeOS style: simple values bare, values with spaces or special characters single-quoted. */
export function renderConfigCommands(config: ConfigLines): string {
  return config
    .map((line) => {
      const tokens = isValueless(line) ? line : [...line.slice(0, -1), quoteValue(line[line.length - 1] ?? '')];
      return `set ${tokens.join(' ')}\n`;
    })
    .join('');
}

export interface SetOutcome {
  config: ConfigLines;
  alreadyExists: boolean;
}

/** `set <path>` on a copy of `config`. */
export function setPath(config: ConfigLines, path: ConfigLine): SetOutcome {
  if (config.some((line) => hasPrefix(line, path))) return { config, alreadyExists: true };
  const replacesSibling = !isValueless(path) && !isMultiValued(path);
  const nodePath = path.slice(0, -1);
  const kept = config.filter(
    (line) =>
      // A bare node (`firewall group address-group G`) is superseded by the first line below it.
      !hasPrefix(path, line) && !(replacesSibling && line.length === path.length && hasPrefix(line, nodePath)),
  );
  return { config: [...kept, [...path]].sort(compareLines), alreadyExists: false };
}

/**
 * `delete <path>` on a copy of `config`, or null when nothing matches. Emptying a tag instance keeps it as a bare
 * node, as EdgeOS does: an address group whose last member goes still exists.
 */
export function deletePath(config: ConfigLines, path: ConfigLine): ConfigLines | null {
  const kept = config.filter((line) => !hasPrefix(line, path));
  if (kept.length === config.length) return null;
  for (let length = path.length - 1; length >= 1; length--) {
    const ancestor = path.slice(0, length);
    if (kept.some((line) => hasPrefix(line, ancestor))) break;
    if (isTagValueAt(path, length - 1)) {
      kept.push(ancestor);
      break;
    }
  }
  return kept.sort(compareLines);
}

/** Checks a `set` path against the few rules the simulator knows; returns EdgeOS-style error output or null. */
export function validateSetPath(path: ConfigLine): string | null {
  const invalid = 'The specified configuration node is not valid\nSet failed\n';
  const valueFailed = (message: string): string => `${message}\nValue validation failed\nSet failed\n`;
  if (path.length === 0) return invalid;
  const last = path[path.length - 1] ?? '';
  if (VALUE_LEAVES.has(last) && !isTagValueAt(path, path.length - 1)) {
    return `Configuration path: [${path.join(' ')}] requires a value\nSet failed\n`;
  }
  if (path.slice(0, -1).some((_, i) => isFlag(path.slice(0, i + 1)))) return invalid;
  if (path[0] === 'firewall' && path[2] !== undefined) {
    const name = path[2];
    if (FIREWALL_RULESET_NODES.has(path[1] ?? '') && (name.length > 28 || name.startsWith('-') || /[|;&$<>\s]/.test(name))) {
      return valueFailed(`Firewall rule set name "${name}" is not valid`);
    }
    if (path[3] === 'rule' && path[4] !== undefined && !(/^\d+$/.test(path[4]) && Number(path[4]) >= 1 && Number(path[4]) <= 9999)) {
      return valueFailed(`Rule number must be between 1 and 9999`);
    }
    const leaf = path[path.length - 2];
    if ((leaf === 'action' || leaf === 'default-action') && !['accept', 'drop', 'reject'].includes(last)) {
      return valueFailed(`Action must be "accept", "drop" or "reject"`);
    }
    if (path[1] === 'group' && path[3] !== undefined && path[3].length > 31) {
      return valueFailed(`Group name "${path[3]}" is not valid`);
    }
    // An IPv6 ruleset's addresses are typed ipv6/ipv6net (optionally `!`-negated): an IPv4 address fails at `set`.
    // The message wording is the simulator's (the real one is not known); EdgeOS also takes ranges, the simulator not.
    const isRuleAddress = path[1] === 'ipv6-name' && path[3] === 'rule' && path.length === 8 && path[6] === 'address';
    if (isRuleAddress && (path[5] === 'source' || path[5] === 'destination') && parseIpv6Prefix(last) === undefined) {
      const range = last.includes('-') ? ' (the simulator does not support address ranges)' : '';
      return valueFailed(`"${last}" is not a valid IPv6 address or prefix${range}`);
    }
  }
  return null;
}

export function pathExists(config: ConfigLines, path: readonly string[]): boolean {
  return config.some((line) => hasPrefix(line, path));
}

/** The values of the leaf at `path` (one for a single-valued leaf). */
export function pathValues(config: ConfigLines, path: readonly string[]): string[] {
  return config
    .filter((line) => line.length === path.length + 1 && hasPrefix(line, path) && !isValueless(line))
    .map((line) => line[path.length] ?? '');
}

export function pathValue(config: ConfigLines, path: readonly string[]): string | undefined {
  return pathValues(config, path)[0];
}

/** The child node names below `path`, in lexical order (as `cli-shell-api listActiveNodes` returns them). */
export function childNodes(config: ConfigLines, path: readonly string[]): string[] {
  const names = config
    .filter((line) => line.length > path.length && hasPrefix(line, path))
    .filter((line) => line.length > path.length + 1 || isValueless(line))
    .map((line) => line[path.length] ?? '');
  return [...new Set(names)].sort();
}
