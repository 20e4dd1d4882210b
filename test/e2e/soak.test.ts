/**
 * A short soak in every test run (npm run soak does 1,000 toggles): random toggles from a real HomeKit controller
 * with router faults mixed in; at the end nothing is lost or wrong and no config session is left open.
 */
import { HOMEBRIDGE_RESTART, runSoak } from '../../tools/sim/soak';

jest.setTimeout(240_000);

it('keeps HomeKit and the router in agreement through random toggles and faults', async () => {
  const result = await runSoak({ toggles: 80, cameras: 8, faultRate: 0.25, seed: 20261125 });
  process.stdout.write(`soak: ${JSON.stringify(result)}\n`);
  expect(Object.values(result.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  expect(result.accepted).toBeGreaterThan(0);
  expect({
    wrong: result.wrongStates,
    lost: result.lostStates,
    openSessions: result.openSessions,
    unhandled: result.unhandledRejections,
    crashed: result.homebridgeCrashed,
    evidence: result.evidence,
  }).toEqual({ wrong: 0, lost: 0, openSessions: 0, unhandled: 0, crashed: false, evidence: [] });
  // Homebridge stopped by SIGTERM mid-commit and started again is one of the faults: it happened, and came back.
  expect(result.homebridgeRestarts).toBe(result.faults[HOMEBRIDGE_RESTART]);
  expect(result.homebridgeRestarts).toBeGreaterThan(0);
  // The heap probe answered from the Homebridge that served the end of the run.
  expect(result.heap.samples).toBeGreaterThan(0);
});
