/**
 * Calls `onTick(t)` at every multiple of `tickMs` of the wall clock, so every
 * replica ticks on the same edges and a snapshot's time says which tick it
 * is. Each wait is computed afresh from the clock (no drift), and never longer
 * than one tick, so a clock stepped backwards cannot stall the loop. A tick
 * runs only after the previous one finished: a slow tick skips, never piles up.
 *
 * The edges that pass without a tick (one ran past them, or the event loop
 * fired it late) are counted and reported to `onSkipped`: a snapshot every
 * tick is the service's job, and a skip is the first sign of a starved or
 * overloaded process.
 */
export class TickTimer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private skippedEdges = 0;
  private lastMs = 0;

  constructor(
    private readonly tickMs: number,
    private readonly onTick: (tickTimeMs: number) => Promise<void>,
    private readonly now: () => number = Date.now,
    private readonly onSkipped?: (edges: number, tookMs: number, tickTimeMs: number) => void,
  ) {}

  /** Tick edges passed without a tick, since start. */
  get skipped(): number {
    return this.skippedEdges;
  }

  /** How long the last tick took, ms (0 before the first). */
  get lastTickMs(): number {
    return this.lastMs;
  }

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
      const started = this.now();
      void this.onTick(next).finally(() => {
        this.ended(next, started);
        this.schedule();
      });
    }, delay);
  }

  private ended(tickTimeMs: number, startedMs: number): void {
    const now = this.now();
    this.lastMs = now - startedMs;
    // Edges after this tick's, up to now: the next tick is scheduled for the one after them.
    const edges = Math.floor(now / this.tickMs) - tickTimeMs / this.tickMs;
    if (edges <= 0) return;
    this.skippedEdges += edges;
    this.onSkipped?.(edges, this.lastMs, tickTimeMs);
  }
}
