/**
 * A short soak in every test run (npm run soak does 1,000 toggles): random toggles from a real HomeKit controller
 * with router faults mixed in; at the end nothing is lost or wrong and no config session is left open.
 */
import { runSoak } from '../../src/sim/soak';

jest.setTimeout(240_000);

it('keeps HomeKit and the router in agreement through random toggles and faults', async () => {
  const result = await runSoak({ toggles: 80, cameras: 8, faultRate: 0.25, seed: 20261125 });
  process.stdout.write(`soak: ${JSON.stringify(result)}\n`);
  expect(Object.values(result.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  expect(result.accepted).toBeGreaterThan(0);
  expect({ wrong: result.wrongStates, lost: result.lostStates, openSessions: result.openSessions }).toEqual({ wrong: 0, lost: 0, openSessions: 0 });
});
