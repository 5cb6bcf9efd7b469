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
 * Each holds delivery to the guarantee of docs/ALERTS.md (Delivery) and
 * prints what its receiver saw: duplicates, order and delays.
 */
import { describe, it } from 'vitest';
import { type AlertCase, type AlertCluster, alertClusterPerFile, alertState, deliveredHit, deliveryReport, fireThenStop, seconds, whileFailing } from './alert-support.js';
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
    const { killedAt, takeoverMs } = await whileFailing(cluster, c, async () => {
      const firing = await until('the firing notification delivered', () => deliveredWith(c, 'firing'), 20_000, 20);
      // Delivered and acknowledged in BullMQ: nothing left for the leader to do about it.
      await until('the firing job completed', async () => (await cluster.job(firing.key))?.finishedOn, 5000, 50);

      const leader = await cluster.leader();
      const standby = cluster.running().find((a) => a !== leader)!;
      const { body: before } = await getJson(`${leader.url}/status`);
      const killedAt = Date.now();
      await kill9(leader);
      await until('the standby to lead', async () => (await roleOf(standby)) === 'leader', 8000, 20);
      const takeoverMs = Date.now() - killedAt;
      const { body: after } = await getJson(`${standby.url}/status`);
      expect(after.epoch).toBeGreaterThan(before.epoch);
      await cluster.startAggregator();

      // The node keeps failing: the new leader evaluates the alert as firing, from the stored state, for a while.
      await sleep(2500);
      await alertState(cluster, c, 'firing', 1000);
      expect(r.hits.filter((h) => h.status === 'firing')).toHaveLength(1);
      return { killedAt, takeoverMs };
    });
    const stoppedAt = Date.now();
    // The window empties: the new leader resolves the alert, and tells the receiver.
    const resolved = await until('the resolution delivered', () => deliveredWith(c, 'resolved'), 20_000, 20);
    await alertState(cluster, c, null, 5000);
    const report = await deliveryReport(cluster, c, 3000); // anything late (a second firing, a second resolution)

    console.log(
      `[faults] alerts kill -9 of the leader while firing: ${report.text}; standby led ${takeoverMs} ms after the kill; ` +
        `resolution delivered ${seconds(resolved.at - stoppedAt)} after the node stopped (window 3 s); received: ${r.hits.map((h) => h.status).join(', ')}`,
    );
    // Exactly one request each: no re-sent firing notification, no retry.
    expect(r.hits.map((h) => h.status)).toEqual(['firing', 'resolved']);
    expect(resolved.at).toBeGreaterThan(killedAt);
    expect(report.problems).toEqual([]);
  }, 90_000);

  it('e. Redis SIGKILLed and restarted with its data (AOF) while notifications are queued: nothing is lost', async ({ expect }) => {
    const c = cases.restart!;
    const r = c.receiver;
    await r.refuse();
    await fireThenStop(cluster, c);
    await alertState(cluster, c, null, 20_000);
    // Both notifications queued in BullMQ, neither delivered (the receiver refuses connections); the firing one may
    // already be dropped, its resolution queued (its job completed with 0).
    const jobs = await cluster.jobsOf(c);
    const before = { firing: (await cluster.job(jobs.firing))!, resolved: (await cluster.job(jobs.resolved))! };

    await cluster.redis.kill();
    const killedAt = Date.now();
    await sleep(2000);
    await cluster.redis.restart();
    const backAt = Date.now();
    // Everything acknowledged before the kill is back: both jobs.
    const reloaded = await until('Redis to answer again', async () => await cluster.jobs(), 10_000, 100);
    for (const [status, id] of Object.entries(jobs)) expect(reloaded.has(id), `${status} job ${id} after the restart`).toBe(true);
    // Not finished (the receiver refused every attempt) — but the firing one may have been dropped, its resolution queued.
    const after = { firing: (await cluster.job(jobs.firing))!, resolved: (await cluster.job(jobs.resolved))! };
    expect(after.resolved.finishedOn).toBeNull();
    expect(after.firing.finishedOn === null || after.firing.returnValue === 0, 'firing job: unfinished or dropped').toBe(true);
    // The services come back by themselves; then the receiver does.
    await cluster.leader(15_000);
    await sleep(1000);
    await r.accept();
    const upAt = Date.now();
    // (A job that was mid-attempt at the kill waits out its lock and BullMQ's stalled check: ~15 s.)
    await until('the resolution delivered', () => deliveredHit(c, jobs.resolved), 75_000, 100);
    // The firing job goes at its next attempt, delivered or dropped: that attempt may wait out a backoff delay.
    await until('the firing job delivered or dropped', async () => deliveredHit(c, jobs.firing) !== undefined || (await cluster.job(jobs.firing))?.returnValue === 0, 60_000, 200);
    const report = await deliveryReport(cluster, c);

    const firing = deliveredHit(c, jobs.firing);
    console.log(
      `[faults] alerts Redis restart (AOF): ${report.text}; 2 queued notifications (attempts spent before the kill: ${before.firing.attemptsMade}, ${before.resolved.attemptsMade}; ` +
        `firing ${after.firing.returnValue === 0 ? 'already dropped' : 'pending'}) all in Redis after the restart (down ${seconds(backAt - killedAt)}); ` +
        `after the receiver came up: resolved delivered in ${seconds(deliveredHit(c, jobs.resolved)!.at - upAt)}, firing ${firing ? `delivered in ${seconds(firing.at - upAt)}` : 'dropped'}`,
    );
    expect(report.problems).toEqual([]);
  }, 180_000);
});
