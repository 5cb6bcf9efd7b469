/**
 * WebSocket messages of /metrics/stream (docs/PROTOCOL.md §5) and the subscription
 * rules: parsing a client frame, applying a subscribe to a filter.
 */
import { METRIC_TYPES, isMetricType, type MetricType, type SnapshotData, type ViewData } from './snapshot-data.js';

export const DEFAULT_INTERVAL_SECONDS = 1;
export const MAX_INTERVAL_SECONDS = 3600;

/** A client's subscription. Empty endpoint/model/node sets mean "all". */
export interface Filter {
  readonly endpoints: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
  readonly nodes: ReadonlySet<string>;
  /** `null` means all metric types (the default). */
  readonly metricTypes: ReadonlySet<MetricType> | null;
  /** Effective interval in ms: a whole number of ticks. */
  readonly intervalMs: number;
}

export function defaultFilter(tickMs: number): Filter {
  return {
    endpoints: new Set(),
    models: new Set(),
    nodes: new Set(),
    metricTypes: null,
    intervalMs: roundInterval(DEFAULT_INTERVAL_SECONDS, tickMs),
  };
}

/** Rounds up to a multiple of the tick, at least one tick, at most 3600 s. */
export function roundInterval(seconds: number, tickMs: number): number {
  const maxTicks = Math.max(1, Math.floor((MAX_INTERVAL_SECONDS * 1000) / tickMs));
  // The epsilon keeps 0.3 s at a 100 ms tick from becoming 4 ticks through float error.
  const ticks = Math.ceil((seconds * 1000) / tickMs - 1e-9);
  return Math.min(Math.max(1, ticks), maxTicks) * tickMs;
}

export type ClientMessage =
  /** `since`, when the frame has one, as sent: checked by `parseSince` (docs/PROTOCOL.md §5.11). */
  | { type: 'subscribe'; filters: Record<string, unknown>; since?: unknown }
  | { type: 'unsubscribe' }
  | { type: 'ping' };

/** `limit` is set when a configured limit (not a malformed request) refused it, for the self-metrics. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string; limit?: SubscribeLimit };

/** Parses one text frame. Never throws. */
export function parseClientMessage(text: string): Parsed<ClientMessage> {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Invalid JSON: ${(err as Error).message}` };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, error: 'message must be a JSON object' };
  }
  const type = (msg as { type?: unknown }).type;
  switch (type) {
    case 'subscribe': {
      const filters = (msg as { filters?: unknown }).filters;
      const since = 'since' in msg ? { since: (msg as { since?: unknown }).since } : {};
      if (filters === undefined) return { ok: true, value: { type, filters: {}, ...since } };
      if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) {
        return { ok: false, error: 'filters: must be an object' };
      }
      return { ok: true, value: { type, filters: filters as Record<string, unknown>, ...since } };
    }
    case 'unsubscribe':
    case 'ping':
      return { ok: true, value: { type } };
    default:
      return {
        ok: false,
        error: `Unknown message type: ${typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : String(type)}`,
      };
  }
}

/**
 * A subscribe's `since` (docs/PROTOCOL.md §5.11): the `timestamp` of the
 * last `metrics_update` the client received, seconds since the epoch — a
 * finite number ≥ 0. Anything else is refused, naming `since`.
 */
export function parseSince(value: unknown): Parsed<number> {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    return { ok: false, error: `since: must be the timestamp of the last metrics_update received (seconds since the epoch, a finite number ≥ 0), got ${preview(value)}` };
  }
  return { ok: true, value };
}

const FILTER_KEYS = new Set(['endpoint', 'endpoints', 'model', 'models', 'node', 'nodes', 'metric_type', 'metric_types', 'interval']);

export interface SubscribeLimits {
  /** Most endpoints, models and nodes one client may hold. */
  maxLabels: number;
  /** Most endpoints, models and nodes one subscribe may name. */
  maxLabelsPerSubscribe: number;
  /** Longest endpoint, model or node name accepted. */
  maxLabelLength: number;
}

/** The limits a refusal names, as the gateway's self-metrics count them. */
export type SubscribeLimit = 'string_length' | 'labels_per_subscribe' | 'labels_per_client' | 'distinct_views';

export const DEFAULT_SUBSCRIBE_LIMITS: SubscribeLimits = { maxLabels: 256, maxLabelsPerSubscribe: 100, maxLabelLength: 256 };

/**
 * A client's value, short, for an error message. Never JSON.stringify of an
 * object or array: a 64 KB frame nests deep enough to overflow its stack.
 */
function preview(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 64));
  return JSON.stringify(value) ?? typeof value;
}

function strings(key: string, value: unknown, many: boolean, limits: SubscribeLimits): Parsed<string[]> {
  const list = many ? value : [value];
  if (!Array.isArray(list)) return { ok: false, error: `${key}: must be an array of strings` };
  for (const item of list) {
    if (typeof item !== 'string') return { ok: false, error: `${key}: must be a string, got ${preview(item)}` };
    if (item.length > limits.maxLabelLength) {
      return { ok: false, error: `${key}: longer than ${limits.maxLabelLength} characters`, limit: 'string_length' };
    }
  }
  return { ok: true, value: list as string[] };
}

/**
 * Applies the filters of one subscribe to `current`. Adds endpoints, models
 * and metric types; `all` resets types to all; `interval` replaces. Any
 * invalid part rejects the whole subscribe, naming the offending key or value.
 */
export function applySubscribe(
  current: Filter,
  filters: Record<string, unknown>,
  tickMs: number,
  limits: SubscribeLimits = DEFAULT_SUBSCRIBE_LIMITS,
): Parsed<Filter> {
  for (const key of Object.keys(filters)) {
    if (!FILTER_KEYS.has(key)) return { ok: false, error: `unknown filter key: ${JSON.stringify(key.slice(0, 64))}` };
  }
  const endpoints = new Set(current.endpoints);
  const models = new Set(current.models);
  const nodes = new Set(current.nodes);
  let metricTypes = current.metricTypes === null ? null : new Set(current.metricTypes);
  let intervalMs = current.intervalMs;

  let named = 0;
  for (const key of ['endpoints', 'models', 'nodes'] as const) {
    const list = filters[key];
    if (Array.isArray(list)) named += list.length;
  }
  for (const key of ['endpoint', 'model', 'node'] as const) if (key in filters) named++;
  // Before any work on them: a subscribe naming thousands of labels costs nothing to refuse.
  if (named > limits.maxLabelsPerSubscribe) {
    return { ok: false, error: `filters: more than ${limits.maxLabelsPerSubscribe} endpoints, models and nodes in one subscribe`, limit: 'labels_per_subscribe' };
  }

  for (const [key, many, target] of [
    ['endpoint', false, endpoints],
    ['endpoints', true, endpoints],
    ['model', false, models],
    ['models', true, models],
    ['node', false, nodes],
    ['nodes', true, nodes],
  ] as const) {
    if (!(key in filters)) continue;
    const parsed = strings(key, filters[key], many, limits);
    if (!parsed.ok) return parsed;
    for (const s of parsed.value) target.add(s);
  }
  if (endpoints.size + models.size + nodes.size > limits.maxLabels) {
    return { ok: false, error: `filters: more than ${limits.maxLabels} endpoints, models and nodes in total`, limit: 'labels_per_client' };
  }

  for (const [key, many] of [['metric_type', false], ['metric_types', true]] as const) {
    if (!(key in filters)) continue;
    const parsed = strings(key, filters[key], many, limits);
    if (!parsed.ok) return parsed;
    for (const t of parsed.value) {
      if (t === 'all') {
        metricTypes = null;
      } else if (isMetricType(t)) {
        metricTypes ??= new Set();
        metricTypes.add(t);
      } else {
        return { ok: false, error: `${key}: unknown metric type ${JSON.stringify(t.slice(0, 64))} (expected one of ${[...METRIC_TYPES, 'all'].join(', ')})` };
      }
    }
  }

  if ('interval' in filters) {
    const v = filters.interval;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      return { ok: false, error: `interval: must be a positive finite number of seconds, got ${preview(v)}` };
    }
    intervalMs = roundInterval(v, tickMs);
  }
  return { ok: true, value: { endpoints, models, nodes, metricTypes, intervalMs } };
}

/** The `filters` echoed in `subscribed`. */
export function describeFilter(f: Filter): {
  endpoints: string[];
  models: string[];
  nodes: string[];
  metric_types: string[];
  interval: number;
} {
  return {
    endpoints: [...f.endpoints].sort(),
    models: [...f.models].sort(),
    nodes: [...f.nodes].sort(),
    metric_types: f.metricTypes === null ? ['all'] : METRIC_TYPES.filter((t) => f.metricTypes!.has(t)),
    interval: f.intervalMs / 1000,
  };
}

/** Deltas of docs/PROTOCOL.md §5, each present only when its metric type is in the view. */
export interface Deltas {
  throughput?: { total_requests_per_sec: number; total_tokens_per_sec: number };
  streaming?: { active_streams_delta: number };
}

/** One point of a `history` message: the view's figures at a past snapshot time. */
export interface HistoryPointMessage {
  timestamp: number;
  data: ViewData;
}

export type ServerMessage =
  | { type: 'historical_data'; timestamp: number; data: SnapshotData }
  | {
      type: 'metrics_update';
      timestamp: number;
      data: ViewData;
      deltas: Deltas;
      /** Never sent by the server: @pulse/client sets it on the points of a `history` message it delivers as updates. */
      backfill?: true;
    }
  /** The answer to a subscribe with `since` (docs/PROTOCOL.md §5.11); `error` when the points could not be (all) read. */
  | { type: 'history'; timestamp: number; since: number; step: number; points: HistoryPointMessage[]; error?: string }
  | { type: 'subscribed'; timestamp: number; filters: ReturnType<typeof describeFilter> }
  | { type: 'unsubscribed'; timestamp: number }
  | { type: 'pong'; timestamp: number }
  | { type: 'error'; timestamp: number; message: string; code?: string };
