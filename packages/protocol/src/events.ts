/**
 * Ingest events, version 1 (docs/PROTOCOL.md §3), declared once: the types
 * and the validator both follow from the schemas below (object-schema.ts).
 * Times are seconds since the epoch (a float, like Python's time.time());
 * durations are milliseconds. Unknown fields are dropped, so producers may
 * send more than v1 knows.
 */
import {
  boolean,
  compile,
  integer,
  literal,
  number,
  object,
  optional,
  required,
  string,
  withDefault,
  type Input,
  type ObjectSchema,
  type Parsed,
} from './object-schema.js';

export const EVENT_TYPES = ['request.start', 'request.end', 'node.gauge'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Upper bound for `ts`: catches producers that send milliseconds by mistake. */
const MAX_TS_SECONDS = 1e11;

const ts = required(number(0, { minExclusive: true, max: MAX_TS_SECONDS, maxMessage: 'must be seconds since the epoch, not milliseconds' }));
const label = (max: number) => required(string(1, max));
const count = integer(0, Number.MAX_SAFE_INTEGER);
const duration = number(0);

const requestFields = {
  ts,
  node: label(128),
  request_id: label(128),
  endpoint: label(256),
  model: label(256),
};

const requestStart = {
  fields: { type: required(literal('request.start')), ...requestFields, stream: withDefault(boolean, false) },
} as const satisfies ObjectSchema;

const requestEnd = {
  fields: {
    type: required(literal('request.end')),
    ...requestFields,
    /** Absent: as its start said. An explicit `false` makes it no stream, whatever its start said. */
    stream: optional(boolean),
    status: required(integer(100, 599)),
    error: optional(string(0, 256)),
    latency_ms: required(duration),
    ttft_ms: optional(duration),
    prompt_tokens: optional(count),
    completion_tokens: optional(count),
    /** True when `completion_tokens` was counted by an observer (the proxy counting content chunks), not reported in `usage`. */
    tokens_estimated: optional(boolean),
    /** The KV-cache lookup of this request. */
    cache: optional(
      object({
        hit: required(boolean),
        cached_tokens: withDefault(count, 0),
        prefix_length: withDefault(count, 0),
      }),
    ),
  },
} as const satisfies ObjectSchema;

const nodeGauge = {
  fields: {
    type: required(literal('node.gauge')),
    ts,
    node: label(128),
    active_streams: optional(count),
    queue_depth: optional(count),
  },
  oneOf: { keys: ['active_streams', 'queue_depth'], message: 'a gauge needs active_streams or queue_depth' },
} as const satisfies ObjectSchema;

export type RequestStart = Parsed<typeof requestStart>;
export type RequestEnd = Parsed<typeof requestEnd>;
export type NodeGauge = Parsed<typeof nodeGauge>;
export type PulseEvent = RequestStart | RequestEnd | NodeGauge;
/** An event as a producer may write it: fields with defaults (`stream`, the cache counts) may be left out. */
export type PulseEventInput = Input<typeof requestStart> | Input<typeof requestEnd> | Input<typeof nodeGauge>;

export type EventCheck = { ok: true; event: PulseEvent } | { ok: false; error: string };

const validators: Record<EventType, (input: Record<string, unknown>) => PulseEvent | string> = {
  'request.start': compile(requestStart),
  'request.end': compile(requestEnd),
  'node.gauge': compile(nodeGauge),
};

/**
 * Validates one event. The error names the first offending field, e.g.
 * `latency_ms: must be a finite number, got a string`.
 */
export function checkEvent(input: unknown): EventCheck {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: 'event must be a JSON object' };
  }
  const type = (input as { type?: unknown }).type;
  const validate = typeof type === 'string' && Object.hasOwn(validators, type) ? validators[type as EventType] : undefined;
  if (!validate) return { ok: false, error: `type: must be one of ${EVENT_TYPES.join(', ')}` };
  const result = validate(input as Record<string, unknown>);
  return typeof result === 'string' ? { ok: false, error: result } : { ok: true, event: result };
}

/** An end with status ≥ 400 or an `error` is an error (docs/PROTOCOL.md §4). */
export function isErrorEnd(end: RequestEnd): boolean {
  return end.status >= 400 || (end.error !== undefined && end.error !== '');
}
