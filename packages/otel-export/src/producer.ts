/**
 * A MetricProducer (the SDK's hook for metrics it did not aggregate itself)
 * that turns the active aggregator's window into OTLP metrics at each
 * export: the figures are already cumulative totals, persisted with every
 * acknowledgement, so the producer only reads them.
 *
 * Start times make the totals mean what they say. A series' points start at
 * the metrics store's creation — the totals count from there, whichever
 * process led meanwhile, so a failover does not restart them (a receiver
 * that turns cumulative points into deltas takes a new start time for a
 * reset) and OTLP agrees with GET /metrics/prometheus. A series new since the
 * last collection starts there too: it counted nothing before, which a
 * cumulative point from creation says exactly. One case does restart a
 * series: a node retired into `__other__` (its counts moved there) that
 * reports again — its counters went down between two collections of this
 * leadership, and its start then moves to the previous collection, where
 * every count it now has came after. (A node back after a longer absence is
 * not remembered, and shows the drop as Prometheus does.)
 */
import type { HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import type { CollectionResult, MetricProducer } from '@opentelemetry/sdk-metrics';
import { counterOf, exportSeries, type ExponentialCounts, type ExportSeries } from '@pulse/metrics';
import type { InternalSnapshot } from '@pulse/protocol';
import { buildMetrics, type HistogramForm, type TimedSeries } from './metrics.js';

/** What the leader exports: its window's cells and when the store they count from was created. */
export interface ExportState {
  snapshot: Pick<InternalSnapshot, 'cells' | 'slos' | 'epoch'>;
  createdAtMs: number;
  /** The cells' exponential histograms by `JSON.stringify([node, endpoint, model])` (the TotalsLedger's), for `histograms: 'exponential'`. */
  exponential?: ReadonlyMap<string, readonly ExponentialCounts[]>;
}

/** The leader's state now, or null when this process does not lead (it then pushes nothing). */
export type ExportSource = () => ExportState | null | Promise<ExportState | null>;

export const SCOPE = { name: '@pulse/otel-export', version: '0.1.0' };

interface SeriesMark {
  startTime: HrTime;
  requests: number;
  responses: number;
}

export class SnapshotMetricProducer implements MetricProducer {
  /** Per series of the last collection: its start and the counters a restart would lower. */
  private marks = new Map<string, SeriesMark>();
  private epoch: number | null = null;
  private lastCollectMs = 0;

  constructor(
    private readonly source: ExportSource,
    private readonly now: () => number = Date.now,
    private readonly histograms: HistogramForm = 'explicit',
  ) {}

  async collect(): Promise<CollectionResult> {
    const state = await this.source();
    if (!state) {
      // Not leading: nothing to push, and the next leadership starts afresh.
      this.marks = new Map();
      this.epoch = null;
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };
    }
    const nowMs = this.now();
    const timed = this.timeSeries(exportSeries(state.snapshot, true), state, nowMs);
    const metrics = buildMetrics(timed, millisToHrTime(nowMs), this.histograms);
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics: metrics.length > 0 ? [{ scope: SCOPE, metrics }] : [] }, errors: [] };
  }

  /** Each series with its start time (the module comment says which), remembering this collection's marks. */
  private timeSeries(all: ExportSeries[], state: ExportState, nowMs: number): TimedSeries[] {
    // A new leadership (or the first collection) cannot tell a restart from history: every series counts from creation.
    const fresh = this.epoch !== state.snapshot.epoch;
    const created = millisToHrTime(state.createdAtMs);
    const previous = millisToHrTime(this.lastCollectMs);
    const marks = new Map<string, SeriesMark>();
    const timed = all.map((series): TimedSeries => {
      const key = JSON.stringify([series.node, series.endpoint, series.model]);
      const requests = counterOf(series, 'requests');
      const responses = counterOf(series, 'responses');
      const was = this.marks.get(key);
      const restarted = !fresh && was !== undefined && (requests < was.requests || responses < was.responses);
      const startTime = restarted ? previous : fresh || !was ? created : was.startTime;
      marks.set(key, { startTime, requests, responses });
      return { series, startTime, exponential: state.exponential?.get(key) };
    });
    this.marks = marks;
    this.epoch = state.snapshot.epoch;
    this.lastCollectMs = nowMs;
    return timed;
  }
}
