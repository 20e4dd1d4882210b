/**
 * The known-hosts file is shared by every Camera Guard platform of a Homebridge, and platforms on child bridges of
 * their own are separate processes: keys that several of them remember at the same moment are all kept.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

import { fingerprint, KnownHosts } from '../../src/router/hostKeys';
import { KNOWN_HOSTS_FILE, KNOWN_HOSTS_LOCK_STALE_MS } from '../../src/settings';
import { scratchDirectory } from '../helpers/scratchDirectory';

const ROOT = join(__dirname, '..', '..');

jest.setTimeout(60_000);

/** Runs a process that remembers `count` keys named `<name>-<i>` in `file`, one after another, with the built plugin code. */
function rememberInAnotherProcess(file: string, name: string, count: number): Promise<number | null> {
  const script = `
    const { KnownHosts } = require(${JSON.stringify(join(ROOT, 'dist', 'router', 'hostKeys.js'))});
    const { createHash } = require('node:crypto');
    const known = new KnownHosts(${JSON.stringify(file)});
    for (let i = 0; i < ${count}; i++) {
      const print = 'SHA256:' + createHash('sha256').update(${JSON.stringify(name)} + i).digest('base64').replace(/=+$/, '');
      known.remember(${JSON.stringify(name)} + '-' + i + ':22', print);
    }`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', resolve));
}

it('keeps every key that four processes remember at once in the one file, and leaves no lock or temporary file behind', async () => {
  if (!existsSync(join(ROOT, 'dist', 'router', 'hostKeys.js'))) throw new Error('dist/ is missing: run "npm run build" first (npm test does it).');
  const storage = scratchDirectory('cg-known-hosts-');
  const file = join(storage, KNOWN_HOSTS_FILE);
  const names = ['home', 'barn', 'shed', 'yard'];
  expect(await Promise.all(names.map((name) => rememberInAnotherProcess(file, name, 25)))).toEqual([0, 0, 0, 0]);

  const kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  expect(Object.keys(kept)).toHaveLength(100);
  for (const name of names) {
    for (let i = 0; i < 25; i++) {
      expect(kept[`${name}-${i}:22`]).toBe(fingerprint(Buffer.from(`${name}${i}`)));
    }
  }
  expect(readdirSync(storage)).toEqual([KNOWN_HOSTS_FILE]);
});

it('takes over a lock left behind by a process that died holding it, and remembers the key', () => {
  const storage = scratchDirectory('cg-known-hosts-');
  const file = join(storage, KNOWN_HOSTS_FILE);
  closeSync(openSync(`${file}.lock`, 'wx'));
  const long = (Date.now() - KNOWN_HOSTS_LOCK_STALE_MS - 60_000) / 1000;
  utimesSync(`${file}.lock`, long, long);
  new KnownHosts(file).remember('192.0.2.1:22', fingerprint(Buffer.from('router')));
  expect(new KnownHosts(file).get('192.0.2.1:22')).toBe(fingerprint(Buffer.from('router')));
  expect(readdirSync(storage)).toEqual([KNOWN_HOSTS_FILE]);
});
