/**
 * Issue 19: frames assembled from per-snapshot fragments (fragments.ts) and
 * fan-out's early release of finished views are byte for byte the frames of
 * JSON.stringify over the built view. Random traffic (names a `{}` would
 * mishandle or reorder: integer-like endpoints, `__proto__`, quotes and
 * non-ASCII) goes through a real MetricsWindow, its keyframe and patches
 * through a gateway's SnapshotState, and random clients (endpoint, model and
 * node filters, metric types, some sharing a view) are fanned out to, tick
 * after tick. Each frame's `data` must be exactly the text JSON.stringify
 * gives of the view built for its filter, in METRIC_TYPES order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePatch, encodeSnapshot, METRIC_TYPES, parseSlos, type MetricType, type PulseEvent } from '@pulse/protocol';
import { MetricsWindow, takePatch, type CellFilter, type DeltaBase } from '@pulse/metrics';
import { rng } from '@pulse/test-support/quantiles';
import { ClientSession } from './client-session.js';
import { fanout } from './fanout.js';
import { partJson } from './fragments.js';
import { SnapshotState } from './snapshot-state.js';
import { ViewRegistry } from './view-registry.js';
import { frameText } from './ws-frame.js';

const TICK = 500;
const T0 = 1_700_000_000_000;
const ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings', '42', '7', '__proto__', 'quo"te\\slash', 'ünïcødé ✓'];
const MODELS = ['gpt-4o', 'llama', '0'];
const NODES = ['fakeai-0', 'fakeai-1', 'fakeai-2', 'constructor'];
const SLOS = parseSlos('interactive:ttft_ms<=80,itl_ms<=20;batch:latency_ms<=600');
const ZERO: DeltaBase = { totalRequestsPerSec: 0, totalTokensPerSec: 0, activeStreams: 0 };

/** A socket that keeps what it was sent. */
class Recorder {
  bufferedAmount = 0;
  readonly frames: Buffer[] = [];
  sendFrame(frame: Buffer): void {
    this.frames.push(frame);
  }
}

/** One tick's events: requests over random cells (some endpoints idle for a while), ends of earlier ones, a gauge now and then. */
function tickEvents(r: () => number, t: number, n: number, idle: ReadonlySet<string>, pending: { at: number; event: PulseEvent }[]): PulseEvent[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const out: PulseEvent[] = [];
  for (let i = 0; i < n; i++) {
    const endpoint = pick(ENDPOINTS);
    if (idle.has(endpoint)) continue;
    const node = pick(NODES);
    const common = { node, request_id: `r${t}-${i}`, endpoint, model: pick(MODELS) };
    const stream = r() < 0.6;
    const ts = (t - TICK * r()) / 1000;
    out.push({ type: 'request.start', ts, ...common, stream });
    if (r() < 0.1) continue; // in flight
    const latency = r() < 0.02 ? 0 : Math.exp(4 + 1.5 * r());
    const failed = r() < 0.1;
    pending.push({
      at: t + (r() < 0.5 ? 0 : TICK),
      event: {
        type: 'request.end',
        ts: ts + latency / 1000,
        ...common,
        status: failed ? pick([429, 500, 503]) : 200,
        ...(failed && r() < 0.7 && { error: pick(['timeout', 'overloaded', '__proto__']) }),
        latency_ms: latency,
        ...(stream && { ttft_ms: latency * r() * 0.5 }),
        prompt_tokens: Math.floor(r() * 300),
        completion_tokens: Math.floor(r() * 200),
        ...(r() < 0.5 && { cache: { hit: r() < 0.5, cached_tokens: Math.floor(r() * 64), prefix_length: Math.floor(r() * 64) } }),
      },
    });
  }
  if (r() < 0.3) out.push({ type: 'node.gauge', ts: t / 1000, node: pick(NODES), queue_depth: Math.floor(r() * 4), active_streams: Math.floor(r() * 3) });
  for (let i = pending.length - 1; i >= 0; i--) {
    if (pending[i]!.at > t) continue;
    out.push(pending[i]!.event);
    pending.splice(i, 1);
  }
  return out;
}

const clientOf = fc.record({
  endpoints: fc.subarray(ENDPOINTS),
  models: fc.subarray(MODELS),
  nodes: fc.subarray(NODES),
  types: fc.subarray([...METRIC_TYPES]),
  /** Clients on the same view (another copy of this filter). */
  copies: fc.integer({ min: 1, max: 2 }),
});

/** The `data` JSON.stringify gives of `filter`'s view: each type of `types` (all when empty), in METRIC_TYPES order. */
function expectedData(state: SnapshotState, filter: CellFilter, types: readonly MetricType[]): string {
  const view = filter.endpoints.size + filter.models.size + filter.nodes.size === 0 ? state.fullView().view : state.view(filter);
  const wanted = METRIC_TYPES.filter((t) => types.length === 0 || types.includes(t));
  return `{${wanted.map((t) => `"${t}":${JSON.stringify(view.part(t))}`).join(',')}}`;
}

describe('fragment-built frames', () => {
  it('are byte for byte JSON.stringify of the built view, for random snapshots, filters and metric types, tick after tick', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.array(clientOf, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 40 }), (seed, clients, perTick) => {
        const r = rng(seed);
        const w = new MetricsWindow({ windowMs: 10_000, bucketMs: TICK, createdAtMs: T0 - 60_000, maxEndpoints: 100, maxModels: 100, slos: SLOS });
        const state = new SnapshotState();
        const registry = new ViewRegistry(1000);
        const pending: { at: number; event: PulseEvent }[] = [];
        const sessions: { session: ClientSession; socket: Recorder; filter: CellFilter; types: MetricType[] }[] = [];
        for (const c of clients) {
          for (let k = 0; k < c.copies; k++) {
            const socket = new Recorder();
            const session = new ClientSession(socket, 'test', TICK, 0, ZERO, registry);
            const filters: Record<string, unknown> = { interval: TICK / 1000 };
            if (c.endpoints.length > 0) filters.endpoints = c.endpoints;
            if (c.models.length > 0) filters.models = c.models;
            if (c.nodes.length > 0) filters.nodes = c.nodes;
            if (c.types.length > 0) filters.metric_types = c.types;
            const result = session.subscribe(filters, 0);
            expect(result.ok, JSON.stringify(result)).toBe(true);
            sessions.push({ session, socket, filter: { endpoints: new Set(c.endpoints), models: new Set(c.models), nodes: new Set(c.nodes) }, types: c.types as MetricType[] });
          }
        }
        let t = T0;
        let seq = 0;
        for (let tick = 0; tick < 12; tick++) {
          t += TICK;
          // Some ticks leave endpoints idle, so some views' inputs do not change from one snapshot to the next.
          const idle = new Set(ENDPOINTS.filter(() => r() < 0.3));
          for (const e of tickEvents(r, t, perTick, idle, pending)) w.apply(e, t, true);
          w.advance(t);
          const next = t / TICK;
          let encoded: Buffer;
          if (tick % 5 === 0) {
            encoded = encodeSnapshot(w.snapshot(t, 1, next, 0));
            w.reportedAll();
          } else {
            encoded = encodePatch(takePatch(w, t, 1, next, seq, 0));
          }
          seq = next;
          const accepted = state.accept(encoded);
          expect(accepted.kind).toBe('accepted');
          if (accepted.kind !== 'accepted') return;
          const before = sessions.map((s) => s.socket.frames.length);
          const result = fanout(accepted.snapshot, state.fullView(), sessions.map((s) => s.session), 1000 + tick * TICK, {
            maxBufferedBytes: 1 << 30,
            slowTicks: 3,
            onSlow: () => undefined,
            views: registry,
          }, (filter) => state.view(filter));
          expect(result.sent).toBe(sessions.length);
          sessions.forEach((s, i) => {
            expect(s.socket.frames.length).toBe(before[i]! + 1);
            const text = frameText(s.socket.frames.at(-1)!);
            const data = expectedData(state, s.filter, s.types);
            // Byte for byte: the frame holds exactly this data text, followed by the deltas.
            expect(text.startsWith(`{"type":"metrics_update","timestamp":${accepted.snapshot.builtAt},"data":${data},"deltas":`), `${text}\n≠ data ${data}`).toBe(true);
            expect(JSON.parse(text).data).toEqual(JSON.parse(data));
          });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('partJson: the latency map from fragments equals JSON.stringify, recorded or only read, with integer-like keys first', () => {
    const stats = (x: number) => ({ avg: x / 3, min: x, max: x * 1.5, p50: x, p90: x, p95: x, p99: x, p999: x });
    const map = Object.create(null) as Record<string, ReturnType<typeof stats>>;
    for (const [k, x] of [['/b', 1], ['__proto__', 2], ['10', 0.1 + 0.2], ['2', 1e21], ['"q"', -0], ['ü', 5e-324]] as const) map[k] = stats(x);
    const memo = new WeakMap<object, string>();
    expect(partJson('latency', map, memo, true)).toBe(JSON.stringify(map));
    expect(partJson('latency', map, memo)).toBe(JSON.stringify(map));
    // A map whose stats the memo does not hold (a view that splits its endpoints) is stringified whole.
    const other = Object.create(null) as Record<string, ReturnType<typeof stats>>;
    other['/b'] = stats(3);
    expect(partJson('latency', other, memo)).toBe(JSON.stringify(other));
    expect(partJson('latency', Object.create(null) as Record<string, never>, memo)).toBe('{}');
    // Non-finite figures become null, as JSON.stringify writes them.
    const odd = Object.create(null) as Record<string, ReturnType<typeof stats>>;
    odd['/x'] = { ...stats(1), avg: NaN, max: Infinity };
    expect(partJson('latency', odd, memo, true)).toBe(JSON.stringify(odd));
  });
});
