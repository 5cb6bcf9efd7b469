/**
 * Every figure of every view equals an exact recomputation over the same
 * events: random traffic over nodes × endpoints × models, random filters of
 * endpoints, models and nodes; counts and sums exact, percentiles within 1 %
 * of numpy's linear interpolation. And the window a gateway rebuilds from a
 * keyframe and the patches after it is the window the aggregator holds.
 */
import fc from 'fast-check';
import { encodePatch, isErrorEnd, meetsSlo, parseSlos, PatchDecoder, type PulseEvent, type RequestEnd, type Stats } from '@pulse/protocol';
import { exactQuantile, rng } from '@pulse/test-support/quantiles';
import { expectSameFigures, relError } from '@pulse/test-support/figures';
import { describe, expect, it } from 'vitest';
import { takePatch } from './patch-builder.js';
import { SnapshotReplica } from './replica.js';
import { buildReplicaView, buildView, type CellFilter } from './view.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_040_000;
const NODES = ['n1', 'n2', 'n3', 'n4'];
const ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
const MODELS = ['gpt-4o', 'llama'];
const SLOS = parseSlos('interactive:ttft_ms<=80,itl_ms<=20;batch:latency_ms<=600');

interface Request {
  start: PulseEvent & { type: 'request.start' };
  end: RequestEnd | null;
}

/** Random FakeAI-like traffic: some streams, errors, cache lookups, explicit stream flags on ends, unfinished requests. */
function traffic(seed: number, n: number): Request[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const out: Request[] = [];
  for (let i = 0; i < n; i++) {
    const ts = (T0 + r() * 50_000) / 1000;
    const common = { ts, node: pick(NODES), request_id: `r${i}`, endpoint: pick(ENDPOINTS), model: pick(MODELS) };
    const stream = r() < 0.6;
    const start = { type: 'request.start' as const, ...common, stream };
    if (r() < 0.1) {
      out.push({ start, end: null });
      continue;
    }
    const latency = Math.exp(5 + 0.8 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
    const failed = r() < 0.1;
    const tokens = Math.floor(r() * 200);
    const end: RequestEnd = {
      type: 'request.end',
      ...common,
      // A few ends say what they were, most leave it to the start.
      ...(r() < 0.15 && { stream: r() < 0.5 }),
      status: failed ? pick([429, 500, 503]) : 200,
      ...(failed && r() < 0.7 && { error: pick(['timeout', 'overloaded', 'rate_limit']) }),
      latency_ms: latency,
      ...(r() < 0.9 && { ttft_ms: latency * r() * 0.5 }),
      completion_tokens: tokens,
      prompt_tokens: 100,
      ...(r() < 0.5 && { cache: { hit: r() < 0.4, cached_tokens: 30, prefix_length: 40 } }),
    };
    out.push({ start, end });
  }
  return out;
}

function window(): MetricsWindow {
  return new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: T0 - 120_000, maxEndpoints: 100, maxModels: 100, slos: SLOS });
}


/** Stats of `values` as the contract defines them, checked against `got`. */
function expectStats(got: Stats | undefined, values: number[], what: string): void {
  if (values.length === 0) return void expect(got, what).toBeUndefined();
  expect(got, what).toBeDefined();
  const sorted = Float64Array.from(values).sort();
  expect(got!.min, `${what} min`).toBe(sorted[0]);
  expect(got!.max, `${what} max`).toBe(sorted[sorted.length - 1]);
  expect(relError(got!.avg, values.reduce((a, b) => a + b, 0) / values.length), `${what} avg`).toBeLessThan(1e-9);
  for (const [key, q] of [['p50', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99], ['p999', 0.999]] as const) {
    expect(relError(got![key], exactQuantile(sorted, q)), `${what} ${key}`).toBeLessThanOrEqual(0.01);
  }
}

/** Whether the end counts as a stream: its own flag when it has one, else its start's. */
const isStream = (req: Request) => req.end?.stream ?? req.start.stream;

function exactFigures(requests: Request[], filter: CellFilter, seconds: number, view: ReturnType<typeof buildView>['data']): void {
  const keeps = (e: { endpoint: string; model: string; node: string }) =>
    (filter.endpoints.size === 0 || filter.endpoints.has(e.endpoint)) &&
    (filter.models.size === 0 || filter.models.has(e.model)) &&
    (filter.nodes.size === 0 || filter.nodes.has(e.node));
  const kept = requests.filter((q) => keeps(q.start));
  const ends = kept.map((q) => q.end).filter((e): e is RequestEnd => e !== null);
  const rate = (n: number) => n / seconds;
  const close = (a: number | undefined, b: number, what: string) => expect(relError(a ?? NaN, b), what).toBeLessThan(1e-9);

  close(view.throughput.total_requests_per_sec, rate(kept.length), 'total requests');
  close(view.throughput.total_responses_per_sec, rate(ends.length), 'total responses');
  close(view.throughput.total_tokens_per_sec, rate(ends.reduce((a, e) => a + (e.completion_tokens ?? 0), 0)), 'total tokens');
  close(view.error.total_errors_per_sec, rate(ends.filter(isErrorEnd).length), 'total errors');
  for (const endpoint of ENDPOINTS) {
    const mine = ends.filter((e) => e.endpoint === endpoint);
    if (!kept.some((q) => q.start.endpoint === endpoint)) {
      expect(view.throughput.requests_per_sec[endpoint]).toBeUndefined();
      continue;
    }
    close(view.throughput.responses_per_sec[endpoint], rate(mine.length), `${endpoint} responses`);
    expectStats(view.latency[endpoint], mine.map((e) => e.latency_ms), `${endpoint} latency`);
  }

  // Streaming figures, over the ends that are streams.
  const streamEnds = kept.filter((q) => q.end && isStream(q)).map((q) => q.end!);
  expectStats(view.streaming.ttft, streamEnds.filter((e) => e.ttft_ms !== undefined).map((e) => e.ttft_ms!), 'ttft');
  const itls = streamEnds
    .filter((e) => e.ttft_ms !== undefined && (e.completion_tokens ?? 0) >= 2)
    .map((e) => Math.max(0, e.latency_ms - e.ttft_ms!) / (e.completion_tokens! - 1));
  expectStats(view.streaming.itl, itls, 'itl');
  expect(view.streaming.completed_streams).toBe(streamEnds.filter((e) => !isErrorEnd(e)).length);
  expect(view.streaming.failed_streams).toBe(streamEnds.filter(isErrorEnd).length);
  expect(view.queue.queue_depth).toBe(kept.filter((q) => q.end === null).length);
  expect(view.queue.active_streams).toBe(kept.filter((q) => q.end === null && q.start.stream).length);

  // Errors by status and by type.
  const byStatus = new Map<string, number>();
  const byType = new Map<string, number>();
  for (const e of ends.filter(isErrorEnd)) {
    if (e.status >= 400) byStatus.set(String(e.status), (byStatus.get(String(e.status)) ?? 0) + 1);
    if (e.error) byType.set(e.error, (byType.get(e.error) ?? 0) + 1);
  }
  expect(Object.keys(view.error.by_status).sort()).toEqual([...byStatus.keys()].sort());
  for (const [status, n] of byStatus) close(view.error.by_status[status], rate(n), `status ${status}`);
  expect(Object.keys(view.error.by_type).sort()).toEqual([...byType.keys()].sort());
  for (const [type, n] of byType) close(view.error.by_type[type], rate(n), `type ${type}`);

  // SLO attainment: good ends over all ends, per SLO and per endpoint.
  for (const slo of SLOS) {
    const good = (list: Request[]) =>
      list.filter((q) => {
        const e = q.end!;
        const stream = isStream(q);
        const itl = stream && e.ttft_ms !== undefined && (e.completion_tokens ?? 0) >= 2 ? Math.max(0, e.latency_ms - e.ttft_ms) / (e.completion_tokens! - 1) : undefined;
        return meetsSlo(slo, { error: isErrorEnd(e), stream, latencyMs: e.latency_ms, ttftMs: stream ? e.ttft_ms : undefined, itlMs: itl });
      }).length;
    const finished = kept.filter((q) => q.end);
    const entry = view.slo[slo.name]!;
    close(entry.good_per_sec, rate(good(finished)), `${slo.name} good`);
    close(entry.valid_per_sec, rate(finished.length), `${slo.name} valid`);
    if (finished.length > 0) close(entry.attainment_pct, (100 * good(finished)) / finished.length, `${slo.name} attainment`);
    for (const endpoint of Object.keys(entry.by_endpoint)) {
      const mine = finished.filter((q) => q.start.endpoint === endpoint);
      close(entry.by_endpoint[endpoint]!.good_per_sec, rate(good(mine)), `${slo.name} ${endpoint} good`);
    }
  }

  // The node view: each node's own figures, under the same filter.
  for (const node of NODES) {
    const mine = kept.filter((q) => q.start.node === node);
    const figures = view.nodes[node];
    if (mine.length === 0) {
      expect(figures, node).toBeUndefined();
      continue;
    }
    const nodeEnds = mine.map((q) => q.end).filter((e): e is RequestEnd => e !== null);
    close(figures!.requests_per_sec, rate(mine.length), `${node} requests`);
    close(figures!.errors_per_sec, rate(nodeEnds.filter(isErrorEnd).length), `${node} errors`);
    expectStats(figures!.latency, nodeEnds.map((e) => e.latency_ms), `${node} latency`);
    expect(figures!.queue_depth).toBe(mine.filter((q) => q.end === null).length);
    // Liveness, not a windowed figure: the node's newest event of any endpoint or model.
    const all = requests.filter((q) => q.start.node === node);
    expect(figures!.last_seen).toBe(Math.max(...all.flatMap((q) => [q.start.ts, q.end?.ts ?? 0])));
  }
}

const filterOf = fc.record({
  endpoints: fc.subarray(ENDPOINTS),
  models: fc.subarray(MODELS),
  nodes: fc.subarray(NODES),
});

describe('figures under every filter', () => {
  it('equal an exact recomputation over the same events', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.array(filterOf, { minLength: 1, maxLength: 6 }), (seed, filters) => {
        const requests = traffic(seed, 400);
        const w = window();
        const at = T0 + 55_000;
        // Ends are logged after every start, so each pairs with its start whatever the order of their timestamps.
        for (const q of requests) w.apply(q.start, at, true);
        for (const q of requests) if (q.end) w.apply(q.end, at, true);
        w.advance(at);
        const snapshot = w.snapshot(at, 1, at / 500, 0);
        for (const f of filters) {
          const filter: CellFilter = { endpoints: new Set(f.endpoints), models: new Set(f.models), nodes: new Set(f.nodes) };
          exactFigures(requests, filter, snapshot.coveredSeconds, JSON.parse(JSON.stringify(buildView(snapshot, filter).data)));
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('a window rebuilt from a keyframe and patches', () => {
  it('is the window the aggregator holds, tick after tick, as buckets fill and expire', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const r = rng(seed);
        const requests = traffic(seed, 600).sort((a, b) => a.start.ts - b.start.ts);
        const w = window();
        const replica = new SnapshotReplica();
        // The same patches over the wire, decoded as a gateway does: into one decoder's objects, each patch
        // refilling the last one's. What the replica keeps must not move when the next patch is decoded.
        const wired = new SnapshotReplica();
        const decoder = new PatchDecoder();
        let t = T0;
        let seq = t / 500;
        let i = 0;
        for (let tick = 0; tick < 240; tick++) {
          t += 500;
          // This tick's traffic, ends a little later, some late by a few seconds.
          for (; i < requests.length && requests[i]!.start.ts * 1000 <= t; i++) {
            const q = requests[i]!;
            w.apply(q.start, t, true);
            if (q.end && r() < 0.8) w.apply({ ...q.end, ts: q.end.ts - (r() < 0.1 ? 3 : 0) }, t, true);
          }
          w.advance(t);
          if (tick === 0 || tick % 37 === 0) {
            replica.load(w.snapshot(t, 1, t / 500, 0));
            wired.load(w.snapshot(t, 1, t / 500, 0));
            w.reportedAll();
          } else {
            const patch = takePatch(w, t, 1, t / 500, seq, 0);
            const encoded = encodePatch(patch);
            expect(replica.apply(patch)).toBe('applied');
            expect(wired.apply(decoder.decode(encoded))).toBe('applied');
          }
          seq = t / 500;
          const expected = w.snapshot(t, 1, seq, 0);
          const held = replica.snapshot!;
          expect(comparable(held)).toEqual(comparable(expected));
          expect(comparable(wired.snapshot!)).toEqual(comparable(expected));
          // Views from the replica's aggregates are the views of its cells (read every few ticks, so the
          // aggregates' extremes are both found afresh and kept up to date across patches between reads).
          if (tick % 8 === 0) {
            for (const f of [ALL, ...someFilters(r)]) expectSameFigures(buildReplicaView(replica, f).data, buildView(expected, f).data);
          }
        }
      }),
      { numRuns: 8 },
    );
  });
});

/** A snapshot as plain data in one canonical form: keys sorted, cells and nodes in order, maps and typed arrays as arrays. */
function comparable(s: { cells: readonly object[]; nodes: readonly object[] } & object): unknown {
  const plain = (v: unknown): unknown => {
    if (typeof v === 'object' && v !== null && 'toJSON' in v) return plain((v as { toJSON(): unknown }).toJSON());
    if (v instanceof Map) return [...v].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    if (ArrayBuffer.isView(v)) return [...(v as Uint32Array)];
    if (Array.isArray(v)) return v.map(plain);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, plain((v as Record<string, unknown>)[k])]));
    return v;
  };
  const text = (x: unknown) => JSON.stringify(plain(x));
  return { ...(plain({ ...s, cells: [], nodes: [] }) as object), cells: s.cells.map(text).sort(), nodes: s.nodes.map(text).sort() };
}

const ALL: CellFilter = { endpoints: new Set(), models: new Set(), nodes: new Set() };

/** A filter of each kind: one dimension, two, all three, with random members. */
function someFilters(r: () => number): CellFilter[] {
  const some = (xs: string[]) => new Set(xs.filter(() => r() < 0.5));
  return [
    { endpoints: some(ENDPOINTS), models: new Set(), nodes: new Set() },
    { endpoints: new Set(), models: some(MODELS), nodes: new Set() },
    { endpoints: new Set(), models: new Set(), nodes: some(NODES) },
    { endpoints: some(ENDPOINTS), models: new Set(), nodes: some(NODES) },
    { endpoints: new Set(), models: some(MODELS), nodes: some(NODES) },
    { endpoints: some(ENDPOINTS), models: some(MODELS), nodes: some(NODES) },
  ];
}

