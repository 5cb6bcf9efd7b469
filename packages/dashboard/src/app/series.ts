/**
 * The history a chart draws: one time axis and any number of named series
 * aligned on it (the uPlot data layout), trimmed to a time span. A series
 * that appears later is back-filled with gaps, so all arrays stay aligned.
 */

export type Point = Readonly<Record<string, number | null | undefined>>;

export class SeriesHistory {
  readonly times: number[] = [];
  private readonly values = new Map<string, (number | null)[]>();

  constructor(private readonly spanSeconds: number) {}

  /** Series names, in the order they first appeared. */
  get names(): string[] {
    return [...this.values.keys()];
  }

  /** Adds one point at `time` (seconds); a name missing from `point` is a gap. Older points than the span drop off. */
  push(time: number, point: Point): void {
    if (this.times.length > 0 && time <= this.times[this.times.length - 1]!) return;
    for (const name of Object.keys(point)) {
      if (!this.values.has(name)) this.values.set(name, this.times.map(() => null));
    }
    this.times.push(time);
    for (const [name, list] of this.values) list.push(finite(point[name]));
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
   * Adds points older than the oldest one held (history fetched after live
   * points arrived); the others are already covered and are left out.
   */
  backfill(points: readonly (readonly [time: number, point: Point])[]): void {
    const oldest = this.times[0] ?? Infinity;
    const older = points.filter(([time]) => time < oldest).sort((a, b) => a[0] - b[0]);
    if (older.length === 0) return;
    const held = this.times.map((time, i): [number, Point] => [time, Object.fromEntries([...this.values].map(([name, list]) => [name, list[i]]))]);
    this.clear();
    for (const [time, point] of [...older, ...held]) this.push(time, point);
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
