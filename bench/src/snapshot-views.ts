/**
 * Snapshot build time and payload at 10, 100 and 1,000 endpoint×model cells,
 * and a gateway's work per tick: decoding the snapshot (once per snapshot,
 * whatever the number of views), then building and serializing each of 1,
 * 10 and 100 distinct views. In one process, no I/O.
 */
import { decodeSnapshot, encodeSnapshot, type PulseEvent } from '@pulse/protocol';
import { buildView, MetricsWindow, type CellFilter } from '@pulse/metrics';
import { seededRandom } from '@pulse/simulator';
import { measure, percentile, round } from './timing.js';

const TICK_MS = 500;
const WINDOW_MS = 60_000;

export interface CellsResult {
  cells: number;
  eventsInWindow: number;
  snapshotBuildMs: { p50: number; p99: number };
  payloadBytes: number;
  /** Gateway: decoding one snapshot. */
  decodeMs: { p50: number; p99: number };
  /** Gateway: building and serializing `views` distinct views of a decoded snapshot. */
  views: { views: number; perTickMs: { p50: number; p99: number }; perViewMs: number }[];
}

function shape(cells: number): [endpoints: number, models: number] {
  return cells === 10 ? [5, 2] : cells === 100 ? [10, 10] : [20, cells / 20];
}

/** A window whose every cell saw two requests per tick over the whole window. */
export function filledWindow(cells: number, now: number): { window: MetricsWindow; events: number; endpoints: string[]; models: string[] } {
  const [ne, nm] = shape(cells);
  const endpoints = Array.from({ length: ne }, (_, i) => `/v1/endpoint-${i}`);
  const models = Array.from({ length: nm }, (_, i) => `model-${i}`);
  const w = new MetricsWindow({ windowMs: WINDOW_MS, bucketMs: TICK_MS, createdAtMs: now - 10 * WINDOW_MS, maxEndpoints: 10_000, maxModels: 10_000 });
  const r = seededRandom(cells);
  let events = 0;
  let id = 0;
  for (let t = now - WINDOW_MS + TICK_MS; t <= now; t += TICK_MS) {
    for (const endpoint of endpoints) {
      for (const model of models) {
        for (let k = 0; k < 2; k++) {
          const stream = r() < 0.5;
          const latency = Math.exp(5.5 + 0.6 * (r() + r() + r() - 1.5));
          const common = { ts: t / 1000, node: `node-${id % 8}`, request_id: `r${id++}`, endpoint, model, stream };
          const start: PulseEvent = { type: 'request.start', ...common };
          const end: PulseEvent = {
            type: 'request.end',
            ...common,
            status: r() < 0.02 ? 500 : 200,
            latency_ms: latency,
            ttft_ms: stream ? latency * (0.1 + 0.2 * r()) : undefined,
            prompt_tokens: 200,
            completion_tokens: Math.round(50 + 300 * r()),
            cache: { hit: r() < 0.6, cached_tokens: Math.round(150 * r()), prefix_length: Math.round(100 * r()) },
          };
          w.apply(start, t, true);
          w.apply(end, t, true);
          events += 2;
        }
      }
    }
  }
  return { window: w, events, endpoints, models };
}

export function filters(n: number, endpoints: string[], models: string[]): CellFilter[] {
  const r = seededRandom(n);
  const pick = (from: string[]) => new Set(from.filter(() => r() < 0.3));
  const out: CellFilter[] = [{ endpoints: new Set(), models: new Set(), nodes: new Set() }];
  while (out.length < n) {
    const kind = out.length % 3;
    out.push({ endpoints: kind === 1 ? new Set() : pick(endpoints), models: kind === 2 ? new Set() : pick(models), nodes: new Set() });
  }
  return out;
}

export function benchCells(cells: number): CellsResult {
  const now = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  const { window, events, endpoints, models } = filledWindow(cells, now);
  let seq = 0;
  // 50 warm-up runs: fewer left the first optimizing compiler tiers (and the filling's garbage) in the median.
  const build = measure(() => {
    window.advance(now);
    encodeSnapshot(window.snapshot(now, 1, ++seq, 0));
  }, 200, 50);
  window.advance(now);
  const encoded = encodeSnapshot(window.snapshot(now, 1, ++seq, 0));

  const decode = measure(() => decodeSnapshot(encoded), 200, 50);
  const snap = decodeSnapshot(encoded);
  const views = [1, 10, 100].map((n) => {
    const fs = filters(n, endpoints, models);
    const perTick = measure(() => {
      for (const f of fs) JSON.stringify(buildView(snap, f).data);
    }, n >= 100 ? 30 : 200, n >= 100 ? 5 : 50);
    return {
      views: n,
      perTickMs: { p50: round(percentile(perTick, 0.5)), p99: round(percentile(perTick, 0.99)) },
      perViewMs: round(percentile(perTick, 0.5) / n, 4),
    };
  });
  return {
    cells,
    eventsInWindow: events,
    snapshotBuildMs: { p50: round(percentile(build, 0.5)), p99: round(percentile(build, 0.99)) },
    payloadBytes: encoded.length,
    decodeMs: { p50: round(percentile(decode, 0.5)), p99: round(percentile(decode, 0.99)) },
    views,
  };
}
