/**
 * The package holds the plugin and nothing else: what `npm pack` would put in the tarball is package.json, the
 * README, the config schema, a licence file if there is one, the settings page (homebridge-ui/: its server shim and
 * its static page), and dist/, where every file is the build of a file in src/. The simulator, the lab and the tests (tools/, test/) never ship, and neither does a stray file in dist/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..');
const TOP_LEVEL_FILES = new Set(['package.json', 'README.md', 'config.schema.json', 'LICENSE', 'LICENSE.md', 'LICENSE.txt']);
/** Folders that hold tooling or tests, wherever they appear in a path. */
const TOOLING_FOLDERS = /(^|\/)(sim|lab|tools|test)\//;

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(directory, entry.name)) : entry.name.endsWith('.ts') ? [relative(join(ROOT, 'src'), join(directory, entry.name))] : [],
  );
}

/**
 * The files of the tarball. --ignore-scripts: prepack would rebuild dist/ under the other tests' feet; this test
 * checks the build that pretest made.
 */
function packedFiles(): string[] {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [pack] = JSON.parse(output) as Array<{ files: Array<{ path: string }> }>;
  return pack!.files.map((file) => file.path).sort();
}

describe('the npm package', () => {
  let files: string[];
  const expectedDist = sourceFiles(join(ROOT, 'src'))
    .map((source) => `dist/${source.replace(/\.ts$/, '.js')}`)
    .sort();

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
      throw new Error('dist/ is missing: run "npm run build" first (npm test does it).');
    }
    files = packedFiles();
  });

  it('holds only package.json, the README, the config schema, a licence, the settings page and dist/', () => {
    const page = (path: string): boolean => path === 'homebridge-ui/server.js' || path.startsWith('homebridge-ui/public/');
    expect(files.filter((path) => !TOP_LEVEL_FILES.has(path) && !path.startsWith('dist/') && !page(path))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'config.schema.json', 'homebridge-ui/server.js', 'homebridge-ui/public/index.html', 'homebridge-ui/public/page.js', 'homebridge-ui/public/page.css']));
  });

  it('holds no simulator, lab, tools or tests', () => {
    expect(files.filter((path) => TOOLING_FOLDERS.test(path))).toEqual([]);
  });

  it('holds in dist/ exactly the build of src/: every file comes from a src/*.ts, and every src/*.ts is there', () => {
    // A file in dist/ without a source is left over from an older build or was put there by hand; a missing one is
    // a stale build (run "npm run build", which empties dist/ first).
    const dist = files.filter((path) => path.startsWith('dist/'));
    expect(dist.filter((path) => !expectedDist.includes(path))).toEqual([]);
    expect(expectedDist.filter((path) => !dist.includes(path))).toEqual([]);
  });

  it('holds the settings page the Homebridge UI starts, whose server is the built plugin code', () => {
    expect(files).toContain('homebridge-ui/server.js');
    const shim = readFileSync(join(ROOT, 'homebridge-ui', 'server.js'), 'utf8');
    expect(shim).toContain("require('../dist/ui/server.js')");
    expect(files).toContain('dist/ui/server.js');
  });

  it('holds the entry point Homebridge loads', () => {
    const { main } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string };
    expect(files).toContain(main);
  });
});

/**
 * What an owner's `npm install homebridge-camera-guard` gets (Homebridge's UI runs just that): the tarball this
 * checkout packs, installed into an empty folder from npm's cache (the registry when the cache lacks a package), the
 * plugin's code then run from there. With its optional dependencies the network data set is there and found; with
 * `--omit=optional` (an owner short of disk) it is not, and the plugin says so rather than fail.
 */
describe('the installed package', () => {
  jest.setTimeout(300_000);
  let scratch: string;
  let tarball: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cg-install-'));
    const output = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [pack] = JSON.parse(output) as Array<{ filename: string }>;
    tarball = join(scratch, pack!.filename);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Installs the tarball into a new folder and reports what the installed plugin finds of its network data. */
  const installAndAsk = (folder: string, extra: string[]): { files: Record<string, string>; dated?: string; missing: string[] } => {
    const owner = join(scratch, folder);
    mkdirSync(owner);
    writeFileSync(join(owner, 'package.json'), JSON.stringify({ name: `owner-${folder}`, private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...extra, tarball], { cwd: owner, stdio: ['ignore', 'pipe', 'pipe'] });
    const script = "process.stdout.write(JSON.stringify(require('homebridge-camera-guard/dist/destinations/bundledNetworkData.js').bundledNetworkData()))";
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: owner, encoding: 'utf8' })) as { files: Record<string, string>; dated?: string; missing: string[] };
  };

  it('declares the network data packages as optional dependencies, at a range that takes their newer releases', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string>; dependencies?: Record<string, string> };
    expect(Object.keys(manifest.optionalDependencies ?? {}).sort()).toEqual(['@ip-location-db/asn', '@ip-location-db/asn-country']);
    for (const range of Object.values(manifest.optionalDependencies ?? {})) {
      expect(range).toMatch(/^\^\d+\.\d+\.\d+$/);
    }
  });

  it('brings the network data set with it, found from where npm put it', () => {
    const found = installAndAsk('with-data', []);
    expect(found.missing).toEqual([]);
    expect(found.dated).toMatch(/^20\d\d-\d\d-\d\d$/);
    expect(Object.keys(found.files).sort()).toEqual(['asnIpv4', 'asnIpv6', 'countryIpv4', 'countryIpv6']);
    for (const file of Object.values(found.files)) {
      expect(file.startsWith(join(scratch, 'with-data', 'node_modules', '@ip-location-db'))).toBe(true);
      expect(existsSync(file)).toBe(true);
    }
  });

  it('installs and runs without it when optional dependencies are left out, and knows what is missing', () => {
    const found = installAndAsk('without-data', ['--omit=optional']);
    expect(found).toEqual({ files: {}, missing: ['@ip-location-db/asn', '@ip-location-db/asn-country'] });
  });
});
