/**
 * The public `data` object of `historical_data`, `metrics_update` and
 * `GET /metrics/snapshot` (docs/PROTOCOL.md §4). Maps are keyed by endpoint,
 * but for `slo` (by SLO name) and `nodes` (by node).
 */

/** The seed's six types, then version 2's `slo` and `nodes`. */
export const METRIC_TYPES = ['throughput', 'latency', 'cache', 'queue', 'streaming', 'error', 'slo', 'nodes'] as const;
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
  p95: number;
  p99: number;
  p999: number;
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
  /** Inter-token latency: (latency_ms − ttft_ms) / (completion_tokens − 1) of streams with ≥ 2 tokens. */
  itl?: Stats;
}

export interface ErrorData {
  errors_per_sec: ByEndpoint<number>;
  total_errors_per_sec: number;
  /** Errors/s by HTTP status, over ends with status ≥ 400. */
  by_status: Record<string, number>;
  /** Errors/s by `error` string (at most 100 names, the rest `__other__`). */
  by_type: Record<string, number>;
}

/** One SLO's attainment over the window; `attainment_pct` is absent while nothing is valid. */
export interface SloFigures {
  attainment_pct?: number;
  good_per_sec: number;
  valid_per_sec: number;
}

export interface SloEntry extends SloFigures {
  by_endpoint: ByEndpoint<SloFigures>;
}

/** One producing node's figures over the window. */
export interface NodeFigures {
  requests_per_sec: number;
  responses_per_sec: number;
  tokens_per_sec: number;
  errors_per_sec: number;
  latency?: Stats;
  ttft?: Stats;
  queue_depth: number;
  active_streams: number;
  /** `ts` of its newest event, seconds since the epoch. */
  last_seen: number;
}

export interface SnapshotData {
  throughput: ThroughputData;
  latency: ByEndpoint<Stats>;
  cache: CacheData;
  queue: QueueData;
  streaming: StreamingData;
  error: ErrorData;
  /** By SLO name (PULSE_SLOS). */
  slo: Record<string, SloEntry>;
  /** By node. */
  nodes: Record<string, NodeFigures>;
}

/** What a client receives: only the metric types of its view. */
export type ViewData = Partial<SnapshotData>;
