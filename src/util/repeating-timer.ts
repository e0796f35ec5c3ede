/**
 * A background loop on a timer that does not keep the process alive: run, then wait the
 * delay the run asked for, then run again, until stop(). Runs never overlap.
 */
export class RepeatingTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  /** `run` returns the delay before the next run (ms). */
  constructor(private readonly run: () => Promise<number>) {}

  start(firstDelayMs: number): void {
    this.stopped = false;
    this.after(firstDelayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private after(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.run().then(
        (next) => this.after(next),
        () => this.after(delayMs),
      );
    }, delayMs);
    this.timer.unref();
  }
}
