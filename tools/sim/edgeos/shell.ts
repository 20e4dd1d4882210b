/**
 * A tiny vbash: just the shell language a router driver needs, interpreted exactly as bash would, and a loud
 * failure (exit 2, "simulator does not support …") for anything outside it, so that a script which works here also
 * works on a real EdgeRouter. Supported: lines, `;`, `#` comments, '…' and "…" quoting, backslash escapes and line
 * continuations, `$?`/`$NAME`/`${NAME}` expansion with word splitting, `NAME=value` and `export`, `&&`/`||` chains,
 * redirections to /dev/null and between stdout and stderr, the builtins echo/true/false/exit/export, and the
 * programs sudo, sg and vbash/bash/sh, which run nested commands and shells.
 */
import type { CommandResult } from './types';

type Part = { kind: 'text'; text: string; quoted: boolean } | { kind: 'param'; name: string; quoted: boolean };
type Word = Part[];
type Target = 'stdout' | 'stderr' | 'null';
interface Redirect {
  fds: (1 | 2)[];
  to: Target | 1 | 2;
}
type Token =
  | { type: 'word'; word: Word; line: number }
  | { type: 'op'; op: '&&' | '||' | ';' | '\n'; line: number }
  | { type: 'redirect'; redirect: Redirect; line: number }
  | { type: 'error'; message: string; line: number };

interface SimpleCommand {
  words: Word[];
  redirects: Redirect[];
  line: number;
}
/** `a && b || c`: commands joined by operators. */
interface AndOrList {
  commands: SimpleCommand[];
  operators: ('&&' | '||')[];
}
type ScriptItem = { kind: 'list'; list: AndOrList } | { kind: 'error'; message: string; line: number };

const META = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (message: string): Token[] => [...tokens, { type: 'error', message, line }];

  /** Reads `$…` at `i` (which points after the `$`). */
  const readParam = (quoted: boolean): Part | string => {
    const next = script[i] ?? '';
    if (next === '?') {
      i++;
      return { kind: 'param', name: '?', quoted };
    }
    if (next === '{') {
      const end = script.indexOf('}', i);
      const name = end < 0 ? '' : script.slice(i + 1, end);
      if (!NAME.test(name) && name !== '?') return 'unsupported parameter expansion `${…}\'';
      i = end + 1;
      return { kind: 'param', name, quoted };
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(script.slice(i))?.[0];
    if (name !== undefined) {
      i += name.length;
      return { kind: 'param', name, quoted };
    }
    if (/[0-9#@*!$(-]/.test(next) && next !== '') return `unsupported expansion \`$${next}'`;
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
    } else if (/^(&>|[12]?>)/.test(script.slice(i))) {
      const match = /^(&>|([12]?)>>?)(&([12]))?[ \t]*/.exec(script.slice(i));
      if (match === null) return fail('bad redirection');
      i += match[0].length;
      const fds: (1 | 2)[] = match[1] === '&>' ? [1, 2] : [match[2] === '2' ? 2 : 1];
      if (match[4] !== undefined) {
        tokens.push({ type: 'redirect', redirect: { fds, to: match[4] === '2' ? 2 : 1 }, line });
      } else {
        // A redirection target ends where the word ends, as in bash: before blanks and operators.
        const target = /^[^\s;&|]+/.exec(script.slice(i))?.[0] ?? '';
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

/** Groups tokens into and-or lists; a syntax error becomes the last item (bash runs everything before it). */
function parse(script: string): ScriptItem[] {
  const items: ScriptItem[] = [];
  let list: AndOrList = { commands: [], operators: [] };
  let command: SimpleCommand | undefined;
  let expectCommand = false;
  const finishList = (): void => {
    if (list.commands.length > 0) items.push({ kind: 'list', list });
    list = { commands: [], operators: [] };
  };
  const failAt = (message: string, line: number): ScriptItem[] => {
    // bash parses a whole line before running it: nothing on the line of a syntax error runs.
    const kept = items.filter((item) => item.kind === 'list' && (item.list.commands[item.list.commands.length - 1]?.line ?? 0) < line);
    return [...kept, { kind: 'error', message, line }];
  };
  let line = 1;
  for (const token of tokenize(script)) {
    line = token.line;
    if (token.type === 'error') return failAt(token.message, token.line);
    if (token.type === 'word' || token.type === 'redirect') {
      if (command === undefined) {
        command = { words: [], redirects: [], line: token.line };
        list.commands.push(command);
      }
      if (token.type === 'word') command.words.push(token.word);
      else command.redirects.push(token.redirect);
      expectCommand = false;
      continue;
    }
    const unexpected = command === undefined && (token.op === '&&' || token.op === '||' || (token.op === ';' && !expectCommand));
    if (token.op === '\n' && expectCommand) continue;
    if (unexpected || (token.op === ';' && expectCommand)) return failAt(`syntax error near unexpected token \`${token.op}'`, token.line);
    command = undefined;
    if (token.op === '&&' || token.op === '||') {
      list.operators.push(token.op);
      expectCommand = true;
    } else {
      finishList();
    }
  }
  if (expectCommand) return failAt('syntax error: unexpected end of file', line);
  finishList();
  return items;
}

/** The words of a command that has no expansions, or undefined (used to look at a command without running it). */
function literalWords(command: SimpleCommand): string[] | undefined {
  const words = command.words.map((word) => (word.every((part) => part.kind === 'text') ? word.map((part) => (part.kind === 'text' ? part.text : '')).join('') : undefined));
  const literal = words.filter((word): word is string => word !== undefined);
  return literal.length === words.length ? literal : undefined;
}

const SHELLS = new Set(['vbash', '/bin/vbash', 'bash', '/bin/bash', 'sh', '/bin/sh']);
const UNSUPPORTED = new Set(
  'if then else elif fi for while until do done case esac function select time [[ ]] { } ! set source . cd read eval exec local unset shift test [ printf declare typeset let alias return wait kill ulimit umask pushd popd'.split(' '),
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
    (item) => item.kind === 'list' && item.list.commands.some((cmd) => argvReadsStdin(literalWords(cmd) ?? [])),
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

/** One running shell process. */
class Shell {
  private readonly vars = new Map<string, string>();
  private readonly exported = new Set<string>();
  private readonly stdout: string[] = [];
  private readonly stderr: string[] = [];
  private status = 0;
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
    for (const item of parse(script)) {
      if (this.aborted()) {
        this.status = ABORTED_STATUS;
        break;
      }
      if (item.kind === 'error') {
        this.stderr.push(`vbash: line ${item.line}: ${item.message}\n`);
        this.status = 2;
        break;
      }
      if (await this.runList(item.list)) break;
    }
    if (this.status === ABORTED_STATUS) {
      await this.runTrap('HUP');
    }
    await this.runTrap('EXIT');
    return this.finish(this.status);
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
    for (const [index, command] of list.commands.entries()) {
      const operator = list.operators[index - 1];
      if ((operator === '&&' && this.status !== 0) || (operator === '||' && this.status === 0)) continue;
      if (this.aborted()) {
        this.status = ABORTED_STATUS;
        return true;
      }
      const outcome = await this.runSimple(command);
      this.route(outcome, command.redirects);
      this.status = outcome.code;
      if (outcome.exit === true) return true;
    }
    return false;
  }

  private route(outcome: CommandResult, redirects: Redirect[]): void {
    const fds: Record<1 | 2, Target> = { 1: 'stdout', 2: 'stderr' };
    for (const redirect of redirects) {
      const to = typeof redirect.to === 'number' ? fds[redirect.to] : redirect.to;
      for (const fd of redirect.fds) fds[fd] = to;
    }
    const sinks = { stdout: this.stdout, stderr: this.stderr, null: [] as string[] };
    sinks[fds[1]].push(outcome.stdout);
    sinks[fds[2]].push(outcome.stderr);
  }

  private expand(word: Word): string[] {
    const fields: string[] = [];
    let current: string | null = null;
    for (const part of word) {
      const value = part.kind === 'text' ? part.text : part.name === '?' ? String(this.status) : (this.vars.get(part.name) ?? '');
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

  private async runSimple(command: SimpleCommand): Promise<Outcome> {
    const assignments = new Map<string, string>();
    let first = 0;
    for (const word of command.words) {
      const head = word[0];
      const match = head?.kind === 'text' && !head.quoted ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(head.text) : null;
      if (match?.[1] === undefined || head?.kind !== 'text') break;
      const rest: Word = [{ ...head, text: head.text.slice(match[0].length) }, ...word.slice(1)];
      assignments.set(match[1], this.expand(rest.map((part) => ({ ...part, quoted: true }))).join(''));
      first++;
    }
    const argv = command.words.slice(first).flatMap((word) => this.expand(word));
    if (argv.length === 0) {
      for (const [name, value] of assignments) this.vars.set(name, value);
      return { stdout: '', stderr: '', code: 0 };
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
    return this.execute(argv, { ...this.context, env: { ...env, ...Object.fromEntries(assignments) } }, 'vbash');
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
    return new Shell(this.host, { ...context, pid }, this.stdin).run(script);
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
