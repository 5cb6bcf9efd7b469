/**
 * The state of one (endpoint, model) cell: running window aggregates, the
 * since-creation totals and the in-flight gauges, plus its share of every
 * time bucket so expired buckets can be subtracted exactly.
 */
import { LogHistogram } from './log-histogram.js';
import { BucketSamples } from './samples.js';

/** Additive window counters of a cell (CONTRACT §4). */
export interface Counters {
  requests: number;
  responses: number;
  completionTokens: number;
  errors: number;
  lookups: number;
  hits: number;
  cachedTokens: number;
  lookupPromptTokens: number;
  prefixSum: number;
}

export const COUNTER_KEYS = [
  'requests',
  'responses',
  'completionTokens',
  'errors',
  'lookups',
  'hits',
  'cachedTokens',
  'lookupPromptTokens',
  'prefixSum',
] as const satisfies readonly (keyof Counters)[];

export const DISTRIBUTIONS = ['latency', 'ttft', 'tokensPerSecond'] as const;
export type DistributionName = (typeof DISTRIBUTIONS)[number];

/** Since-creation totals, persisted by the aggregator (CONTRACT §4). */
export interface Totals {
  completedStreams: number;
  failedStreams: number;
  totalLookups: number;
  totalHits: number;
}

export const TOTAL_KEYS = ['completedStreams', 'failedStreams', 'totalLookups', 'totalHits'] as const satisfies readonly (keyof Totals)[];

export function zeroCounters(): Counters {
  return { requests: 0, responses: 0, completionTokens: 0, errors: 0, lookups: 0, hits: 0, cachedTokens: 0, lookupPromptTokens: 0, prefixSum: 0 };
}

export function zeroTotals(): Totals {
  return { completedStreams: 0, failedStreams: 0, totalLookups: 0, totalHits: 0 };
}

/** What one cell contributed to one time bucket. */
export class BucketCell {
  readonly counters = zeroCounters();
  readonly samples: Record<DistributionName, BucketSamples | null> = { latency: null, ttft: null, tokensPerSecond: null };
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
  readonly counters = zeroCounters();
  readonly dists: Record<DistributionName, RunningDistribution> = {
    latency: new RunningDistribution(),
    ttft: new RunningDistribution(),
    tokensPerSecond: new RunningDistribution(),
  };
  readonly totals = zeroTotals();
  queueDepth = 0;
  activeStreams = 0;
  /** This cell's share of each live time bucket, by bucket number. */
  readonly shares = new Map<number, BucketCell>();

  constructor(
    readonly endpoint: string,
    readonly model: string,
  ) {}

  addCounter(bucket: BucketCell, key: keyof Counters, n: number): void {
    bucket.counters[key] += n;
    this.counters[key] += n;
  }

  addSample(bucket: BucketCell, name: DistributionName, value: number): void {
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
    for (const key of COUNTER_KEYS) this.counters[key] -= bucket.counters[key];
    for (const name of DISTRIBUTIONS) {
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
  extremes(name: DistributionName): { min: number; max: number } {
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

  /** True when the cell holds nothing worth publishing or keeping. */
  isIdle(): boolean {
    return this.shares.size === 0 && this.queueDepth === 0 && this.activeStreams === 0 && TOTAL_KEYS.every((k) => this.totals[k] === 0);
  }
}
