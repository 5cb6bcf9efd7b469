/**
 * What the OTLP push tests share (not shipped: tsconfig excludes it from the
 * build): known events and the figures they must come to, and a reader of
 * the OTLP/JSON requests a receiver recorded.
 */
import type { RecordedRequest } from '@pulse/test-support/http-receiver';

let counter = 0;

export interface KnownRequest {
  node: string;
  endpoint: string;
  model: string;
  stream: boolean;
  latencyMs: number;
  ttftMs?: number;
  promptTokens?: number;
  completionTokens?: number;
  status?: number;
}

/** A start and an end per request, timestamped now. */
export function eventsOf(list: readonly KnownRequest[]): object[] {
  const now = Date.now() / 1000;
  return list.flatMap((r) => {
    const base = { ts: now, node: r.node, request_id: `otlp-${process.pid}-${++counter}`, endpoint: r.endpoint, model: r.model, stream: r.stream };
    const end = {
      type: 'request.end',
      ...base,
      ts: now + r.latencyMs / 1000,
      status: r.status ?? 200,
      latency_ms: r.latencyMs,
      ...(r.ttftMs !== undefined ? { ttft_ms: r.ttftMs } : {}),
      ...(r.promptTokens !== undefined ? { prompt_tokens: r.promptTokens } : {}),
      ...(r.completionTokens !== undefined ? { completion_tokens: r.completionTokens } : {}),
    };
    return [{ type: 'request.start', ...base }, end];
  });
}

export async function post(url: string, events: object[]): Promise<void> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

/** One data point as the receiver decoded it. */
export interface Point {
  metric: string;
  unit: string;
  kind: 'histogram' | 'exponential' | 'sum' | 'other';
  temporality: number;
  monotonic?: boolean;
  attributes: Record<string, string>;
  startNs: bigint;
  endNs: bigint;
  count: number;
  sum: number;
  bounds: number[];
  /** An explicit histogram's bucket counts; an exponential one's positive bucket counts, from `offset`. */
  buckets: number[];
  /** An exponential histogram's scale, zero count, first positive bucket and negative bucket counts. */
  scale?: number;
  zeroCount: number;
  offset: number;
  negative: number[];
  /** A sum's value. */
  value: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- walking OTLP/JSON */
/** The points of one OTLP/JSON ExportMetricsServiceRequest. */
export function pointsOf(request: RecordedRequest): Point[] {
  const points: Point[] = [];
  for (const rm of request.body.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const data = m.histogram ?? m.exponentialHistogram ?? m.sum;
        const kind = m.histogram ? 'histogram' : m.exponentialHistogram ? 'exponential' : m.sum ? 'sum' : 'other';
        for (const dp of data?.dataPoints ?? []) {
          points.push({
            metric: m.name,
            unit: m.unit,
            kind,
            temporality: data.aggregationTemporality,
            monotonic: m.sum?.isMonotonic,
            attributes: Object.fromEntries((dp.attributes ?? []).map((a: any) => [a.key, a.value.stringValue ?? String(a.value.intValue)])),
            startNs: BigInt(dp.startTimeUnixNano),
            endNs: BigInt(dp.timeUnixNano),
            count: Number(dp.count ?? 0),
            sum: Number(dp.sum ?? 0),
            bounds: (dp.explicitBounds ?? []).map(Number),
            buckets: (dp.bucketCounts ?? dp.positive?.bucketCounts ?? []).map(Number),
            scale: dp.scale,
            zeroCount: Number(dp.zeroCount ?? 0),
            offset: Number(dp.positive?.offset ?? 0),
            negative: (dp.negative?.bucketCounts ?? []).map(Number),
            value: Number(dp.asInt ?? dp.asDouble ?? 0),
          });
        }
      }
    }
  }
  return points;
}

/** The resource attributes of a request. */
export function resourceOf(request: RecordedRequest): Record<string, string> {
  const attrs = request.body.resourceMetrics?.[0]?.resource?.attributes ?? [];
  return Object.fromEntries(attrs.map((a: any) => [a.key, a.value.stringValue]));
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The point of `metric` whose attributes include `match`. */
export function pointOf(points: readonly Point[], metric: string, match: Record<string, string>): Point | undefined {
  return points.find((p) => p.metric === metric && Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

/** Sum of a counter's values over every series. */
export function total(points: readonly Point[], metric: string): number {
  return points.filter((p) => p.metric === metric).reduce((n, p) => n + p.value, 0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
