/**
 * Reading a view for people: the headline figures, one row per endpoint, the
 * row of a model-filtered view. Only the metric types a client subscribed to
 * are in its `data`; what is missing stays undefined. Shared by the
 * dashboard and the CLI.
 */
import type { ViewData } from '@pulse/protocol';

export interface Headline {
  requestsPerSec?: number;
  tokensPerSec?: number;
  /** The highest p99 over the endpoints in view: percentiles do not average, so the worst one is shown. */
  worstP99?: number;
  ttftP50?: number;
  /** Inter-token latency p99 of streams (version 2). */
  itlP99?: number;
  hitRate?: number;
  errorsPerSec?: number;
  activeStreams?: number;
  queueDepth?: number;
}

export function headline(data: ViewData): Headline {
  const p99s = Object.values(data.latency ?? {}).map((s) => s.p99);
  return {
    requestsPerSec: data.throughput?.total_requests_per_sec,
    tokensPerSec: data.throughput?.total_tokens_per_sec,
    worstP99: p99s.length > 0 ? Math.max(...p99s) : undefined,
    ttftP50: data.streaming?.ttft?.p50,
    itlP99: data.streaming?.itl?.p99,
    hitRate: data.cache?.hit_rate,
    errorsPerSec: data.error?.total_errors_per_sec,
    activeStreams: data.queue?.active_streams ?? data.streaming?.active_streams,
    queueDepth: data.queue?.queue_depth,
  };
}

export interface EndpointRow {
  endpoint: string;
  requestsPerSec?: number;
  responsesPerSec?: number;
  tokensPerSec?: number;
  errorsPerSec?: number;
  p50?: number;
  p90?: number;
  p99?: number;
  hitRate?: number;
}

/**
 * The entry of endpoint `name` in a map, if the map has one of its own.
 * Endpoint names come from producers: a plain `map[name]` finds Object's
 * members for `constructor` or `__proto__` when that endpoint is missing.
 */
function own<T>(map: Readonly<Record<string, T>> | undefined, name: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, name) ? map[name] : undefined;
}

/** One row per endpoint present in any per-endpoint map, busiest first. */
export function endpointRows(data: ViewData): EndpointRow[] {
  const names = new Set<string>();
  for (const map of [data.throughput?.requests_per_sec, data.latency, data.error?.errors_per_sec, data.cache?.by_endpoint]) {
    for (const name of Object.keys(map ?? {})) names.add(name);
  }
  const rows = [...names].map((endpoint): EndpointRow => {
    const latency = own(data.latency, endpoint);
    return {
      endpoint,
      requestsPerSec: own(data.throughput?.requests_per_sec, endpoint),
      responsesPerSec: own(data.throughput?.responses_per_sec, endpoint),
      tokensPerSec: own(data.throughput?.tokens_per_sec, endpoint),
      errorsPerSec: own(data.error?.errors_per_sec, endpoint),
      p50: latency?.p50,
      p90: latency?.p90,
      p99: latency?.p99,
      hitRate: own(data.cache?.by_endpoint, endpoint)?.hit_rate,
    };
  });
  return rows.sort((a, b) => (b.requestsPerSec ?? 0) - (a.requestsPerSec ?? 0) || a.endpoint.localeCompare(b.endpoint));
}

export interface ModelRow {
  model: string;
  requestsPerSec?: number;
  tokensPerSec?: number;
  errorsPerSec?: number;
  ttftP50?: number;
  activeStreams?: number;
  queueDepth?: number;
}

/** The row of one model, from a view filtered to that model. */
export function modelRow(model: string, data: ViewData): ModelRow {
  return {
    model,
    requestsPerSec: data.throughput?.total_requests_per_sec,
    tokensPerSec: data.throughput?.total_tokens_per_sec,
    errorsPerSec: data.error?.total_errors_per_sec,
    ttftP50: data.streaming?.ttft?.p50,
    activeStreams: data.queue?.active_streams,
    queueDepth: data.queue?.queue_depth,
  };
}
