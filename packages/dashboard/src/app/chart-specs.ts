/**
 * The dashboard's charts: what each draws, read from a message's `data`
 * (empty when the metric type is not subscribed). Pure.
 */
import type { MetricType, ViewData } from '@pulse/client';
import type { Point } from './series.js';

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  /** The metric type the chart's figures come from. */
  readonly type: MetricType;
  point(data: ViewData): Point;
}

export const CHARTS: readonly ChartSpec[] = [
  {
    id: 'throughput',
    title: 'Throughput',
    unit: 'req/s',
    type: 'throughput',
    point: ({ throughput: t }) => (t ? { requests: t.total_requests_per_sec, responses: t.total_responses_per_sec } : {}),
  },
  {
    id: 'latency',
    title: 'Latency by endpoint (p50, p99)',
    unit: 'ms',
    type: 'latency',
    point: ({ latency }) => {
      const point: Record<string, number> = {};
      for (const [endpoint, stats] of Object.entries(latency ?? {})) {
        point[`${endpoint} p50`] = stats.p50;
        point[`${endpoint} p99`] = stats.p99;
      }
      return point;
    },
  },
  {
    id: 'ttft',
    title: 'Time to first token',
    unit: 'ms',
    type: 'streaming',
    point: ({ streaming }) => (streaming?.ttft ? { p50: streaming.ttft.p50, p90: streaming.ttft.p90, p99: streaming.ttft.p99 } : {}),
  },
  {
    id: 'itl',
    title: 'Inter-token latency',
    unit: 'ms',
    type: 'streaming',
    point: ({ streaming }) => (streaming?.itl ? { p50: streaming.itl.p50, p99: streaming.itl.p99 } : {}),
  },
  {
    id: 'tokens',
    title: 'Tokens per second',
    unit: 'tokens/s',
    type: 'throughput',
    point: ({ throughput: t }) => (t ? { 'tokens/s': t.total_tokens_per_sec } : {}),
  },
  {
    id: 'cache',
    title: 'KV-cache',
    unit: '%',
    type: 'cache',
    point: ({ cache }) => (cache ? { 'hit rate': cache.hit_rate, 'token reuse': cache.token_reuse_rate } : {}),
  },
  {
    id: 'errors',
    title: 'Errors',
    unit: 'errors/s',
    type: 'error',
    point: ({ error }) => (error ? { 'errors/s': error.total_errors_per_sec } : {}),
  },
  {
    id: 'streams',
    title: 'Active streams',
    unit: 'streams',
    type: 'queue',
    point: ({ queue }) => (queue ? { 'active streams': queue.active_streams } : {}),
  },
  {
    id: 'queue',
    title: 'Queue depth',
    unit: 'requests in flight',
    type: 'queue',
    point: ({ queue }) => (queue ? { 'queue depth': queue.queue_depth } : {}),
  },
];
