/**
 * Ingest events, version 1 (CONTRACT §3). Times are seconds since the epoch
 * (a float, like Python's time.time()); durations are milliseconds.
 *
 * Unknown fields are dropped, so producers may send more than v1 knows.
 */
import { z } from 'zod';
import { fastEvent, fastPathKeys } from './event-fast-path.js';

export const EVENT_TYPES = ['request.start', 'request.end', 'node.gauge'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Upper bound for `ts`: catches producers that send milliseconds by mistake. */
const MAX_TS_SECONDS = 1e11;

const label = (max: number) => z.string().min(1).max(max);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const duration = z.number().nonnegative().finite();
const ts = z
  .number()
  .finite()
  .positive()
  .max(MAX_TS_SECONDS, { message: 'must be seconds since the epoch, not milliseconds' });

const base = {
  ts,
  node: label(128),
};

const requestFields = {
  request_id: label(128),
  endpoint: label(256),
  model: label(256),
  stream: z.boolean().default(false),
};

const cacheLookup = z.object({
  hit: z.boolean(),
  cached_tokens: count.default(0),
  prefix_length: count.default(0),
});

export const requestStartSchema = z.object({
  type: z.literal('request.start'),
  ...base,
  ...requestFields,
});

export const requestEndSchema = z.object({
  type: z.literal('request.end'),
  ...base,
  ...requestFields,
  status: z.number().int().min(100).max(599),
  error: z.string().max(256).optional(),
  latency_ms: duration,
  ttft_ms: duration.optional(),
  prompt_tokens: count.optional(),
  completion_tokens: count.optional(),
  /**
   * True when `completion_tokens` was counted by an observer (the ingest
   * proxy counting content chunks) rather than reported by the server's `usage`.
   */
  tokens_estimated: z.boolean().optional(),
  cache: cacheLookup.optional(),
});

export const nodeGaugeSchema = z
  .object({
    type: z.literal('node.gauge'),
    ...base,
    active_streams: count.optional(),
    queue_depth: count.optional(),
  })
  .refine((g) => g.active_streams !== undefined || g.queue_depth !== undefined, {
    message: 'a gauge needs active_streams or queue_depth',
    path: ['active_streams'],
  });

export const eventSchema = z.discriminatedUnion('type', [
  requestStartSchema,
  requestEndSchema,
  nodeGaugeSchema,
]);

export type RequestStart = z.infer<typeof requestStartSchema>;
export type RequestEnd = z.infer<typeof requestEndSchema>;
export type NodeGauge = z.infer<typeof nodeGaugeSchema>;
export type PulseEvent = z.infer<typeof eventSchema>;

export type EventCheck = { ok: true; event: PulseEvent } | { ok: false; error: string };

/**
 * Whether the hand-written fast path (event-fast-path.ts) knows exactly the
 * fields of these schemas; a field added here and not there turns it off
 * rather than have it drop the new field (and a test fails).
 */
export const FAST_PATH_ENABLED = (() => {
  const schemas: Record<string, { shape: object }> = {
    'request.start': requestStartSchema,
    'request.end': requestEndSchema,
    'node.gauge': nodeGaugeSchema,
    cache: cacheLookup,
  };
  const known = fastPathKeys();
  return Object.entries(schemas).every(([name, s]) => Object.keys(s.shape).join() === known[name]?.join());
})();

/**
 * Validates one event. The error names the first offending field, e.g.
 * `latency_ms: expected number, received string`.
 */
export function checkEvent(input: unknown): EventCheck {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: 'event must be a JSON object' };
  }
  const type = (input as { type?: unknown }).type;
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    return { ok: false, error: `type: must be one of ${EVENT_TYPES.join(', ')}` };
  }
  if (FAST_PATH_ENABLED) {
    const event = fastEvent(input as Record<string, unknown>, type);
    if (event) return { ok: true, event };
  }
  const parsed = eventSchema.safeParse(input);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : 'event';
  return { ok: false, error: `${path}: ${issue?.message ?? 'invalid'}` };
}

/** An end with status ≥ 400 or an `error` is an error (CONTRACT §4). */
export function isErrorEnd(end: RequestEnd): boolean {
  return end.status >= 400 || (end.error !== undefined && end.error !== '');
}
