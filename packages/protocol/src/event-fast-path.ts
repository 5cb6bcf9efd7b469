/**
 * The common case of `checkEvent`, by hand: an event that is valid.
 *
 * Validation through the zod schemas was a fifth of ingest's CPU per event,
 * and the aggregator validates every event again when it reads the stream.
 * This path accepts only what the schemas of events.ts accept and returns
 * exactly what they return (defaults filled in, unknown fields dropped, keys
 * in schema order). Anything else — invalid, or merely unusual, such as a
 * field present with the value `undefined` — it declines, and the schemas
 * decide and word the error, so error messages never depend on it.
 *
 * The bounds below repeat those of events.ts; events.ts turns this path off
 * when the field lists differ from its schemas, and event-fast-path.test.ts
 * checks both agree on every field, at the bounds and on random input.
 */
import type { PulseEvent } from './events.js';

const MAX_TS_SECONDS = 1e11;

/** The fields, per event type and for `cache`, in schema order: events.ts compares them with its schemas. */
const KEYS: Record<string, readonly string[]> = {
  'request.start': ['type', 'ts', 'node', 'request_id', 'endpoint', 'model', 'stream'],
  'request.end': [
    'type', 'ts', 'node', 'request_id', 'endpoint', 'model', 'stream', 'status', 'error', 'latency_ms',
    'ttft_ms', 'prompt_tokens', 'completion_tokens', 'tokens_estimated', 'cache',
  ],
  'node.gauge': ['type', 'ts', 'node', 'active_streams', 'queue_depth'],
  cache: ['hit', 'cached_tokens', 'prefix_length'],
};

export function fastPathKeys(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [k, [...v]]));
}

// Each reader below reads named properties (monomorphic inline caches on
// JSON.parse's objects, which share one shape per key order) and returns
// undefined at the first doubt.

type In = Record<string, unknown>;
/** Declines: the schemas decide. */
const NO = undefined;

const isTs = (v: unknown): v is number => typeof v === 'number' && v > 0 && v <= MAX_TS_SECONDS;
const isLabel = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isDuration = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v < Infinity;
/** Absent, or present and valid; present-but-undefined keeps its key in zod's output, so it declines. */
const absent = (e: In, key: string): boolean => !(key in e);

interface Common {
  type: string;
  ts: number;
  node: string;
  request_id: string;
  endpoint: string;
  model: string;
  stream: boolean;
}

function readRequest(e: In, type: string): Common | undefined {
  const { ts, node, request_id, endpoint, model } = e;
  if (!isTs(ts) || !isLabel(node, 128) || !isLabel(request_id, 128) || !isLabel(endpoint, 256) || !isLabel(model, 256)) return NO;
  const raw = e.stream;
  let stream: boolean;
  if (raw === undefined) {
    if (!absent(e, 'stream')) return NO;
    stream = false;
  } else if (typeof raw === 'boolean') {
    stream = raw;
  } else {
    return NO;
  }
  return { type, ts, node, request_id, endpoint, model, stream };
}

function readCache(c: unknown): Record<string, unknown> | undefined {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return NO;
  const { hit, cached_tokens, prefix_length } = c as In;
  if (typeof hit !== 'boolean') return NO;
  const out: Record<string, unknown> = { hit, cached_tokens: 0, prefix_length: 0 };
  if (cached_tokens !== undefined ? !isCount(cached_tokens) : !absent(c as In, 'cached_tokens')) return NO;
  if (prefix_length !== undefined ? !isCount(prefix_length) : !absent(c as In, 'prefix_length')) return NO;
  if (cached_tokens !== undefined) out.cached_tokens = cached_tokens;
  if (prefix_length !== undefined) out.prefix_length = prefix_length;
  return out;
}

function readEnd(e: In): Record<string, unknown> | undefined {
  const out: Record<string, unknown> | undefined = readRequest(e, 'request.end') as Record<string, unknown> | undefined;
  if (!out) return NO;
  const { status, error, latency_ms, ttft_ms, prompt_tokens, completion_tokens, tokens_estimated, cache } = e;
  if (typeof status !== 'number' || !Number.isSafeInteger(status) || status < 100 || status > 599) return NO;
  out.status = status;
  if (error !== undefined) {
    if (typeof error !== 'string' || error.length > 256) return NO;
    out.error = error;
  } else if (!absent(e, 'error')) return NO;
  if (!isDuration(latency_ms)) return NO;
  out.latency_ms = latency_ms;
  if (ttft_ms !== undefined) {
    if (!isDuration(ttft_ms)) return NO;
    out.ttft_ms = ttft_ms;
  } else if (!absent(e, 'ttft_ms')) return NO;
  if (prompt_tokens !== undefined) {
    if (!isCount(prompt_tokens)) return NO;
    out.prompt_tokens = prompt_tokens;
  } else if (!absent(e, 'prompt_tokens')) return NO;
  if (completion_tokens !== undefined) {
    if (!isCount(completion_tokens)) return NO;
    out.completion_tokens = completion_tokens;
  } else if (!absent(e, 'completion_tokens')) return NO;
  if (tokens_estimated !== undefined) {
    if (typeof tokens_estimated !== 'boolean') return NO;
    out.tokens_estimated = tokens_estimated;
  } else if (!absent(e, 'tokens_estimated')) return NO;
  if (cache !== undefined) {
    const c = readCache(cache);
    if (!c) return NO;
    out.cache = c;
  } else if (!absent(e, 'cache')) return NO;
  return out;
}

function readGauge(e: In): Record<string, unknown> | undefined {
  const { ts, node, active_streams, queue_depth } = e;
  if (!isTs(ts) || !isLabel(node, 128)) return NO;
  const out: Record<string, unknown> = { type: 'node.gauge', ts, node };
  if (active_streams !== undefined) {
    if (!isCount(active_streams)) return NO;
    out.active_streams = active_streams;
  } else if (!absent(e, 'active_streams')) return NO;
  if (queue_depth !== undefined) {
    if (!isCount(queue_depth)) return NO;
    out.queue_depth = queue_depth;
  } else if (!absent(e, 'queue_depth')) return NO;
  // The gauge's refinement: at least one of the two figures.
  if (active_streams === undefined && queue_depth === undefined) return NO;
  return out;
}

/**
 * The parsed event when `input` (an object whose `type` is one of
 * EVENT_TYPES) is valid and plain; undefined when the schemas must decide.
 */
export function fastEvent(input: Record<string, unknown>, type: string): PulseEvent | undefined {
  switch (type) {
    case 'request.start':
      return readRequest(input, type) as PulseEvent | undefined;
    case 'request.end':
      return readEnd(input) as PulseEvent | undefined;
    case 'node.gauge':
      return readGauge(input) as PulseEvent | undefined;
    default:
      return NO;
  }
}
