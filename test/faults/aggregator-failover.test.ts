/**
 * Faults of the active aggregator, with the realistic defaults (tick 500 ms,
 * PULSE_LEASE_MS at its default): a kill -9 hands over to the standby within
 * the lease, and a leader paused (SIGSTOP) past its lease that wakes up
 * (SIGCONT) after a standby took over gets no stale or duplicate snapshot
 * through to a client. Both keep counting every acknowledged event exactly
 * once.
 */
import { describe, expect, it } from 'vitest';
import { decodeSnapshot } from '@pulse/protocol';
import {
  clusterPerFile,
  type Cluster,
  completedStreams,
  kill9,
  pause,
  requestRate,
  resume,
  roleOf,
  sleep,
  Traffic,
  until,
  UpdateRecorder,
  type Update,
} from './support.js';

/** The client's interval (s) and the contract's ceiling on a failover gap (ms). */
const INTERVAL_S = 0.5;
const MAX_FAILOVER_GAP_MS = 3000;

let cluster: Cluster;
/** Streaming requests acknowledged (202) over the whole file: what completed_streams must reach. */
let acknowledged = 0;

clusterPerFile({ ingest: 2, aggregators: 2, gateways: 2 }, (c) => (cluster = c));

function traffic(): Traffic {
  return new Traffic({ targets: () => cluster.ingest.map((i) => i.url), batch: 5, periodMs: 100, concurrency: 2 }).start();
}

const running = () => cluster.aggregators.filter((a) => a.child.exitCode === null && a.child.signalCode === null);

/** Waits until a client sees every acknowledged stream counted: no event lost, none counted twice. */
async function expectCountedExactlyOnce(client: UpdateRecorder, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await client.waitFor(`completed_streams = ${acknowledged}`, (u) => completedStreams(u) === acknowledged, timeoutMs);
  // …and it stays there (nothing counted twice afterwards).
  const last = client.updates.at(-1)!;
  await client.waitFor('two more updates', (u) => u.at > last.at + 600, 3000);
  for (const u of client.updates.filter((u) => u.at > last.at)) expect(completedStreams(u)).toBe(acknowledged);
  return Date.now() - started;
}

function expectTotalsNeverDecrease(updates: Update[]): void {
  const totals = updates.map(completedStreams).filter((n): n is number => n !== undefined);
  for (let i = 1; i < totals.length; i++) expect(totals[i], `completed_streams went ${totals[i - 1]} → ${totals[i]}`).toBeGreaterThanOrEqual(totals[i - 1]!);
}

describe('aggregator faults', () => {
  it('kill -9 of the active aggregator: updates resume within 3 s, totals never decrease, rates carry on', async () => {
    const clients = await Promise.all(cluster.gateways.map((g) => UpdateRecorder.connect(cluster.wsUrl(g), { interval: INTERVAL_S })));
    const load = traffic();
    let killedAt: number;
    let takeoverMs: number;
    try {
      await clients[0]!.waitFor('traffic counted', (u) => (completedStreams(u) ?? 0) > 0, 10_000);
      await sleep(2000); // a steady rate before the kill

      const leader = await cluster.leader();
      const standby = running().find((a) => a !== leader)!;
      killedAt = Date.now();
      await kill9(leader);
      await until('the standby to take over', async () => (await roleOf(standby)) === 'leader', 6000, 20);
      takeoverMs = Date.now() - killedAt;
      // Traffic keeps flowing while the new leader publishes for a while.
      await until('updates after the takeover', () => clients.every((c) => c.between(killedAt).length >= 4), 6000);
    } finally {
      await load.stop();
    }
    acknowledged += load.acknowledged.length;
    const stoppedAt = Date.now();

    for (const [i, client] of clients.entries()) {
      const all = client.between(0, stoppedAt);
      const { maxGapMs } = client.gaps(0, stoppedAt);
      const before = all.filter((u) => u.at < killedAt).at(-1)!;
      const afterIndex = all.findIndex((u) => u.at > killedAt);
      const after = all[afterIndex]!;
      const settled = all[afterIndex + 1]!;
      console.log(
        `[failover] gateway ${i + 1}: longest gap between metrics_update ${maxGapMs} ms ` +
          `(last update ${killedAt - before.at} ms before the kill -9, first from the new leader ${after.at - killedAt} ms after; ` +
          `standby reported leader after ${takeoverMs} ms); total req/s ${requestRate(before)?.toFixed(1)} before → ` +
          `${requestRate(after)?.toFixed(1)} in the new leader's first snapshot → ${requestRate(settled)?.toFixed(1)} in its second; ` +
          `completed_streams ${completedStreams(before)} → ${completedStreams(after)} → ${completedStreams(settled)}`,
      );
      expect(maxGapMs).toBeLessThanOrEqual(MAX_FAILOVER_GAP_MS);
      expectTotalsNeverDecrease(all);
      // Window figures continue: the new leader rebuilt the window, so the rate does not restart from zero.
      const firstBusy = all.findIndex((u) => (requestRate(u) ?? 0) > 0);
      for (const u of all.slice(firstBusy)) expect(requestRate(u)).toBeGreaterThan(0);
      // The new leader's first snapshot already counts what was logged during the gap (a window that
      // was not carried over would read ~0, one that missed the gap's entries would dip).
      expect(requestRate(after)).toBeGreaterThan(0.8 * requestRate(before)!);
      expect(requestRate(settled)).toBeGreaterThan(0.8 * requestRate(before)!);
      expect(completedStreams(after)).toBeGreaterThan(completedStreams(before)!);
      expect(after.data.latency['/v1/chat/completions']?.p50).toBeGreaterThan(0);
    }
    // Including entries the dead leader had read but not acknowledged.
    const ms = await expectCountedExactlyOnce(clients[0]!, 10_000);
    console.log(`[failover] every acknowledged stream (${acknowledged}) counted exactly once, ${ms} ms after traffic stopped`);
    for (const c of clients) c.close();
  }, 45_000);

  it('SIGSTOP of the leader past its lease, then SIGCONT: no stale or duplicate snapshot reaches a client', async () => {
    // The replica killed above comes back as a standby.
    if (running().length < 2) await cluster.startAggregator();
    const replicas = running();
    const leader = await cluster.leader(8000, replicas);
    const standby = replicas.find((a) => a !== leader)!;

    const clients = await Promise.all(cluster.gateways.map((g) => UpdateRecorder.connect(cluster.wsUrl(g), { interval: INTERVAL_S })));
    const load = traffic();
    let resumedAt: number;
    let pausedAt: number;
    try {
      await sleep(1500);
      // What the old leader last published: what a publish it had in flight when paused would carry.
      const fromOldLeader = (await cluster.redisClient().getBuffer(cluster.keys.latestSnapshot))!;
      pausedAt = Date.now();
      pause(leader);
      await until('the standby to take over', async () => (await roleOf(standby)) === 'leader', 6000, 20);
      const tookOverAfter = Date.now() - pausedAt;
      await sleep(1000); // the new leader publishes while the old one sleeps
      resume(leader);
      resumedAt = Date.now();
      await until('the woken replica to step down', async () => (await roleOf(leader)) === 'standby', 5000);
      console.log(`[pause] standby took over ${tookOverAfter} ms after SIGSTOP; old leader stood down ${Date.now() - resumedAt} ms after SIGCONT`);
      // The woken leader checks its lease before publishing, so it sends nothing stale by itself; make sure
      // of what gateways do when a stale one does arrive (a publish that was in flight across the pause),
      // and a duplicate (a catch-up racing a live message).
      const redis = cluster.redisClient();
      await redis.publish(cluster.keys.snapshotChannel, fromOldLeader);
      await redis.publish(cluster.keys.snapshotChannel, (await redis.getBuffer(cluster.keys.latestSnapshot))!);
      await until('updates after SIGCONT', () => clients.every((c) => c.between(resumedAt + 1500).length >= 2), 6000);
    } finally {
      await load.stop();
    }
    acknowledged += load.acknowledged.length;

    for (const g of cluster.gateways) expect(g.output()).toContain('dropped a snapshot older than the one held');
    for (const [i, client] of clients.entries()) {
      const updates = client.updates;
      expect(updates.filter((u) => u.at > resumedAt).length).toBeGreaterThan(2);
      // Strictly increasing timestamps: no stale snapshot of the old leader, no duplicate.
      expect(client.orderViolations(), `gateway ${i + 1}`).toEqual([]);
      expectTotalsNeverDecrease(updates);
      console.log(`[pause] gateway ${i + 1}: ${updates.length} updates, timestamps strictly increasing; longest gap ${client.gaps(pausedAt - 1000).maxGapMs} ms`);
    }

    // The latest-snapshot key holds the new leader's snapshot, not one the old leader wrote on waking.
    const status = (await (await fetch(`${standby.url}/status`)).json()) as { role: string; epoch: number };
    expect(status.role).toBe('leader');
    const latest = await cluster.redisClient().getBuffer(cluster.keys.latestSnapshot);
    expect(decodeSnapshot(latest!).epoch).toBe(status.epoch);
    expect(await roleOf(leader)).toBe('standby');

    // Including whatever the old leader had read, or read on waking, before it stood down.
    const ms = await expectCountedExactlyOnce(clients[0]!, 15_000);
    console.log(`[pause] every acknowledged stream (${acknowledged}) counted exactly once, ${ms} ms after traffic stopped`);
    for (const c of clients) c.close();
  }, 60_000);
});
