/**
 * Views a replica composes from its aggregates by inclusion–exclusion (a
 * filter keeping most nodes, models or endpoints: the whole aggregate less
 * what is left out, view.ts `compose`) equal the views of its cells. Enough
 * labels here that those filters take that path, and extremes often sit in
 * a left-out part, so the minimum and maximum must come from the selected
 * cells (the aggregates' ranked extreme cells, or the search behind them).
 */
import fc from 'fast-check';
import type { PulseEvent } from '@pulse/protocol';
import { rng } from '@pulse/test-support/quantiles';
import { expectSameFigures } from '@pulse/test-support/figures';
import { describe, expect, it } from 'vitest';
import { takePatch } from './patch-builder.js';
import { SnapshotReplica } from './replica.js';
import { buildReplicaView, buildView, type CellFilter } from './view.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_040_000;
const TICK = 500;
const NODES = Array.from({ length: 12 }, (_, i) => `n${i}`);
const ENDPOINTS = Array.from({ length: 6 }, (_, i) => `/v1/e${i}`);
const MODELS = ['m0', 'm1', 'm2', 'm3', 'm4'];

/** Requests over every cell, some cells with a single sample (their extremes are the group's candidates). */
function tickEvents(r: () => number, t: number, n: number, id: { next: number }): PulseEvent[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const out: PulseEvent[] = [];
  for (let i = 0; i < n; i++) {
    const common = { ts: (t - TICK * r()) / 1000, node: pick(NODES), request_id: `r${id.next++}`, endpoint: pick(ENDPOINTS), model: pick(MODELS) };
    const stream = r() < 0.6;
    const latency = Math.exp(3 + 3 * r());
    out.push({ type: 'request.start', ...common, stream });
    out.push({
      type: 'request.end',
      ...common,
      ts: common.ts + 0.001,
      status: r() < 0.05 ? 500 : 200,
      latency_ms: latency,
      ...(stream && { ttft_ms: latency * r() * 0.5 }),
      completion_tokens: 1 + Math.floor(r() * 300),
      prompt_tokens: 50,
    });
  }
  return out;
}

/** All but `k` random members (at least one kept). */
function allBut(r: () => number, xs: readonly string[], k: number): Set<string> {
  const out = new Set(xs);
  for (let i = 0; i < k && out.size > 1; i++) out.delete([...out][Math.floor(r() * out.size)]!);
  return out;
}

function filters(r: () => number): CellFilter[] {
  const none = new Set<string>();
  const fs: CellFilter[] = [];
  for (const k of [1, 2]) {
    fs.push({ endpoints: none, models: none, nodes: allBut(r, NODES, k) });
    fs.push({ endpoints: allBut(r, ENDPOINTS, 1), models: none, nodes: none });
    fs.push({ endpoints: none, models: allBut(r, MODELS, 1), nodes: allBut(r, NODES, k) });
    fs.push({ endpoints: allBut(r, ENDPOINTS, 1), models: allBut(r, MODELS, 1), nodes: none });
    fs.push({ endpoints: allBut(r, ENDPOINTS, 1), models: allBut(r, MODELS, 1), nodes: allBut(r, NODES, k) });
    fs.push({ endpoints: allBut(r, ENDPOINTS, 2), models: allBut(r, MODELS, 2), nodes: allBut(r, NODES, 6) });
  }
  return fs;
}

describe('views composed by inclusion–exclusion', () => {
  it('equal the views of the cells, extremes included, as patches move the aggregates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 5, max: 120 }), (seed, perTick) => {
        const r = rng(seed);
        const w = new MetricsWindow({ windowMs: 10_000, bucketMs: TICK, createdAtMs: T0, maxEndpoints: 100, maxModels: 100 });
        const replica = new SnapshotReplica();
        const id = { next: 0 };
        let t = T0;
        let compared = 0;
        for (let tick = 1; tick <= 40; tick++) {
          const prev = t / TICK;
          t += TICK;
          for (const e of tickEvents(r, t, perTick, id)) w.apply(e, t, true);
          w.advance(t);
          if (tick === 1) {
            replica.load(w.snapshot(t, 1, t / TICK, 0));
            w.reportedAll();
          } else {
            expect(replica.apply(takePatch(w, t, 1, t / TICK, prev, 0))).toBe('applied');
          }
          if (tick % 8 !== 0) continue;
          const cells = w.snapshot(t, 1, t / TICK, 0);
          for (const f of filters(r)) {
            expectSameFigures(buildReplicaView(replica, f).data, buildView(cells, f).data);
            compared++;
          }
        }
        expect(compared).toBe(5 * 12);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
