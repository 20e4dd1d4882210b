/**
 * The EdgeOS configuration as the set of lines `show configuration commands` prints, and the edits of
 * `set`/`delete` on it. The simulator has no full EdgeOS schema, so node kinds are recognised by name and position:
 * enough for firewall, interface and system nodes, permissive for everything else.
 */
import { isRefusedRuleSetName } from '../../../src/router/edgeos/reservedNames';
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
  // `switch-port interface eth1`, `dhcpv6-pd pd 0 interface switch0`: one instance per interface.
  if (path[0] === 'interfaces') return index === 2 || parent === 'vif' || parent === 'pppoe' || parent === 'interface';
  if (path[0] === 'firewall') {
    if (index === 2) return FIREWALL_RULESET_NODES.has(parent);
    if (index === 3) return path[1] === 'group' && FIREWALL_GROUP_NODES.has(parent);
  }
  // `system ntp server 0.ubnt.pool.ntp.org`: one instance per server (elsewhere, as in `service dns dynamic`, `server` is a leaf).
  if (path[0] === 'system' && path[1] === 'ntp' && index === 3) return parent === 'server';
  return TAG_NODES.has(parent);
}

/**
 * True when the path ends in a flag node. `disable` is a value after a leaf (`log disable`) and a flag after a tag
 * instance (`rule 10 disable`, `ethernet eth1 disable`).
 */
function isFlag(path: readonly string[]): boolean {
  const last = path[path.length - 1] ?? '';
  return (
    ALWAYS_VALUELESS.has(last) ||
    (last === 'disable' && isTagValueAt(path, path.length - 2)) ||
    // `firewall name X rule N time utc`.
    (last === 'utc' && path[path.length - 2] === 'time' && path[0] === 'firewall')
  );
}

/** True when the line's last token is a node rather than a value: a flag, or a bare tag instance (`interfaces loopback lo`). */
export function isValueless(path: readonly string[]): boolean {
  return isFlag(path) || isTagValueAt(path, path.length - 1);
}

/** Leaves that hold several values, one line each. */
export function isMultiValued(path: readonly string[]): boolean {
  const leaf = path[path.length - 2];
  if (path[0] === 'interfaces') return leaf === 'address' || leaf === 'name-server';
  if (path[0] === 'firewall' && path[1] === 'group') return leaf === 'address' || leaf === 'network' || leaf === 'port';
  if (path[0] === 'service' && path[1] === 'dns' && path[2] === 'forwarding') return leaf === 'listen-on' || leaf === 'name-server';
  if (path[0] === 'service' && path[1] === 'dhcp-server') return leaf === 'dns-server';
  return path[0] === 'system' && (leaf === 'name-server' || (path[1] === 'static-host-mapping' && leaf === 'alias'));
}

function isDigits(token: string): boolean {
  if (token === '') return false;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function compareTokens(a: string, b: string): number {
  if (isDigits(a) && isDigits(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Tree order: children alphabetical, numeric tag names (rule numbers) numerical. The values of a multi-value leaf
 * compare equal, so that a stable sort keeps them in the order they were set, as EdgeOS prints them.
 */
export function compareLines(a: ConfigLine, b: ConfigLine): number {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) {
    if (i === a.length - 1 && a.length === b.length && isMultiValued(a)) return 0;
    const order = compareTokens(a[i] ?? '', b[i] ?? '');
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

export function hasPrefix(line: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > line.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (line[i] !== prefix[i]) return false;
  }
  return true;
}

/** A key that tells configuration lines apart (a Set of them finds a line without a scan of the whole configuration). */
export function lineKey(line: readonly string[]): string {
  return JSON.stringify(line);
}

export function sameConfig(a: ConfigLines, b: ConfigLines): boolean {
  const keys = new Set(b.map(lineKey));
  return a.length === b.length && a.every((line) => keys.has(lineKey(line)));
}

/**
 * Splits the words of one `show configuration commands` line the way EdgeOS prints them: separated by spaces, a word
 * in single quotes when the engine quoted it, with nothing escaped inside. The engine refuses `'`, `"` and line
 * breaks in values, so a line with a quote anywhere else cannot be one it printed: that throws, naming the line.
 */
export function splitConfigLine(text: string): string[] {
  const words: string[] = [];
  let at = 0;
  const refuse = (why: string): never => {
    throw new Error(`not a line EdgeOS prints (${why}): ${JSON.stringify(text.slice(0, 120))}`);
  };
  while (at < text.length) {
    if (text[at] === ' ') {
      at++;
    } else if (text[at] === "'") {
      const close = text.indexOf("'", at + 1);
      if (close < 0) refuse('a quote that is never closed');
      if (close + 1 < text.length && text[close + 1] !== ' ') refuse('text right after a closing quote');
      words.push(text.slice(at + 1, close));
      at = close + 1;
    } else {
      const space = text.indexOf(' ', at);
      const end = space < 0 ? text.length : space;
      words.push(text.slice(at, end));
      at = end;
    }
  }
  if (words.some((word) => word.includes('"')) || words.some((word) => word.includes("'"))) refuse('a quote inside a value');
  return words;
}

/**
 * Parses `show configuration commands` text, as EdgeOS prints it (see renderConfigCommands); blank lines and
 * comment lines (`#` first) are skipped.
 */
export function parseConfigCommands(text: string): ConfigLines {
  let config: ConfigLines = [];
  for (const line of text.split('\n')) {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim() === '' || trimmed.startsWith('#')) continue;
    if (!trimmed.startsWith('set ')) throw new Error(`not a set command: ${JSON.stringify(trimmed.slice(0, 120))}`);
    const words = splitConfigLine(trimmed.slice(4));
    // The lines are set into this one array (nobody else holds it yet), not into a copy per line: a copy per line
    // made a power-on configuration of 100,000 lines take a minute.
    if (words.length > 0) config = setPath(config, words, true).config;
  }
  return config;
}

/**
 * What EdgeOS's engine single-quotes when it prints a word: an empty word, or one holding a space, a control
 * character or one of `* } { [ ] ; & ` ! $ > < | ? # \ ~ ( ) :`. Nothing inside the quotes is escaped; values with
 * `'`, `"` or a line break cannot exist (`set` refuses them).
 */
// eslint-disable-next-line no-control-regex -- control characters are among what the engine quotes.
const ENGINE_QUOTES = /[\u0000-\u001f\u007f *}{[\];&`!$><|?#\\~():]/;

function engineWord(word: string): string {
  return word === '' || ENGINE_QUOTES.test(word) ? `'${word}'` : word;
}

/** Exactly what EdgeOS's engine prints: every word (tag names too) by its quoting rule, one line per leaf. */
export function renderConfigCommands(config: ConfigLines): string {
  return config.map((line) => `set ${line.map(engineWord).join(' ')}\n`).join('');
}

export interface SetOutcome {
  config: ConfigLines;
  alreadyExists: boolean;
}

/** The first index of sorted `config` whose line does not sort before `path` (after it too when `after`). */
function bound(config: ConfigLines, path: readonly string[], after: boolean): number {
  let low = 0;
  let high = config.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const order = compareLines(config[middle] ?? [], [...path]);
    if (order < 0 || (after && order === 0)) low = middle + 1;
    else high = middle;
  }
  return low;
}

function sameLine(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && hasPrefix(a, b);
}

/**
 * `set <path>` on a copy of `config` (on `config` itself when `inPlace`), which is in tree order (and so is the copy). The lines it must look at sit next
 * to where `path` goes, so they are found by binary search: a scan of the whole configuration for each line made
 * loading a few thousand rules take minutes.
 */
export function setPath(config: ConfigLines, path: ConfigLine, inPlace = false): SetOutcome {
  // A line equal to `path` or below it sorts from its lower bound on, after the other values of a multi-value leaf
  // (which compare equal to it).
  for (let i = bound(config, path, false); i < config.length; i++) {
    const line = config[i] ?? [];
    if (hasPrefix(line, path)) return { config, alreadyExists: true };
    if (compareLines(line, path) !== 0) break;
  }
  const removed = new Set<number>();
  // A bare node above it (`firewall group address-group G`) is superseded by the first line below it.
  for (let length = 1; length < path.length; length++) {
    const ancestor = path.slice(0, length);
    const at = bound(config, ancestor, false);
    if (sameLine(config[at] ?? [], ancestor)) removed.add(at);
  }
  // A single-valued leaf's old value is replaced.
  if (!isValueless(path) && !isMultiValued(path)) {
    const nodePath = path.slice(0, -1);
    for (let i = bound(config, nodePath, false); i < config.length && hasPrefix(config[i] ?? [], nodePath); i++) {
      if (config[i]?.length === path.length) removed.add(i);
    }
  }
  const kept = removed.size === 0 ? (inPlace ? config : [...config]) : config.filter((_, i) => !removed.has(i));
  // After every line that sorts before or with it: a new value of a multi-value leaf goes after the others.
  const at = bound(kept, path, true);
  if (at === kept.length) kept.push([...path]);
  else kept.splice(at, 0, [...path]);
  return { config: kept, alreadyExists: false };
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

/** What the engine prints for a value a validation script refused: the script's words, a blank line, then its own. */
const scriptRefused = (message: string): string => `${message}\n\nValue validation failed\nSet failed\n`;

/** The messages of ubnt-fw's ruleset name check (`validate-fw-name`), or null for a name it takes. */
function ruleSetNameProblem(name: string): string | null {
  if (name.length < 1 || name.length > 28) return 'Firewall rule set name must be between 1 and 28 characters long';
  if (name.startsWith('-')) return 'Firewall rule set name cannot start with "-"';
  if (/[!|;&$<>()*]/.test(name)) return 'Firewall rule set name cannot contain shell punctuation';
  if (isRefusedRuleSetName(name)) return `Cannot use reserved name "${name}" for firewall rule set`;
  return null;
}

const MAC_ADDRESS = /^!?[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

/** Checks a `set` path against the rules the simulator knows; returns EdgeOS's error output or null. */
export function validateSetPath(path: ConfigLine): string | null {
  const invalid = 'The specified configuration node is not valid\nSet failed\n';
  const valueFailed = (message: string): string => `${message}\nValue validation failed\nSet failed\n`;
  if (path.length === 0) return invalid;
  // The engine's own check of every value, before any template's (verbatim from the engine, see the samples).
  for (const word of path) {
    if (word.includes("'")) return valueFailed("Cannot use the single quote (') character in a value string");
    if (word.includes('"')) return valueFailed('Cannot use the double quote (") character in a value string');
    if (word.includes('\n')) return valueFailed('Cannot use the newline character in a value string');
  }
  const last = path[path.length - 1] ?? '';
  if (VALUE_LEAVES.has(last) && !isTagValueAt(path, path.length - 1)) {
    return `Configuration path: [${path.join(' ')}] requires a value\nSet failed\n`;
  }
  if (path.slice(0, -1).some((_, i) => isFlag(path.slice(0, i + 1)))) return invalid;
  if (path[0] === 'firewall' && path[2] !== undefined) {
    const name = path[2];
    if (FIREWALL_RULESET_NODES.has(path[1] ?? '')) {
      const problem = ruleSetNameProblem(name);
      if (problem !== null) return scriptRefused(problem);
      // The simulator's own wording: whether EdgeOS's templates take a blank in a ruleset name is not known.
      if (/\s/.test(name)) return valueFailed(`Firewall rule set name "${name}" is not valid`);
    }
    if (path[3] === 'rule' && path[4] !== undefined && !(/^\d+$/.test(path[4]) && Number(path[4]) >= 1 && Number(path[4]) <= 9999)) {
      return scriptRefused('firewall rule number must be between 1 and 9999');
    }
    const isRuleEndpoint = FIREWALL_RULESET_NODES.has(path[1] ?? '') && path[3] === 'rule' && path.length === 8 && (path[5] === 'source' || path[5] === 'destination');
    if (isRuleEndpoint && path[6] === 'mac-address' && !MAC_ADDRESS.test(last)) {
      return scriptRefused(`"${last}" is not a valid value of type "macaddr_negate"\n\ninvalid MAC address "${last}"`);
    }
    // `time startdate`: xt_time's date form, and no later than the 32-bit limit (the simulator's wording).
    if (FIREWALL_RULESET_NODES.has(path[1] ?? '') && path[3] === 'rule' && path[5] === 'time' && path[6] === 'startdate' && path.length === 8) {
      const form = /^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2})?)?)?)?)?$/.test(last);
      if (!form || !(Date.parse(`${last.length === 4 ? `${last}-01-01` : last}${last.includes('T') ? 'Z' : ''}`) <= Date.UTC(2038, 0, 19, 3, 14, 7))) {
        return valueFailed(`"${last}" is not a date the router can match from (YYYY[-MM[-DD[Thh[:mm[:ss]]]]], at the latest 2038-01-19T03:14:07)`);
      }
    }
    // `limit rate` and `limit burst`, as Vyatta's templates check them at `set` (vyatta-cfg-firewall
    // templates/firewall/name/node.tag/rule/node.tag/limit/{rate,burst}/node.def; the wording is theirs). A rate of
    // 0/unit passes here and is refused at commit (validateFirewall), as ubnt-fw and Rule.pm refuse it.
    if (FIREWALL_RULESET_NODES.has(path[1] ?? '') && path[3] === 'rule' && path[5] === 'limit' && path.length === 8) {
      if (path[6] === 'rate' && !/^\d+\/(second|minute|hour|day)$/.test(last)) {
        return scriptRefused(
          "Invalid value for rate. Rate should be specified as an integer followed by\na forward slash '/' and either of these time units - second, minute, hour or day\neg. 1/second implies rule to be matched at an average of once per second",
        );
      }
      if (path[6] === 'burst' && !(/^\d{1,10}$/.test(last) && Number(last) <= 4294967295)) {
        return valueFailed(`"${last}" is not a valid value of type "u32"`);
      }
      if (path[6] === 'burst' && Number(last) === 0) {
        return scriptRefused('Burst should be a value greater then zero');
      }
      if (path[6] !== 'rate' && path[6] !== 'burst') return invalid;
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
    // An empty IPv6 address makes the type checker print its usage (engine sample, E2). An empty IPv4 one is taken,
    // and compiles to a rule that matches every host (E1).
    if (isRuleAddress && (path[5] === 'source' || path[5] === 'destination') && last === '') {
      return scriptRefused('usage: vyatta-validate-type.pl [-q] <type> <value>');
    }
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
