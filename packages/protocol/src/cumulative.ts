/**
 * The cumulative figures a cell carries for export (CONTRACT §9): counters
 * and classic histograms that only grow, since the metrics store was created.
 * They are counted like the seed's totals — once per acknowledged event,
 * persisted with the acknowledgement — so they survive any restart or
 * failover and every gateway serves the same values for the same snapshot.
 *
 * A cell holds them as one array of slots (`CellData.cumulative`), in the
 * order of CUMULATIVE_SLOTS: the counters, then per histogram one slot per
 * bucket (the last one the overflow above the highest bound) and its sum
 * (microseconds for times). Each event is counted in its own bucket as it is
 * acknowledged, so a bucket count is exact — no estimate from a sketch — and
 * a sum is off by at most half a microsecond per event (integer slots are
 * what HINCRBY persists exactly).
 *
 * An array, not more named fields on the cell: 60 numbers × thousands of
 * cells would make every view's per-cell sum five times longer for figures
 * no view shows, and a patch carries only the slots that moved.
 */

/** Counters, in slot order. Lookups and hits are the seed's `totalLookups`/`totalHits`. */
export const CUMULATIVE_COUNTERS = ['requests', 'responses', 'errors', 'promptTokens', 'completionTokens'] as const;

const TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] as const;
export type CumulativeCounter = (typeof CUMULATIVE_COUNTERS)[number];

/**
 * Histogram bucket upper bounds: the OpenTelemetry GenAI semantic
 * conventions' advisory boundaries for gen_ai.server.request.duration,
 * gen_ai.server.time_to_first_token and gen_ai.server.time_per_output_token
 * (seconds; events say milliseconds), and gen_ai.client.token.usage (tokens
 * per request, input and output).
 */
export const CUMULATIVE_HISTOGRAMS = {
  latency: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  ttft: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
  itl: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
  inputTokens: TOKEN_BOUNDS,
  outputTokens: TOKEN_BOUNDS,
} as const satisfies Record<string, readonly number[]>;
export type CumulativeHistogram = keyof typeof CUMULATIVE_HISTOGRAMS;
export const CUMULATIVE_HISTOGRAM_NAMES = Object.keys(CUMULATIVE_HISTOGRAMS) as CumulativeHistogram[];

/** Histograms of times: observed in ms, bucketed in seconds, summed in whole microseconds. The rest count tokens as they are. */
export const TIME_HISTOGRAMS: ReadonlySet<CumulativeHistogram> = new Set(['latency', 'ttft', 'itl']);

/** Where a histogram's slots are: `buckets` of them from `first` (the last is the overflow), then its sum. */
export interface HistogramSlots {
  readonly bounds: readonly number[];
  /** Observed in ms, bucketed in seconds, summed in µs (TIME_HISTOGRAMS); else all in the observed unit. */
  readonly time: boolean;
  readonly first: number;
  readonly buckets: number;
  readonly sum: number;
}

/** Slot names, in order; each is also the persisted field's last part (keys.ts). */
export const CUMULATIVE_SLOTS: readonly string[] = [];
export const COUNTER_SLOT = {} as Readonly<Record<CumulativeCounter, number>>;
export const HISTOGRAM_SLOTS = {} as Readonly<Record<CumulativeHistogram, HistogramSlots>>;
{
  const slots = CUMULATIVE_SLOTS as string[];
  for (const name of CUMULATIVE_COUNTERS) (COUNTER_SLOT as Record<string, number>)[name] = slots.push(name) - 1;
  for (const name of CUMULATIVE_HISTOGRAM_NAMES) {
    const bounds = CUMULATIVE_HISTOGRAMS[name];
    const first = slots.length;
    const time = TIME_HISTOGRAMS.has(name);
    for (let i = 0; i <= bounds.length; i++) slots.push(`${name}_bucket_${i}`);
    const sum = slots.push(time ? `${name}_sum_us` : `${name}_sum`) - 1;
    (HISTOGRAM_SLOTS as Record<string, HistogramSlots>)[name] = { bounds, time, first, buckets: bounds.length + 1, sum };
  }
}
export const CUMULATIVE_SLOT_COUNT = CUMULATIVE_SLOTS.length;

const SLOT_INDEX = new Map(CUMULATIVE_SLOTS.map((name, i) => [name, i]));

/** The slot of a persisted field's name; undefined for anything else. */
export function cumulativeSlot(name: string): number | undefined {
  return SLOT_INDEX.get(name);
}

/** The bucket (0-based within the histogram) a value in seconds falls in: the first bound ≥ it (Prometheus's `le`). */
export function bucketOf(bounds: readonly number[], seconds: number): number {
  let lo = 0;
  let hi = bounds.length; // the overflow bucket
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seconds <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A fresh array of every slot at 0. */
export function zeroCumulative(): number[] {
  return new Array<number>(CUMULATIVE_SLOT_COUNT).fill(0);
}
