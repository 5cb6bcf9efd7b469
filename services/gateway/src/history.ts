/**
 * `GET /metrics/history`: the unfiltered figures of recent snapshots, one
 * every STEP_SECONDS over the last SPAN_SECONDS, so a dashboard opened now
 * draws the last minutes at once instead of starting from an empty chart.
 * Soft state: each gateway remembers what it saw since it started. Each
 * point's JSON is the unfiltered view the gateway builds for that snapshot
 * anyway; the body is built once per new point, when first asked for.
 */

/** The span of a dashboard's charts. */
export const SPAN_SECONDS = 5 * 60;
export const STEP_SECONDS = 5;
/** Memory the points may take at most; the oldest go first. */
const MAX_BYTES = 4 * 1024 * 1024;

interface Point {
  readonly timestamp: number;
  /** The `data` of the unfiltered view, as JSON. */
  readonly json: string;
}

export class SnapshotHistory {
  private readonly points: Point[] = [];
  private bytes = 0;
  private body: string | null = null;

  /**
   * Offers a snapshot built at `timestamp`: kept when it is a step past the
   * newest point. `dataJson` is only called then.
   */
  offer(timestamp: number, dataJson: () => string): void {
    const newest = this.points[this.points.length - 1];
    if (newest && timestamp < newest.timestamp + STEP_SECONDS) return;
    const json = dataJson();
    this.points.push({ timestamp, json });
    this.bytes += json.length;
    while (this.points.length > 0 && (this.points[0]!.timestamp <= timestamp - SPAN_SECONDS || this.bytes > MAX_BYTES)) {
      this.bytes -= this.points.shift()!.json.length;
    }
    this.body = null;
  }

  /** `{"timestamp": now, "points": [{"timestamp", "data"}, …]}`, oldest first. */
  responseBody(nowSeconds: number): string {
    this.body ??= this.points.map((p) => `{"timestamp":${p.timestamp},"data":${p.json}}`).join(',');
    return `{"timestamp":${nowSeconds},"points":[${this.body}]}`;
  }
}
