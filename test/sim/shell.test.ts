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
    expect(await run('echo before\necho a; echo b | cat')).toEqual({ stdout: 'before\n', stderr: "vbash: line 2: simulator does not support `|'\n", code: 2 });
    expect((await run('if true; then echo x; fi')).code).toBe(2);
    expect((await run('echo $(date)')).stderr).toContain('simulator does not support');
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
});
