/**
 * engines.node says what CI tests: one `^floor` range per Node major CI runs, 20 for `npm test` and the majors
 * .ci/other-nodes.sh runs the unit and e2e tiers under, with that script's versions as their floors; and the README
 * names those versions. Homebridge warns an owner whose Node the plugin's engines do not accept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
const otherNodes = /^VERSIONS=\(([^)]*)\)$/m.exec(readFileSync(join(ROOT, '.ci', 'other-nodes.sh'), 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];

const parse = (version: string): number[] => version.replace(/^v/, '').split('.').map(Number);
const ranges = engines.split('||').map((range) => range.trim());
const floors = ranges.map((range) => (/^\^\d+\.\d+\.\d+$/.test(range) ? parse(range.slice(1)) : []));
/** As npm reads `^A.B.C` for A > 0: the same major, and not older. */
const accepts = (version: string): boolean => {
  const [major = 0, minor = 0, patch = 0] = parse(version);
  return floors.some(([a = -1, b = 0, c = 0]) => major === a && (minor > b || (minor === b && patch >= c)));
};

it('is one ^major.minor.patch range per Node major CI runs: 20, and those of .ci/other-nodes.sh', () => {
  expect(otherNodes.length).toBeGreaterThan(0);
  expect(floors.every((floor) => floor.length === 3)).toBe(true);
  expect(floors.map(([major]) => major)).toEqual([20, ...otherNodes.map((version) => parse(version)[0])]);
});

it('starts each of the other majors at the version .ci/other-nodes.sh runs, and accepts the Node running this test', () => {
  expect(ranges.slice(1)).toEqual(otherNodes.map((version) => `^${version}`));
  expect(accepts(process.version)).toBe(true);
});

it('is what the README says CI runs', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  for (const version of otherNodes) {
    expect(readme).toContain(version);
  }
});
