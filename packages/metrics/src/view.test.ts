/**
 * Names producers chose are keys of the view's maps: `__proto__`,
 * `constructor` and `toString` must come out as ordinary endpoints.
 */
import type { RequestEnd, RequestStart } from '@pulse/protocol';
import { describe, expect, it } from 'vitest';
import { buildView } from './view.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_000_000;
const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

function request(id: string, endpoint: string, model: string, latency: number): [RequestStart, RequestEnd] {
  const base = { ts: T0 / 1000 + 1, node: 'n1', request_id: id, endpoint, model, stream: false };
  return [
    { type: 'request.start', ...base },
    { type: 'request.end', ...base, status: 200, latency_ms: latency, cache: { hit: true, cached_tokens: 1, prefix_length: 1 } },
  ];
}

describe('buildView with prototype-like names', () => {
  const w = new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 1000, maxModels: 1000 });
  NAMES.forEach((name, i) => {
    for (const e of request(`r${i}`, name, name, 100 * (i + 1))) w.apply(e, T0 + 1000, true);
  });
  w.advance(T0 + 1500);
  const snapshot = w.snapshot(T0 + 1500, 1, 1, 0);

  it('keeps every such endpoint as an own key of every map, and in the JSON', () => {
    const { data } = buildView(snapshot);
    const wire = JSON.parse(JSON.stringify(data));
    for (const map of [wire.throughput.requests_per_sec, wire.throughput.responses_per_sec, wire.throughput.tokens_per_sec, wire.latency, wire.error.errors_per_sec, wire.cache.by_endpoint]) {
      expect(Object.keys(map).sort()).toEqual([...NAMES].sort());
    }
    expect(wire.latency.__proto__).toMatchObject({ min: 100, max: 100 });
    expect(wire.latency.constructor).toMatchObject({ min: 200, max: 200 });
    expect(wire.cache.by_endpoint.toString).toMatchObject({ total_lookups: 1, cache_hits: 1 });
    // No map had its prototype replaced, and nothing leaked onto Object.prototype.
    expect(Object.getPrototypeOf(data.latency)).toBeNull();
    expect(({} as Record<string, unknown>).min).toBeUndefined();
  });

  it('reads no inherited member for a name that is not in a map', () => {
    const { data } = buildView(snapshot, { endpoints: new Set(['__proto__']), models: new Set(), nodes: new Set() });
    expect(Object.keys(data.latency)).toEqual(['__proto__']);
    expect(data.latency['constructor']).toBeUndefined();
    expect(data.throughput.requests_per_sec['toString']).toBeUndefined();
  });

  it('filters by such a model like by any other', () => {
    const { data } = buildView(snapshot, { endpoints: new Set(), models: new Set(['constructor']), nodes: new Set() });
    expect(Object.keys(data.latency)).toEqual(['constructor']);
    expect(data.streaming.completed_streams).toBe(0);
  });
});
