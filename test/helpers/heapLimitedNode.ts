import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

export interface ChildOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** V8 gave up: the script kept more than the heap limit. */
  readonly outOfMemory: boolean;
}

/**
 * Runs `script` in a fresh Node process whose JavaScript heap is limited to `heapMB`, so that "memory stays
 * bounded" becomes a yes-or-no result that does not depend on timing or on what a Jest worker's heap already holds:
 * code that keeps more than the limit dies of "heap out of memory". The script can load the project's TypeScript
 * sources with `source('router/ssh')` (compiled on the fly by swc, as Jest does). Asynchronous, so that a server
 * in the test process keeps serving while the child runs.
 */
export function runWithHeapLimit(script: string, heapMB: number, timeoutMs: number): Promise<ChildOutcome> {
  const prelude = `
    const { readFileSync } = require('node:fs');
    const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core'))});
    require.extensions['.ts'] = (module, filename) => {
      const options = { filename, module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } };
      module._compile(transformSync(readFileSync(filename, 'utf8'), options).code, filename);
    };
    const source = (path) => require(${JSON.stringify(join(ROOT, 'src'))} + '/' + path + '.ts');
  `;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMB}`, '-e', `${prelude}\n(async () => {\n${script}\n})().catch((error) => { console.error(error); process.exit(3); });`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text.slice(0, 20_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, outOfMemory: /heap out of memory|Allocation failed/i.test(stderr) });
    });
  });
}
