/**
 * The figures a rule may watch (docs/PROTOCOL.md §8) and how each is read
 * from a view's public snapshot data (§4.8). A figure is `undefined` when
 * the view has nothing in the window for it: a rule makes no alert on it,
 * and a firing alert whose figure is gone resolves (evaluator.ts).
 */
import type { SnapshotData, Stats } from '@pulse/protocol';

const STATS = ['avg', 'p50', 'p90', 'p95', 'p99', 'p999', 'max'] as const;
type Stat = (typeof STATS)[number];

/** Every figure but the SLO ones, which carry the SLO's name. */
export const BASE_FIGURES = [
  'requests_per_sec',
  'responses_per_sec',
  'tokens_per_sec',
  'errors_per_sec',
  'error_rate_pct',
  ...STATS.map((s) => `latency_${s}_ms` as const),
  ...STATS.map((s) => `ttft_${s}_ms` as const),
  ...STATS.map((s) => `itl_${s}_ms` as const),
  'queue_depth',
  'active_streams',
  'cache_hit_rate_pct',
] as const;

export type BaseFigure = (typeof BASE_FIGURES)[number];

/** `slo_attainment_pct:<slo name>`, the SLO being one of PULSE_SLOS. */
export const SLO_FIGURE_PREFIX = 'slo_attainment_pct:';
export type SloFigure = `slo_attainment_pct:${string}`;

export type Figure = BaseFigure | SloFigure;

/** SLO names as PULSE_SLOS allows them (@pulse/protocol's parseSlos). */
const SLO_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function isFigure(value: string): value is Figure {
  if ((BASE_FIGURES as readonly string[]).includes(value)) return true;
  return value.startsWith(SLO_FIGURE_PREFIX) && SLO_NAME.test(value.slice(SLO_FIGURE_PREFIX.length));
}

/** The SLO an `slo_attainment_pct:` figure names; null for other figures. */
export function sloOf(figure: Figure): string | null {
  return figure.startsWith(SLO_FIGURE_PREFIX) ? figure.slice(SLO_FIGURE_PREFIX.length) : null;
}

const LATENCY_LIKE = /^(latency|ttft|itl)_(avg|p50|p90|p95|p99|p999|max)_ms$/;

/** The figure's value over the view `data`, or undefined when the window holds nothing for it. */
export function figureOf(data: SnapshotData, figure: Figure): number | undefined {
  return figureReader(figure)(data);
}

export type FigureReader = (data: SnapshotData) => number | undefined;

/** figureOf for one figure, its name parsed once: the evaluator reads one figure of thousands of groups per snapshot. */
export function figureReader(figure: Figure): FigureReader {
  const slo = sloOf(figure);
  if (slo !== null) return (data) => (Object.hasOwn(data.slo, slo) ? data.slo[slo]?.attainment_pct : undefined);

  const latencyLike = LATENCY_LIKE.exec(figure);
  if (latencyLike) {
    const stat = latencyLike[2] as Stat;
    if (latencyLike[1] === 'ttft') return (data) => data.streaming.ttft?.[stat];
    if (latencyLike[1] === 'itl') return (data) => data.streaming.itl?.[stat];
    return (data) => latencyOf(data, stat);
  }
  const base = figure as Exclude<BaseFigure, `${string}_ms`>;
  return (data) => baseFigureOf(data, base);
}

function baseFigureOf(data: SnapshotData, figure: Exclude<BaseFigure, `${string}_ms`>): number | undefined {
  switch (figure) {
    case 'error_rate_pct': {
      // Errors are counted at request.end: no responses, no rate (not 0 %).
      const responses = data.throughput.total_responses_per_sec;
      return responses > 0 ? (100 * data.error.total_errors_per_sec) / responses : undefined;
    }
    case 'cache_hit_rate_pct':
      // hit_rate reads 0 without lookups; by_endpoint lists the endpoints with a lookup in the window.
      return Object.keys(data.cache.by_endpoint).length > 0 ? data.cache.hit_rate : undefined;
    // Rates and gauges are 0 for a view that is merely quiet; a view with no
    // event in the window and nothing in flight has no value at all, so a
    // group that is gone (or a cross-product pair that never existed) makes no alert.
    case 'requests_per_sec':
      return isEmpty(data) ? undefined : data.throughput.total_requests_per_sec;
    case 'responses_per_sec':
      return isEmpty(data) ? undefined : data.throughput.total_responses_per_sec;
    case 'tokens_per_sec':
      return isEmpty(data) ? undefined : data.throughput.total_tokens_per_sec;
    case 'errors_per_sec':
      return isEmpty(data) ? undefined : data.error.total_errors_per_sec;
    case 'queue_depth':
      return isEmpty(data) ? undefined : data.queue.queue_depth;
    case 'active_streams':
      return isEmpty(data) ? undefined : data.queue.active_streams;
  }
}

/** Nothing of the view in the window and nothing in flight (§4.8: every map empty, every number 0). */
function isEmpty(data: SnapshotData): boolean {
  // The nodes table last: the others answer for almost every view, and the table costs most to build.
  return (
    Object.keys(data.throughput.requests_per_sec).length === 0 &&
    Object.keys(data.throughput.responses_per_sec).length === 0 &&
    data.queue.queue_depth === 0 &&
    data.queue.active_streams === 0 &&
    Object.keys(data.nodes ?? {}).length === 0
  );
}

/**
 * `latency` is a map by endpoint (§4.8), and percentiles of several endpoints
 * cannot be merged from their summaries. So, over a view:
 * - one endpoint: its statistics, exact;
 * - one node with latency: the node's own statistics, which §4.7 merges over
 *   every kept cell of the view from the histograms: exact too;
 * - otherwise `min`/`max` exact, `avg` exact (weighted by each endpoint's
 *   responses), and a percentile is the largest of the endpoints' — an upper
 *   bound of the merged one (the mixture's p-quantile never exceeds the
 *   largest component's). Rules that need the exact cluster-wide percentile
 *   of several endpoints group or filter by endpoint (docs/ALERTS.md).
 */
function latencyOf(data: SnapshotData, stat: Stat): number | undefined {
  const byEndpoint = Object.entries(data.latency);
  if (byEndpoint.length === 0) return undefined;
  if (byEndpoint.length === 1) return (byEndpoint[0]?.[1] as Stats)[stat];
  const withLatency = Object.values(data.nodes ?? {}).filter((n) => n.latency !== undefined);
  if (withLatency.length === 1) return (withLatency[0]?.latency as Stats)[stat];
  const values = byEndpoint.map(([, s]) => s[stat]);
  if (stat !== 'avg') return Math.max(...values);
  let weightSum = 0;
  let sum = 0;
  for (const [endpoint, s] of byEndpoint) {
    const weight = Object.hasOwn(data.throughput.responses_per_sec, endpoint) ? (data.throughput.responses_per_sec[endpoint] ?? 0) : 0;
    weightSum += weight;
    sum += weight * s.avg;
  }
  return weightSum > 0 ? sum / weightSum : values.reduce((a, b) => a + b, 0) / values.length;
}
