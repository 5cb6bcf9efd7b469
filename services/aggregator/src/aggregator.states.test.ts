/**
 * The aggregator's state machine, driven transition by transition on the
 * in-memory backends and a controlled clock: every arrow of the diagram in
 * aggregator.ts, and the takeover protocol counting each entry exactly once.
 */
import type { PulseEvent } from '@pulse/protocol';
import { buildView, SnapshotReplica } from '@pulse/metrics';
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
const LEASE_MS = 1500;
const settings = { windowMs: 60_000, tickMs: TICK, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 100 };

/** One store in one process — log, consumer group, leases, bus — and replicas on it, on a clock the test moves. */
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
    log,
    group,
    bus,
    replica(name: string) {
      const source = new MemoryEventSource(log, { group, consumer: name, reclaimIdleMs: 60_000, now });
      const lease = new MemoryLeaderLease(leases, LEASE_MS);
      const aggregator: Aggregator = createAggregator({ settings, source, lease, publisher: bus, logger: silentLogger(), now });
      return { aggregator, source, lease };
    },
    /** Appends one log entry holding `n` finished streaming requests. */
    /** `n` streams; with `endSaysStream` false only their starts say so (the end leaves `stream` out). */
    async append(n: number, endSaysStream = true): Promise<string> {
      const events: PulseEvent[] = [];
      for (let i = 0; i < n; i++) {
        const id = `r${++requests}`;
        const common = { ts: clock.t / 1000, node: 'n1', request_id: id, endpoint: '/v1/chat/completions', model: 'gpt-4' };
        const end = { type: 'request.end', ...common, status: 200, latency_ms: 120, ttft_ms: 30, completion_tokens: 12 } as const;
        events.push({ type: 'request.start', ...common, stream: true }, endSaysStream ? { ...end, stream: true } : end);
      }
      return (await log.append(events)).id!;
    },
    async latestView() {
      const snapshot = SnapshotReplica.fromMessages(await bus.latest()).snapshot;
      if (!snapshot) throw new Error('nothing published');
      return { snapshot, data: buildView(snapshot).data };
    },
  };
}

const completedTotals = (group: MemoryConsumerGroup) =>
  [...group.totals].filter(([field]) => field.includes('completedStreams')).reduce((sum, [, n]) => sum + n, 0);

describe('aggregator states', () => {
  it('starting → standby → leading → (lease lost) stepping-down → standby', async () => {
    const s = store();
    const { aggregator: a, lease } = s.replica('a');
    expect(a.current()).toBe('starting');
    await a.build();
    expect(a.current()).toBe('standby');

    await s.append(2);
    expect(await a.follow(0)).toBe(false);
    expect(a.status()).toMatchObject({ role: 'standby', eventsApplied: 4 });

    const fence = (await lease.acquireOrRenew())!;
    await a.takeOver(fence);
    expect(a.current()).toBe('leading');
    expect(a.status()).toMatchObject({ role: 'leader', epoch: fence.epoch });
    expect(s.group.pending.size).toBe(0); // the takeover claimed and committed the two entries
    expect(completedTotals(s.group)).toBe(2);

    await s.append(3);
    expect(await a.lead(0)).toEqual({ claimed: 1, applied: 1 });
    expect(completedTotals(s.group)).toBe(5);

    await a.tick(s.clock.t);
    let published = await s.latestView();
    expect(published.snapshot.epoch).toBe(fence.epoch);
    expect(published.data.streaming.completed_streams).toBe(5);
    expect(published.data.throughput.total_responses_per_sec).toBeGreaterThan(0);

    // The replica stalls past its lease; another takes it. Its next tick steps it down.
    s.clock.t += LEASE_MS + TICK;
    const rival = s.replica('b');
    expect(await rival.lease.acquireOrRenew()).not.toBeNull();
    await a.tick(s.clock.t);
    expect(a.current()).toBe('stepping-down');
    expect(a.status().role).toBe('standby');
    await a.build();
    expect(a.current()).toBe('standby');
    published = await s.latestView();
    expect(published.snapshot.epoch).toBe(fence.epoch); // nothing published after losing the lease
  });

  it('leading → stepping-down when a commit is fenced off, committing nothing', async () => {
    const s = store();
    const { aggregator: a, lease } = s.replica('a');
    await a.build();
    await a.takeOver((await lease.acquireOrRenew())!);
    s.clock.t += LEASE_MS + 1;
    expect(await s.replica('b').lease.acquireOrRenew()).not.toBeNull();
    await s.append(4);
    expect(await a.lead(0)).toEqual({ claimed: 1, applied: 1 });
    expect(a.current()).toBe('stepping-down');
    expect(completedTotals(s.group)).toBe(0);
    expect(s.group.pending.size).toBe(1); // left for the next leader
  });

  it('a takeover counts what the old leader committed, left pending and never read, each exactly once', async () => {
    const s = store();
    const old = s.replica('old');
    const next = s.replica('next');
    await old.aggregator.build();
    await next.aggregator.build();
    await old.aggregator.takeOver((await old.lease.acquireOrRenew())!);

    await s.append(5); // committed by the old leader
    await old.aggregator.lead(0);
    await s.append(5, false); // claimed by the old leader, which dies before committing; only the starts say "stream"
    expect(await old.source.claim(10, 0)).toHaveLength(1);
    await s.append(5); // never delivered to anyone
    // The standby tailed all fifteen into its window, recording for the one entry that needs it which ends were streams.
    while (await next.aggregator.follow(0));
    expect(next.aggregator.status()).toMatchObject({ eventsApplied: 30, recordedEntries: 1 });
    expect(completedTotals(s.group)).toBe(5);
    expect(s.group.pending.size).toBe(1);

    // The old leader's lease runs out; the standby wins and takes over.
    s.clock.t += LEASE_MS + TICK;
    await next.aggregator.takeOver((await next.lease.acquireOrRenew())!);
    expect(next.aggregator.current()).toBe('leading');
    expect(s.group.pending.size).toBe(0);
    expect(completedTotals(s.group)).toBe(15);

    await next.aggregator.tick(s.clock.t);
    const { snapshot, data } = await s.latestView();
    expect(data.streaming.completed_streams).toBe(15);
    expect(data.throughput.total_responses_per_sec * snapshot.coveredSeconds).toBeCloseTo(15, 9); // each in the window once

    // And on from there: a new entry is counted once, in window and totals.
    await s.append(1);
    await next.aggregator.lead(0);
    s.clock.t += TICK;
    await next.aggregator.tick(s.clock.t);
    expect((await s.latestView()).data.streaming.completed_streams).toBe(16);
    expect(completedTotals(s.group)).toBe(16);
  });

  it('with its loop running, a standby that wins the lease on a tick takes over and publishes in that tick', async () => {
    const s = store();
    const { aggregator: a } = s.replica('a');
    a.start({ ticks: false });
    try {
      await s.append(3);
      await a.tick(s.clock.t); // wins; the loop may still be building its window
      if (a.current() !== 'leading') {
        s.clock.t += TICK;
        await a.tick(s.clock.t);
      }
      expect(a.current()).toBe('leading');
      const { snapshot, data } = await s.latestView();
      expect(snapshot.seq).toBe(s.clock.t / TICK);
      expect(data.streaming.completed_streams).toBe(3);
    } finally {
      await a.close();
    }
    expect(a.current()).toBe('closed');
  });
});

describe('the lease between ticks', () => {
  it('renew() keeps a leader past its lease without a tick, and steps it down when the lease was taken', async () => {
    const s = store();
    const { aggregator: a, lease } = s.replica('a');
    await a.build();
    await a.takeOver((await lease.acquireOrRenew())!);
    const epoch = a.status().epoch;
    // Renewed every third of the lease: a rival never finds it free, however long the tick.
    for (let i = 0; i < 6; i++) {
      s.clock.t += LEASE_MS / 3;
      await a.renew();
      expect(await s.replica(`rival${i}`).lease.acquireOrRenew()).toBeNull();
    }
    expect(a.current()).toBe('leading');
    expect(a.status().epoch).toBe(epoch);

    s.clock.t += LEASE_MS + 1;
    expect(await s.replica('b').lease.acquireOrRenew()).not.toBeNull();
    await a.renew();
    expect(a.current()).toBe('stepping-down');
  });

  it('on the real clock, a leader ticking every second keeps a 300 ms lease against a rival polling for it', async () => {
    const log = new MemoryEventLog(1000);
    const leases = new MemoryLeaseStore();
    const group = new MemoryConsumerGroup(Date.now(), leases);
    const source = new MemoryEventSource(log, { group, consumer: 'a', reclaimIdleMs: 60_000 });
    const lease = new MemoryLeaderLease(leases, 300);
    const a = createAggregator({
      settings: { ...settings, tickMs: 1000, leaseMs: 300 },
      source,
      lease,
      publisher: new MemorySnapshotBus(10),
      logger: silentLogger(),
    });
    const rival = new MemoryLeaderLease(leases, 300);
    let rivalWins = 0;
    let poll: NodeJS.Timeout | undefined;
    a.start();
    try {
      await until(() => a.current() === 'leading', 3000);
      poll = setInterval(() => void rival.acquireOrRenew().then((f) => f && rivalWins++), 20);
      const epoch = a.status().epoch;
      await new Promise((resolve) => setTimeout(resolve, 2500)); // two and a half ticks, each 700 ms past the lease
      expect(rivalWins).toBe(0);
      expect(a.current()).toBe('leading');
      expect(a.status().epoch).toBe(epoch);
    } finally {
      clearInterval(poll);
      await a.close();
    }
  });
});

async function until(ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
