/**
 * What validating an event costs: ingest validates every event it accepts,
 * and the aggregator again when it reads the stream. Pulse's compiled
 * validator (protocol's events.ts) against ajv compiled from the same rules
 * as a JSON Schema, side by side on the same parsed batch of FakeAI-like
 * events (JSON.parse not included: both need it).
 */
import { Ajv } from 'ajv';
import { checkEvent } from '@pulse/protocol';
import { seededRandom } from '@pulse/simulator';
import { percentile, round } from './timing.js';

export interface ValidateResult {
  eventsPerBatch: number;
  /** µs of CPU per event, median over runs. */
  usPerEvent: { pulse: number; ajv: number };
}

const label = (max: number) => ({ type: 'string', minLength: 1, maxLength: max });
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const duration = { type: 'number', minimum: 0, maximum: Number.MAX_VALUE };
const ts = { type: 'number', exclusiveMinimum: 0, maximum: 1e11 };
const request = { ts, node: label(128), request_id: label(128), endpoint: label(256), model: label(256), stream: { type: 'boolean', default: false } };

/** The event rules as JSON Schema, for ajv (what a schema library needs to be told). */
function ajvValidators() {
  const ajv = new Ajv({ removeAdditional: 'all', useDefaults: true, allErrors: false });
  const object = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });
  const cache = object(['hit'], { hit: { type: 'boolean' }, cached_tokens: { ...count, default: 0 }, prefix_length: { ...count, default: 0 } });
  const base = ['type', 'ts', 'node', 'request_id', 'endpoint', 'model'];
  return {
    'request.start': ajv.compile(object(base, { type: { const: 'request.start' }, ...request })),
    'request.end': ajv.compile(
      object([...base, 'status', 'latency_ms'], {
        type: { const: 'request.end' },
        ...request,
        status: { type: 'integer', minimum: 100, maximum: 599 },
        error: { type: 'string', maxLength: 256 },
        latency_ms: duration,
        ttft_ms: duration,
        prompt_tokens: count,
        completion_tokens: count,
        tokens_estimated: { type: 'boolean' },
        cache,
      }),
    ),
  };
}

/** 1,000 events as FakeAI nodes send them: start/end pairs, streaming and not, some with a cache lookup. */
function batchText(): string {
  const r = seededRandom(11);
  const events: object[] = [];
  for (let i = 0; events.length < 1000; i++) {
    const common = { ts: 1764200000 + i / 10, node: `fakeai-${i % 8}`, request_id: `r${i}`, endpoint: '/v1/chat/completions', model: 'gpt-4o', stream: r() < 0.6 };
    events.push({ type: 'request.start', ...common });
    events.push({
      type: 'request.end',
      ...common,
      status: r() < 0.02 ? 500 : 200,
      latency_ms: 100 + 900 * r(),
      ttft_ms: 20 + 100 * r(),
      prompt_tokens: 120,
      completion_tokens: Math.floor(200 * r()),
      ...(r() < 0.5 && { cache: { hit: r() < 0.4, cached_tokens: 64, prefix_length: 64 } }),
    });
  }
  return JSON.stringify(events);
}

/** µs per event of `check` over fresh copies of the batch (both validators may keep or change what they are given). */
function usPerEvent(text: string, check: (e: Record<string, unknown>) => boolean, runs: number): number {
  const batches = Array.from({ length: runs + 20 }, () => JSON.parse(text) as Record<string, unknown>[]);
  const times: number[] = [];
  for (const [i, batch] of batches.entries()) {
    const t0 = performance.now();
    for (const e of batch) if (!check(e)) throw new Error(`rejected: ${JSON.stringify(e)}`);
    if (i >= 20) times.push(((performance.now() - t0) * 1000) / batch.length);
  }
  return percentile(times.sort((a, b) => a - b), 0.5);
}

export function benchValidation(): ValidateResult {
  const text = batchText();
  const ajv = ajvValidators();
  const runs = 400;
  // Alternated, so both see the same machine.
  const pulse: number[] = [];
  const other: number[] = [];
  for (let round = 0; round < 4; round++) {
    pulse.push(usPerEvent(text, (e) => checkEvent(e).ok, runs));
    other.push(usPerEvent(text, (e) => ajv[e.type as 'request.start' | 'request.end'](e), runs));
  }
  const median = (xs: number[]) => percentile(xs.sort((a, b) => a - b), 0.5);
  return { eventsPerBatch: JSON.parse(text).length, usPerEvent: { pulse: round(median(pulse), 3), ajv: round(median(other), 3) } };
}
