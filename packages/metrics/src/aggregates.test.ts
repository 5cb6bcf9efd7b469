/**
 * A replica's aggregates hold each group's histogram as a span that grows
 * with room to spare; views merge that span into a dense histogram of the
 * whole index range. A span must never reach past that range.
 */
import type { RequestEnd, RequestStart } from '@pulse/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_INDEXABLE, MIN_INDEXABLE } from './log-histogram.js';
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
