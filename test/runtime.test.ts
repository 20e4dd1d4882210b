/**
 * The unit tier's check that it runs under the Node it was started with (.ci/other-nodes.sh runs it under Node 22
 * and 24 too), and that the native addons npm built for the dependencies load under that Node: ssh2 quietly falls
 * back to JavaScript crypto when its binding (or cpu-features) does not load, so an addon built for another Node's
 * ABI, as happens when node_modules installed under one Node is run by another, would otherwise go unnoticed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { transformSync } from '@swc/core';

import { EXPECTED_NODE, reportRuntime } from './helpers/runtime';

const MODULES = join(__dirname, '..', 'node_modules');
/** Built by ssh2's install script with node-gyp when a compiler is there; without one ssh2 runs without them. */
const SSH2_BINDING = join(MODULES, 'ssh2', 'lib', 'protocol', 'crypto', 'build', 'Release', 'sshcrypto.node');
const CPU_FEATURES = join(MODULES, 'cpu-features', 'build', 'Release', 'cpufeatures.node');

it('runs under the Node version it was started with', () => {
  reportRuntime('unit', `node ${process.version} (ABI ${process.versions.modules}) ${process.execPath}`);
  if (EXPECTED_NODE !== '') {
    expect(process.version).toBe(EXPECTED_NODE);
  }
});

it('loads the native addons npm built under this Node', () => {
  // swc compiles every test file, so it has loaded; one compile anyway, so that the check names it.
  expect(transformSync('const n: number = 1;', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }).code).toContain('const n = 1');

  // Loaded here, inside the test, as ssh2 loads them (its internals have no types).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  expect({ ssh2BindingLoads: crypto.bindingAvailable }).toEqual({ ssh2BindingLoads: existsSync(SSH2_BINDING) });
  if (existsSync(CPU_FEATURES)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cpuInfo = require('cpu-features') as () => { flags: Record<string, boolean> };
    expect(typeof cpuInfo().flags).toBe('object');
  }
  reportRuntime('unit', `native addons: ssh2 binding ${crypto.bindingAvailable ? 'loaded' : 'not built'}, cpu-features ${existsSync(CPU_FEATURES) ? 'loaded' : 'not built'}, @swc/core loaded`);
});
