/**
 * Timed access (`allowMinutes`): when an opening closes again. The router enforces the deadline itself (its drop
 * rule starts matching then); the plugin keeps its own copy, stored where it survives a restart, so it closes the
 * opening on routers that cannot take a deadline too. A timed opening is never extended.
 *
 * | event                                   | deadline kept                                   | timer             |
 * |-----------------------------------------|-------------------------------------------------|-------------------|
 * | opened, none stored                     | now + allowMinutes (stored before the timer starts) | armed         |
 * | opened, one stored (a restart)          | the stored one (one that passed closes at once) | armed             |
 * | router reports a deadline               | the earlier of the two (2 s slack)              | re-armed if running |
 * | blocked                                 | none                                            | stopped           |
 * | allowMinutes 0                          | none                                            | none              |
 * | the timer fires while still open        | kept until the block is confirmed               | `close()` is called |
 */
import type { Access } from '../router/driver';

/** Two deadlines this close are the same one, read at slightly different moments. */
const SAME_DEADLINE_MS = 2_000;

/** Of the stored deadline and the router's, the one to keep: the earlier stands. */
export function earlierDeadline(stored: number | undefined, router: number): number | undefined {
  return stored !== undefined && stored - router < SAME_DEADLINE_MS ? stored : router;
}

export class TimedAccess {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly allowMinutes: number,
    /** From an earlier run (epoch ms). */
    private deadline: number | undefined,
    private readonly save: (deadline: number | undefined) => void,
    private readonly close: () => void,
    private readonly now: () => number,
  ) {}

  /** The router reports how long its timed opening has left. */
  routerDeadline(deadline: number): void {
    const kept = earlierDeadline(this.deadline, deadline);
    if (kept === this.deadline) {
      return;
    }
    this.setDeadline(kept);
    if (this.timer !== undefined) {
      this.stopTimer();
      this.accessKnown('allowed', true);
    }
  }

  /** What the router enforces changed: start or stop the close timer. */
  accessKnown(access: Access | undefined, mayArm: boolean): void {
    if (access !== 'allowed') {
      this.stopTimer();
      this.setDeadline(undefined);
      return;
    }
    if (this.allowMinutes <= 0) {
      this.setDeadline(undefined);
      return;
    }
    // A deadline from before a restart stands; a new opening gets one, stored before any timer starts (and even when
    // none may start, as Homebridge stops), so neither a crash nor a stop can leave the camera open for good.
    if (this.deadline === undefined) {
      this.setDeadline(this.now() + this.allowMinutes * 60_000);
    }
    if (this.timer !== undefined || !mayArm) {
      return;
    }
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.close();
      },
      Math.max(0, (this.deadline ?? 0) - this.now()),
    );
    this.timer.unref?.();
  }

  stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private setDeadline(deadline: number | undefined): void {
    if (deadline !== this.deadline) {
      this.deadline = deadline;
      this.save(deadline);
    }
  }
}
