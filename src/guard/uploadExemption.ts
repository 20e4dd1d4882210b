/**
 * How many of the bytes an allowed camera sent since the previous reading went to its expected destinations
 * (`allowDestinations`, issue 12), so the upload alarm can leave them out. Pure: one reading's flows in, a number
 * out; no clock, no I/O.
 *
 * The router's egress counter is exact but says nothing of where the bytes went; the connection table says where,
 * and how much only when the router counts bytes per connection (`nf_conntrack_acct=1`). Each flow's counter runs
 * from the flow's start, so the bytes of one interval are the rise of each destination's sum between two readings.
 * Every doubt counts the bytes (exempts nothing):
 *
 * | situation                                                        | exempt                                   |
 * |------------------------------------------------------------------|------------------------------------------|
 * | accounting off, or not every flow carries counters               | nothing (and the owner is told, once)    |
 * | no previous complete reading (first one, after a reset)          | nothing; this reading is the new baseline |
 * | the listing was cut (too many connections or destinations)       | nothing; no baseline                     |
 * | a destination's sum went down (a flow ended, the table flushed)  | nothing for it                           |
 * | a destination not in the previous complete listing               | all its bytes (its flows all began since) |
 * | not public, the router's own, or IPv6 for a camera without a MAC  | nothing (those bytes never reach the counter) |
 *
 * The leak detector then takes off at most the counter's own rise (leakDetector.ts), so a counter reset can never
 * turn into an exemption.
 */
import type { CameraFlows } from '../destinations/conntrack';

/** What one reading says, beside the flows. */
export interface ExemptionInput {
  /** The camera's flows this reading; undefined when the table was not read. */
  readonly flows: CameraFlows | undefined;
  /** `nf_conntrack_acct` on the router: true = bytes per connection are counted. */
  readonly accounting: boolean | undefined;
  /** False when the listing was cut (the driver said only some connections arrived). */
  readonly complete: boolean;
  /** True for a destination whose bytes may be left out (expected, public, counted by the egress rule). */
  readonly exempt: (address: string) => boolean;
}

export interface Exemption {
  /** Bytes to leave out of this interval's egress rise. */
  readonly bytes: number;
  /** True when the exemption could not be computed because the router does not count bytes per connection. */
  readonly accountingOff: boolean;
}

const NONE: Exemption = { bytes: 0, accountingOff: false };

export class UploadExemption {
  /** Each outgoing destination's bytes sent, at the previous complete reading; undefined: no baseline. */
  private previous: Map<string, number> | undefined;

  /** Takes one reading; returns the bytes to leave out of the egress rise since the previous reading. */
  next(input: ExemptionInput): Exemption {
    const previous = this.previous;
    this.previous = undefined;
    const flows = input.flows;
    if (flows === undefined) {
      return NONE;
    }
    const counted = input.accounting === true && (flows.accounting === 'on' || flows.accounting === 'unknown');
    if (!counted) {
      const off = input.accounting === false || flows.accounting === 'off' || flows.accounting === 'partly';
      return { bytes: 0, accountingOff: off };
    }
    if (!input.complete || flows.otherDestinations > 0) {
      return NONE;
    }
    const now = new Map<string, number>();
    const exemptKeys = new Set<string>();
    for (const destination of flows.destinations) {
      const sent = destination.traffic?.bytesSent;
      if (destination.direction !== 'outgoing' || sent === undefined || !Number.isSafeInteger(sent) || sent < 0) {
        continue;
      }
      const key = `${destination.protocolNumber} ${destination.address} ${destination.port ?? ''}`;
      now.set(key, (now.get(key) ?? 0) + sent);
      if (input.exempt(destination.address)) {
        exemptKeys.add(key);
      }
    }
    this.previous = now;
    if (previous === undefined) {
      return NONE;
    }
    let bytes = 0;
    for (const key of exemptKeys) {
      const sent = now.get(key) ?? 0;
      const before = previous.get(key);
      bytes += before === undefined ? sent : Math.max(0, sent - before);
    }
    return { bytes: Number.isSafeInteger(bytes) ? bytes : 0, accountingOff: false };
  }

  /** The counters became incomparable (the detector's baseline was reset): the next reading starts afresh. */
  reset(): void {
    this.previous = undefined;
  }
}
