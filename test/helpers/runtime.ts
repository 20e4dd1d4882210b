/**
 * Which Node runs the tests. .ci/other-nodes.sh runs the unit and e2e tiers under Node versions it fetched and sets
 * CAMERA_GUARD_EXPECT_NODE to the one it started jest with; the `runtime:` lines written here are what its summary
 * prints for each tier, so the summary shows what the tests saw and not what the script meant to run.
 */
export const EXPECTED_NODE = process.env.CAMERA_GUARD_EXPECT_NODE ?? '';

export function reportRuntime(tier: string, what: string): void {
  process.stdout.write(`runtime: ${tier}: ${what}\n`);
}
