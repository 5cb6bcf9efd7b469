/**
 * What a replica holds stays bounded by the window in either role: a leader
 * and a standby fed traffic over ten minutes of log time, on the in-memory
 * backends and a controlled clock, each keep no more time buckets than the
 * window needs, forget silent nodes and finished cells, and hold the same
 * window. (A standby once kept every bucket since it started: only the
 * leader's publish expired them.)
 */
import type { PulseEvent } from '@pulse/protocol';
import {
  MemoryConsumerGroup,
  MemoryEventLog,
  MemoryEventSource,
  MemoryLeaderLease,
  MemoryLeaseStore,
  MemorySnapshotBus,
  silentLogger,
} from '@pulse/runtime';
import { describe, expect, it } from 'vitest';
import { createAggregator, type Aggregator } from './aggregator.js';

const TICK = 500;
const WINDOW = 60_000;
const BUCKETS_NEEDED = WINDOW / TICK + 1;
const settings = { windowMs: WINDOW, tickMs: TICK, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 500 };

/** Resolves once `done()` holds, checking on every turn of the event loop. */
async function settle(done: () => boolean): Promise<void> {
  for (let turns = 0; !done(); turns++) {
    if (turns > 100_000) throw new Error('the replicas did not catch up with the log');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** One step of traffic: requests started now end a step later, on 8 nodes over 14 endpoints × 3 models. */
function traffic(step: number, tsMs: number, nodes: readonly string[]): PulseEvent[] {
  const events: PulseEvent[] = [];
  const ts = tsMs / 1000;
  for (let i = 0; i < 20; i++) {
    const node = nodes[i % nodes.length]!;
    const endpoint = `/v1/endpoint-${(step + i) % 14}`;
    const model = `model-${i % 3}`;
    const stream = i % 2 === 0;
    events.push({ type: 'request.start', ts, node, request_id: `s${step}-${i}`, endpoint, model, stream });
    if (step > 0) {
      events.push({
        type: 'request.end',
        ts,
        node,
        request_id: `s${step - 1}-${i}`,
        endpoint: `/v1/endpoint-${(step - 1 + i) % 14}`,
        model,
        // A quarter of the ends leave `stream` to their start: a standby records those (takeover.ts).
        ...(i % 4 !== 0 && { stream }),
        status: i === 7 ? 500 : 200,
        latency_ms: 100 + ((step * 7 + i * 13) % 900),
        ...(stream && { ttft_ms: 20 + (i % 50) }),
        completion_tokens: 10 + i,
        prompt_tokens: 50,
        cache: { hit: i % 3 === 0, cached_tokens: 8, prefix_length: 16 },
      });
    }
  }
  for (const node of nodes) events.push({ type: 'node.gauge', ts, node, queue_depth: 3, active_streams: 1 });
  return events;
}

describe('aggregator memory bounds', () => {
  it('a leader and a standby fed ten minutes of traffic each hold only the buckets, nodes and cells the window needs', async () => {
    let t = Math.ceil(1_800_000_000_000 / TICK) * TICK;
    const now = () => t;
    const log = new MemoryEventLog(2 * WINDOW + 30_000, now);
    const leases = new MemoryLeaseStore(now);
    const group = new MemoryConsumerGroup(t, leases);
    const replica = (name: string): Aggregator =>
      createAggregator({
        settings,
        source: new MemoryEventSource(log, { group, consumer: name, now }),
        lease: new MemoryLeaderLease(leases, 1500),
        publisher: new MemorySnapshotBus(300, now),
        logger: silentLogger(),
        now,
      });
    const leader = replica('a');
    const standby = replica('b');
    leader.start({ ticks: false });
    standby.start({ ticks: false });
    try {
      await leader.tick(t);
      await standby.tick(t);
      expect([leader.status().role, standby.status().role]).toEqual(['leader', 'standby']);

      // Ten minutes: 8 nodes for the first eight, then only 2 — the silent six must drop out, and their cells retire.
      let lastId = '';
      for (let step = 0; step < (10 * 60_000) / TICK; step++) {
        t += TICK;
        const nodes = step < (8 * 60_000) / TICK ? ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'] : ['n1', 'n2'];
        lastId = (await log.append(traffic(step, t - 100, nodes))).id!;
        await settle(() => leader.status().appliedId === lastId && standby.status().appliedId === lastId);
        await leader.tick(t);
        await standby.tick(t);
      }

      const lead = leader.status();
      const stand = standby.status();
      expect(lead.role).toBe('leader');
      expect(stand.role).toBe('standby');
      expect(stand.buckets).toBeLessThanOrEqual(BUCKETS_NEEDED);
      expect(lead.buckets).toBeLessThanOrEqual(BUCKETS_NEEDED);
      expect(stand.buckets).toBe(lead.buckets);
      // 14 endpoints × 3 models for each live node, and for the `__other__` node the silent ones retired into.
      expect(stand.cells).toBeLessThanOrEqual(3 * 42);
      // A standby keeps no totals (it loads them when it takes over), so not the `__other__` cells that hold only those.
      expect(stand.cells).toBeLessThanOrEqual(lead.cells);
      expect(stand.nodes).toBe(2);
      expect(lead.nodes).toBe(2);
      // One log entry a step: a standby records the stream hints of the last window + tick of them.
      expect(stand.recordedEntries).toBeGreaterThan(0);
      expect(stand.recordedEntries).toBeLessThanOrEqual((WINDOW + TICK) / TICK + 1);
      // Only the last step's requests are still open on each replica.
      expect(stand.inFlight).toBe(20);
      expect(lead.inFlight).toBe(20);
    } finally {
      await Promise.all([leader.close(), standby.close()]);
    }
  });
});
