/**
 * Partitioned aggregation (PULSE_PARTITIONS, CONTRACT §10): the same random
 * events aggregated by one window, and by N windows each fed the events of
 * its nodes (partitionOf), published as keyframes and patches and merged by
 * a PartitionedReplica, give the same figures under every filter, tick after
 * tick — with nodes that go silent and retire into `__other__` (a cell label
 * several partitions then share), buckets expiring, requests left in flight,
 * node gauges — and the same cumulative export series (Prometheus, OTLP).
 */
import fc from 'fast-check';
import { partitionOf, parseSlos, type InternalSnapshot, type PulseEvent, type RequestEnd } from '@pulse/protocol';
import { rng } from '@pulse/test-support/quantiles';
import { expectSameFigures } from '@pulse/test-support/figures';
import { describe, expect, it } from 'vitest';
import { exportSeries } from './export-series.js';
import { takePatch } from './patch-builder.js';
import { PartitionedReplica, PartitionMerge, type MergedSnapshot } from './partitions.js';
import { SnapshotReplica } from './replica.js';
import { buildReplicaView, buildView, type CellFilter } from './view.js';
import { MetricsWindow } from './window.js';

const T0 = 1_700_000_040_000;
const TICK = 500;
const NODES = Array.from({ length: 9 }, (_, i) => `fakeai-${i}`);
const ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
const MODELS = ['gpt-4o', 'llama'];
const SLOS = parseSlos('interactive:ttft_ms<=80,itl_ms<=20;batch:latency_ms<=600');

/** Random FakeAI-like events over ~100 s: streams, errors, cache lookups, unfinished requests, node gauges; some nodes fall silent early. */
function traffic(seed: number, n: number): { at: number; event: PulseEvent }[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  // Each node sends until its own end: a few stop after ~10 s, so they retire (silent 30 s, nothing in the window).
  const until = new Map(NODES.map((node) => [node, r() < 0.3 ? 10_000 + r() * 10_000 : 100_000]));
  const out: { at: number; event: PulseEvent }[] = [];
  for (let i = 0; i < n; i++) {
    const node = pick(NODES);
    const offset = r() * until.get(node)!;
    const at = T0 + offset;
    const ts = at / 1000 - (r() < 0.1 ? 2 : 0);
    if (r() < 0.05) {
      out.push({ at, event: { type: 'node.gauge', ts, node, queue_depth: Math.floor(r() * 5), active_streams: Math.floor(r() * 3) } });
      continue;
    }
    const common = { node, request_id: `r${i}`, endpoint: pick(ENDPOINTS), model: pick(MODELS) };
    const stream = r() < 0.6;
    out.push({ at, event: { type: 'request.start', ts, ...common, stream } });
    if (r() < 0.1) continue; // left in flight
    const latency = Math.exp(5 + 0.8 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
    const failed = r() < 0.1;
    const end: RequestEnd = {
      type: 'request.end',
      ts: ts + latency / 1000,
      ...common,
      ...(r() < 0.15 && { stream: r() < 0.5 }),
      status: failed ? pick([429, 500, 503]) : 200,
      ...(failed && r() < 0.7 && { error: pick(['timeout', 'overloaded']) }),
      latency_ms: latency,
      ...(r() < 0.9 && { ttft_ms: latency * r() * 0.5 }),
      completion_tokens: Math.floor(r() * 200),
      prompt_tokens: 100,
      ...(r() < 0.5 && { cache: { hit: r() < 0.4, cached_tokens: 30, prefix_length: 40 } }),
    };
    out.push({ at: at + latency, event: end });
  }
  return out.sort((a, b) => a.at - b.at);
}

function window(): MetricsWindow {
  return new MetricsWindow({ windowMs: 30_000, bucketMs: TICK, createdAtMs: T0 - 5_000, maxEndpoints: 100, maxModels: 100, slos: SLOS });
}

/** One aggregator's publishing: a keyframe now and then, patches between, into whatever replica follows it. */
class Publisher {
  readonly window = window();
  private lastSeq: number | null = null;

  publish(t: number, keyframe: boolean): { keyframe: InternalSnapshot } | { patch: ReturnType<typeof takePatch> } {
    const seq = t / TICK;
    this.window.advance(t);
    let message: { keyframe: InternalSnapshot } | { patch: ReturnType<typeof takePatch> };
    if (keyframe || this.lastSeq === null) {
      message = { keyframe: this.window.snapshot(t, 1, seq, 0) };
      this.window.reportedAll();
    } else {
      message = { patch: takePatch(this.window, t, 1, seq, this.lastSeq, 0) };
    }
    this.lastSeq = seq;
    return message;
  }
}

function applyTo(replica: SnapshotReplica, message: { keyframe: InternalSnapshot } | { patch: ReturnType<typeof takePatch> }): void {
  if ('keyframe' in message) replica.load(message.keyframe);
  else expect(replica.apply(message.patch)).toBe('applied');
}



const filterOf = fc.record({ endpoints: fc.subarray(ENDPOINTS), models: fc.subarray(MODELS), nodes: fc.subarray([...NODES, '__other__']) });
const ALL: CellFilter = { endpoints: new Set(), models: new Set(), nodes: new Set() };

describe('partitioned aggregation', () => {
  it('merges to the one-partition figures on the same events, under every filter, tick after tick', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e6 }),
        fc.integer({ min: 2, max: 4 }),
        fc.array(filterOf, { minLength: 3, maxLength: 8 }),
        (seed, partitions, filters) => {
          const events = traffic(seed, 1500);
          const one = new Publisher();
          const single = new SnapshotReplica();
          const parts = Array.from({ length: partitions }, () => new Publisher());
          const merged = new PartitionedReplica(partitions);
          const cellFilters = [ALL, ...filters.map((f) => ({ endpoints: new Set(f.endpoints), models: new Set(f.models), nodes: new Set(f.nodes) }))];
          let i = 0;
          for (let tick = 1; tick <= 240; tick++) {
            const t = T0 + tick * TICK;
            for (; i < events.length && events[i]!.at <= t; i++) {
              const { event } = events[i]!;
              one.window.apply(event, t, true);
              parts[partitionOf(event.node, partitions)]!.window.apply(event, t, true);
            }
            // Partitions' keyframes fall on different ticks: a merge mixes keyframes and patches.
            applyTo(single, one.publish(t, tick % 29 === 0));
            parts.forEach((p, k) => expect(merged.accept(k, p.publish(t, (tick + k * 7) % 23 === 0))).toBe('accepted'));
            const snapshot = merged.merge(t / TICK)!;
            expect(snapshot.stalePartitions).toEqual([]);
            expect(snapshot.coveredSeconds).toBe(single.snapshot!.coveredSeconds);
            if (tick % 40 !== 0) continue;
            for (const f of cellFilters) expectSameFigures(buildReplicaView(merged, f).data, buildReplicaView(single, f).data);
            // The same figures as the view of the merged cells themselves, and the same export series.
            expectSameFigures(buildView(snapshot, ALL).data, buildReplicaView(single, ALL).data);
            for (const byNode of [false, true]) expectSameFigures(JSON.parse(JSON.stringify(exportSeries(snapshot, byNode))), JSON.parse(JSON.stringify(exportSeries(single.snapshot!, byNode))));
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('retires silent nodes into __other__ cells that several partitions hold, and still adds up', () => {
    // Deterministic: every node but one falls silent early, so each partition retires some into __other__.
    const partitions = 3;
    const events = traffic(42, 1500).filter(({ event, at }) => event.node === 'fakeai-0' || at < T0 + 15_000);
    const one = new Publisher();
    const single = new SnapshotReplica();
    const parts = Array.from({ length: partitions }, () => new Publisher());
    const merged = new PartitionedReplica(partitions);
    let i = 0;
    for (let tick = 1; tick <= 200; tick++) {
      const t = T0 + tick * TICK;
      for (; i < events.length && events[i]!.at <= t; i++) {
        one.window.apply(events[i]!.event, t, true);
        parts[partitionOf(events[i]!.event.node, partitions)]!.window.apply(events[i]!.event, t, true);
      }
      applyTo(single, one.publish(t, false));
      parts.forEach((p, k) => merged.accept(k, p.publish(t, false)));
    }
    const snapshot = merged.merge()!;
    const holders = new Set(parts.filter((p) => p.window.nodes.has('__other__')).map((p) => parts.indexOf(p)));
    expect(holders.size).toBeGreaterThan(1);
    expect(snapshot.cells.filter((c) => c.node === '__other__').length).toBeGreaterThan(single.snapshot!.cells.filter((c) => c.node === '__other__').length);
    for (const f of [ALL, { ...ALL, nodes: new Set(['__other__']) }, { ...ALL, nodes: new Set(['__other__']), models: new Set(['llama']) }]) {
      expectSameFigures(buildReplicaView(merged, f).data, buildReplicaView(single, f).data);
    }
  });
});

describe('PartitionMerge', () => {
  const keyframe = (seq: number, epoch = 1): { keyframe: InternalSnapshot } => ({
    keyframe: { epoch, seq, builtAt: (seq * TICK) / 1000, coveredSeconds: 10, stats: { eventsApplied: 1, eventsDropped: 0, labelsFolded: 0 }, slos: [], nodes: [], cells: [] },
  });

  it('merges a tick once every partition holds it, or once the wait ran out; a partition more than a tick behind is stale and not waited for', async () => {
    const out: MergedSnapshot[] = [];
    const merge = new PartitionMerge({ partitions: 3, waitMs: 40, onMerged: (s) => out.push(s) });
    merge.accept(0, keyframe(10));
    merge.accept(1, keyframe(10));
    expect(out).toHaveLength(0);
    merge.accept(2, keyframe(10));
    expect(out.map((s) => [s.seq, s.stalePartitions])).toEqual([[10, []]]);
    // Tick 11: partition 2 is silent (its leader died). After the wait, 11 goes out; 2 is one tick behind, not stale yet.
    merge.accept(0, keyframe(11));
    merge.accept(1, keyframe(11));
    await new Promise((r) => setTimeout(r, 80));
    expect(out.map((s) => [s.seq, s.stalePartitions])).toEqual([[10, []], [11, []]]);
    merge.accept(0, keyframe(12));
    merge.accept(1, keyframe(12));
    await new Promise((r) => setTimeout(r, 80));
    expect(out.at(-1)).toMatchObject({ seq: 12, stalePartitions: [2] });
    // Stale: not waited for any more.
    merge.accept(0, keyframe(13));
    merge.accept(1, keyframe(13));
    expect(out.at(-1)).toMatchObject({ seq: 13, stalePartitions: [2] });
    // A new leader's keyframe (another epoch) brings it back.
    expect(merge.accept(2, keyframe(14, 2))).toBe('accepted');
    merge.accept(0, keyframe(14));
    merge.accept(1, keyframe(14));
    expect(out.at(-1)).toMatchObject({ seq: 14, stalePartitions: [] });
    // An old message of a partition is refused; a patch that does not follow on is a gap.
    expect(merge.accept(2, keyframe(13, 2))).toBe('duplicate');
    expect(merge.accept(2, keyframe(15, 1))).toBe('stale');
    merge.close();
  });
});
