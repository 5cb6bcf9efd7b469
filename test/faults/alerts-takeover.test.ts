/**
 * Faults of alert evaluation and of its Redis (issue 14, item 5), on real
 * processes — ingest, aggregator ×2, gateway — a real redis-server with its
 * append-only file (`appendfsync always`) and real webhook receivers:
 *
 * d. kill -9 of the active evaluator (the leading aggregator) while an alert
 *    fires: the standby takes over, does not send the firing notification
 *    again, and sends the resolution when the failing node stops;
 * e. redis-server SIGKILLed and restarted with its data while notifications
 *    are queued (their receiver refusing connections): nothing is lost.
 *
 * Each prints what its receiver saw: duplicates and delays.
 */
import { describe, it } from 'vitest';
import { type AlertCase, type AlertCluster, alertClusterPerFile, alertState, duplicates, FailingNode, nodeOf, seconds } from './alert-support.js';
import { getJson, kill9, roleOf, sleep, until } from './support.js';

let cluster: AlertCluster;
let cases: Record<string, AlertCase>;

alertClusterPerFile(['takeover', 'restart'], (c, k) => {
  cluster = c;
  cases = k;
});

const deliveredWith = (c: AlertCase, status: 'firing' | 'resolved') => c.receiver.delivered().find((h) => h.status === status);

describe('alert evaluation faults', () => {
  it('d. kill -9 of the leading aggregator while its alert fires: the standby neither re-sends the firing notification nor misses the resolution', async ({ expect }) => {
    const c = cases.takeover!;
    const r = c.receiver;
    const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
    let killedAt: number;
    let takeoverMs: number;
    let stoppedAt: number;
    try {
      const firing = await until('the firing notification delivered', () => deliveredWith(c, 'firing'), 20_000, 20);
      // Delivered and acknowledged in BullMQ: nothing left for the leader to do about it.
      await until('the firing job completed', async () => (await cluster.job(firing.key))?.finishedOn, 5000, 50);

      const leader = await cluster.leader();
      const standby = cluster.running().find((a) => a !== leader)!;
      const { body: before } = await getJson(`${leader.url}/status`);
      killedAt = Date.now();
      await kill9(leader);
      await until('the standby to lead', async () => (await roleOf(standby)) === 'leader', 8000, 20);
      takeoverMs = Date.now() - killedAt;
      const { body: after } = await getJson(`${standby.url}/status`);
      expect(after.epoch).toBeGreaterThan(before.epoch);
      await cluster.startAggregator();

      // The node keeps failing: the new leader evaluates the alert as firing, from the stored state, for a while.
      await sleep(2500);
      await alertState(cluster, c, 'firing', 1000);
      expect(r.hits.filter((h) => h.status === 'firing')).toHaveLength(1);
    } finally {
      await node.stop();
      stoppedAt = Date.now();
    }
    // The window empties: the new leader resolves the alert, and tells the receiver.
    const resolved = await until('the resolution delivered', () => deliveredWith(c, 'resolved'), 20_000, 20);
    await alertState(cluster, c, null, 5000);
    await sleep(3000); // anything late (a second firing, a second resolution)

    const dup = duplicates(r);
    console.log(
      `[faults] alerts kill -9 of the leader while firing: ${dup.text}; standby led ${takeoverMs!} ms after the kill; ` +
        `resolution delivered ${seconds(resolved.at - stoppedAt)} after the node stopped (window 3 s); received: ${r.hits.map((h) => h.status).join(', ')}`,
    );
    expect(r.hits.map((h) => h.status)).toEqual(['firing', 'resolved']);
    expect(resolved.at).toBeGreaterThan(killedAt!);
    expect(dup.redelivered).toBe(0);
    expect(dup.extraNotifications).toBe(0);
    expect(dup.repeatedKey).toBe(0);
  }, 90_000);

  it('e. Redis SIGKILLed and restarted with its data (AOF) while notifications are queued: nothing is lost', async ({ expect }) => {
    const c = cases.restart!;
    const r = c.receiver;
    await r.refuse();
    const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
    try {
      await alertState(cluster, c, 'firing', 20_000);
      await sleep(1500);
    } finally {
      await node.stop();
    }
    await alertState(cluster, c, null, 20_000);
    // Both notifications queued in BullMQ, neither delivered (the receiver refuses connections).
    const queued = await until(
      'the firing and resolved jobs',
      async () => {
        const mine = [...(await cluster.jobs())].filter(([, j]) => j.labels.fault === c.name);
        return mine.length === 2 ? new Map(mine.map(([id, j]) => [id, j.status])) : undefined;
      },
      10_000,
      200,
    );
    expect([...queued.values()].sort()).toEqual(['firing', 'resolved']);
    const attemptsBefore = await Promise.all([...queued.keys()].map(async (id) => (await cluster.job(id))!.attemptsMade));

    await cluster.redis.kill();
    const killedAt = Date.now();
    await sleep(2000);
    await cluster.redis.restart();
    const backAt = Date.now();
    // Everything acknowledged before the kill is back: the jobs, not finished.
    const reloaded = await until('Redis to answer again', async () => await cluster.jobs(), 10_000, 100);
    for (const id of queued.keys()) {
      expect(reloaded.has(id), `job ${id} after the restart`).toBe(true);
      expect((await cluster.job(id))!.finishedOn).toBeNull();
    }
    // The services come back by themselves; then the receiver does.
    await cluster.leader(15_000);
    await sleep(1000);
    await r.accept();
    const upAt = Date.now();
    // (A job that was mid-attempt at the kill waits out its lock and BullMQ's stalled check: up to ~60 s.)
    await until('every queued notification delivered', () => [...queued.keys()].every((id) => r.delivered().some((h) => h.key === id)), 75_000, 100);
    await sleep(1500);

    const dup = duplicates(r);
    const times = [...queued].map(([id, status]) => `${status} ${seconds(r.delivered().find((h) => h.key === id)!.at - upAt)}`);
    console.log(
      `[faults] alerts Redis restart (AOF): ${dup.text}; ${queued.size} queued notifications (attempts spent before the kill: ${attemptsBefore.join(', ')}) ` +
        `all in Redis after the restart (down ${seconds(backAt - killedAt)}); delivered after the receiver came up: ${times.join(', ')}`,
    );
    expect(new Set(r.delivered().map((h) => h.key))).toEqual(new Set(queued.keys()));
    expect(dup.redelivered).toBe(0);
    expect(dup.extraNotifications).toBe(0);
    expect((await cluster.failedDeliveries()).filter((d) => d.receiver === `hook-${c.name}`)).toEqual([]);
  }, 120_000);
});
