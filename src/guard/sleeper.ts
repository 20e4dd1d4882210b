/** The loop's pause: a wait that new work cuts short (when the wait allows it), and a stop always does. */
export class Sleeper {
  private wake: (() => void) | undefined;
  private stopped = false;

  /** Waits `ms`, or less when `wakeUp()` is called (if `wakeable`) or on `stop()`; at once once stopped. */
  sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        if (wakeable || this.stopped) {
          done();
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === wake) {
          this.wake = undefined;
        }
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = wake;
    });
  }

  wakeUp(): void {
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
