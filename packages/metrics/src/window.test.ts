import { CUMULATIVE_HISTOGRAMS, CUMULATIVE_SLOTS, HISTOGRAM_SLOTS, totalsField, type PulseEvent, type RequestEnd, type RequestStart } from '@pulse/protocol';
import { describe, expect, it } from 'vitest';
import { buildView, type CellFilter } from './view.js';
import { MetricsWindow, OTHER_LABEL } from './window.js';

const T0 = 1_700_000_000_000; // ms, on a tick edge
const opts = { windowMs: 60_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 1000, maxModels: 1000 };

function start(id: string, atMs: number, extra: Partial<RequestStart> = {}): RequestStart {
  return { type: 'request.start', ts: atMs / 1000, node: 'n1', request_id: id, endpoint: '/v1/chat/completions', model: 'gpt-4', stream: false, ...extra };
}

function end(id: string, atMs: number, extra: Partial<RequestEnd> = {}): RequestEnd {
  return { type: 'request.end', ts: atMs / 1000, node: 'n1', request_id: id, endpoint: '/v1/chat/completions', model: 'gpt-4', status: 200, latency_ms: 100, ...extra };
}

function feed(w: MetricsWindow, events: PulseEvent[], atMs: number): void {
  for (const e of events) w.apply(e, atMs, true);
}

function viewAt(w: MetricsWindow, nowMs: number, filter?: CellFilter) {
  w.advance(nowMs);
  return buildView(w.snapshot(nowMs, 1, nowMs / 500, 0), filter).data;
}

describe('MetricsWindow rates', () => {
  it('divides by the covered length while the store is younger than the window: no spike', () => {
    const w = new MetricsWindow(opts);
    feed(w, [start('a', T0 + 10_000)], T0 + 10_000);
    const d = viewAt(w, T0 + 10_500);
    expect(d.throughput.total_requests_per_sec).toBeCloseTo(1 / 10.5, 12);
    expect(d.throughput.requests_per_sec['/v1/chat/completions']).toBeCloseTo(1 / 10.5, 12);
  });

  it('divides by the whole window once the store is older, and forgets what left it', () => {
    const w = new MetricsWindow(opts);
    const t = T0 + 120_000;
    feed(w, [start('a', t), end('a', t + 100, { completion_tokens: 30 })], t + 100);
    let d = viewAt(w, t + 500);
    expect(d.throughput.total_requests_per_sec).toBeCloseTo(1 / 60, 12);
    expect(d.throughput.total_tokens_per_sec).toBeCloseTo(30 / 60, 12);
    d = viewAt(w, t + 60_000);
    expect(d.throughput.total_requests_per_sec).toBeCloseTo(1 / 60, 12);
    d = viewAt(w, t + 60_500);
    expect(d.throughput.total_requests_per_sec).toBe(0);
    expect(d.throughput.requests_per_sec).toEqual({});
    expect(d.latency).toEqual({});
  });

  it('places late events by their own timestamp and ignores those older than the window', () => {
    const w = new MetricsWindow(opts);
    const t = T0 + 200_000;
    feed(w, [start('old', t - 70_000), start('late', t - 30_000)], t);
    expect(viewAt(w, t + 500).throughput.total_requests_per_sec).toBeCloseTo(1 / 60, 12);
  });
});

describe('MetricsWindow figures', () => {
  const t = T0 + 100_000;

  it('latency stats are exact for avg/min/max and percentiles follow numpy', () => {
    const w = new MetricsWindow(opts);
    const lat = [10, 20, 30, 40, 1000];
    feed(w, lat.flatMap((l, i) => [start(`r${i}`, t), end(`r${i}`, t, { latency_ms: l })]), t);
    const s = viewAt(w, t + 500).latency['/v1/chat/completions']!;
    expect(s.avg).toBe(220);
    expect(s.min).toBe(10);
    expect(s.max).toBe(1000);
    expect(s.p50).toBeCloseTo(30, 0);
    expect(Math.abs(s.p90 - 616) / 616).toBeLessThan(0.01); // numpy: 40 + 0.6 * 960
  });

  it('min and max stay exact as the buckets holding them expire', () => {
    const w = new MetricsWindow(opts);
    feed(w, [start('a', t), end('a', t, { latency_ms: 5 })], t);
    feed(w, [start('b', t + 10_000), end('b', t + 10_000, { latency_ms: 50 }), start('c', t + 20_000), end('c', t + 20_000, { latency_ms: 500 })], t + 20_000);
    expect(viewAt(w, t + 30_000).latency['/v1/chat/completions']).toMatchObject({ min: 5, max: 500 });
    expect(viewAt(w, t + 60_500).latency['/v1/chat/completions']).toMatchObject({ min: 50, max: 500, avg: 275 });
    feed(w, [start('d', t + 61_000), end('d', t + 61_000, { latency_ms: 7 })], t + 61_000);
    expect(viewAt(w, t + 70_500).latency['/v1/chat/completions']).toMatchObject({ min: 7, max: 500 });
  });

  it('errors, cache and streaming figures', () => {
    const w = new MetricsWindow(opts);
    feed(
      w,
      [
        start('s1', t, { stream: true }),
        start('s2', t, { stream: true }),
        start('s3', t, { stream: true }),
        end('s1', t, { ttft_ms: 50, completion_tokens: 100, latency_ms: 1000, prompt_tokens: 200, cache: { hit: true, cached_tokens: 150, prefix_length: 120 } }),
        end('s2', t, { status: 500, error: 'server_error', ttft_ms: 70, latency_ms: 500, prompt_tokens: 100, cache: { hit: false, cached_tokens: 0, prefix_length: 0 } }),
        start('q1', t),
      ],
      t,
    );
    const d = viewAt(w, t + 500);
    expect(d.error.total_errors_per_sec).toBeCloseTo(1 / 60, 12);
    expect(d.cache.hit_rate).toBe(50);
    expect(d.cache.token_reuse_rate).toBe(50); // 150 of 300 prompt tokens
    expect(d.cache.avg_prefix_length).toBe(120);
    expect(d.cache.total_lookups).toBe(2);
    expect(d.cache.cache_hits).toBe(1);
    expect(d.cache.by_endpoint['/v1/chat/completions']!.hit_rate).toBe(50);
    expect(d.streaming.completed_streams).toBe(1);
    expect(d.streaming.failed_streams).toBe(1);
    expect(d.streaming.active_streams).toBe(1);
    expect(d.queue).toEqual({ queue_depth: 2, active_streams: 1 });
    expect(d.streaming.ttft!.avg).toBe(60);
    expect(d.streaming.tokens_per_second!.max).toBe(100); // 100 tokens in 1 s; the failed one had no tokens
  });

  it('a stream flag on the start alone makes the request a stream', () => {
    const w = new MetricsWindow(opts);
    feed(w, [start('s', t, { stream: true }), end('s', t, { ttft_ms: 5 })], t);
    expect(viewAt(w, t + 500).streaming.completed_streams).toBe(1);
  });

  it('an end that arrives before its start leaves nothing in flight', () => {
    const w = new MetricsWindow(opts);
    feed(w, [end('x', t), start('x', t)], t);
    expect(viewAt(w, t + 500).queue.queue_depth).toBe(0);
  });
});

describe('MetricsWindow in-flight and gauges', () => {
  const t = T0 + 100_000;

  it('a node gauge overrides that node in unfiltered views; filters keep derived counts', () => {
    const w = new MetricsWindow(opts);
    feed(w, [start('a', t, { stream: true }), start('b', t, { node: 'n2' })], t);
    w.apply({ type: 'node.gauge', ts: t / 1000, node: 'n1', queue_depth: 7, active_streams: 4 }, t, true);
    const all = viewAt(w, t + 500);
    expect(all.queue).toEqual({ queue_depth: 8, active_streams: 4 });
    const gpt4 = viewAt(w, t + 500, { endpoints: new Set(), models: new Set(['gpt-4']), nodes: new Set() });
    expect(gpt4.queue).toEqual({ queue_depth: 2, active_streams: 1 });
  });

  it('a node silent for 30 s drops out of queue depth and active streams', () => {
    const w = new MetricsWindow(opts);
    feed(w, [start('a', t, { stream: true })], t);
    w.apply({ type: 'node.gauge', ts: t / 1000, node: 'n2', queue_depth: 3 }, t + 20_000, true);
    expect(viewAt(w, t + 29_500).queue).toEqual({ queue_depth: 4, active_streams: 1 });
    expect(viewAt(w, t + 30_500).queue).toEqual({ queue_depth: 3, active_streams: 0 });
    expect(viewAt(w, t + 50_500).queue).toEqual({ queue_depth: 0, active_streams: 0 });
  });
});

describe('MetricsWindow totals and cardinality', () => {
  const t = T0 + 100_000;

  it('reports since-creation totals to persist, and restores them', () => {
    const w = new MetricsWindow(opts);
    feed(w, [end('a', t, { stream: true, cache: { hit: true, cached_tokens: 1, prefix_length: 1 } })], t);
    const delta = w.totals.takeDelta();
    expect(delta.get(totalsField('n1', '/v1/chat/completions', 'gpt-4', 'completedStreams'))).toBe(1);
    expect(delta.get(totalsField('n1', '/v1/chat/completions', 'gpt-4', 'totalHits'))).toBe(1);
    expect(w.totals.takeDelta().size).toBe(0);

    const restored = new MetricsWindow(opts);
    expect(restored.totals.load({ ...Object.fromEntries([...delta].map(([k, v]) => [k, String(v)])), junk: 'x' })).toBe(1);
    expect(viewAt(restored, t + 500).streaming.completed_streams).toBe(1);
  });

  it('counts every start and end into the cumulative export slots, each value in its GenAI bucket, and restores them', () => {
    const w = new MetricsWindow(opts);
    feed(
      w,
      [
        start('a', t, { stream: true }),
        start('b', t),
        start('c', t),
        // 2.5 s latency (bucket le=2.56), TTFT 0.25 s exactly on a bound (le=0.25), ITL (2500 − 250) / 9 = 250 ms (le=0.3).
        end('a', t + 10, { stream: true, latency_ms: 2500, ttft_ms: 250, prompt_tokens: 7, completion_tokens: 10 }),
        end('b', t + 10, { status: 503, latency_ms: 0.0004, error: 'overloaded' }),
        // Far beyond the last bound: the overflow bucket.
        end('c', t + 10, { latency_ms: 200_000, completion_tokens: 1 }),
      ],
      t + 10,
    );
    const [cell] = w.snapshot(t + 500, 1, 1, 0).cells;
    const slots = cell!.cumulative;
    const at = (name: string) => slots[CUMULATIVE_SLOTS.indexOf(name)];
    expect([at('requests'), at('responses'), at('errors'), at('promptTokens'), at('completionTokens')]).toEqual([3, 3, 1, 7, 11]);
    const bucket = (h: 'latency' | 'ttft' | 'itl', le: number | null) => slots[HISTOGRAM_SLOTS[h].first + (le === null ? CUMULATIVE_HISTOGRAMS[h].length : (CUMULATIVE_HISTOGRAMS[h] as readonly number[]).indexOf(le))];
    expect([bucket('latency', 0.01), bucket('latency', 2.56), bucket('latency', null)]).toEqual([1, 1, 1]);
    expect(slots.slice(HISTOGRAM_SLOTS.latency.first, HISTOGRAM_SLOTS.latency.sum).reduce((a, b) => a + b)).toBe(3);
    expect(slots[HISTOGRAM_SLOTS.latency.sum]).toBe(2_500_000 + 0 + 200_000_000); // µs; 0.4 µs rounds to 0
    expect(bucket('ttft', 0.25)).toBe(1);
    expect(slots[HISTOGRAM_SLOTS.ttft.sum]).toBe(250_000);
    expect(bucket('itl', 0.3)).toBe(1);
    expect(slots[HISTOGRAM_SLOTS.itl.sum]).toBe(250_000);
    // Tokens per request: 7 prompt tokens (le=16); 10 and 1 completion tokens (le=16, le=1); sums as counted.
    const tokens = (h: 'inputTokens' | 'outputTokens') => slots.slice(HISTOGRAM_SLOTS[h].first, HISTOGRAM_SLOTS[h].sum + 1);
    expect(tokens('inputTokens')).toEqual([0, 0, 1, ...new Array(12).fill(0), 7]);
    expect(tokens('outputTokens')).toEqual([1, 0, 1, ...new Array(12).fill(0), 11]);

    // Persisted as the seed's totals are, and loaded back whole.
    const delta = w.totals.takeDelta();
    expect(delta.get(totalsField('n1', '/v1/chat/completions', 'gpt-4', 'requests'))).toBe(3);
    const restored = new MetricsWindow(opts);
    expect(restored.totals.load(Object.fromEntries([...delta].map(([k, v]) => [k, String(v)])))).toBe(0);
    restored.advance(t + 500);
    expect(restored.snapshot(t + 500, 1, 1, 0).cells[0]!.cumulative).toEqual(slots);
  });

  it('replayed history adds to the window but not to the totals', () => {
    const w = new MetricsWindow(opts);
    w.apply(end('a', t, { stream: true }), t, false);
    const d = viewAt(w, t + 500);
    expect(d.throughput.total_responses_per_sec).toBeGreaterThan(0);
    expect(d.streaming.completed_streams).toBe(0);
  });

  it('folds endpoints and models beyond the cap into __other__', () => {
    const w = new MetricsWindow({ ...opts, maxEndpoints: 2 });
    feed(w, ['/a', '/b', '/c', '/d'].map((ep, i) => start(`r${i}`, t, { endpoint: ep })), t);
    w.advance(t + 500);
    const snap = w.snapshot(t + 500, 1, 1, 0);
    expect(snap.cells.map((c) => c.endpoint).sort()).toEqual(['/a', '/b', OTHER_LABEL]);
    expect(snap.stats.labelsFolded).toBe(2);
  });

  it('caps the number of cells, folding both labels beyond it', () => {
    const w = new MetricsWindow({ ...opts, maxCells: 3 });
    feed(w, ['a', 'b', 'c', 'd', 'e'].map((m, i) => start(`r${i}`, t, { model: m })), t);
    w.advance(t + 500);
    const cells = w.snapshot(t + 500, 1, 1, 0).cells.map((c) => `${c.endpoint} ${c.model}`);
    expect(cells).toEqual(['/v1/chat/completions a', '/v1/chat/completions b', '/v1/chat/completions c', `${OTHER_LABEL} ${OTHER_LABEL}`]);
    expect(buildView(w.snapshot(t + 500, 1, 1, 0)).data.throughput.total_requests_per_sec).toBeCloseTo(5 / 60, 12);
  });
});
