/**
 * What a reader of the durable history asks and gets (docs/HISTORY.md): the
 * figures of any view (a CellFilter and the metric types wanted) at past
 * times, one point per step. Implemented over the shared store (Redis, or
 * memory for `npm start`) by `StoreHistoryReader`; the gateway's
 * `GET /metrics/history` and run exports read through it.
 */
import type { CellFilter } from '@pulse/metrics';
import type { MetricType, SnapshotData } from '@pulse/protocol';

export interface HistoryQuery {
  /** Seconds since the epoch: the first point is at or after `since`… */
  since: number;
  /** …and the last at or before `until`. */
  until: number;
  /**
   * Seconds between points; when absent, the finest tier that still holds
   * `since` with at most MAX_AUTO_POINTS points. A step is rounded up to a
   * multiple of the tier it reads.
   */
  step?: number;
  /** The cells of the view (empty sets keep everything), as a live subscription's. */
  filter: CellFilter;
  /** The metric types each point carries. */
  types: readonly MetricType[];
}

export interface HistoryPoint {
  /** Seconds since the epoch: the point holds the view over [timestamp − max(window, step), timestamp). */
  timestamp: number;
  data: Partial<SnapshotData>;
}

export interface HistoryAnswer {
  /** Seconds between points, as used. */
  step: number;
  /** Oldest first; a time with nothing recorded (no aggregator, before retention) has no point. */
  points: HistoryPoint[];
}

/** A view's figures over a whole span at once (a run's): rates over the span, percentiles of its merged histograms. */
export interface HistorySummary {
  /** The span summed, seconds since the epoch: the one asked for, rounded in to the buckets of the tier read (out when no whole bucket lies within it). */
  since: number;
  until: number;
  data: Partial<SnapshotData>;
}

export interface HistoryReader {
  query(q: HistoryQuery): Promise<HistoryAnswer>;
  /** Null when nothing is recorded over the span. */
  summary(q: Omit<HistoryQuery, 'step'>): Promise<HistorySummary | null>;
}
