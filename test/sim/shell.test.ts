import { commandReadsStdin, runLoginShell, type Program, type ShellHost } from '../../tools/sim/edgeos/shell';

/** A shell host with one program, `args`, that prints its arguments (one per line) and the context it ran in. */
function host(): ShellHost {
  let pid = 100;
  const args: Program = (argv, context) =>
    Promise.resolve({ stdout: `${argv.map((arg) => `<${arg}>`).join('')} pid=${context.pid} root=${context.root} v=${context.env.V ?? '-'}\n`, stderr: 'err\n', code: argv.length });
  return { programs: new Map([['args', args]]), allocatePid: () => Promise.resolve(pid++) };
}

const run = (script: string, stdin = '') => runLoginShell(host(), script, stdin);

describe('shell', () => {
  it('quotes, escapes and expands like bash', async () => {
    const result = await run(`args 'a  b' "c \\"d\\" $?" e\\ f g'h'"i" ''`);
    expect(result.stdout).toBe('<a  b><c "d" 0><e f><ghi><> pid=100 root=false v=-\n');
    expect(result.code).toBe(5);
  });

  it('chains with && and || and reports the last status', async () => {
    expect((await run('false && echo no || echo yes')).stdout).toBe('yes\n');
    expect((await run('true && echo a && false || echo b; echo "status $?"')).stdout).toBe('a\nb\nstatus 0\n');
    expect((await run('false\n')).code).toBe(1);
  });

  it('runs lines, skips comments and stops at exit', async () => {
    const result = await run('# a comment\necho one # trailing\n\necho two;exit 3\necho never');
    expect(result).toEqual({ stdout: 'one\ntwo\n', stderr: '', code: 3 });
  });

  it('assigns, splits and exports variables', async () => {
    const result = await run('X="a b"\nargs $X "$X"\nV=1 args\nargs\nexport V=2\nsg vyattacfg -c args');
    expect(result.stdout).toBe('<a><b><a b> pid=100 root=false v=-\n pid=100 root=false v=1\n pid=100 root=false v=-\n pid=101 root=false v=2\n');
  });

  it('runs nested shells: sudo, sg -c and vbash -s reading the script from stdin', async () => {
    const result = await run("sudo sg vyattacfg -c '/bin/vbash -s'", 'args x\nexit 4\n');
    expect(result).toEqual({ stdout: '<x> pid=102 root=true v=-\n', stderr: 'err\n', code: 4 });
    expect((await run("/bin/vbash -c 'exit 7'; echo $?")).stdout).toBe('7\n');
  });

  it('redirects to /dev/null and between stdout and stderr', async () => {
    expect(await run('args >/dev/null')).toEqual({ stdout: '', stderr: 'err\n', code: 0 });
    expect(await run('args 2>&1')).toEqual({ stdout: ' pid=100 root=false v=-\nerr\n', stderr: '', code: 0 });
    expect(await run('args &>/dev/null')).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(await run('echo oops >&2')).toEqual({ stdout: '', stderr: 'oops\n', code: 0 });
  });

  it('fails loudly on what it does not support, running nothing of that line', async () => {
    expect(await run('echo before\necho a; echo b & echo c')).toEqual({ stdout: 'before\n', stderr: "vbash: line 2: simulator does not support `&'\n", code: 2 });
    expect((await run('for i in 1 2; do echo $i; done')).code).toBe(2);
    expect((await run('{ echo x; }')).code).toBe(2);
    expect((await run('echo `date`')).stderr).toContain('simulator does not support');
    expect((await run('echo $(echo `date`)')).stderr).toContain('simulator does not support');
    expect((await run('set -e')).stderr).toContain('simulator supports only `set -- ARGS');
    expect((await run('[ -f /etc/passwd ]')).stderr).toContain('simulator does not support the test');
    expect((await run('echo a | (cat)')).stderr).toContain('does not support a compound command reading a pipe');
    expect((await run('echo "unterminated')).stderr).toContain('unexpected EOF');
    expect(await run('nosuch x')).toEqual({ stdout: '', stderr: 'vbash: nosuch: command not found\n', code: 127 });
    expect((await run('sudo nosuch')).stderr).toBe('sudo: nosuch: command not found\n');
  });

  it('stops between commands when aborted', async () => {
    const abort = new AbortController();
    const slow: Program = () => {
      abort.abort();
      return Promise.resolve({ stdout: 'first\n', stderr: '', code: 0 });
    };
    const result = await runLoginShell({ ...host(), programs: new Map([['slow', slow]]) }, 'slow\necho second', '', abort.signal);
    expect(result.stdout).toBe('first\n');
  });

  it('knows which exec commands read a script from stdin', () => {
    expect(commandReadsStdin('/bin/vbash -s')).toBe(true);
    expect(commandReadsStdin("sg vyattacfg -c '/bin/vbash -s'")).toBe(true);
    expect(commandReadsStdin('sudo vbash')).toBe(true);
    expect(commandReadsStdin("/bin/vbash -c 'echo hi'")).toBe(false);
    expect(commandReadsStdin('/opt/vyatta/bin/vyatta-op-cmd-wrapper show configuration commands')).toBe(false);
  });

  it('runs a HUP trap when its channel goes away, like bash does after the running command finishes', async () => {
    const controller = new AbortController();
    const slow: Program = () => new Promise((done) => setTimeout(() => done({ stdout: 'slow done\n', stderr: '', code: 0 }), 50));
    const base = host();
    base.programs.set('slow', slow);
    const pending = runLoginShell(base, "trap 'echo cleaned >/dev/null; args trapped; exit 129' HUP\nslow\necho never", '', controller.signal);
    setTimeout(() => controller.abort(), 10);
    const result = await pending;
    expect(result.stdout).toContain('slow done');
    expect(result.stdout).toContain('<trapped>');
    expect(result.stdout).not.toContain('never');
    expect(result.code).toBe(129);
  });

  it('ends a redirection target at ; and && like bash', async () => {
    expect((await run('echo a >/dev/null; echo b 2>/dev/null&& echo c')).stdout).toBe('b\nc\n');
  });

  it('runs an EXIT trap at the end, and none after trap -', async () => {
    expect((await run("trap 'echo bye' EXIT\necho hi")).stdout).toBe('hi\nbye\n');
    expect((await run("trap 'echo bye' EXIT\ntrap - EXIT\necho hi")).stdout).toBe('hi\n');
  });

  describe('the constructs the log and connection reads use', () => {
    /** `up` upper-cases its standard input; `count` prints how many bytes it read; `fail` prints to both and exits 3. */
    function pipeHost(): ShellHost {
      const base = host();
      base.programs.set('up', (_args, context) => Promise.resolve({ stdout: (context.input ?? '').toUpperCase(), stderr: '', code: 0 }));
      base.programs.set('count', (_args, context) => Promise.resolve({ stdout: `${(context.input ?? '').length}\n`, stderr: '', code: 0 }));
      base.programs.set('fail', () => Promise.resolve({ stdout: 'partial\n', stderr: 'broken\n', code: 3 }));
      return base;
    }
    const runPipes = (script: string) => runLoginShell(pipeHost(), script, '');

    it('pipes each stage into the next, with the last stage deciding the status', async () => {
      expect(await runPipes('echo abc | up | count')).toEqual({ stdout: '4\n', stderr: '', code: 0 });
      expect(await runPipes('fail | up')).toEqual({ stdout: 'PARTIAL\n', stderr: 'broken\n', code: 0 });
      expect(await runPipes('fail 2>/dev/null | up; echo $?')).toEqual({ stdout: 'PARTIAL\n0\n', stderr: '', code: 0 });
      expect(await runPipes('echo x | fail')).toEqual({ stdout: 'partial\n', stderr: 'broken\n', code: 3 });
      expect((await runPipes('echo abc >/dev/null | count')).stdout).toBe('0\n');
      expect((await runPipes('sudo up <&0')).code).toBe(2);
    });

    it('runs subshells with a copy of the variables, and their exit ends only them', async () => {
      expect((await runPipes('X=1; (X=2; echo in $X; exit 4); echo out $X $?')).stdout).toBe('in 2\nout 1 4\n');
      expect((await runPipes('(fail || echo instead) | up')).stdout).toBe('PARTIAL\nINSTEAD\n');
      expect((await runPipes('( echo a\n  echo b ) >/dev/null; echo c')).stdout).toBe('c\n');
    });

    it('substitutes commands and arithmetic, splitting unquoted results', async () => {
      expect((await runPipes('set -- $(echo 12 34); echo "$2 $1" ${3:-none} "${1:-0}"')).stdout).toBe('34 12 none 12\n');
      expect((await runPipes('o=5; s=100; echo $((s - o)) "$(( (s + 1) * 2 / 3 ))" $((-o + $s % 7))')).stdout).toBe('95 67 -3\n');
      expect((await runPipes('x=$(fail 2>/dev/null); echo "[$x] $?"')).stdout).toBe('[partial] 3\n');
      expect((await runPipes('echo "$(echo "a  b")"')).stdout).toBe('a  b\n');
      const bad = await runPipes('s=abc; echo $((s + 1)); echo after');
      expect(bad.stdout).toBe('after\n');
      expect(bad.stderr).toContain('operand expected');
    });

    it('branches with if, elif and else on [ ] tests, over several lines', async () => {
      const script = (value: string): string => `v=${value}\nif [ "$v" -gt 10 ]; then echo big\n  echo really\nelif [ "$v" = 5 ] && [ -n "$v" ]; then echo five; else echo small; fi\necho done`;
      expect((await runPipes(script('11'))).stdout).toBe('big\nreally\ndone\n');
      expect((await runPipes(script('5'))).stdout).toBe('five\ndone\n');
      expect((await runPipes(script('1'))).stdout).toBe('small\ndone\n');
      expect((await runPipes('if false; then echo no; fi; echo $?')).stdout).toBe('0\n');
      const wrong = await runPipes('[ abc -lt 3 ]; echo $?');
      expect(wrong.stdout).toBe('2\n');
      expect(wrong.stderr).toContain('integer expression expected');
      expect((await runPipes('if true; then echo x')).stderr).toContain('unexpected end of file');
      expect((await runPipes('echo ok\nfi')).stdout).toBe('ok\n');
      expect((await runPipes('echo ok\nfi')).code).toBe(2);
    });
  });
});
