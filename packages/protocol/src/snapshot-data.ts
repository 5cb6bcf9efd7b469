/**
 * The public `data` object of `historical_data`, `metrics_update` and
 * `GET /metrics/snapshot` (docs/PROTOCOL.md §4). Maps are keyed by endpoint.
 */

export const METRIC_TYPES = ['throughput', 'latency', 'cache', 'queue', 'streaming', 'error'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export function isMetricType(value: unknown): value is MetricType {
  return typeof value === 'string' && (METRIC_TYPES as readonly string[]).includes(value);
}

/** Latency-like statistics: ms, except streaming tokens_per_second (tokens/s). */
export interface Stats {
  avg: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

export type ByEndpoint<T> = Record<string, T>;

export interface ThroughputData {
  requests_per_sec: ByEndpoint<number>;
  responses_per_sec: ByEndpoint<number>;
  tokens_per_sec: ByEndpoint<number>;
  total_requests_per_sec: number;
  total_responses_per_sec: number;
  total_tokens_per_sec: number;
}

export interface CacheFigures {
  hit_rate: number;
  token_reuse_rate: number;
  avg_prefix_length: number;
  total_lookups: number;
  cache_hits: number;
}

export interface CacheData extends CacheFigures {
  by_endpoint: ByEndpoint<CacheFigures>;
}

export interface QueueData {
  queue_depth: number;
  active_streams: number;
}

export interface StreamingData {
  active_streams: number;
  completed_streams: number;
  failed_streams: number;
  ttft?: Stats;
  tokens_per_second?: Stats;
}

export interface ErrorData {
  errors_per_sec: ByEndpoint<number>;
  total_errors_per_sec: number;
}

export interface SnapshotData {
  throughput: ThroughputData;
  latency: ByEndpoint<Stats>;
  cache: CacheData;
  queue: QueueData;
  streaming: StreamingData;
  error: ErrorData;
}

/** What a client receives: only the metric types of its view. */
export type ViewData = Partial<SnapshotData>;
