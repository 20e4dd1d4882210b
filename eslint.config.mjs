// Lint rules that catch the mistakes this plugin cannot afford: a promise nobody awaits (an unhandled
// rejection crashes Homebridge), console output that bypasses the owner's log, and value imports of
// Homebridge (which is not a runtime dependency). And the boundaries that keep the layers apart (see below).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Import boundaries, matched against the import's text (every import in this project is relative). src/ is the
// package: it may not import the test tooling (tools/) or the tests. Inside the plugin data flows one way,
// router → guard → homekit: the router driver knows nothing of the guard logic or HomeKit, and the guard logic
// knows nothing of HomeKit. config.ts, log.ts and settings.ts are shared basics that every layer may import.
// A file matched by several blocks below gets the options of the last one only (flat config replaces a rule's
// options, it does not merge them), so each block lists every boundary that holds for its files.
const OUTSIDE_THE_PACKAGE = {
  regex: '(^|/)(tools|test)(/|$)',
  message: 'src/ is what the package ships: it may not import the test tooling (tools/) or the tests (test/).',
};
const GUARD_OR_HOMEKIT = {
  regex: '(^|/)(guard|homekit)(/|$)',
  message: 'The router driver knows nothing of the guard logic or HomeKit (layers: router → guard → homekit).',
};
const HOMEKIT = {
  regex: '(^|/)homekit(/|$)',
  message: 'The guard logic knows nothing of HomeKit (layers: router → guard → homekit).',
};
const ONE_ROUTER_FAMILY = {
  regex: '(^|/)router/edgeos(/|$)',
  message: 'The guard and HomeKit see routers only through RouterDriver (src/router/driver.ts, made by src/router/drivers.ts), so another router family fits beside EdgeOS without changing them.',
};
const TESTS = {
  regex: '(^|/)test(/|$)',
  message: 'The tools are used by the tests, not the other way round: tools/ may not import test/.',
};
const restrictImports = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/', '.ci/.node/', 'eslint.config.mjs', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['src/**/*.ts'], rules: restrictImports(OUTSIDE_THE_PACKAGE) },
  { files: ['src/router/**/*.ts'], rules: restrictImports(OUTSIDE_THE_PACKAGE, GUARD_OR_HOMEKIT) },
  { files: ['src/guard/**/*.ts'], rules: restrictImports(OUTSIDE_THE_PACKAGE, HOMEKIT, ONE_ROUTER_FAMILY) },
  { files: ['src/homekit/**/*.ts'], rules: restrictImports(OUTSIDE_THE_PACKAGE, ONE_ROUTER_FAMILY) },
  // The settings page's server reaches routers through the driver too, never through EdgeOS code of its own.
  { files: ['src/setup/**/*.ts', 'src/ui/**/*.ts'], rules: restrictImports(OUTSIDE_THE_PACKAGE, ONE_ROUTER_FAMILY) },
  {
    // The settings page's server runs as a child of the Homebridge UI, whose log is its console.
    files: ['src/ui/server.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // homebridge-ui/server.js is plain CommonJS, started by the Homebridge UI; it loads the built plugin.
    files: ['homebridge-ui/server.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { sourceType: 'commonjs', parserOptions: { projectService: false, project: null }, globals: { require: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off', 'no-console': 'off' },
  },
  { files: ['tools/**/*.ts'], rules: restrictImports(TESTS) },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The settings page's script runs in the Homebridge UI's iframe, as a plain browser script with no build step:
    // outside the TypeScript project, so it is linted without type information, with the few browser globals it uses.
    files: ['homebridge-ui/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: { window: 'readonly', document: 'readonly', navigator: 'readonly' },
    },
  },
  {
    // The demo and lab command-line tools talk to a person at a terminal.
    files: ['tools/sim/demo.ts', 'tools/sim/reliability.ts', 'tools/lab/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
