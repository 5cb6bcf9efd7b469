/**
 * The exponential histograms of the OTLP push across a takeover, on the
 * in-memory backends and a controlled clock: what the old leader committed
 * (loaded from the totals), left pending (counted from the entry by the new
 * leader) and never read (applied whole) is each counted exactly once, as
 * the cumulative slots are; and a leader not pushing them counts none but
 * still loads the persisted ones.
 */
import { exponentialFieldName, exponentialIndex, totalsField, type PulseEvent } from '@pulse/protocol';
import { MemoryConsumerGroup, MemoryEventLog, MemoryEventSource, MemoryLeaderLease, MemoryLeaseStore, MemorySnapshotBus, silentLogger } from '@pulse/runtime';
import { describe, expect, it } from 'vitest';
import { createAggregator, type Aggregator } from './aggregator.js';

const TICK = 500;
const LEASE_MS = 1500;
const base = { windowMs: 60_000, tickMs: TICK, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 100 };
const CELL = ['n1', '/v1/chat/completions', 'gpt-4'] as const;
const LATENCY_MS = 120;
const TTFT_MS = 30;

function store() {
  const clock = { t: Math.ceil(1_800_000_000_000 / TICK) * TICK };
  const now = () => clock.t;
  const log = new MemoryEventLog(150_000, now);
  const leases = new MemoryLeaseStore(now);
  const group = new MemoryConsumerGroup(clock.t, leases);
  const bus = new MemorySnapshotBus(300, now);
  let requests = 0;
  return {
    clock,
    group,
    replica(name: string, exponentialHistograms = true) {
      const source = new MemoryEventSource(log, { group, consumer: name, reclaimIdleMs: 60_000, now });
      const lease = new MemoryLeaderLease(leases, LEASE_MS);
      const aggregator: Aggregator = createAggregator({ settings: { ...base, exponentialHistograms }, source, lease, publisher: bus, logger: silentLogger(), now });
      return { aggregator, source, lease };
    },
    /** One log entry of `n` finished streams (with `endSaysStream` false only their starts say so), 120 ms, TTFT 30 ms, 12 tokens. */
    async append(n: number, endSaysStream = true): Promise<void> {
      const events: PulseEvent[] = [];
      for (let i = 0; i < n; i++) {
        const common = { ts: clock.t / 1000, node: CELL[0], request_id: `r${++requests}`, endpoint: CELL[1], model: CELL[2] };
        const end = { type: 'request.end', ...common, status: 200, latency_ms: LATENCY_MS, ttft_ms: TTFT_MS, completion_tokens: 12 } as const;
        events.push({ type: 'request.start', ...common, stream: true }, endSaysStream ? { ...end, stream: true } : end);
      }
      await log.append(events);
    },
  };
}

const persisted = (group: MemoryConsumerGroup, name: string) => group.totals.get(totalsField(...CELL, name)) ?? 0;
const latencyBucket = exponentialFieldName('latency', exponentialIndex(LATENCY_MS, 1000));
const ttftBucket = exponentialFieldName('ttft', exponentialIndex(TTFT_MS, 1000));

/** The leader's exponential latency histogram as the push reads it. */
function pushedLatency(a: Aggregator) {
  const h = a.exportState()?.exponential.get(JSON.stringify(CELL))?.[0];
  return h && { count: h.count, sum: h.sum, buckets: Object.fromEntries(h.indices.map((i, k) => [i, h.counts[k]])) };
}

describe('exponential histograms across a takeover', () => {
  it('counts what the old leader committed, left pending and never read, each exactly once', async () => {
    const s = store();
    const old = s.replica('old');
    const next = s.replica('next');
    await old.aggregator.build();
    await next.aggregator.build();
    await old.aggregator.takeOver((await old.lease.acquireOrRenew())!);

    await s.append(5); // committed by the old leader
    await old.aggregator.lead(0);
    expect(persisted(s.group, latencyBucket)).toBe(5);
    await s.append(5, false); // claimed by the old leader, which dies before committing
    expect(await old.source.claim(10, 0)).toHaveLength(1);
    await s.append(5); // never delivered to anyone
    while (await next.aggregator.follow(0));

    s.clock.t += LEASE_MS + TICK;
    await next.aggregator.takeOver((await next.lease.acquireOrRenew())!);
    expect(next.aggregator.current()).toBe('leading');
    expect(s.group.pending.size).toBe(0);
    expect(persisted(s.group, latencyBucket)).toBe(15);
    expect(persisted(s.group, exponentialFieldName('latency', 'sum'))).toBe(15 * LATENCY_MS * 1000); // µs
    // TTFT counts streams only: the pending entry's ends are streams by their starts' word, recorded by the standby.
    expect(persisted(s.group, ttftBucket)).toBe(15);

    await next.aggregator.tick(s.clock.t); // a leader exports once it has published
    expect(pushedLatency(next.aggregator)).toEqual({ count: 15, sum: 15 * LATENCY_MS * 1000, buckets: { [exponentialIndex(LATENCY_MS, 1000)]: 15 } });

    await s.append(1);
    await next.aggregator.lead(0);
    expect(persisted(s.group, latencyBucket)).toBe(16);
    expect(pushedLatency(next.aggregator)!.count).toBe(16);
  });

  it('a leader not pushing exponential histograms counts none, and still loads the persisted ones', async () => {
    const s = store();
    const off = s.replica('off', false);
    await off.aggregator.build();
    await off.aggregator.takeOver((await off.lease.acquireOrRenew())!);
    await s.append(3);
    await off.aggregator.lead(0);
    expect([...s.group.totals.keys()].some((k) => k.includes('_exp_'))).toBe(false);
    expect(persisted(s.group, 'latency_bucket_4')).toBe(3); // the explicit buckets as ever (0.12 s ≤ 0.16 s)

    // Configured unlike the others, a replica that counts them leads for a while…
    const on = s.replica('on', true);
    await on.aggregator.build();
    await off.aggregator.close();
    await on.aggregator.takeOver((await on.lease.acquireOrRenew())!);
    await s.append(2);
    await on.aggregator.lead(0);
    expect(persisted(s.group, latencyBucket)).toBe(2);
    // …then one that does not takes over: it loads them, so a retired node's would still move, and adds nothing.
    const off2 = s.replica('off2', false);
    await off2.aggregator.build();
    await on.aggregator.close();
    await off2.aggregator.takeOver((await off2.lease.acquireOrRenew())!);
    await off2.aggregator.tick(s.clock.t);
    expect(pushedLatency(off2.aggregator)!.count).toBe(2);
    await s.append(1);
    await off2.aggregator.lead(0);
    expect(pushedLatency(off2.aggregator)!.count).toBe(2);
    expect(persisted(s.group, latencyBucket)).toBe(2);
    expect(persisted(s.group, 'latency_bucket_4')).toBe(6);
  });
});
