/**
 * The TotalsLedger's exponential histograms: counted per acknowledged value
 * when asked to, persisted as sparse totals fields, loaded back whole, and
 * folded into `__other__` with a retired node's other totals.
 */
import { describe, expect, it } from 'vitest';
import { COUNTER_SLOT, CUMULATIVE_SLOTS, decodeSnapshot, encodeSnapshot, exponentialIndex, HISTOGRAM_SLOTS, OTHER_LABEL, parseTotalsField, totalsField, type PulseEvent, type RequestEnd, type RequestStart } from '@pulse/protocol';
import { ExponentialCounts } from './exponential-counts.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_000_000;
const opts = { windowMs: 60_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 1000, maxModels: 1000 };
const CHAT = '/v1/chat/completions';

function start(id: string, atMs: number, extra: Partial<RequestStart> = {}): RequestStart {
  return { type: 'request.start', ts: atMs / 1000, node: 'n1', request_id: id, endpoint: CHAT, model: 'gpt-4', stream: true, ...extra };
}

function end(id: string, atMs: number, extra: Partial<RequestEnd> = {}): RequestEnd {
  return { type: 'request.end', ts: atMs / 1000, node: 'n1', request_id: id, endpoint: CHAT, model: 'gpt-4', status: 200, latency_ms: 100, ...extra };
}

function feed(w: MetricsWindow, events: PulseEvent[], atMs: number): void {
  for (const e of events) w.apply(e, atMs, true);
}

/** A window counting exponential histograms. */
function exponentialWindow(): MetricsWindow {
  const w = new MetricsWindow(opts);
  w.totals.exponential = true;
  return w;
}

/** The histograms of the cell of `node` as plain data: { zero, sum, buckets: {index: count} }, by histogram. */
function histogramsOf(w: MetricsWindow, node = 'n1') {
  const byCell = w.totals.exponentialByCell();
  const h = byCell.get(JSON.stringify([node, CHAT, 'gpt-4']));
  if (!h) return undefined;
  const plain = (c: ExponentialCounts) => ({ zero: c.zero, sum: c.sum, buckets: Object.fromEntries(c.indices.map((i, k) => [i, c.counts[k]])) });
  return { latency: plain(h[0]!), ttft: plain(h[1]!), itl: plain(h[2]!), inputTokens: plain(h[3]!), outputTokens: plain(h[4]!) };
}

const asHash = (delta: ReadonlyMap<string, number>) => Object.fromEntries([...delta].map(([k, v]) => [k, String(v)]));

describe('TotalsLedger exponential histograms', () => {
  const t = T0 + 100_000;
  const events: PulseEvent[] = [
    start('a', t),
    start('b', t),
    start('c', t),
    // 1 s exactly closes bucket -1; ITL (1000 − 200) / 4 = 200 ms; TTFT 200 ms.
    end('a', t + 10, { latency_ms: 1000, ttft_ms: 200, prompt_tokens: 8, completion_tokens: 5 }),
    // Same buckets for latency and TTFT; tokens 0 (a zero) and 1 (2^0: bucket -1).
    end('b', t + 10, { latency_ms: 1000, ttft_ms: 200, prompt_tokens: 0, completion_tokens: 1 }),
    // A zero latency, not a stream (its end says so): no TTFT, no ITL.
    end('c', t + 10, { latency_ms: 0, stream: false, ttft_ms: 5 }),
  ];

  it('counts each value into its scale-3 bucket, zeros apart, with its own sum (µs for times)', () => {
    const w = exponentialWindow();
    feed(w, events, t + 10);
    expect(histogramsOf(w)).toEqual({
      latency: { zero: 1, sum: 2_000_000, buckets: { [-1]: 2 } },
      ttft: { zero: 0, sum: 400_000, buckets: { [exponentialIndex(200, 1000)]: 2 } },
      itl: { zero: 0, sum: 200_000, buckets: { [exponentialIndex(200, 1000)]: 1 } },
      inputTokens: { zero: 1, sum: 8, buckets: { 23: 1 } }, // 8 = 2^3 closes bucket 3·8 − 1
      outputTokens: { zero: 0, sum: 6, buckets: { [-1]: 1, [exponentialIndex(5)]: 1 } },
    });
    expect(exponentialIndex(200, 1000)).toBe(-19); // 0.2 s: 2^(-19/8) = 0.193 < 0.2 ≤ 2^(-18/8) = 0.210
  });

  it('persists them as sparse totals fields with the acknowledgement, and loads them back whole', () => {
    const w = exponentialWindow();
    feed(w, events, t + 10);
    const delta = w.totals.takeDelta();
    const field = (name: string) => delta.get(totalsField('n1', CHAT, 'gpt-4', name));
    expect([field('latency_exp_-1'), field('latency_exp_zero'), field('latency_exp_sum_us')]).toEqual([2, 1, 2_000_000]);
    expect([field('inputTokens_exp_23'), field('inputTokens_exp_zero'), field('inputTokens_exp_sum')]).toEqual([1, 1, 8]);
    expect(field('ttft_exp_zero')).toBeUndefined(); // nothing counted, nothing written
    const exponentialFields = [...delta.keys()].filter((k) => parseTotalsField(k)?.exponential);
    expect(exponentialFields).toHaveLength(13); // latency 3, TTFT 2, ITL 2, input tokens 3, output tokens 3
    expect(w.totals.takeDelta().size).toBe(0); // taken once

    // A standby taking over loads them from the hash, like the other totals, whether or not it counts new ones.
    const restored = new MetricsWindow(opts);
    expect(restored.totals.load(asHash(delta))).toBe(0);
    expect(histogramsOf(restored)).toEqual(histogramsOf(w));
    restored.totals.exponential = true;
    feed(restored, [start('d', t + 20), end('d', t + 30, { latency_ms: 1000 })], t + 30);
    expect(histogramsOf(restored)!.latency).toEqual({ zero: 1, sum: 3_000_000, buckets: { [-1]: 3 } });
    expect(restored.totals.takeDelta().get(totalsField('n1', CHAT, 'gpt-4', 'latency_exp_-1'))).toBe(1);
  });

  it('counts nothing exponential while off, leaving every other total as it was', () => {
    const on = exponentialWindow();
    const off = new MetricsWindow(opts);
    feed(on, events, t + 10);
    feed(off, events, t + 10);
    expect(histogramsOf(off)).toBeUndefined();
    const onDelta = on.totals.takeDelta();
    const offDelta = off.totals.takeDelta();
    expect([...offDelta.keys()].some((k) => parseTotalsField(k)?.exponential)).toBe(false);
    expect(asHash(offDelta)).toEqual(Object.fromEntries(Object.entries(asHash(onDelta)).filter(([k]) => !parseTotalsField(k)?.exponential)));
  });

  it('folds a retired node into __other__: the fields of the node go to 0 (the store deletes them) and the sums stay', () => {
    const w = exponentialWindow();
    feed(w, events, t + 10);
    feed(w, [start('x', t, { node: 'n2' }), end('x', t + 10, { node: 'n2', latency_ms: 1000 })], t + 10);
    const persisted = new Map(w.totals.takeDelta());
    const before = histogramsOf(w)!;
    // Past the window and the 30 s of silence: the cells hold nothing, the nodes retire.
    w.advance(t + 100_000);
    const moved = w.totals.takeDelta();
    for (const [k, n] of moved) persisted.set(k, (persisted.get(k) ?? 0) + n);
    for (const [k, n] of persisted) if (n === 0) persisted.delete(k);
    expect(histogramsOf(w)).toBeUndefined();
    expect([...persisted.keys()].filter((k) => parseTotalsField(k)?.node === 'n1')).toEqual([]);
    const other = histogramsOf(w, OTHER_LABEL)!;
    expect(other.latency).toEqual({ zero: 1, sum: 3_000_000, buckets: { [-1]: 3 } });
    expect(other.inputTokens).toEqual(before.inputTokens);
    // What is persisted loads back to the same fold.
    const restored = new MetricsWindow(opts);
    expect(restored.totals.load(asHash(persisted))).toBe(0);
    expect(histogramsOf(restored, OTHER_LABEL)).toEqual(other);
  });

  it('a copy for the push does not move when counting goes on', () => {
    const w = exponentialWindow();
    feed(w, events.slice(0, 4), t + 10);
    const copy = w.totals.exponentialByCell();
    feed(w, events.slice(4), t + 10);
    expect(copy.get(JSON.stringify(['n1', CHAT, 'gpt-4']))![0]!.count).toBe(1);
    expect(w.totals.exponentialByCell().get(JSON.stringify(['n1', CHAT, 'gpt-4']))![0]!.count).toBe(3);
  });
});

describe('ExponentialCounts', () => {
  it('keeps the buckets in use sorted, drops emptied ones, and gives the dense OTLP form', () => {
    const h = new ExponentialCounts();
    for (const i of [5, -3, 5, 0, 9, -3, -3]) h.bump(i, 1);
    h.bump('zero', 2);
    expect(h.indices).toEqual([-3, 0, 5, 9]);
    expect(h.counts).toEqual([3, 1, 2, 1]);
    expect(h.count).toBe(9);
    expect(h.dense()).toEqual({ offset: -3, bucketCounts: [3, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 1] });
    h.bump(0, -1);
    expect(h.indices).toEqual([-3, 5, 9]);
    const other = h.clone();
    h.addAll(other, -1);
    expect(h.empty).toBe(true);
    expect(h.dense()).toEqual({ offset: 0, bucketCounts: [] });
  });
});

describe('since-creation sums of absurd values', () => {
  it('saturate at 2^53 − 1, so every snapshot still encodes and decodes and the counts stay exact', () => {
    const w = exponentialWindow();
    // Valid events (latency has no upper bound in the ingest API), each alone past what a varint or HINCRBY can hold in µs.
    feed(w, [start('a', T0 + 100), end('a', T0 + 200, { latency_ms: 1e300, prompt_tokens: Number.MAX_SAFE_INTEGER, completion_tokens: Number.MAX_SAFE_INTEGER })], T0 + 500);
    feed(w, [start('b', T0 + 300), end('b', T0 + 400, { latency_ms: 1e300, prompt_tokens: Number.MAX_SAFE_INTEGER })], T0 + 500);
    w.advance(T0 + 500);
    const snapshot = w.snapshot(T0 + 500, 1, 1, 0);
    const decoded = decodeSnapshot(encodeSnapshot(snapshot));
    const cell = decoded.cells.find((c) => c.node === 'n1')!;
    const latency = HISTOGRAM_SLOTS.latency;
    expect(cell.cumulative[latency.sum]).toBe(Number.MAX_SAFE_INTEGER);
    expect(cell.cumulative[COUNTER_SLOT.promptTokens]).toBe(Number.MAX_SAFE_INTEGER);
    expect(cell.cumulative[COUNTER_SLOT.responses]).toBe(2);
    expect(cell.cumulative[latency.first + latency.buckets - 1]).toBe(2); // both in the overflow bucket
    expect(histogramsOf(w)!.latency.sum).toBe(Number.MAX_SAFE_INTEGER);
    // What is persisted adds up to what is held: HINCRBY never sees more than 2^53 − 1.
    const persisted = w.totals.takeDelta();
    expect(persisted.get(totalsField('n1', CHAT, 'gpt-4', CUMULATIVE_SLOTS[latency.sum]!))).toBe(Number.MAX_SAFE_INTEGER);
  });
});
