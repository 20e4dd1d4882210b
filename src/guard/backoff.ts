/**
 * Exponential backoff with jitter, so a router that is down is asked less and less often, and many plugins
 * (or many Homebridge restarts) never retry in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt: min, 2*min, 4*min ... capped at max, each with up to 20% jitter. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base * (0.8 + 0.2 * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
