/**
 * What the guard does for one transaction, for tests that drive a router driver directly: read the router, plan the
 * requests on that reading, apply the plan.
 */
import type { CameraSettings } from '../../src/config';
import type { Access, ApplyOutcome, RouterDriver } from '../../src/router/driver';

export async function applyChanges(
  driver: RouterDriver,
  cameras: readonly CameraSettings[],
  changes: ReadonlyArray<{ readonly camera: CameraSettings; readonly access: Access }>,
): Promise<ApplyOutcome> {
  const reading = await driver.read(cameras);
  return driver.apply(driver.plan(reading, new Map(changes.map(({ camera, access }) => [camera.address, access]))));
}
