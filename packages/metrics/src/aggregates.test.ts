/**
 * A replica's aggregates hold each group's histogram as a span that grows
 * with room to spare; views merge that span into a dense histogram of the
 * whole index range. A span must never reach past that range. And the
 * groupings beyond by-endpoint are kept only while views read them.
 */
import type { RequestEnd, RequestStart } from '@pulse/protocol';
import { expectSameFigures } from '@pulse/test-support/figures';
import { describe, expect, it } from 'vitest';
import { MAX_INDEXABLE, MIN_INDEXABLE } from './log-histogram.js';
import { IDLE_PATCHES, REST_PATCHES, RESUM_PATCHES } from './aggregates.js';
import { takePatch } from './patch-builder.js';
import { SnapshotReplica } from './replica.js';
import { buildReplicaView, buildView } from './view.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_000_000;

function request(id: string, node: string, latency: number): [RequestStart, RequestEnd] {
  const base = { ts: T0 / 1000 + 1, node, request_id: id, endpoint: '/v1/chat/completions', model: 'm', stream: false };
  return [
    { type: 'request.start', ...base },
    { type: 'request.end', ...base, status: 200, latency_ms: latency },
  ];
}

describe('aggregate histograms at the ends of the index range', () => {
  it('give the same percentiles from a replica as from the cells', () => {
    const w = new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 100, maxModels: 100 });
    // Many nodes, each widening the endpoint's span a little further towards both ends, so it grows (by half
    // again each time) until the spare would reach past the smallest and largest indexable values.
    const latencies = [MIN_INDEXABLE * 1.001, MIN_INDEXABLE * 3, 0.01, 1, 100, 1e4, 1e6, MAX_INDEXABLE / 3, MAX_INDEXABLE / 1.001];
    latencies.forEach((latency, i) => {
      for (const e of request(`r${i}`, `n${i}`, latency)) w.apply(e, T0 + 1000, true);
    });
    w.advance(T0 + 1500);
    const snapshot = w.snapshot(T0 + 1500, 1, 1, 0);
    const replica = new SnapshotReplica();
    replica.load(snapshot);

    const fromReplica = buildReplicaView(replica).data.latency['/v1/chat/completions']!;
    const fromCells = buildView(snapshot).data.latency['/v1/chat/completions']!;
    for (const q of ['p50', 'p90', 'p95', 'p99'] as const) {
      expect(Number.isFinite(fromReplica[q]), q).toBe(true);
      expect(fromReplica[q], q).toBe(fromCells[q]);
    }
  });
});

const set = (...xs: string[]) => new Set(xs);
const none = set();
type Filter = { endpoints: Set<string>; models: Set<string>; nodes: Set<string> };

/**
 * A window fed `requests` requests each 500 ms tick, labelled by `labels`
 * (given the request's number in the run and in the tick), and a replica
 * loaded from the first tick: `patch` applies the next tick's patch to it,
 * `same` checks one of its views against the window's own snapshot.
 */
function followed(requests: number, labels: (n: number, i: number) => { node: string; latency: number; endpoint?: string; model?: string }) {
  const w = new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 100, maxModels: 100 });
  let t = T0;
  let n = 0;
  const tick = () => {
    t += 500;
    for (let i = 0; i < requests; i++) {
      const { node, latency, ...rest } = labels(++n, i);
      for (const e of request(`r${n}`, node, latency)) w.apply({ ...e, ...rest, ts: t / 1000 - 0.1 }, t - 1, true);
    }
    w.advance(t);
  };
  tick();
  const replica = new SnapshotReplica();
  replica.load(w.snapshot(t, 1, t / 500, 0));
  w.reportedAll();
  return {
    replica,
    patch(): void {
      const base = t / 500;
      tick();
      expect(replica.apply(takePatch(w, t, 1, t / 500, base, 0))).toBe('applied');
    },
    same(filter: Filter): void {
      expectSameFigures(buildReplicaView(replica, filter).data, buildView(w.snapshot(t, 1, t / 500, 0), filter).data);
    },
  };
}

describe('groupings kept only while read', () => {
  it('keeps by node, and by pairs of labels, from the first view that reads them until IDLE_PATCHES patches pass unread; rebuilt, they give the same views', () => {
    const { replica, patch, same } = followed(6, (n, i) => ({ node: `n${i % 3}`, latency: 10 + ((n * 37) % 500), ...(i % 2 ? { model: 'm2' } : {}) }));

    expect(replica.aggregates.kept()).toEqual([]);
    // The unfiltered view reads by endpoint and, for its node table, by node.
    same({ endpoints: none, models: none, nodes: none });
    expect(replica.aggregates.kept()).toEqual(['byNode']);
    // A model filter reads endpoint × model, and its node table node × model.
    same({ endpoints: none, models: set('m2'), nodes: none });
    expect(replica.aggregates.kept()).toEqual(['byNode', 'byEndpointModel', 'byNodeModel']);
    // Kept while read, across patches: the node table under an endpoint filter reads endpoint × node.
    for (let i = 0; i < IDLE_PATCHES; i++) patch();
    same({ endpoints: set('/v1/chat/completions'), models: none, nodes: set('n1') });
    expect(replica.aggregates.kept()).toContain('byEndpointNode');
    same({ endpoints: none, models: set('m2'), nodes: none });
    // Unread for IDLE_PATCHES patches: dropped, then built again from the cells by the next read.
    for (let i = 0; i <= IDLE_PATCHES; i++) patch();
    expect(replica.aggregates.kept()).toEqual([]);
    same({ endpoints: none, models: set('m2'), nodes: set('n0', 'n2') });
    expect(replica.aggregates.kept().length).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) patch();
    same({ endpoints: none, models: set('m2'), nodes: set('n0', 'n2') });
  });
});

describe('distributions no view reads', () => {
  it('rest after REST_PATCHES patches unread, and read again they are summed from their cells: the same views', () => {
    const { replica, patch, same } = followed(8, (n, i) => ({
      node: `n${i % 4}`,
      latency: 5 + ((n * 53) % 900),
      model: `m${i % 3}`,
      endpoint: `/v1/e${(n >> 1) % 3}`,
    }));
    const everyView: Filter[] = [
      { endpoints: none, models: none, nodes: none },
      { endpoints: none, models: set('m0'), nodes: none },
      { endpoints: none, models: set('m1'), nodes: none },
      { endpoints: set('/v1/e0'), models: none, nodes: none },
      { endpoints: set('/v1/e1'), models: none, nodes: none },
      { endpoints: none, models: none, nodes: set('n0', 'n1', 'n2') },
      { endpoints: set('/v1/e1', '/v1/e2'), models: set('m1', 'm2'), nodes: set('n1', 'n3') },
    ];
    const patches = (read: () => void) => {
      for (let i = 0; i < 2 * REST_PATCHES + 1; i++) {
        patch();
        read();
      }
    };
    // Every view read on every patch: what some view reads follows on (no view reads a node's tokens/s, say).
    everyView.forEach(same);
    const atLoad = replica.aggregates.following();
    patches(() => everyView.forEach(same));
    const readByAll = replica.aggregates.following();
    expect(readByAll).toBeLessThan(atLoad);
    // One view: what only the others read comes to rest, what it reads follows on.
    patches(() => same(everyView[1]!));
    expect(replica.aggregates.following()).toBeGreaterThan(0);
    expect(replica.aggregates.following()).toBeLessThan(readByAll);
    // Read again, the rested are summed from their cells.
    everyView.forEach(same);
    expect(replica.aggregates.following()).toBe(readByAll);
  });
});

describe('sums kept by patches', () => {
  it('are summed again from the cells every RESUM_PATCHES patches, so no float error outlives them', () => {
    // A 20-minute window: the quiet node's one request stays in it throughout, and no patch touches its cell.
    const w = new MetricsWindow({ windowMs: 1_200_000, bucketMs: 500, createdAtMs: T0, maxEndpoints: 100, maxModels: 100 });
    let t = T0 + 500;
    for (const e of request('quiet', 'quiet', 100)) w.apply({ ...e, ts: t / 1000 - 0.1 }, t - 1, true);
    w.advance(t);
    const replica = new SnapshotReplica();
    replica.load(w.snapshot(t, 1, t / 500, 0));
    w.reportedAll();
    const quietAvg = () => buildReplicaView(replica).data.nodes['quiet']!.latency!.avg;
    expect(quietAvg()).toBe(100);
    // Drift in the aggregate stands in as a cell sum moved behind its back: the aggregate does not see it ...
    replica.snapshot!.cells.find((c) => c.node === 'quiet')!.latency.sum += 50;
    let n = 0;
    const patch = () => {
      const base = t / 500;
      t += 500;
      for (const e of request(`r${n++}`, 'busy', 10 + (n % 90))) w.apply({ ...e, ts: t / 1000 - 0.1 }, t - 1, true);
      w.advance(t);
      expect(replica.apply(takePatch(w, t, 1, t / 500, base, 0))).toBe('applied');
    };
    // (the load counts as one; read often enough that the node's latency neither rests nor is rebuilt)
    for (let i = 0; i < RESUM_PATCHES - 2; i++) {
      patch();
      if (i % (REST_PATCHES / 2) === 0) expect(quietAvg()).toBe(100);
    }
    expect(quietAvg()).toBe(100);
    // ... until the aggregates are summed again from the cells.
    patch();
    expect(quietAvg()).toBe(150);
  });
});
