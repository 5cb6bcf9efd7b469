import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEvent, type EventType } from './events.js';

const common = { ts: 1764200000.4, node: 'fakeai-1', request_id: 'r1', endpoint: '/v1/chat/completions', model: 'gpt-4' };
const end = { type: 'request.end', ...common, status: 200, latency_ms: 400 };

describe('checkEvent', () => {
  it('takes the events FakeAI sends, defaults filled in, unknown fields dropped, fields in schema order', () => {
    expect(checkEvent({ type: 'request.start', ...common, vendor: 'x' })).toEqual({ ok: true, event: { type: 'request.start', ...common, stream: false } });
    const full = {
      type: 'request.end',
      ...common,
      stream: true,
      status: 200,
      latency_ms: 400,
      ttft_ms: 35,
      prompt_tokens: 120,
      completion_tokens: 80,
      cache: { hit: true, cached_tokens: 64, prefix_length: 64 },
    };
    const checked = checkEvent({ ...full, extra: { deep: 1 } });
    expect(checked).toEqual({ ok: true, event: full });
    expect(JSON.stringify(checked.ok && checked.event)).toBe(JSON.stringify(full));
    expect(checkEvent({ ...end, cache: { hit: false } })).toEqual({
      ok: true,
      event: { type: 'request.end', ...common, status: 200, latency_ms: 400, cache: { hit: false, cached_tokens: 0, prefix_length: 0 } },
    });
    expect(checkEvent({ type: 'node.gauge', ts: 1764200000, node: 'n', queue_depth: 0 })).toEqual({
      ok: true,
      event: { type: 'node.gauge', ts: 1764200000, node: 'n', queue_depth: 0 },
    });
  });

  it.each([
    ['not an object', 'nope', 'event must be a JSON object'],
    ['an array', [end], 'event must be a JSON object'],
    ['an unknown type', { ...end, type: 'request.middle' }, 'type: must be one of request.start, request.end, node.gauge'],
    ['a prototype name as type', { ...end, type: 'constructor' }, 'type: must be one of request.start, request.end, node.gauge'],
    ['a missing field', { ...end, latency_ms: undefined }, 'latency_ms: is required'],
    ['a string for a number', { ...end, latency_ms: 'slow' }, 'latency_ms: must be a finite number, got a string'],
    ['a negative duration', { ...end, latency_ms: -1 }, 'latency_ms: must be at least 0'],
    ['an infinite duration', { ...end, ttft_ms: Infinity }, 'ttft_ms: must be a finite number, got Infinity'],
    ['milliseconds for ts', { ...end, ts: 1764200000400 }, 'ts: must be seconds since the epoch, not milliseconds'],
    ['ts 0', { ...end, ts: 0 }, 'ts: must be greater than 0'],
    ['a status out of range', { ...end, status: 600 }, 'status: must be from 100 to 599'],
    ['a fractional status', { ...end, status: 200.5 }, 'status: must be an integer, got the number 200.5'],
    ['an empty label', { ...end, node: '' }, 'node: must not be empty'],
    ['a long label', { ...end, request_id: 'x'.repeat(129) }, 'request_id: longer than 128 characters'],
    ['a non-boolean stream', { ...end, stream: 'yes' }, 'stream: must be true or false, got a string'],
    ['a null cache', { ...end, cache: null }, 'cache: must be an object, got null'],
    ['a cache without hit', { ...end, cache: { cached_tokens: 1 } }, 'cache.hit: is required'],
    ['a negative cache count', { ...end, cache: { hit: true, prefix_length: -2 } }, 'cache.prefix_length: must be from 0 to 9007199254740991'],
    ['a gauge without figures', { type: 'node.gauge', ts: 1, node: 'n' }, 'active_streams: a gauge needs active_streams or queue_depth'],
    ['a long error', { ...end, error: 'e'.repeat(257) }, 'error: longer than 256 characters'],
  ])('rejects %s, naming the field', (_what, input, error) => {
    expect(checkEvent(input)).toEqual({ ok: false, error });
  });

  it('accepts every field at its bounds', () => {
    const atBounds = [
      { ...end, ts: 1e11, node: 'n'.repeat(128), endpoint: 'e'.repeat(256), model: 'm', status: 100, latency_ms: 0, error: '' },
      { ...end, ts: Number.MIN_VALUE, status: 599, prompt_tokens: 0, completion_tokens: Number.MAX_SAFE_INTEGER },
      { type: 'node.gauge', ts: 1, node: 'n', active_streams: 0 },
    ];
    for (const e of atBounds) expect(checkEvent(e).ok, JSON.stringify(e).slice(0, 80)).toBe(true);
  });
});

/**
 * The compiled validator against a reading of the rules written the slow,
 * obvious way: on random inputs around every bound, both accept the same
 * events and return the same object, or both reject naming the same field.
 */
describe('checkEvent on random input', () => {
  type Check = (v: unknown) => boolean;
  const str = (min: number, max: number): Check => (v) => typeof v === 'string' && v.length >= min && v.length <= max;
  const int = (min: number, max: number): Check => (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
  const bool: Check = (v) => typeof v === 'boolean';
  const dur: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  const tsOk: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 1e11;
  const COUNT = int(0, Number.MAX_SAFE_INTEGER);
  type Rule = [key: string, check: Check, presence: 'required' | 'optional' | unknown];
  const request: Rule[] = [
    ['ts', tsOk, 'required'],
    ['node', str(1, 128), 'required'],
    ['request_id', str(1, 128), 'required'],
    ['endpoint', str(1, 256), 'required'],
    ['model', str(1, 256), 'required'],
  ];
  const rules: Record<EventType, Rule[]> = {
    'request.start': [...request, ['stream', bool, false]],
    'request.end': [
      ...request,
      ['stream', bool, 'optional'],
      ['status', int(100, 599), 'required'],
      ['error', str(0, 256), 'optional'],
      ['latency_ms', dur, 'required'],
      ['ttft_ms', dur, 'optional'],
      ['prompt_tokens', COUNT, 'optional'],
      ['completion_tokens', COUNT, 'optional'],
      ['tokens_estimated', bool, 'optional'],
    ],
    'node.gauge': [
      ['ts', tsOk, 'required'],
      ['node', str(1, 128), 'required'],
      ['active_streams', COUNT, 'optional'],
      ['queue_depth', COUNT, 'optional'],
    ],
  };
  const cacheRules: Rule[] = [
    ['hit', bool, 'required'],
    ['cached_tokens', COUNT, 0],
    ['prefix_length', COUNT, 0],
  ];

  /** The expected result: the parsed object, or the first offending field's name. */
  function reference(input: Record<string, unknown>): { event: Record<string, unknown> } | { field: string } {
    const type = input.type as EventType;
    const read = (from: Record<string, unknown>, list: Rule[], prefix: string, out: Record<string, unknown>): string | null => {
      for (const [key, check, presence] of list) {
        const v = from[key];
        if (v === undefined) {
          if (presence === 'required') return prefix + key;
          if (presence !== 'optional') out[key] = presence;
        } else if (!check(v)) return prefix + key;
        else out[key] = v;
      }
      return null;
    };
    const out: Record<string, unknown> = { type };
    const bad = read(input, rules[type], '', out);
    if (bad) return { field: bad };
    if (type === 'request.end' && input.cache !== undefined) {
      const c = input.cache;
      if (typeof c !== 'object' || c === null || Array.isArray(c)) return { field: 'cache' };
      const cache: Record<string, unknown> = {};
      const badCache = read(c as Record<string, unknown>, cacheRules, 'cache.', cache);
      if (badCache) return { field: badCache };
      out.cache = cache;
    }
    if (type === 'node.gauge' && out.active_streams === undefined && out.queue_depth === undefined) return { field: 'active_streams' };
    return { event: out };
  }

  const edgy = fc.constantFrom<unknown>(
    undefined, null, true, false, '', 'x', 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(256), 'x'.repeat(257),
    0, -0, -1, 0.5, 1, 99, 100, 399, 400, 599, 600, 1e11, 1e11 + 1, 1764200000.25, 2 ** 53 - 1, 2 ** 53,
    Number.MAX_VALUE, Infinity, -Infinity, NaN, [], {}, { hit: true }, [1], '12', 'true',
  );
  const KEYS = ['ts', 'node', 'request_id', 'endpoint', 'model', 'stream', 'status', 'error', 'latency_ms', 'ttft_ms', 'prompt_tokens', 'completion_tokens', 'tokens_estimated', 'active_streams', 'queue_depth', 'unknown_field'] as const;
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
  const cacheValue = fc.oneof(
    edgy,
    fc.record({ hit: fc.oneof(fc.boolean(), edgy), cached_tokens: fc.oneof(fc.nat(), edgy), prefix_length: fc.oneof(fc.nat(), edgy), extra: edgy }, { requiredKeys: [] }),
  );
  const event = fc
    .tuple(
      fc.constantFrom<EventType>('request.start', 'request.end', 'node.gauge'),
      fc.record(Object.fromEntries(KEYS.map((k) => [k, fc.oneof({ weight: 12, arbitrary: VALID[k] }, { weight: 1, arbitrary: edgy })]))),
      fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 3 }),
      fc.option(cacheValue, { nil: undefined }),
    )
    .map(([type, fields, absent, cache]) => {
      const e: Record<string, unknown> = { type, ...fields, ...(cache === undefined ? {} : { cache }) };
      for (const k of absent) delete e[k];
      return e;
    });

  it('accepts exactly what the rules accept and returns what they describe', () => {
    let accepted = 0;
    fc.assert(
      fc.property(event, (input) => {
        const expected = reference(input);
        const checked = checkEvent(input);
        if ('event' in expected) {
          accepted++;
          expect(checked).toEqual({ ok: true, event: expected.event });
          if (checked.ok) expect(JSON.stringify(checked.event)).toBe(JSON.stringify(expected.event));
        } else {
          expect(checked.ok).toBe(false);
          if (!checked.ok) expect(checked.error.startsWith(`${expected.field}: `)).toBe(true);
        }
      }),
      { numRuns: 20_000 },
    );
    // The property says something only if a fair share of the inputs is valid.
    expect(accepted).toBeGreaterThan(2000);
  });
});
