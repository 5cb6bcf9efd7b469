/**
 * The OTLP metrics of a snapshot's series (CONTRACT §9): the GenAI semantic
 * conventions' histograms and Pulse's counters, one data point per node ×
 * endpoint × model, as the SDK's MetricData so its exporters serialize them.
 * Pure: the points' start times come from the caller (producer.ts).
 *
 * The values are the cells' cumulative slots — already totals since the
 * metrics store was created — so every point is CUMULATIVE and no SDK
 * instrument or aggregation is involved. With `histograms: 'exponential'`
 * the histograms are the cells' exponential histograms instead (counted by
 * the leader's TotalsLedger at @pulse/protocol's fixed EXPONENTIAL_SCALE).
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { counterOf, histogramOf, type ExponentialCounts, type ExportSeries } from '@pulse/metrics';
import { CUMULATIVE_HISTOGRAM_NAMES, EXPONENTIAL_SCALE, TIME_HISTOGRAMS, type CumulativeCounter, type CumulativeHistogram } from '@pulse/protocol';

/** What names the OTLP producer the endpoints are of: FakeAI speaks the OpenAI API. */
export const PROVIDER = 'openai';

interface HistogramMetric {
  name: string;
  unit: string;
  description: string;
  valueType: ValueType;
  /** The cumulative histogram(s), each with the attributes that tell its points apart. */
  sources: readonly { slot: CumulativeHistogram; attributes: Attributes }[];
}

/** The GenAI histograms, at the conventions' advisory bounds (@pulse/protocol's cumulative.ts). */
export const HISTOGRAMS: readonly HistogramMetric[] = [
  {
    name: 'gen_ai.server.request.duration',
    unit: 's',
    description: 'Generative AI server request duration such as time-to-last byte or last output token.',
    valueType: ValueType.DOUBLE,
    sources: [{ slot: 'latency', attributes: {} }],
  },
  {
    name: 'gen_ai.server.time_to_first_token',
    unit: 's',
    description: 'Time to generate first token for successful responses.',
    valueType: ValueType.DOUBLE,
    sources: [{ slot: 'ttft', attributes: {} }],
  },
  {
    name: 'gen_ai.server.time_per_output_token',
    unit: 's',
    description: 'Time per output token generated after the first token for successful responses.',
    valueType: ValueType.DOUBLE,
    sources: [{ slot: 'itl', attributes: {} }],
  },
  {
    name: 'gen_ai.client.token.usage',
    unit: '{token}',
    description: 'Measures number of input and output tokens used.',
    valueType: ValueType.INT,
    sources: [
      { slot: 'inputTokens', attributes: { 'gen_ai.token.type': 'input' } },
      { slot: 'outputTokens', attributes: { 'gen_ai.token.type': 'output' } },
    ],
  },
];

/** Pulse's own counters: named so that an OTLP → Prometheus translation gives the names GET /metrics/prometheus serves. */
export const COUNTERS: readonly { name: string; unit: string; description: string; counter: CumulativeCounter }[] = [
  { name: 'pulse.requests', unit: '{request}', description: 'Requests started (request.start events).', counter: 'requests' },
  { name: 'pulse.responses', unit: '{response}', description: 'Requests ended (request.end events).', counter: 'responses' },
  { name: 'pulse.request.errors', unit: '{request}', description: 'Requests that ended in an error.', counter: 'errors' },
];

/** Where an endpoint sits in the conventions' `gen_ai.operation.name`: the well-known values for OpenAI's APIs, else the endpoint itself. */
export function operationName(endpoint: string): string {
  const path = endpoint.replace(/^\/+/, '').replace(/^v1\//, '');
  switch (path) {
    case 'chat/completions':
      return 'chat';
    case 'completions':
      return 'text_completion';
    case 'embeddings':
      return 'embeddings';
    default:
      return endpoint;
  }
}

/** The attributes of a series' points (docs/MONITORING.md lists them and the conventions' ones left out). */
export function seriesAttributes(series: ExportSeries): Attributes {
  return {
    'gen_ai.operation.name': operationName(series.endpoint),
    'gen_ai.provider.name': PROVIDER,
    'gen_ai.request.model': series.model,
    'server.address': series.node ?? '',
    'pulse.endpoint': series.endpoint,
  };
}

/** A series with the start of its cumulative points (producer.ts decides it). */
export interface TimedSeries {
  series: ExportSeries;
  startTime: HrTime;
  /** Its cell's exponential histograms (CUMULATIVE_HISTOGRAM_NAMES order), when it has any. */
  exponential?: readonly ExponentialCounts[];
}

/** Which form the histograms take (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION). */
export type HistogramForm = 'explicit' | 'exponential';

/** Every metric with at least one point, the points at `endTime`. */
export function buildMetrics(all: readonly TimedSeries[], endTime: HrTime, histograms: HistogramForm = 'explicit'): MetricData[] {
  const metrics: MetricData[] = [];
  for (const m of HISTOGRAMS) {
    const descriptor = { name: m.name, unit: m.unit, description: m.description, valueType: m.valueType };
    const aggregationTemporality = AggregationTemporality.CUMULATIVE;
    if (histograms === 'exponential') {
      const dataPoints = exponentialPoints(m, all, endTime);
      if (dataPoints.length > 0) metrics.push({ descriptor, aggregationTemporality, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, dataPoints });
      continue;
    }
    const dataPoints = histogramPoints(m, all, endTime);
    if (dataPoints.length > 0) metrics.push({ descriptor, aggregationTemporality, dataPointType: DataPointType.HISTOGRAM, dataPoints });
  }
  for (const c of COUNTERS) {
    if (all.length === 0) continue;
    metrics.push({
      descriptor: { name: c.name, unit: c.unit, description: c.description, valueType: ValueType.INT },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: all.map(({ series, startTime }) => ({ startTime, endTime, attributes: seriesAttributes(series), value: counterOf(series, c.counter) })),
    });
  }
  return metrics;
}

/** A histogram's points: one per series and source that observed anything (TTFT has none on embeddings, say). */
function histogramPoints(m: HistogramMetric, all: readonly TimedSeries[], endTime: HrTime): DataPoint<Histogram>[] {
  const points: DataPoint<Histogram>[] = [];
  for (const { series, startTime } of all) {
    for (const source of m.sources) {
      const h = histogramOf(series, source.slot);
      if (h.count === 0) continue;
      points.push({
        startTime,
        endTime,
        attributes: { ...seriesAttributes(series), ...source.attributes },
        // No min/max: the cells keep them for the window only, not since creation.
        value: { buckets: { boundaries: [...h.bounds], counts: h.buckets }, sum: h.sum, count: h.count },
      });
    }
  }
  return points;
}

const HISTOGRAM_INDEX = new Map(CUMULATIVE_HISTOGRAM_NAMES.map((name, i) => [name, i]));

/**
 * A histogram's exponential points: one per series and source that counted
 * anything in exponential buckets. Count and sum are the exponential
 * histogram's own (the values its buckets hold), not the cumulative slots',
 * which also count what was acknowledged before exponential counting began.
 */
function exponentialPoints(m: HistogramMetric, all: readonly TimedSeries[], endTime: HrTime): DataPoint<ExponentialHistogram>[] {
  const points: DataPoint<ExponentialHistogram>[] = [];
  for (const { series, startTime, exponential } of all) {
    if (!exponential) continue;
    for (const source of m.sources) {
      const h = exponential[HISTOGRAM_INDEX.get(source.slot)!]!;
      const count = h.count;
      if (count === 0) continue;
      points.push({
        startTime,
        endTime,
        attributes: { ...seriesAttributes(series), ...source.attributes },
        // No min/max, as for the explicit buckets: the cells keep them for the window only. No negative values exist.
        value: {
          count,
          sum: TIME_HISTOGRAMS.has(source.slot) ? h.sum / 1e6 : h.sum,
          scale: EXPONENTIAL_SCALE,
          zeroCount: h.zero,
          positive: h.dense(),
          negative: { offset: 0, bucketCounts: [] },
        },
      });
    }
  }
  return points;
}
