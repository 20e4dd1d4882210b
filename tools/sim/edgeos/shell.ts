/**
 * A tiny vbash: just the shell language a router driver needs, interpreted exactly as bash would, and a loud
 * failure (exit 2, "simulator does not support …") for anything outside it, so that a script which works here also
 * works on a real EdgeRouter. Supported: lines, `;`, `#` comments, '…' and "…" quoting, backslash escapes and line
 * continuations, `$?`/`$NAME`/`${NAME}`/`$1`…`$9`/`${NAME:-word}` expansion with word splitting, `$(…)` command
 * substitution, `$((…))` integer arithmetic (`+ - * /`, parentheses), `NAME=value` and `export`, `&&`/`||` chains,
 * pipelines `a | b`, subshells `( … )`, `if … then … elif … else … fi`, redirections to /dev/null and between stdout
 * and stderr, the builtins echo/true/false/exit/export/trap, `set -- ARGS` and `[`/`test` (`-n -z = != -eq -ne -gt
 * -ge -lt -le`), and the programs sudo, sg and vbash/bash/sh, which run nested commands and shells.
 *
 * A pipeline's stages run one after the other, each reading what the one before printed (ProcessContext.input):
 * the same result as bash's concurrent stages for programs that read all their input and then print.
 */
import type { CommandResult } from './types';

type Part =
  | { kind: 'text'; text: string; quoted: boolean }
  | { kind: 'param'; name: string; quoted: boolean; fallback?: string }
  | { kind: 'command'; items: ScriptItem[]; quoted: boolean }
  | { kind: 'arith'; expression: string; quoted: boolean };
type Word = Part[];
type Target = 'stdout' | 'stderr' | 'null';
interface Redirect {
  fds: (1 | 2)[];
  to: Target | 1 | 2;
}
type Operator = '&&' | '||' | ';' | '\n' | '|' | '(' | ')';
type Token =
  | { type: 'word'; word: Word; line: number }
  | { type: 'op'; op: Operator; line: number }
  | { type: 'redirect'; redirect: Redirect; line: number }
  | { type: 'error'; message: string; line: number };

interface SimpleCommand {
  kind: 'simple';
  words: Word[];
  redirects: Redirect[];
  line: number;
}
interface Subshell {
  kind: 'subshell';
  body: ScriptItem[];
  redirects: Redirect[];
  line: number;
}
interface IfClause {
  kind: 'if';
  branches: { condition: ScriptItem[]; body: ScriptItem[] }[];
  otherwise: ScriptItem[] | undefined;
  redirects: Redirect[];
  line: number;
}
type Command = SimpleCommand | Subshell | IfClause;
/** `a | b | c`. */
interface Pipeline {
  commands: Command[];
}
/** `a && b || c`: pipelines joined by operators. */
interface AndOrList {
  pipelines: Pipeline[];
  operators: ('&&' | '||')[];
}
type ScriptItem = { kind: 'list'; list: AndOrList; endLine: number } | { kind: 'error'; message: string; line: number };

const META = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Words that open or close a compound command when they stand where a command starts. */
const RESERVED = new Set(['if', 'then', 'elif', 'else', 'fi']);

/**
 * Where the `)` that closes a `$(` opened just before `from` is (quotes and nested parentheses skipped), or -1.
 * For `$((`, `arithmetic` finds the `))`.
 */
function closingParen(script: string, from: number, arithmetic: boolean): number {
  let depth = 0;
  for (let i = from; i < script.length; i++) {
    const c = script[i];
    if (c === '\\') {
      i++;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      if (end < 0) return -1;
      i = end;
    } else if (c === '"') {
      for (i++; i < script.length && script[i] !== '"'; i++) if (script[i] === '\\') i++;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      if (depth > 0) depth--;
      else if (!arithmetic) return i;
      else return script[i + 1] === ')' ? i : -1;
    }
  }
  return -1;
}

function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (message: string): Token[] => [...tokens, { type: 'error', message, line }];

  /** Reads `$…` at `i` (which points after the `$`). */
  const readParam = (quoted: boolean): Part | string => {
    const next = script[i] ?? '';
    if (next === '?' || /[1-9]/.test(next)) {
      i++;
      return { kind: 'param', name: next, quoted };
    }
    if (next === '(' && script[i + 1] === '(') {
      const end = closingParen(script, i + 2, true);
      if (end < 0) return 'an unterminated `$((\'';
      const expression = script.slice(i + 2, end);
      line += expression.split('\n').length - 1;
      i = end + 2;
      return { kind: 'arith', expression, quoted };
    }
    if (next === '(') {
      const end = closingParen(script, i + 1, false);
      if (end < 0) return 'an unterminated `$(\'';
      const inner = script.slice(i + 1, end);
      const items = parse(inner);
      const error = items.find((item) => item.kind === 'error');
      if (error?.kind === 'error') return `${error.message} (in \`$(…)')`;
      line += inner.split('\n').length - 1;
      i = end + 1;
      return { kind: 'command', items, quoted };
    }
    if (next === '{') {
      const end = script.indexOf('}', i);
      const body = end < 0 ? '' : script.slice(i + 1, end);
      const match = /^([A-Za-z_][A-Za-z0-9_]*|[1-9?])(?::-([A-Za-z0-9_./-]*))?$/.exec(body);
      if (match?.[1] === undefined) return 'unsupported parameter expansion `${…}\'';
      i = end + 1;
      return { kind: 'param', name: match[1], quoted, ...(match[2] === undefined ? {} : { fallback: match[2] }) };
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(script.slice(i))?.[0];
    if (name !== undefined) {
      i += name.length;
      return { kind: 'param', name, quoted };
    }
    if (/[0#@*!$-]/.test(next) && next !== '') return `unsupported expansion \`$${next}'`;
    return { kind: 'text', text: '$', quoted };
  };

  while (i < script.length) {
    const c = script[i] ?? '';
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '\\' && script[i + 1] === '\n') {
      i += 2;
      line++;
    } else if (c === '\n' || c === ';') {
      if (script.startsWith(';;', i)) return fail("simulator does not support `;;'");
      tokens.push({ type: 'op', op: c === ';' ? ';' : '\n', line });
      if (c === '\n') line++;
      i++;
    } else if (c === '#') {
      while (i < script.length && script[i] !== '\n') i++;
    } else if (script.startsWith('&&', i) || script.startsWith('||', i)) {
      tokens.push({ type: 'op', op: script.startsWith('&&', i) ? '&&' : '||', line });
      i += 2;
    } else if (c === '|' || c === '(' || c === ')') {
      if (script.startsWith('|&', i)) return fail("simulator does not support `|&'");
      tokens.push({ type: 'op', op: c, line });
      i++;
    } else if (/^(&>|[12]?>)/.test(script.slice(i))) {
      const match = /^(&>|([12]?)>>?)(&([12]))?[ \t]*/.exec(script.slice(i));
      if (match === null) return fail('bad redirection');
      i += match[0].length;
      const fds: (1 | 2)[] = match[1] === '&>' ? [1, 2] : [match[2] === '2' ? 2 : 1];
      if (match[4] !== undefined) {
        tokens.push({ type: 'redirect', redirect: { fds, to: match[4] === '2' ? 2 : 1 }, line });
      } else {
        // A redirection target ends where the word ends, as in bash: before blanks and operators.
        const target = /^[^\s;&|()]+/.exec(script.slice(i))?.[0] ?? '';
        if (target !== '/dev/null') return fail(`simulator does not support redirection to \`${target}' (only /dev/null, 2>&1, >&2)`);
        i += target.length;
        tokens.push({ type: 'redirect', redirect: { fds, to: 'null' }, line });
      }
    } else if (META.has(c) || c === '`') {
      return fail(`simulator does not support \`${c}'`);
    } else {
      const word: Word = [];
      const text = (value: string, quoted: boolean): void => {
        const previous = word[word.length - 1];
        if (previous?.kind === 'text' && previous.quoted === quoted) previous.text += value;
        else word.push({ kind: 'text', text: value, quoted });
      };
      while (i < script.length && !META.has(script[i] ?? '')) {
        const ch = script[i++] ?? '';
        if (ch === "'") {
          const end = script.indexOf("'", i);
          if (end < 0) return fail("unexpected EOF while looking for matching `''");
          const quoted = script.slice(i, end);
          line += quoted.split('\n').length - 1;
          text(quoted, true);
          i = end + 1;
        } else if (ch === '"') {
          text('', true);
          for (;;) {
            const inner = script[i++];
            if (inner === undefined) return fail('unexpected EOF while looking for matching `"\'');
            if (inner === '"') break;
            if (inner === '`') return fail("simulator does not support `\\`'");
            if (inner === '\n') line++;
            if (inner === '\\' && '$`"\\\n'.includes(script[i] ?? 'x')) {
              const escaped = script[i++] ?? '';
              if (escaped !== '\n') text(escaped, true);
            } else if (inner === '$') {
              const param = readParam(true);
              if (typeof param === 'string') return fail(`simulator does not support ${param}`);
              word.push(param);
            } else {
              text(inner, true);
            }
          }
        } else if (ch === '\\') {
          const escaped = script[i++] ?? '';
          if (escaped === '\n') line++;
          else text(escaped, true);
        } else if (ch === '$') {
          const param = readParam(false);
          if (typeof param === 'string') return fail(`simulator does not support ${param}`);
          word.push(param);
        } else if (ch === '`') {
          return fail("simulator does not support `\\`'");
        } else {
          text(ch, false);
        }
      }
      tokens.push({ type: 'word', word, line });
    }
  }
  return tokens;
}

/** The word's text when it is one bare (unquoted, unexpanded) word, such as a reserved word. */
function bareText(word: Word): string | undefined {
  const [part, ...rest] = word;
  return rest.length === 0 && part?.kind === 'text' && !part.quoted ? part.text : undefined;
}

class SyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** A recursive-descent reader of the tokens: lists, and-or lists, pipelines, and the commands they are made of. */
class Parser {
  private at = 0;
  private lastLine = 1;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private take(): Token | undefined {
    const token = this.tokens[this.at++];
    if (token !== undefined) this.lastLine = token.line;
    return token;
  }

  private fail(message: string, token = this.peek()): never {
    if (token?.type === 'error') throw new SyntaxError(token.message, token.line);
    throw new SyntaxError(message, token?.line ?? this.lastLine);
  }

  private isOp(op: Operator): boolean {
    const token = this.peek();
    return token?.type === 'op' && token.op === op;
  }

  private reservedAhead(): string | undefined {
    const token = this.peek();
    const text = token?.type === 'word' ? bareText(token.word) : undefined;
    return text !== undefined && RESERVED.has(text) ? text : undefined;
  }

  private skipNewlines(): void {
    while (this.isOp('\n')) this.take();
  }

  /**
   * Items until the end, a `)` or one of the reserved words in `stops`. `onItem` sees each top-level item as soon as
   * it is read (the shell keeps those that end before a later syntax error).
   */
  list(stops: ReadonlySet<string>, onItem?: (item: ScriptItem) => void): ScriptItem[] {
    const items: ScriptItem[] = [];
    for (;;) {
      while (this.isOp('\n') || this.isOp(';')) {
        const token = this.take();
        if (token?.type === 'op' && token.op === ';' && items.length === 0 && onItem === undefined) this.fail("syntax error near unexpected token `;'", token);
      }
      const token = this.peek();
      if (token === undefined || this.isOp(')')) return items;
      const reserved = this.reservedAhead();
      if (reserved !== undefined && stops.has(reserved)) return items;
      const item: ScriptItem = { kind: 'list', list: this.andOr(), endLine: this.lastLine };
      items.push(item);
      onItem?.(item);
      const next = this.peek();
      if (next !== undefined && !(next.type === 'op' && (next.op === ';' || next.op === '\n' || next.op === ')'))) this.fail(`syntax error near unexpected token`);
      if (next?.type === 'op' && next.op === ';') {
        this.take();
        if (this.isOp(';')) this.fail("syntax error near unexpected token `;'");
      }
    }
  }

  private andOr(): AndOrList {
    const list: AndOrList = { pipelines: [this.pipeline()], operators: [] };
    for (;;) {
      const token = this.peek();
      if (token?.type !== 'op' || (token.op !== '&&' && token.op !== '||')) return list;
      this.take();
      list.operators.push(token.op);
      this.skipNewlines();
      list.pipelines.push(this.pipeline());
    }
  }

  private pipeline(): Pipeline {
    const pipeline: Pipeline = { commands: [this.command()] };
    while (this.isOp('|')) {
      this.take();
      this.skipNewlines();
      pipeline.commands.push(this.command());
    }
    return pipeline;
  }

  private command(): Command {
    const token = this.peek();
    if (token === undefined) this.fail('syntax error: unexpected end of file');
    if (token.type === 'error') this.fail(token.message);
    if (token.type === 'op' && token.op === '(') {
      this.take();
      const body = this.list(new Set());
      if (!this.isOp(')')) this.fail("syntax error: unexpected end of file (no `)')");
      if (body.length === 0) this.fail("syntax error near unexpected token `)'");
      this.take();
      return { kind: 'subshell', body, redirects: this.redirects(), line: token.line };
    }
    if (token.type === 'op') this.fail(`syntax error near unexpected token \`${token.op === '\n' ? 'newline' : token.op}'`);
    const reserved = this.reservedAhead();
    if (reserved === 'if') return this.ifClause();
    if (reserved !== undefined) this.fail(`syntax error near unexpected token \`${reserved}'`);
    const command: SimpleCommand = { kind: 'simple', words: [], redirects: [], line: token.line };
    for (let next = this.peek(); next?.type === 'word' || next?.type === 'redirect'; next = this.peek()) {
      this.take();
      if (next.type === 'word') command.words.push(next.word);
      else command.redirects.push(next.redirect);
    }
    const after = this.peek();
    if (after?.type === 'error') this.fail(after.message);
    return command;
  }

  private expectReserved(word: string): void {
    if (this.reservedAhead() !== word) this.fail(this.peek() === undefined ? 'syntax error: unexpected end of file' : `syntax error: expected \`${word}'`);
    this.take();
  }

  private ifClause(): IfClause {
    const line = this.take()?.line ?? this.lastLine;
    const branches: IfClause['branches'] = [];
    let otherwise: ScriptItem[] | undefined;
    const condition = (): ScriptItem[] => {
      const items = this.list(new Set(['then']));
      if (items.length === 0) this.fail("syntax error near unexpected token `then'");
      this.expectReserved('then');
      return items;
    };
    const body = (): ScriptItem[] => {
      const items = this.list(new Set(['elif', 'else', 'fi']));
      if (items.length === 0) this.fail('syntax error: an empty branch');
      return items;
    };
    branches.push({ condition: condition(), body: body() });
    for (;;) {
      const reserved = this.reservedAhead();
      if (reserved === 'elif') {
        this.take();
        branches.push({ condition: condition(), body: body() });
      } else if (reserved === 'else') {
        this.take();
        otherwise = body();
      } else {
        this.expectReserved('fi');
        return { kind: 'if', branches, otherwise, redirects: this.redirects(), line };
      }
    }
  }

  private redirects(): Redirect[] {
    const redirects: Redirect[] = [];
    for (let next = this.peek(); next?.type === 'redirect'; next = this.peek()) {
      this.take();
      redirects.push(next.redirect);
    }
    if (this.peek()?.type === 'word') this.fail('syntax error near unexpected word after a compound command');
    return redirects;
  }

  /** Whole script: a syntax error becomes the last item, after the items that end before its line (bash runs those). */
  script(): ScriptItem[] {
    const read: ScriptItem[] = [];
    try {
      this.list(new Set(), (item) => read.push(item));
      if (this.peek() !== undefined) this.fail(this.isOp(')') ? "syntax error near unexpected token `)'" : 'syntax error');
      return read;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // bash parses a whole line (a whole compound command) before running it: nothing on the line of a syntax error runs.
      const kept = read.filter((item) => item.kind === 'list' && item.endLine < error.line);
      return [...kept, { kind: 'error', message: error.message, line: error.line }];
    }
  }
}

function parse(script: string): ScriptItem[] {
  return new Parser(tokenize(script)).script();
}

/** The words of a command that has no expansions, or undefined (used to look at a command without running it). */
function literalWords(command: Command): string[] | undefined {
  if (command.kind !== 'simple') return undefined;
  const words = command.words.map((word) => (word.every((part) => part.kind === 'text') ? word.map((part) => (part.kind === 'text' ? part.text : '')).join('') : undefined));
  const literal = words.filter((word): word is string => word !== undefined);
  return literal.length === words.length ? literal : undefined;
}

const SHELLS = new Set(['vbash', '/bin/vbash', 'bash', '/bin/bash', 'sh', '/bin/sh']);
const UNSUPPORTED = new Set(
  'for while until do done case esac function select time [[ ]] { } ! source . cd read eval exec local unset shift printf declare typeset let alias return wait kill ulimit umask pushd popd'.split(' '),
);

interface ShellInvocation {
  /** The script to run; absent when it is read from standard input. */
  script?: string;
  interactive: boolean;
}

/** How `vbash ARGS` would run, or an error message for arguments the simulator cannot honour. */
function parseShellArgs(args: string[]): ShellInvocation | string {
  let interactive = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!/^-[ilsc]+$/.test(arg)) return `${arg}: No such file or directory`;
    interactive ||= arg.includes('i');
    if (arg.includes('c')) {
      const script = args[i + 1];
      return script === undefined ? '-c: option requires an argument' : { script, interactive };
    }
  }
  return { interactive };
}

/** `sg GROUP -c CMD` or `sg GROUP CMD`: the command line to run, or undefined when the arguments are wrong. */
function sgCommand(args: string[]): string | undefined {
  const rest = args[1] === '-c' ? args.slice(2) : args.slice(1);
  return args[0] !== undefined && rest.length === 1 ? rest[0] : undefined;
}

/** `sudo [-n] [--] CMD…`: the command, or undefined for options the simulator does not know. */
function sudoCommand(args: string[]): string[] | undefined {
  let i = 0;
  while (args[i] === '-n') i++;
  if (args[i] === '--') i++;
  return args[i]?.startsWith('-') ? undefined : args.slice(i);
}

function argvReadsStdin(argv: string[]): boolean {
  const [name = '', ...args] = argv;
  if (name === 'sudo' || name === '/usr/bin/sudo') return argvReadsStdin(sudoCommand(args) ?? []);
  if (name === 'sg' || name === '/usr/bin/sg') return commandReadsStdin(sgCommand(args) ?? '');
  if (!SHELLS.has(name)) return false;
  const invocation = parseShellArgs(args);
  return typeof invocation !== 'string' && (invocation.script === undefined || commandReadsStdin(invocation.script));
}

/**
 * Whether running `command` reads a script from standard input (`/bin/vbash -s`, `sg vyattacfg -c '/bin/vbash -s'`),
 * so that an SSH server knows to collect stdin until EOF before running it.
 */
export function commandReadsStdin(command: string): boolean {
  return parse(command).some(
    (item) => item.kind === 'list' && item.list.pipelines.some((pipeline) => pipeline.commands.some((cmd) => argvReadsStdin(literalWords(cmd) ?? []))),
  );
}

/** What a program is run with. `pid` is the process id of the shell that started it. */
export interface ProcessContext {
  pid: number;
  root: boolean;
  /** False for an operator login: sudo asks for a password, which `-n` (and a script) cannot give. */
  admin?: boolean;
  interactive: boolean;
  env: Record<string, string>;
  signal?: AbortSignal;
  /** What a pipe feeds the program (the output of the stage before it); undefined: nothing, an empty standard input. */
  input?: string;
}

export type Program = (args: string[], context: ProcessContext) => Promise<CommandResult>;

export interface ShellHost {
  /** Programs by name: both the absolute path and, for those on the PATH, the bare name. */
  programs: Map<string, Program>;
  allocatePid(): Promise<number>;
}

/** The standard input of one SSH exec: whoever reads it first gets all of it. */
class StdinSource {
  constructor(private text: string) {}

  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }
}

interface Outcome extends CommandResult {
  /** Set by `exit` and by fatal errors: the shell stops. */
  exit?: boolean;
}

/** 128 + SIGHUP: how a shell whose SSH channel went away ends. */
const ABORTED_STATUS = 129;

/** `$((…))`: integers, variables (bare names or `$NAME`), `+ - * / %`, unary minus and parentheses, as bash computes them. */
function arithmetic(expression: string, value: (name: string) => string): bigint | string {
  const tokens = expression.match(/\s*([0-9]+|[A-Za-z_][A-Za-z0-9_]*|[-+*/%()]|\S)/g)?.map((token) => token.trim()) ?? [];
  let at = 0;
  const operand = (): bigint => {
    const token = tokens[at++];
    if (token === '-') return -operand();
    if (token === '+') return operand();
    if (token === '(') {
      const inner = sum();
      if (tokens[at++] !== ')') throw new Error('missing `)\'');
      return inner;
    }
    if (token !== undefined && /^[0-9]+$/.test(token)) return BigInt(token);
    if (token !== undefined && NAME.test(token)) {
      const text = value(token).trim();
      if (text === '') return 0n;
      if (!/^-?[0-9]+$/.test(text)) throw new Error(`${text}: syntax error: operand expected`);
      return BigInt(text);
    }
    throw new Error(`syntax error: operand expected (error token is "${token ?? ''}")`);
  };
  const product = (): bigint => {
    let result = operand();
    while (tokens[at] === '*' || tokens[at] === '/' || tokens[at] === '%') {
      const op = tokens[at++];
      const right = operand();
      if (op !== '*' && right === 0n) throw new Error('division by 0');
      result = op === '*' ? result * right : op === '/' ? result / right : result % right;
    }
    return result;
  };
  const sum = (): bigint => {
    let result = product();
    while (tokens[at] === '+' || tokens[at] === '-') {
      const op = tokens[at++];
      const right = product();
      result = op === '+' ? result + right : result - right;
    }
    return result;
  };
  try {
    if (tokens.length === 0) return 0n;
    const result = sum();
    if (at < tokens.length) throw new Error(`syntax error in expression (error token is "${tokens.slice(at).join(' ')}")`);
    // bash's arithmetic is 64-bit: wrap as it does.
    return BigInt.asIntN(64, result);
  } catch (error) {
    return `${expression.trim()}: ${(error as Error).message}`;
  }
}

/** `[ … ]` / `test …`: the status (0 true, 1 false, 2 error) and any error text. */
function testExpression(args: string[]): { code: number; error?: string } | undefined {
  const integer = (text: string): bigint | undefined => (/^\s*-?[0-9]+\s*$/.test(text) ? BigInt(text.trim()) : undefined);
  const truth = (value: boolean): { code: number } => ({ code: value ? 0 : 1 });
  if (args.length === 0) return { code: 1 };
  if (args.length === 1) return truth((args[0] ?? '') !== '');
  const [a = '', op = '', b = ''] = args;
  if (args.length === 2) {
    if (a === '-n') return truth(op !== '');
    if (a === '-z') return truth(op === '');
    return undefined;
  }
  if (args.length !== 3) return undefined;
  if (op === '=' || op === '==') return truth(a === b);
  if (op === '!=') return truth(a !== b);
  const comparisons: Record<string, (x: bigint, y: bigint) => boolean> = {
    '-eq': (x, y) => x === y,
    '-ne': (x, y) => x !== y,
    '-gt': (x, y) => x > y,
    '-ge': (x, y) => x >= y,
    '-lt': (x, y) => x < y,
    '-le': (x, y) => x <= y,
  };
  const compare = Object.hasOwn(comparisons, op) ? comparisons[op] : undefined;
  if (compare === undefined) return undefined;
  const x = integer(a);
  const y = integer(b);
  if (x === undefined || y === undefined) return { code: 2, error: `${x === undefined ? a : b}: integer expression expected` };
  return truth(compare(x, y));
}

/** One running shell process. */
class Shell {
  private readonly vars = new Map<string, string>();
  private readonly exported = new Set<string>();
  /** `$1`…: set by `set --`. */
  private positional: string[] = [];
  private stdout: string[] = [];
  private stderr: string[] = [];
  private status = 0;
  /** The status of the last command substitution of the command being expanded (an assignment's own status). */
  private substituted: number | undefined;
  /** `trap ACTION SIGNAL...`: what to run on HUP (the SSH channel went away), TERM, PIPE or EXIT. */
  private readonly traps = new Map<string, string>();
  /** True while a trap runs: the abort that started it must not stop it. */
  private trapping = false;

  constructor(
    private readonly host: ShellHost,
    private readonly context: ProcessContext,
    private readonly stdin: StdinSource,
  ) {
    for (const [name, value] of Object.entries(context.env)) {
      this.vars.set(name, value);
      this.exported.add(name);
    }
  }

  async run(script: string): Promise<CommandResult> {
    await this.runItems(parse(script));
    if (this.status === ABORTED_STATUS) {
      await this.runTrap('HUP');
    }
    await this.runTrap('EXIT');
    return this.finish(this.status);
  }

  /** Runs items in this shell; true when it must stop (exit, a syntax error, an abort). */
  private async runItems(items: ScriptItem[]): Promise<boolean> {
    for (const item of items) {
      if (this.aborted()) {
        this.status = ABORTED_STATUS;
        return true;
      }
      if (item.kind === 'error') {
        this.stderr.push(`vbash: line ${item.line}: ${item.message}\n`);
        this.status = 2;
        return true;
      }
      if (await this.runList(item.list)) return true;
    }
    return false;
  }

  /** A subshell: a copy of this shell's variables, its own output, its own exit. */
  private async fork(items: ScriptItem[]): Promise<CommandResult> {
    const pid = await this.host.allocatePid();
    const env: Record<string, string> = {};
    for (const variable of this.exported) env[variable] = this.vars.get(variable) ?? '';
    const child = new Shell(this.host, { ...this.context, pid, env, input: undefined }, this.stdin);
    for (const [name, value] of this.vars) child.vars.set(name, value);
    child.positional = [...this.positional];
    child.status = this.status;
    await child.runItems(items);
    return child.finish(child.status);
  }

  private aborted(): boolean {
    return this.context.signal?.aborted === true && !this.trapping;
  }

  /**
   * Runs a trap's action once, as bash does when the signal arrives between commands (a running command such as
   * a commit finishes first). Like bash after a HUP trap that does not exit, the shell then ends.
   */
  private async runTrap(signal: string): Promise<void> {
    const action = this.traps.get(signal);
    if (action === undefined) return;
    this.traps.delete(signal);
    const status = this.status;
    this.trapping = true;
    for (const item of parse(action)) {
      if (item.kind === 'error' || (await this.runList(item.list))) break;
    }
    this.trapping = false;
    if (signal === 'HUP' && this.status === 0) this.status = status;
  }

  private finish(code: number): CommandResult {
    return { stdout: this.stdout.join(''), stderr: this.stderr.join(''), code };
  }

  /** Runs an and-or list; true when the shell must stop. */
  private async runList(list: AndOrList): Promise<boolean> {
    for (const [index, pipeline] of list.pipelines.entries()) {
      const operator = list.operators[index - 1];
      if ((operator === '&&' && this.status !== 0) || (operator === '||' && this.status === 0)) continue;
      if (this.aborted()) {
        this.status = ABORTED_STATUS;
        return true;
      }
      if (await this.runPipeline(pipeline)) return true;
    }
    return false;
  }

  /** Each stage reads what the one before printed; the pipeline's status is the last stage's. */
  private async runPipeline(pipeline: Pipeline): Promise<boolean> {
    let input: string | undefined;
    const last = pipeline.commands.length - 1;
    for (const [index, command] of pipeline.commands.entries()) {
      if (index > 0 && command.kind !== 'simple') {
        this.stderr.push(`vbash: line ${command.line}: simulator does not support a compound command reading a pipe\n`);
        this.status = 2;
        return true;
      }
      const outcome = await this.runCommand(command, input);
      if (index === last) {
        this.route(outcome, command.redirects);
        this.status = outcome.code;
        if (outcome.exit === true) return true;
      } else {
        // A stage's standard output feeds the next stage (unless redirected); its errors go where the shell's go.
        const piped: string[] = [];
        this.route(outcome, command.redirects, piped);
        input = piped.join('');
      }
    }
    return false;
  }

  private async runCommand(command: Command, input: string | undefined): Promise<Outcome> {
    if (command.kind === 'simple') return this.runSimple(command, input);
    if (command.kind === 'subshell') {
      const result = await this.fork(command.body);
      return result;
    }
    return this.capture(async () => {
      for (const branch of command.branches) {
        if (await this.runItems(branch.condition)) return true;
        if (this.status === 0) return this.runItems(branch.body);
      }
      if (command.otherwise !== undefined) return this.runItems(command.otherwise);
      this.status = 0;
      return false;
    });
  }

  /** Runs `fn` in this shell with its output collected apart, as the outcome of one command. */
  private async capture(fn: () => Promise<boolean>): Promise<Outcome> {
    const [stdout, stderr] = [this.stdout, this.stderr];
    this.stdout = [];
    this.stderr = [];
    try {
      const stop = await fn();
      return { ...this.finish(this.status), exit: stop };
    } finally {
      this.stdout = stdout;
      this.stderr = stderr;
    }
  }

  /** Sends a command's output where its redirections say; `pipe` takes its standard output instead of the shell's. */
  private route(outcome: CommandResult, redirects: Redirect[], pipe?: string[]): void {
    const fds: Record<1 | 2, Target | 'pipe'> = { 1: pipe === undefined ? 'stdout' : 'pipe', 2: 'stderr' };
    for (const redirect of redirects) {
      const to = typeof redirect.to === 'number' ? fds[redirect.to] : redirect.to;
      for (const fd of redirect.fds) fds[fd] = to;
    }
    const sinks = { stdout: this.stdout, stderr: this.stderr, null: [] as string[], pipe: pipe ?? [] };
    sinks[fds[1]].push(outcome.stdout);
    sinks[fds[2]].push(outcome.stderr);
  }

  private param(name: string): string {
    if (name === '?') return String(this.status);
    if (/^[1-9]$/.test(name)) return this.positional[Number(name) - 1] ?? '';
    return this.vars.get(name) ?? '';
  }

  /** The value of one expanded part, or an error message (a failed `$((…))`). */
  private async partValue(part: Part): Promise<string | { error: string }> {
    switch (part.kind) {
      case 'text':
        return part.text;
      case 'param': {
        const value = this.param(part.name);
        return value === '' && part.fallback !== undefined ? part.fallback : value;
      }
      case 'arith': {
        const expanded = part.expression.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*|[1-9?])\}?/g, (_, name: string) => this.param(name));
        const result = arithmetic(expanded, (name) => this.param(name));
        return typeof result === 'string' ? { error: result } : String(result);
      }
      case 'command': {
        const result = await this.fork(part.items);
        this.stderr.push(result.stderr);
        this.substituted = result.code;
        return result.stdout.replace(/\n+$/, '');
      }
    }
  }

  private async expand(word: Word): Promise<string[] | { error: string }> {
    const fields: string[] = [];
    let current: string | null = null;
    for (const part of word) {
      const value = await this.partValue(part);
      if (typeof value !== 'string') return value;
      if (part.kind === 'text' || part.quoted) {
        current = (current ?? '') + value;
        continue;
      }
      value.split(/[ \t\n]+/).forEach((piece, index) => {
        if (index > 0 && current !== null) {
          fields.push(current);
          current = null;
        }
        if (piece !== '') current = (current ?? '') + piece;
      });
    }
    if (current !== null) fields.push(current);
    return fields;
  }

  private async runSimple(command: SimpleCommand, input: string | undefined): Promise<Outcome> {
    const expansionFailed = (error: string): Outcome => ({ stdout: '', stderr: `vbash: ${error}\n`, code: 1 });
    const assignments = new Map<string, string>();
    this.substituted = undefined;
    let first = 0;
    for (const word of command.words) {
      const head = word[0];
      const match = head?.kind === 'text' && !head.quoted ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(head.text) : null;
      if (match?.[1] === undefined || head?.kind !== 'text') break;
      const rest: Word = [{ ...head, text: head.text.slice(match[0].length) }, ...word.slice(1)];
      const value = await this.expand(rest.map((part) => ({ ...part, quoted: true })));
      if (!Array.isArray(value)) return expansionFailed(value.error);
      assignments.set(match[1], value.join(''));
      first++;
    }
    const argv: string[] = [];
    for (const word of command.words.slice(first)) {
      const fields = await this.expand(word);
      if (!Array.isArray(fields)) return expansionFailed(fields.error);
      argv.push(...fields);
    }
    if (argv.length === 0) {
      for (const [name, value] of assignments) this.vars.set(name, value);
      // An assignment's status is that of its last command substitution, else 0.
      return { stdout: '', stderr: '', code: this.substituted ?? 0 };
    }
    const [name = ''] = argv;
    if (UNSUPPORTED.has(name)) {
      return { stdout: '', stderr: `vbash: line ${command.line}: simulator does not support \`${name}'\n`, code: 2, exit: true };
    }
    if (name === 'exit') {
      const code = argv[1] === undefined ? this.status : Number(argv[1]);
      if (!Number.isInteger(code)) return { stdout: '', stderr: `vbash: exit: ${argv[1]}: numeric argument required\n`, code: 2, exit: true };
      return { stdout: '', stderr: '', code: code & 255, exit: true };
    }
    if (name === 'set') {
      if (argv[1] !== '--') return { stdout: '', stderr: `vbash: line ${command.line}: simulator supports only \`set -- ARGS'\n`, code: 2, exit: true };
      this.positional = argv.slice(2);
      return { stdout: '', stderr: '', code: 0 };
    }
    if (name === '[' || name === 'test') {
      if (name === '[' && argv[argv.length - 1] !== ']') return { stdout: '', stderr: "vbash: [: missing `]'\n", code: 2 };
      const result = testExpression(argv.slice(1, name === '[' ? -1 : undefined));
      if (result === undefined) return { stdout: '', stderr: `vbash: line ${command.line}: simulator does not support the test \`${argv.join(' ')}'\n`, code: 2, exit: true };
      return { stdout: '', stderr: result.error === undefined ? '' : `vbash: ${name}: ${result.error}\n`, code: result.code };
    }
    if (name === 'trap') {
      const [action, ...signals] = argv.slice(1);
      if (action === undefined || signals.length === 0) return { stdout: '', stderr: 'vbash: trap: usage: trap ACTION SIGNAL...\n', code: 2 };
      for (const signal of signals.map((sig) => sig.replace(/^SIG/, '').replace(/^0$/, 'EXIT'))) {
        if (action === '-') this.traps.delete(signal);
        else this.traps.set(signal, action);
      }
      return { stdout: '', stderr: '', code: 0 };
    }
    if (name === 'export') {
      for (const arg of argv.slice(1)) {
        const [variable = '', ...value] = arg.split('=');
        if (value.length > 0) this.vars.set(variable, value.join('='));
        this.exported.add(variable);
      }
      return { stdout: '', stderr: '', code: 0 };
    }
    const env: Record<string, string> = {};
    for (const variable of this.exported) env[variable] = this.vars.get(variable) ?? '';
    return this.execute(argv, { ...this.context, env: { ...env, ...Object.fromEntries(assignments) }, input }, 'vbash');
  }

  /** Runs a command the way exec(2) would (also what sudo does): no shell syntax, no builtins but echo/true/false. */
  private async execute(argv: string[], context: ProcessContext, caller: 'vbash' | 'sudo'): Promise<CommandResult> {
    const [name = '', ...args] = argv;
    const failure = (stderr: string, code: number): CommandResult => ({ stdout: '', stderr, code });
    if (name === 'echo') {
      const newline = args[0] !== '-n';
      return { stdout: `${(newline ? args : args.slice(1)).join(' ')}${newline ? '\n' : ''}`, stderr: '', code: 0 };
    }
    if (name === 'true' || name === 'false') return { stdout: '', stderr: '', code: name === 'true' ? 0 : 1 };
    if (name === 'sudo' || name === '/usr/bin/sudo') {
      const command = sudoCommand(args);
      if (command === undefined || command.length === 0) return failure('usage: sudo [-n] command\n', 1);
      if (context.admin === false) return failure('sudo: a password is required\n', 1);
      return this.execute(command, { ...context, root: true }, 'sudo');
    }
    if (name === 'sg' || name === '/usr/bin/sg') {
      const command = sgCommand(args);
      if (command === undefined) return failure('Usage: sg group [[-c] command]\n', 1);
      if (args[0] !== 'vyattacfg' && args[0] !== 'users') return failure(`sg: group '${args[0]}' does not exist\n`, 1);
      return this.spawnShell(command, context);
    }
    if (SHELLS.has(name)) {
      const invocation = parseShellArgs(args);
      if (typeof invocation === 'string') return failure(`${name}: ${invocation}\n`, invocation.startsWith('-c') ? 2 : 127);
      const script = invocation.script ?? this.stdin.take();
      return this.spawnShell(script, { ...context, interactive: invocation.interactive });
    }
    const program = this.host.programs.get(name);
    if (program !== undefined) return program(args, context);
    if (caller === 'sudo') return failure(`sudo: ${name}: command not found\n`, 1);
    return failure(name.includes('/') ? `vbash: ${name}: No such file or directory\n` : `vbash: ${name}: command not found\n`, 127);
  }

  private async spawnShell(script: string, context: ProcessContext): Promise<CommandResult> {
    const pid = await this.host.allocatePid();
    return new Shell(this.host, { ...context, pid, input: undefined }, this.stdin).run(script);
  }
}

/**
 * Runs `command` the way sshd runs an exec request: as `vbash -c COMMAND` in a new login shell whose standard input
 * is `stdin`.
 */
export async function runLoginShell(host: ShellHost, command: string, stdin: string, signal?: AbortSignal, admin = true): Promise<CommandResult> {
  const pid = await host.allocatePid();
  return new Shell(host, { pid, root: false, admin, interactive: false, env: {}, signal }, new StdinSource(stdin)).run(command);
}
