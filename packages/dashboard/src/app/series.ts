/**
 * The history a chart draws: one time axis and any number of named series
 * aligned on it (the uPlot data layout), trimmed to a time span and thinned
 * to about one point per step (the newest point replaces the one before it
 * until a step has passed, so the tail is always the latest figures). A
 * series that appears later is back-filled with gaps, so all arrays stay
 * aligned.
 */

export type Point = Readonly<Record<string, number | null | undefined>>;

export class SeriesHistory {
  readonly times: number[] = [];
  private readonly values = new Map<string, (number | null)[]>();

  constructor(
    private spanSeconds: number,
    private stepSeconds = 0,
  ) {}

  /** A new span and step (a range change): points held are kept until the next clear or backfill. */
  setSpan(spanSeconds: number, stepSeconds: number): void {
    this.spanSeconds = spanSeconds;
    this.stepSeconds = stepSeconds;
  }

  /** Series names, in the order they first appeared. */
  get names(): string[] {
    return [...this.values.keys()];
  }

  /**
   * Adds one point at `time` (seconds); a name missing from `point` is a gap.
   * Less than a step after the point before the newest, it replaces the
   * newest. Older points than the span drop off.
   */
  push(time: number, point: Point): void {
    const n = this.times.length;
    if (n > 0 && time <= this.times[n - 1]!) return;
    for (const name of Object.keys(point)) {
      if (!this.values.has(name)) this.values.set(name, this.times.map(() => null));
    }
    const replace = n >= 2 && time - this.times[n - 2]! < this.stepSeconds;
    if (replace) {
      this.times[n - 1] = time;
      for (const [name, list] of this.values) list[n - 1] = finite(point[name]);
    } else {
      this.times.push(time);
      for (const [name, list] of this.values) list.push(finite(point[name]));
    }
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < time - this.spanSeconds) drop += 1;
    if (drop > 0) {
      this.times.splice(0, drop);
      for (const [name, list] of this.values) {
        list.splice(0, drop);
        // A series with no point left in the span (an endpoint gone quiet) goes, so names stay bounded over a long session.
        if (list.every((v) => v === null)) this.values.delete(name);
      }
    }
  }

  /**
   * Puts history under the points held (fetched on load, on a reconnect, on
   * a change of view or range): up to its newest point the history's figures
   * are drawn, gaps included, and held points newer than it stay after it.
   */
  backfill(points: readonly (readonly [time: number, point: Point])[]): void {
    const sorted = [...points].sort((a, b) => a[0] - b[0]);
    const newest = sorted.length > 0 ? sorted[sorted.length - 1]![0] : -Infinity;
    const held = this.times.flatMap((time, i): [number, Point][] => (time > newest ? [[time, Object.fromEntries([...this.values].map(([name, list]) => [name, list[i]]))]] : []));
    this.clear();
    for (const [time, point] of [...sorted, ...held]) this.push(time, point);
  }

  /** The longest time between two points held, seconds (0 with fewer than two): a gap the page missed shows here. */
  maxGap(): number {
    let gap = 0;
    for (let i = 1; i < this.times.length; i++) gap = Math.max(gap, this.times[i]! - this.times[i - 1]!);
    return gap;
  }

  series(name: string): (number | null)[] {
    return this.values.get(name) ?? [];
  }

  clear(): void {
    this.times.length = 0;
    this.values.clear();
  }
}

function finite(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
