/**
 * The figures Pulse hands on to Prometheus and OpenTelemetry (CONTRACT §9),
 * grouped from a snapshot's cells into one series per label set: by
 * endpoint and model for the Prometheus exposition, by node as well for
 * OTLP's `server.address`. Counters and histograms are the cells'
 * cumulative slots (@pulse/protocol's cumulative.ts) summed; the gauges and
 * SLO counts are the window's.
 */
import {
  COUNTER_SLOT,
  CUMULATIVE_SLOT_COUNT,
  HISTOGRAM_SLOTS,
  type CellData,
  type CumulativeCounter,
  type CumulativeHistogram,
  type InternalSnapshot,
} from '@pulse/protocol';

export interface ExportSeries {
  endpoint: string;
  model: string;
  /** The node; null when the series sums every node. */
  node: string | null;
  /** Sums of the cells' cumulative slots. */
  readonly cumulative: number[];
  /** The seed's since-creation totals of KV-cache lookups and hits. */
  lookups: number;
  hits: number;
  /** In-flight gauges from start/end pairs (node gauges carry no endpoint or model, so they are not here). */
  queueDepth: number;
  activeStreams: number;
  /** Ends in the window, and those that met each SLO (the snapshot's `slos` order). */
  windowResponses: number;
  readonly sloGood: number[];
}

/** The series of `snapshot`, `byNode` or summed over nodes, in label order. */
export function exportSeries(snapshot: Pick<InternalSnapshot, 'cells' | 'slos'>, byNode = false): ExportSeries[] {
  const groups = new Map<string, ExportSeries>();
  for (const cell of snapshot.cells) {
    const node = byNode ? cell.node : null;
    const key = JSON.stringify([cell.endpoint, cell.model, node]);
    let series = groups.get(key);
    if (!series) {
      series = emptySeries(cell, node, snapshot.slos.length);
      groups.set(key, series);
    }
    add(series, cell);
  }
  return [...groups.values()].sort(byLabels);
}

function emptySeries(cell: CellData, node: string | null, slos: number): ExportSeries {
  return {
    endpoint: cell.endpoint,
    model: cell.model,
    node,
    cumulative: new Array<number>(CUMULATIVE_SLOT_COUNT).fill(0),
    lookups: 0,
    hits: 0,
    queueDepth: 0,
    activeStreams: 0,
    windowResponses: 0,
    sloGood: new Array<number>(slos).fill(0),
  };
}

function add(series: ExportSeries, cell: CellData): void {
  for (let i = 0; i < CUMULATIVE_SLOT_COUNT; i++) series.cumulative[i]! += cell.cumulative[i]!;
  series.lookups += cell.totalLookups;
  series.hits += cell.totalHits;
  series.queueDepth += cell.queueDepth;
  series.activeStreams += cell.activeStreams;
  series.windowResponses += cell.responses;
  for (let i = 0; i < series.sloGood.length; i++) series.sloGood[i]! += cell.sloGood[i] ?? 0;
}

function byLabels(a: ExportSeries, b: ExportSeries): number {
  return compare(a.endpoint, b.endpoint) || compare(a.model, b.model) || compare(a.node ?? '', b.node ?? '');
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A counter of a series. */
export function counterOf(series: ExportSeries, name: CumulativeCounter): number {
  return series.cumulative[COUNTER_SLOT[name]]!;
}

/** A histogram of a series: its bounds, per-bucket counts (the last the overflow), count and sum — times in seconds, tokens as counted. */
export function histogramOf(series: ExportSeries, name: CumulativeHistogram): { bounds: readonly number[]; buckets: number[]; count: number; sum: number } {
  const h = HISTOGRAM_SLOTS[name];
  const buckets = series.cumulative.slice(h.first, h.first + h.buckets);
  const sum = series.cumulative[h.sum]!;
  return { bounds: h.bounds, buckets, count: buckets.reduce((a, b) => a + b, 0), sum: h.time ? sum / 1e6 : sum };
}
