/**
 * The state of one (endpoint, model) cell: its numbers (window counters,
 * in-flight gauges, since-creation totals — the lists of
 * @pulse/protocol's cell-fields.ts), its running window distributions, and
 * its share of every time bucket so expired buckets can be subtracted
 * exactly.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_GAUGES,
  CELL_NUMBERS,
  CELL_TOTALS,
  compileFill,
  compileSubtract,
  compileZero,
  WINDOW_COUNTERS,
  type CellDistribution,
  type CellNumber,
  type Counts,
  type WindowCounter,
} from '@pulse/protocol';
import { LogHistogram } from './log-histogram.js';
import { BucketSamples } from './samples.js';

const zeroNumbers = compileZero(CELL_NUMBERS);
const perDistribution = compileFill(CELL_DISTRIBUTIONS);
const zeroWindowCounters = compileZero(WINDOW_COUNTERS);
const subtractWindowCounters = compileSubtract(WINDOW_COUNTERS);

/** What one cell contributed to one time bucket. */
export class BucketCell {
  readonly counters: Counts<WindowCounter> = zeroWindowCounters();
  readonly samples: Record<CellDistribution, BucketSamples | null> = perDistribution(() => null);
}

/** A running window distribution: histogram plus exact count, sum, min and max. */
export class RunningDistribution {
  readonly histogram = new LogHistogram();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** Set when an expired bucket held the min or max: recompute them from the live buckets. */
  stale = false;
}

export class CellState {
  /** Every number of the cell: the window counters (running sums over the live buckets), gauges and totals. */
  readonly counts: Counts<CellNumber> = zeroNumbers();
  readonly dists: Record<CellDistribution, RunningDistribution> = perDistribution(() => new RunningDistribution());
  /** This cell's share of each live time bucket, by bucket number. */
  readonly shares = new Map<number, BucketCell>();

  constructor(
    readonly endpoint: string,
    readonly model: string,
  ) {}

  addCounter(bucket: BucketCell, key: WindowCounter, n: number): void {
    bucket.counters[key] += n;
    this.counts[key] += n;
  }

  addSample(bucket: BucketCell, name: CellDistribution, value: number): void {
    const samples = (bucket.samples[name] ??= new BucketSamples());
    const index = samples.add(value);
    const dist = this.dists[name];
    dist.histogram.addIndex(index, 1);
    dist.count++;
    dist.sum += value;
    if (value < dist.min) dist.min = value;
    if (value > dist.max) dist.max = value;
  }

  /** Takes the share of expired bucket `b` out of the running aggregates. */
  expire(b: number, bucket: BucketCell): void {
    this.shares.delete(b);
    subtractWindowCounters(this.counts, bucket.counters);
    for (const name of CELL_DISTRIBUTIONS) {
      const samples = bucket.samples[name];
      if (!samples) continue;
      const dist = this.dists[name];
      for (let i = 0; i < samples.count; i++) dist.histogram.addIndex(samples.indices[i]!, -1);
      dist.count -= samples.count;
      // Sums are floats: reset exactly when the window empties so no drift survives.
      dist.sum = dist.count === 0 ? 0 : dist.sum - samples.sum;
      if (samples.min <= dist.min || samples.max >= dist.max) dist.stale = true;
    }
  }

  /**
   * Exact min and max over the live buckets. They are kept as samples arrive
   * and recomputed only after an expired bucket held one of them.
   */
  extremes(name: CellDistribution): { min: number; max: number } {
    const dist = this.dists[name];
    if (dist.stale) {
      dist.min = Infinity;
      dist.max = -Infinity;
      for (const share of this.shares.values()) {
        const s = share.samples[name];
        if (!s || s.count === 0) continue;
        if (s.min < dist.min) dist.min = s.min;
        if (s.max > dist.max) dist.max = s.max;
      }
      dist.stale = false;
    }
    return dist;
  }

  /** True when the cell holds nothing worth publishing or keeping: no live bucket, nothing in flight, no totals. */
  isIdle(): boolean {
    return this.shares.size === 0 && CELL_GAUGES.every((k) => this.counts[k] === 0) && CELL_TOTALS.every((k) => this.counts[k] === 0);
  }
}
