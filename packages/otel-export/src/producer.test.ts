/**
 * The producer's start times and the OTEL_* parsing, in process: a series
 * counts from the store's creation across collections and leaderships, and
 * restarts (start = the previous collection) only when its counters went down.
 */
import { describe, expect, it } from 'vitest';
import { COUNTER_SLOT, zeroCumulative, type CellData } from '@pulse/protocol';
import { ConfigError, parseConfig } from '@pulse/runtime';
import { otlpSettings, otlpVars, pushesExponential } from './config.js';
import { SnapshotMetricProducer, type ExportState } from './producer.js';

function cell(node: string, requests: number): CellData {
  const cumulative = zeroCumulative();
  cumulative[COUNTER_SLOT.requests] = requests;
  cumulative[COUNTER_SLOT.responses] = requests;
  return { node, endpoint: '/v1/chat/completions', model: 'm', cumulative, totalLookups: 0, totalHits: 0, queueDepth: 0, activeStreams: 0, responses: 0, sloGood: [] } as unknown as CellData;
}

const state = (epoch: number, ...cells: CellData[]): ExportState => ({ snapshot: { epoch, slos: [], cells }, createdAtMs: 1_000 });

async function startsOf(producer: SnapshotMetricProducer): Promise<Record<string, number>> {
  const { resourceMetrics } = await producer.collect();
  const requests = resourceMetrics.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === 'pulse.requests')!;
  return Object.fromEntries(requests.dataPoints.map((p) => [String(p.attributes['server.address']), p.startTime[0] * 1000 + p.startTime[1] / 1e6]));
}

describe('SnapshotMetricProducer', () => {
  it('starts every series at the store creation, restarts one whose counters went down, and yields nothing when not leading', async () => {
    let now = 10_000;
    let current: ExportState | null = state(1, cell('a', 5));
    const producer = new SnapshotMetricProducer(() => current, () => now);
    expect(await startsOf(producer)).toEqual({ a: 1_000 });
    now = 20_000;
    current = state(1, cell('a', 7), cell('b', 1)); // b is new: it counted nothing before, from creation is exact
    expect(await startsOf(producer)).toEqual({ a: 1_000, b: 1_000 });
    now = 30_000;
    current = state(1, cell('a', 2), cell('b', 3)); // a retired and came back: restarted after the last collection
    expect(await startsOf(producer)).toEqual({ a: 20_000, b: 1_000 });
    now = 40_000;
    current = state(1, cell('a', 4), cell('b', 3));
    expect(await startsOf(producer)).toEqual({ a: 20_000, b: 1_000 });
    current = null;
    expect((await producer.collect()).resourceMetrics.scopeMetrics).toEqual([]);
    current = state(2, cell('a', 4)); // a new leadership cannot tell: from creation
    expect(await startsOf(producer)).toEqual({ a: 1_000 });
  });
});

describe('OTEL_* variables', () => {
  const parse = (env: Record<string, string>) => otlpSettings(parseConfig(otlpVars, env));

  it('is off without an endpoint, or when disabled', () => {
    expect(parse({})).toBeNull();
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' })).toBeNull();
  });

  it('resolves the specification defaults and precedences', () => {
    expect(
      parse({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/base',
        OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=x%20y',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'b=2',
        OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,env=ci',
      }),
    ).toEqual({
      url: 'http://c:4318/base/v1/metrics',
      protocol: 'http/protobuf',
      headers: { a: '1', b: '2' },
      timeoutMillis: 5000,
      compression: 'none',
      intervalMs: 1000,
      exportTimeoutMs: 1000,
      resource: { 'service.name': 'from-attrs', env: 'ci' },
      exponentialHistograms: false,
    });
    expect(parse({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://c/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other' })!.url).toBe('https://c/x');
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SERVICE_NAME: 's' })!.resource['service.name']).toBe('s');
  });

  it('asks for exponential histograms with base2_exponential_bucket_histogram (any case), which the aggregator counts only for a push', () => {
    const exponential = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'Base2_Exponential_Bucket_Histogram' };
    expect(parse(exponential)!.exponentialHistograms).toBe(true);
    expect(parse({ ...exponential, OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'explicit_bucket_histogram' })!.exponentialHistograms).toBe(false);
    expect(pushesExponential(parseConfig(otlpVars, exponential))).toBe(true);
    expect(pushesExponential(parseConfig(otlpVars, { ...exponential, OTEL_EXPORTER_OTLP_ENDPOINT: '' }))).toBe(false);
    expect(pushesExponential(parseConfig(otlpVars, { ...exponential, OTEL_METRICS_EXPORTER: 'none' }))).toBe(false);
    expect(pushesExponential(parseConfig(otlpVars, { ...exponential, OTEL_SDK_DISABLED: 'true' }))).toBe(false);
  });

  it('refuses bad values, naming the variable and never echoing headers', () => {
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig(otlpVars, env);
      } catch (err) {
        if (err instanceof ConfigError) return err.message;
      }
      return '';
    };
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(problems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toContain('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(problems({ OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' })).toContain('cumulative');
    expect(problems({ OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent.pem' })).toContain('OTEL_EXPORTER_OTLP_CERTIFICATE');
    const headers = problems({ OTEL_EXPORTER_OTLP_HEADERS: 'secret-without-equals' });
    expect(headers).toContain('OTEL_EXPORTER_OTLP_HEADERS');
    expect(headers).not.toContain('secret-without-equals');
  });
});
