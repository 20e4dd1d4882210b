/**
 * The import boundaries in eslint.config.mjs hold: src/ never imports the tools or the tests, and inside the plugin
 * data flows one way, router → guard → homekit. Each case is an import linted as if it were a file at that path,
 * with the project's own ESLint configuration; nothing is written to disk. ESLint runs in a child Node process
 * because its configuration is an ES module, which Jest's CommonJS sandbox cannot load.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..');

const PACKAGE = 'src/ is what the package ships';
const ROUTER = 'The router driver knows nothing of the guard logic or HomeKit';
const GUARD = 'The guard logic knows nothing of HomeKit';
const TOOLS = 'tools/ may not import test/';
const FAMILY = 'see routers only through RouterDriver';

interface Case {
  readonly file: string;
  readonly source: string;
}

/**
 * The messages of the no-restricted-imports rule for each case, in order. Type-aware rules are switched off (they
 * need the file on disk, and have nothing to do with imports); every other rule and every `files` block apply.
 */
function restrictedImportMessages(cases: readonly Case[]): string[][] {
  const script = `
    import { ESLint } from 'eslint';
    import tseslint from 'typescript-eslint';
    const cases = JSON.parse(process.argv[1]);
    const eslint = new ESLint({ cwd: process.cwd(), overrideConfig: tseslint.configs.disableTypeChecked });
    const results = [];
    for (const { file, source } of cases) {
      const [result] = await eslint.lintText(source, { filePath: file });
      results.push(result.messages.filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message));
    }
    process.stdout.write(JSON.stringify(results));
  `;
  const input = JSON.stringify(cases.map(({ file, source }) => ({ file: join(ROOT, file), source })));
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, input], { cwd: ROOT, encoding: 'utf8' })) as string[][];
}

const refused: Array<[string, string, string]> = [
  ['src/router/probe.ts', "export * from '../guard/routerGuard';", ROUTER],
  ['src/router/edgeos/probe.ts', "import type { CameraAccessory } from '../../homekit/cameraAccessory';\nexport type Probe = CameraAccessory;", ROUTER],
  ['src/guard/probe.ts', "export * from '../homekit/platform';", GUARD],
  ['src/probe.ts', "export * from '../tools/sim/demo';", PACKAGE],
  ['src/homekit/probe.ts', "export * from '../../test/helpers/simRouter';", PACKAGE],
  // The layer blocks keep the package boundary too (a later block replaces a rule's options, it does not add to them).
  ['src/router/probe.ts', "export * from '../../tools/paths';", PACKAGE],
  ['src/guard/probe.ts', "export * from '../../test/helpers/simRouter';", PACKAGE],
  ['tools/lab/probe.ts', "export * from '../../test/helpers/simRouter';", TOOLS],
  ['src/guard/probe.ts', "export * from '../router/edgeos/edgeosRouter';", FAMILY],
  ['src/homekit/probe.ts', "export * from '../router/edgeos/planner';", FAMILY],
];

const allowed: Array<[string, string]> = [
  ['src/homekit/probe.ts', "export * from '../guard/routerGuard';\nexport * from '../router/driver';\nexport * from '../router/drivers';\nexport * from '../config';"],
  ['src/guard/probe.ts', "export * from '../router/driver';\nexport * from '../config';\nexport * from '../log';\nexport * from '../settings';"],
  ['src/router/edgeos/probe.ts', "export * from '../driver';\nexport * from '../../config';\nexport * from '../../log';"],
  ['src/probe.ts', "export * from './homekit/platform';"],
  ['tools/sim/probe.ts', "export * from '../../src/router/edgeos/reservedNames';"],
  ['test/probe.test.ts', "export * from '../tools/paths';\nexport * from '../src/guard/routerGuard';"],
];

/** The modules a case imports, for the test's name. */
const imported = (source: string): string => [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]).join(', ');

describe('import boundaries', () => {
  let refusedMessages: string[][];
  let allowedMessages: string[][];

  beforeAll(() => {
    const messages = restrictedImportMessages([...refused, ...allowed].map(([file, source]) => ({ file, source })));
    refusedMessages = messages.slice(0, refused.length);
    allowedMessages = messages.slice(refused.length);
  });

  it.each(refused.map(([file, source, reason], index) => [file, imported(source), reason, index] as const))('%s may not import %s', (_file, _imported, reason, index) => {
    expect(refusedMessages[index]).toHaveLength(1);
    expect(refusedMessages[index]![0]).toContain(reason);
  });

  it.each(allowed.map(([file, source], index) => [file, imported(source), index] as const))('%s may import %s', (_file, _imported, index) => {
    expect(allowedMessages[index]).toEqual([]);
  });
});
