/** The bytes left out of the upload count (uploadExemption.ts's table), and the detector taking them off its rise. */
import type { CameraFlows, FlowDestination } from '../../src/destinations/conntrack';
import { LeakDetector } from '../../src/guard/leakDetector';
import { UploadExemption } from '../../src/guard/uploadExemption';
import type { ExemptionInput } from '../../src/guard/uploadExemption';

const sent = (address: string, bytesSent: number | undefined, port = 443): FlowDestination => ({
  address,
  protocol: 'tcp',
  protocolNumber: 6,
  port,
  direction: 'outgoing',
  flows: 1,
  unreplied: 0,
  ...(bytesSent === undefined ? {} : { traffic: { bytesSent, bytesReceived: 0, packetsSent: 1, packetsReceived: 0 } }),
});
const flows = (destinations: FlowDestination[], otherDestinations = 0): CameraFlows => ({
  destinations,
  otherDestinations,
  accounting: destinations.every((each) => each.traffic !== undefined) ? 'on' : destinations.some((each) => each.traffic !== undefined) ? 'partly' : 'off',
});
const EXPECTED = '198.51.100.7';
const input = (camera: CameraFlows | undefined, extra: Partial<ExemptionInput> = {}): ExemptionInput => ({ flows: camera, accounting: true, complete: true, exempt: (address) => address === EXPECTED, ...extra });

describe('the upload exemption', () => {
  it('is the rise of expected destinations between two whole readings, all of a new one, and nothing for one that went down', () => {
    const exemption = new UploadExemption();
    expect(exemption.next(input(flows([sent(EXPECTED, 1_000), sent('203.0.113.9', 5)])))).toEqual({ bytes: 0, accountingOff: false });
    expect(exemption.next(input(flows([sent(EXPECTED, 4_000), sent('203.0.113.9', 9_000)])))).toEqual({ bytes: 3_000, accountingOff: false });
    expect(exemption.next(input(flows([sent(EXPECTED, 4_000), sent(EXPECTED, 700, 8443)])))).toEqual({ bytes: 700, accountingOff: false });
    expect(exemption.next(input(flows([sent(EXPECTED, 100)])))).toEqual({ bytes: 0, accountingOff: false });
  });

  it('exempts nothing, and keeps no baseline, with accounting off or partial, a cut listing, or no flows read', () => {
    const cases: Array<[string, ExemptionInput, boolean]> = [
      ['accounting off', input(flows([sent(EXPECTED, undefined)]), { accounting: false }), true],
      ['accounting unknown', input(flows([sent(EXPECTED, 9_000)]), { accounting: undefined }), false],
      ['flows partly counted', input(flows([sent(EXPECTED, 9_000), sent('203.0.113.9', undefined)])), true],
      ['a cut listing', input(flows([sent(EXPECTED, 9_000)]), { complete: false }), false],
      ['destinations left out', input(flows([sent(EXPECTED, 9_000)], 3)), false],
      ['no flows read', input(undefined), false],
    ];
    for (const [what, doubtful, off] of cases) {
      const exemption = new UploadExemption();
      exemption.next(input(flows([sent(EXPECTED, 1_000)])));
      expect([what, exemption.next(doubtful)]).toEqual([what, { bytes: 0, accountingOff: off }]);
      // No baseline was kept: the next whole reading starts one, exempting nothing.
      expect([what, exemption.next(input(flows([sent(EXPECTED, 20_000)])))]).toEqual([what, { bytes: 0, accountingOff: false }]);
    }
  });

  it('starts afresh after a reset', () => {
    const exemption = new UploadExemption();
    exemption.next(input(flows([sent(EXPECTED, 1_000)])));
    exemption.reset();
    expect(exemption.next(input(flows([sent(EXPECTED, 50_000)])))).toEqual({ bytes: 0, accountingOff: false });
  });
});

describe('the leak detector with exempt bytes', () => {
  const settings = { attempts: 3, uploadBytes: 5_000, windowMs: 60_000, quietMs: 10_000 };
  const counters = (egressBytes: number) => ({ blockedPackets: undefined, egressPackets: 1, egressBytes });

  it('takes the exempt bytes off the rise, never below zero', () => {
    const detector = new LeakDetector(settings);
    detector.observe({ at: 0, access: 'allowed', counters: counters(0) });
    expect(detector.observe({ at: 1_000, access: 'allowed', counters: counters(100_000), exemptBytes: 96_000 })).toBeUndefined();
    // More exempt than the rise: the rise is 0, not negative, so the next 5,001 bytes still trip.
    expect(detector.observe({ at: 2_000, access: 'allowed', counters: counters(101_000), exemptBytes: 90_000 })).toBeUndefined();
    expect(detector.observe({ at: 3_000, access: 'allowed', counters: counters(103_000) })).toEqual({ reason: 'upload', amount: 6_000, windowMs: 60_000 });
  });

  it('never exempts after a counter reset', () => {
    const detector = new LeakDetector(settings);
    detector.observe({ at: 0, access: 'allowed', counters: counters(50_000) });
    expect(detector.observe({ at: 1_000, access: 'allowed', counters: counters(10), exemptBytes: 40_000 })).toBeUndefined();
    expect(detector.observe({ at: 2_000, access: 'allowed', counters: counters(6_010) })).toEqual({ reason: 'upload', amount: 6_000, windowMs: 60_000 });
  });
});
