/**
 * Test tiers, by test folder (CAMERA_GUARD_TIER=unit|e2e; unset runs every test, as `npm test` does):
 * - unit: everything under test/ but test/lab and test/e2e (parsers, simulator, driver and guard over real SSH
 *   on loopback, hostile inputs);
 * - e2e: test/e2e (a real Homebridge driven by a real HomeKit client, the demo, the short soak).
 * test/lab (the router lab with real namespaces, needs root) runs only when no tier is chosen.
 * .ci/other-nodes.sh runs the unit and e2e tiers under the other Node versions CI covers.
 */
const TIERS = {
  unit: { testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/lab/', '<rootDir>/test/e2e/'] },
  e2e: { testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
};
const tier = process.env.CAMERA_GUARD_TIER;
if (tier !== undefined && tier !== '' && !Object.hasOwn(TIERS, tier)) {
  throw new Error(`CAMERA_GUARD_TIER=${tier} is not a test tier; the tiers are: ${Object.keys(TIERS).join(', ')}`);
}

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/globalSetup.ts',
  globalTeardown: '<rootDir>/test/globalTeardown.ts',
  ...(tier ? TIERS[tier] : {}),
};
