/**
 * Where the tools find the project's files at run time. The tools run from two places: as TypeScript under tools/
 * (Jest compiles them on the fly) and compiled under build/tools/ (npm run demo, lab, soak; the lab's router login
 * and hosts inside the namespaces). Those are at different depths, so the project root is found by walking up to
 * the first directory with a package.json rather than by counting levels.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findProjectRoot(start: string): string {
  for (let directory = start; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'package.json'))) return directory;
    if (dirname(directory) === directory) throw new Error(`no package.json above ${start}: the tools must run inside the project`);
  }
}

/** The project: Homebridge is started with it as its plugin path, so it loads the built plugin from dist/. */
export const PROJECT_ROOT = findProjectRoot(__dirname);

/** The compiled tools (npm run build:tools), kept apart from dist/ so that dist/ holds the plugin only. */
export const COMPILED_TOOLS_DIR = join(PROJECT_ROOT, 'build', 'tools');
