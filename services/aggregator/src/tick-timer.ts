/**
 * Calls `onTick(t)` at every multiple of `tickMs` of the wall clock, so every
 * replica ticks on the same edges and a snapshot's time says which tick it
 * is. Each wait is computed afresh from the clock (no drift), and never longer
 * than one tick, so a clock stepped backwards cannot stall the loop. A tick
 * runs only after the previous one finished: a slow tick skips, never piles up.
 */
export class TickTimer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly tickMs: number,
    private readonly onTick: (tickTimeMs: number) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.now();
    const next = (Math.floor(now / this.tickMs) + 1) * this.tickMs;
    const delay = Math.min(this.tickMs, Math.max(0, next - now));
    this.timer = setTimeout(() => {
      void this.onTick(next).finally(() => this.schedule());
    }, delay);
  }
}
