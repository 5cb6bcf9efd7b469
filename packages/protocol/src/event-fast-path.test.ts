import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastEvent } from './event-fast-path.js';
import { eventSchema, FAST_PATH_ENABLED, type EventType } from './events.js';

/** Values at and around every bound of events.ts, of every JSON type, and undefined. */
const edgy = fc.constantFrom<unknown>(
  undefined, null, true, false, '', 'x', 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(256), 'x'.repeat(257),
  0, -0, -1, 0.5, 1, 99, 100, 399, 400, 599, 600, 1e11, 1e11 + 1, 1764200000.25, 2 ** 53 - 1, 2 ** 53,
  Number.MAX_VALUE, Infinity, -Infinity, NaN, [], {}, { hit: true }, [1], '12', 'true',
);
const cacheValue = fc.oneof(
  edgy,
  fc.record(
    { hit: fc.oneof(fc.boolean(), edgy), cached_tokens: fc.oneof(fc.nat(), edgy), prefix_length: fc.oneof(fc.nat(), edgy), extra: edgy },
    { requiredKeys: [] },
  ),
);

const KEYS = [
  'ts', 'node', 'request_id', 'endpoint', 'model', 'stream', 'status', 'error', 'latency_ms', 'ttft_ms',
  'prompt_tokens', 'completion_tokens', 'tokens_estimated', 'active_streams', 'queue_depth', 'unknown_field',
] as const;

/** A plausible valid value per key, so that most generated events are valid or nearly so. */
const VALID: Record<(typeof KEYS)[number], fc.Arbitrary<unknown>> = {
  ts: fc.double({ min: 1e-3, max: 1e11, noNaN: true }),
  node: fc.string({ minLength: 1, maxLength: 128 }),
  request_id: fc.string({ minLength: 1, maxLength: 128 }),
  endpoint: fc.string({ minLength: 1, maxLength: 256 }),
  model: fc.string({ minLength: 1, maxLength: 256 }),
  stream: fc.boolean(),
  status: fc.integer({ min: 100, max: 599 }),
  error: fc.string({ maxLength: 256 }),
  latency_ms: fc.double({ min: 0, max: 1e7, noNaN: true }),
  ttft_ms: fc.double({ min: 0, max: 1e7, noNaN: true }),
  prompt_tokens: fc.nat(),
  completion_tokens: fc.nat(),
  tokens_estimated: fc.boolean(),
  active_streams: fc.nat(),
  queue_depth: fc.nat(),
  unknown_field: fc.anything(),
};

const event = fc
  .tuple(
    fc.constantFrom<EventType>('request.start', 'request.end', 'node.gauge'),
    fc.record(Object.fromEntries(KEYS.map((k) => [k, fc.oneof({ weight: 12, arbitrary: VALID[k] }, { weight: 1, arbitrary: edgy })]))),
    // Keys left out altogether (as opposed to present with `undefined`).
    fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 3 }),
    fc.option(cacheValue, { nil: undefined }),
  )
  .map(([type, fields, absent, cache]) => {
    const e: Record<string, unknown> = { type, ...fields, ...(cache === undefined ? {} : { cache }) };
    for (const k of absent) delete e[k];
    return e;
  });

describe('event fast path', () => {
  it('is on: it knows every field of the schemas', () => {
    expect(FAST_PATH_ENABLED).toBe(true);
  });

  it('accepts only what the schemas accept, and returns exactly what they return', () => {
    let taken = 0;
    fc.assert(
      fc.property(event, (input) => {
        const fast = fastEvent(input, input.type as string);
        if (fast === undefined) return;
        taken++;
        const parsed = eventSchema.safeParse(input);
        expect(parsed.success).toBe(true);
        // Same keys in the same order, same values: the stream entries are byte-identical.
        expect(JSON.stringify(fast)).toBe(JSON.stringify(parsed.data));
        expect(fast).toStrictEqual(parsed.data);
      }),
      { numRuns: 20_000 },
    );
    // The property says something only if the fast path takes a fair share of the inputs.
    expect(taken).toBeGreaterThan(2000);
  });

  it('takes the common case: the events FakeAI sends', () => {
    const common = { ts: 1764200000.4, node: 'fakeai-1', request_id: 'r1', endpoint: '/v1/chat/completions', model: 'gpt-4' };
    const valid = [
      { type: 'request.start', ...common, stream: true },
      { type: 'request.start', ...common },
      {
        type: 'request.end', ...common, stream: true, status: 200, latency_ms: 400, ttft_ms: 35, prompt_tokens: 120,
        completion_tokens: 80, cache: { hit: true, cached_tokens: 64, prefix_length: 64 },
      },
      { type: 'request.end', ...common, status: 500, error: 'timeout', latency_ms: 0 },
      { type: 'node.gauge', ts: 1764200000, node: 'fakeai-1', active_streams: 3, queue_depth: 0 },
    ];
    for (const e of valid) {
      expect(fastEvent(e, e.type)).toStrictEqual(eventSchema.parse(e));
    }
  });

  it('declines what only the schemas can word an error for', () => {
    const end = { type: 'request.end', ts: 1, node: 'n', request_id: 'r', endpoint: '/e', model: 'm', status: 200, latency_ms: 1 };
    expect(fastEvent({ ...end, latency_ms: -1 }, 'request.end')).toBeUndefined();
    expect(fastEvent({ ...end, ttft_ms: undefined }, 'request.end')).toBeUndefined();
    expect(fastEvent({ ...end, cache: { cached_tokens: 1 } }, 'request.end')).toBeUndefined();
    expect(fastEvent({ type: 'node.gauge', ts: 1, node: 'n' }, 'node.gauge')).toBeUndefined();
    expect(fastEvent({ ...end, type: 'request.other' }, 'request.other')).toBeUndefined();
  });
});
