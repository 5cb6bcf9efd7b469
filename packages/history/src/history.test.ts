/**
 * The recorder and the reader in one process, on a simulated clock, against
 * the live figures of the same window: at the tick tier a point equals what
 * the live snapshot of its time showed, for any view; a coarser tier's
 * points equal the tick tier's over the same buckets; and a standby taking
 * over mid-bucket rebuilds the coarse buckets it opened from the store.
 */
import { describe, expect, it } from 'vitest';
import { buildView, cellKey, MetricsWindow, type CellFilter } from '@pulse/metrics';
import { METRIC_TYPES, parseSlos, type CellData, type PulseEvent } from '@pulse/protocol';
import { silentLogger, type Fence } from '@pulse/runtime';
import { ALL, decodeRecord, encodeRecord, RecordSum, type HistoryRecord } from './record.js';
import { HistoryRecorder } from './recorder.js';
import { HistoryQueryError, StoreHistoryReader } from './query.js';
import { MemoryHistoryStore } from './store.memory.js';
import { parseTiers, rollUpFrom, type Tier } from './tiers.js';

const TICK = 500;
const W = 60_000;
const T0 = 1_700_000_000_000;
const tiers = parseTiers('0.5s:10m,5s:6h,1m:7d', TICK);
const slos = parseSlos('fast:latency_ms<=200;snappy:ttft_ms<=50');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const set = (...xs: string[]) => new Set(xs);
const FILTERS: Record<string, CellFilter> = {
  all: { endpoints: set(), models: set(), nodes: set() },
  endpoint: { endpoints: set('/v1/chat/completions'), models: set(), nodes: set() },
  model: { endpoints: set(), models: set('m1'), nodes: set() },
  node: { endpoints: set(), models: set(), nodes: set('n2') },
  mixed: { endpoints: set('/v1/completions'), models: set('m0', 'm2'), nodes: set('n0', 'n3') },
};

/** Deep equality, numbers to 1e-9 relative (sums run in another order). */
function expectClose(got: unknown, want: unknown, path = ''): void {
  if (typeof want === 'number' && typeof got === 'number') {
    if (Math.abs(got - want) > 1e-9 * Math.max(1, Math.abs(want))) expect.fail(`${path}: ${got} ≠ ${want}`);
    return;
  }
  if (want && typeof want === 'object') {
    expect(got, path).toBeTypeOf('object');
    const g = got as Record<string, unknown>;
    const w = want as Record<string, unknown>;
    expect(Object.keys(g).sort(), path).toEqual(Object.keys(w).sort());
    for (const k of Object.keys(w)) expectClose(g[k], w[k], `${path}.${k}`);
    return;
  }
  expect(got, path).toEqual(want);
}

/** Events of one tick, stamped inside it. */
function traffic(random: () => number, fromMs: number, id: { n: number }): PulseEvent[] {
  const out: PulseEvent[] = [];
  const n = Math.floor(random() * 12);
  for (let i = 0; i < n; i++) {
    const ts = (fromMs + 1 + random() * (TICK - 2)) / 1000;
    const node = `n${Math.floor(random() * 4)}`;
    const endpoint = random() < 0.6 ? '/v1/chat/completions' : '/v1/completions';
    const model = `m${Math.floor(random() * 3)}`;
    const request_id = `r${id.n++}`;
    const stream = random() < 0.5;
    out.push({ type: 'request.start', ts, node, request_id, endpoint, model, stream });
    if (random() < 0.8) {
      const status = random() < 0.1 ? (random() < 0.5 ? 500 : 429) : 200;
      out.push({
        type: 'request.end',
        ts,
        node,
        request_id,
        endpoint,
        model,
        status,
        ...(status !== 200 ? { error: random() < 0.5 ? 'overloaded' : 'timeout' } : {}),
        latency_ms: 20 + random() * 400,
        ...(stream ? { ttft_ms: random() * 100 } : {}),
        completion_tokens: Math.floor(random() * 200),
        prompt_tokens: 50,
        ...(random() < 0.3 ? { cache: { hit: random() < 0.5, cached_tokens: 20, prefix_length: 16 } } : {}),
      });
    }
    if (random() < 0.05) out.push({ type: 'node.gauge', ts, node, queue_depth: Math.floor(random() * 5), active_streams: Math.floor(random() * 3) });
  }
  return out;
}

function newWindow(): MetricsWindow {
  return new MetricsWindow({ windowMs: W, bucketMs: TICK, createdAtMs: T0, maxEndpoints: 100, maxModels: 100, slos });
}

/** 128 s of random traffic recorded by one leader into a memory store, read 2 s past 130 s; the store's clock is `time.now`. */
async function recorded(recordTiers: readonly Tier[], seed: number, coarsen?: number[]) {
  const time = { now: T0 };
  const clock = () => time.now;
  const store = new MemoryHistoryStore(1, () => true, clock);
  const recorder = new HistoryRecorder({ store, partition: 0, tiers: recordTiers, windowMs: W, graceMs: 1000, ...(coarsen && { coarsen }), logger: silentLogger() });
  const window = newWindow();
  const random = rng(seed);
  const id = { n: 0 };
  for (let t = T0 + TICK; t <= T0 + 130_000; t += TICK) {
    if (t <= T0 + 128_000) for (const e of traffic(random, t - TICK, id)) window.apply(e, Math.min(t - 1, Math.ceil(e.ts * 1000) + 3), true);
    time.now = t;
    window.advance(t);
    recorder.capture(window, t);
    await recorder.flush(window, t, { token: 't', epoch: 1 });
  }
  time.now += 2000;
  return { store, clock, time };
}

describe('history', () => {
  it('at the tick tier equals the live figures of every view; coarser tiers equal the tick tier', { timeout: 60_000 }, async () => {
    let now = T0;
    const clock = () => now;
    const store = new MemoryHistoryStore(1, () => true, clock);
    const recorder = new HistoryRecorder({ store, partition: 0, tiers, windowMs: W, graceMs: 1000, logger: silentLogger() });
    const window = newWindow();
    const fence: Fence = { token: 't', epoch: 1 };
    const random = rng(7);
    const id = { n: 0 };
    const live = new Map<number, Record<string, ReturnType<typeof buildView>['data']>>();
    // 3½ minutes from the store's creation: rates divide by the covered length early on, then by the window.
    // Two ticks past the end: the grace passes over the last buckets and their records are written.
    for (let t = T0 + TICK; t <= T0 + 212_000; t += TICK) {
      if (t <= T0 + 210_000) for (const e of traffic(random, t - TICK, id)) window.apply(e, Math.min(t - 1, Math.ceil(e.ts * 1000) + 3), true);
      now = t;
      window.advance(t);
      recorder.capture(window, t);
      const snapshot = window.snapshot(t, 1, t / TICK, 0);
      window.reportedAll();
      if (t <= T0 + 210_000 && ((t / TICK) % 7 === 0 || t > T0 + 200_000 || t === T0 + 140_000)) {
        live.set(t, Object.fromEntries(Object.entries(FILTERS).map(([name, f]) => [name, buildView(snapshot, f).data])));
      }
      await recorder.flush(window, t, fence);
    }
    now += 2000;
    const reader = new StoreHistoryReader({ store, tiers, windowMs: W, now: clock });
    let compared = 0;
    for (const [name, filter] of Object.entries(FILTERS)) {
      const answer = await reader.query({ since: (T0 + TICK) / 1000, until: (T0 + 210_000) / 1000, step: 0.5, filter, types: METRIC_TYPES });
      expect(answer.step).toBe(0.5);
      const byTime = new Map(answer.points.map((p) => [p.timestamp * 1000, p.data]));
      for (const [t, views] of live) {
        expect(byTime.has(t), `${name} point at ${t}`).toBe(true);
        expectClose(byTime.get(t), views[name], `${name}@${t - T0}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(200);

    // A summary over a window's length ending at t is the live view of t: from the tick tier's ragged ends and
    // the whole 5-s (and, for [80 s, 140 s), 1-min) buckets between them.
    let summed = 0;
    for (const [t, views] of live) {
      if (t < T0 + W + 10_000) continue;
      for (const [name, filter] of Object.entries(FILTERS)) {
        const got = await reader.summary({ since: (t - W) / 1000, until: t / 1000, filter, types: METRIC_TYPES });
        expect(got, `${name} summary to ${t - T0}`).not.toBeNull();
        expect([got!.since, got!.until]).toEqual([(t - W) / 1000, t / 1000]);
        expectClose(got!.data, views[name], `${name} summary to ${t - T0}`);
        summed++;
      }
    }
    expect(summed).toBeGreaterThan(50);

    // Coarser tiers: the same figures from fewer, summed records.
    const tickOnly = new StoreHistoryReader({ store, tiers: tiers.slice(0, 1), windowMs: W, now: clock });
    for (const step of [5, 60]) {
      for (const [name, filter] of Object.entries(FILTERS)) {
        const q = { since: T0 / 1000 + 60, until: (T0 + 180_000) / 1000, step, filter, types: METRIC_TYPES };
        const coarse = await reader.query(q);
        const fine = await tickOnly.query(q);
        expect(coarse.points.length, `${name} step ${step}`).toBe(step === 5 ? 25 : 2); // T0 is on a 5-s edge, not on a minute's
        expectClose(coarse.points, fine.points, `${name} step ${step}`);
      }
    }
    // And record by record: a 5-s bucket is the sum of its ten tick buckets.
    const [tick, five] = tiers as [Tier, Tier];
    const b = (T0 + 100_000) / 5000;
    const [[coarseBlob]] = (await store.read(five, [b])) as [[Buffer]];
    const fines = (await store.read(tick, Array.from({ length: 10 }, (_, i) => b * 10 + i))).map((x) => decodeRecord(x[0]!));
    const coarse = decodeRecord(coarseBlob);
    // Summed oldest first or newest first (the recorder adds each as it is written), the same record.
    const sumOf = (records: HistoryRecord[]) => {
      const sum = new RecordSum();
      for (const r of records) sum.add(r);
      return decodeRecord(encodeRecord(sum.record(b * 5000, (b + 1) * 5000, 5000, 1))).cells;
    };
    const byLabels = (cells: readonly CellData[]) => [...cells].sort((x, y) => cellKey(x.node, x.endpoint, x.model).localeCompare(cellKey(y.node, y.endpoint, y.model)));
    expectClose(byLabels(sumOf(fines)), byLabels(coarse.cells), 'record sum');
    expectClose(byLabels(sumOf([...fines].reverse())), byLabels(coarse.cells), 'record sum, newest first');
  });

  it('a summary reads the buckets wholly inside its span (back-to-back runs share none), or the one holding a span shorter than it', async () => {
    const { store, clock } = await recorded(tiers, 11);
    const reader = new StoreHistoryReader({ store, tiers, windowMs: W, now: clock });
    const q = (since: number, until: number) => ({ since: (T0 + since) / 1000, until: (T0 + until) / 1000, filter: FILTERS.all!, types: METRIC_TYPES });
    // A run from 70.1 s to 100.1 s and the next from 100.1 s: the bucket [100 s, 100.5 s) is in neither.
    const first = await reader.summary(q(70_100, 100_100));
    const next = await reader.summary(q(100_100, 120_100));
    expect([first!.since, first!.until]).toEqual([(T0 + 70_500) / 1000, (T0 + 100_000) / 1000]);
    expect([next!.since, next!.until]).toEqual([(T0 + 100_500) / 1000, (T0 + 120_000) / 1000]);
    expectClose(first!.data, (await reader.summary(q(70_500, 100_000)))!.data, 'rounded in');
    // Within one bucket: that bucket.
    const short = await reader.summary(q(100_100, 100_300));
    expect([short!.since, short!.until]).toEqual([(T0 + 100_000) / 1000, (T0 + 100_500) / 1000]);
  });

  it('a standby taking over mid-bucket rebuilds the coarse buckets it opened from the store', async () => {
    let now = T0;
    const clock = () => now;
    const store = new MemoryHistoryStore(1, () => true, clock);
    const make = () => ({ window: newWindow(), recorder: new HistoryRecorder({ store, partition: 0, tiers, windowMs: W, graceMs: 1000, logger: silentLogger() }) });
    const a = make();
    const b = make();
    const random = rng(11);
    const id = { n: 0 };
    const takeoverAt = T0 + 63_250 + 250; // mid 5-s bucket and mid minute
    for (let t = T0 + TICK; t <= T0 + 130_000; t += TICK) {
      const events = traffic(random, t - TICK, id);
      now = t;
      for (const r of [a, b]) {
        for (const e of events) r.window.apply(e, Math.min(t - 1, Math.ceil(e.ts * 1000) + 3), true);
        r.window.advance(t);
        r.recorder.capture(r.window, t);
      }
      // A leads until it dies; B, a standby capturing all along, leads from the next tick.
      if (t < takeoverAt) await a.recorder.flush(a.window, t, { token: 'a', epoch: 1 });
      else await b.recorder.flush(b.window, t, { token: 'b', epoch: 2 });
    }
    now += 2000;
    const reader = new StoreHistoryReader({ store, tiers, windowMs: W, now: clock });
    const tickOnly = new StoreHistoryReader({ store, tiers: tiers.slice(0, 1), windowMs: W, now: clock });
    for (const step of [0.5, 5, 60]) {
      const q = { since: T0 / 1000 + 60, until: (T0 + 125_000) / 1000, step, filter: FILTERS.all!, types: METRIC_TYPES };
      const fine = await tickOnly.query(q);
      const got = await reader.query(q);
      expect(got.points.length).toBe(fine.points.length);
      expectClose(got.points, fine.points, `step ${step}`);
    }
  });
});

describe('history with coarser histograms in old tiers (PULSE_HISTORY_COARSEN)', () => {
  it('keeps counts exact, averages, min and max to 0.1 % and percentiles within half a coarser bucket', async () => {
    const { store, clock } = await recorded(tiers, 5, [1, 8, 16]);
    const q = { since: T0 / 1000 + 60, until: (T0 + 125_000) / 1000, step: 5, filter: FILTERS.all!, types: ['throughput', 'latency', 'error', 'slo'] as const };
    const coarse = await new StoreHistoryReader({ store, tiers, windowMs: W, now: clock }).query(q);
    const fine = await new StoreHistoryReader({ store, tiers: tiers.slice(0, 1), windowMs: W, now: clock }).query(q);
    expect(coarse.points.length).toBe(fine.points.length);
    coarse.points.forEach((p, i) => {
      const f = fine.points[i]!;
      expectClose(p.data.throughput, f.data.throughput, 'throughput');
      expectClose(p.data.error, f.data.error, 'error');
      expectClose(p.data.slo, f.data.slo, 'slo');
      for (const [endpoint, stats] of Object.entries(f.data.latency!)) {
        const got = p.data.latency![endpoint]!;
        // Sums as float32, min and max to 10 bits.
        for (const k of ['avg', 'min', 'max'] as const) expect(Math.abs(got[k] - stats[k]) / stats[k], `${endpoint} ${k}`).toBeLessThan(1e-3);
        // Groups of 8 buckets of ±1 % each, read at their middle: within ~4 buckets' width, ±9 %.
        for (const k of ['p50', 'p90', 'p99'] as const) expect(Math.abs(got[k] - stats[k]) / stats[k], `${endpoint} ${k}`).toBeLessThan(0.09);
      }
    });
  });
});

describe('history with rolled-up coarse tiers (PULSE_HISTORY_CELL_TIERS)', () => {
  const rolled = rollUpFrom(tiers, 1);
  const withoutNodes = METRIC_TYPES.filter((t) => t !== 'nodes');
  // Each view with the types a rollup gives exactly: over every model (nodes shown or filtered), over every node (neither).
  const VIEWS = [
    { name: 'all', filter: FILTERS.all!, types: METRIC_TYPES },
    { name: 'endpoint', filter: FILTERS.endpoint!, types: METRIC_TYPES },
    { name: 'node', filter: FILTERS.node!, types: METRIC_TYPES },
    { name: 'model', filter: FILTERS.model!, types: withoutNodes },
    { name: 'endpoint + model', filter: { ...FILTERS.model!, endpoints: set('/v1/completions') }, types: withoutNodes },
  ];

  it('answer every view a rollup gives as the cells do, and refuse node and model together past the cell tier', async () => {
    const { store, clock, time } = await recorded(rolled, 23);
    const reader = new StoreHistoryReader({ store, tiers: rolled, windowMs: W, now: clock });
    const tickOnly = new StoreHistoryReader({ store, tiers: rolled.slice(0, 1), windowMs: W, now: clock });
    for (const step of [5, 60]) {
      for (const v of VIEWS) {
        const q = { since: T0 / 1000 + 60, until: (T0 + 125_000) / 1000, step, filter: v.filter, types: v.types };
        const coarse = await reader.query(q);
        expect(coarse.points.length, `${v.name} step ${step}`).toBe(step === 5 ? 14 : 1); // 60 … 125 s; T0 is 20 s before a minute's edge
        expectClose(coarse.points, (await tickOnly.query(q)).points, `${v.name} step ${step}`);
      }
    }
    // Summaries over spans with whole coarse buckets inside read the rollups, and agree with the cells.
    for (const v of VIEWS) {
      for (const [from, to] of [[63_500, 123_500], [20_000, 80_000], [1_000, 127_500]]) {
        const q = { since: (T0 + from!) / 1000, until: (T0 + to!) / 1000, filter: v.filter, types: v.types };
        expectClose(await reader.summary(q), await tickOnly.summary(q), `${v.name} summary ${from}-${to}`);
      }
    }
    // A 5-s record holds the rollups only: 2 endpoints × 3 models over every node, 4 nodes × 2 endpoints over every model.
    const b = (T0 + 100_000) / 5000;
    const [[blob]] = (await store.read(rolled[1]!, [b])) as [[Buffer]];
    const cells = decodeRecord(blob).cells;
    expect(cells.filter((c) => c.node === ALL && c.model !== ALL)).toHaveLength(6);
    expect(cells.filter((c) => c.model === ALL && c.node !== ALL)).toHaveLength(8);
    expect(cells).toHaveLength(14);

    // Node and model together: the tick tier answers while it holds `since`; past it, a refusal that says why.
    const mixed = { since: T0 / 1000 + 60, until: (T0 + 125_000) / 1000, filter: FILTERS.mixed!, types: METRIC_TYPES };
    expect((await reader.query({ ...mixed, step: 5 })).points).toHaveLength(14);
    time.now = T0 + 30 * 60_000;
    const refused = await reader.query({ ...mixed, step: 60 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HistoryQueryError);
    expect((refused as HistoryQueryError).param).toBe('since');
    expect((refused as Error).message).toMatch(/node and model together .* kept for 10m \(tier 0\.5s\)/);
    // A view a rollup gives still reads the coarse tiers then.
    expect((await reader.query({ ...mixed, filter: FILTERS.node!, step: 60 })).points).toHaveLength(1);
  });
});
