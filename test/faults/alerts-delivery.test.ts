/**
 * Faults of alert delivery (issue 14, item 5), on real processes — ingest,
 * aggregator ×2, gateway — a real redis-server and real webhook receivers
 * scripted to fail. Each case has its own rule, node and receiver, so the
 * three run at the same time on one cluster:
 *
 * a. the receiver down for 30 s (connection refused, then 503), then up:
 *    every notification arrives;
 * b. 429 with `Retry-After: 2`: the next attempt comes no sooner than 2 s
 *    later, and a 429 spends no attempt;
 * c. kill -9 of the aggregator whose BullMQ worker is mid-delivery (the
 *    receiver hangs the request): the job is delivered by the other worker.
 *
 * Each prints what its receiver saw: duplicates (a key delivered twice, two
 * notifications for one transition) and delays.
 */
import { describe, it } from 'vitest';
import {
  type AlertCase,
  type AlertCluster,
  alertClusterPerFile,
  alertState,
  deliveredOrder,
  duplicates,
  FailingNode,
  gapsOf,
  nodeOf,
  pidOfConnection,
  seconds,
} from './alert-support.js';
import { kill9, roleOf, sleep, until } from './support.js';

let cluster: AlertCluster;
let cases: Record<string, AlertCase>;

alertClusterPerFile(['down', 'busy', 'crash'], (c, k) => {
  cluster = c;
  cases = k;
});

/** The case's notification jobs in BullMQ, firing and resolved, once both were committed. */
async function jobsOf(c: AlertCase, timeoutMs = 10_000): Promise<{ firing: string; resolved: string }> {
  return until(
    `the firing and resolved jobs of ${c.name}`,
    async () => {
      const mine = [...(await cluster.jobs())].filter(([, j]) => j.labels.fault === c.name);
      const firing = mine.find(([, j]) => j.status === 'firing')?.[0];
      const resolved = mine.find(([, j]) => j.status === 'resolved')?.[0];
      return mine.length === 2 && firing && resolved ? { firing, resolved } : undefined;
    },
    timeoutMs,
    200,
  );
}

const delivered = (c: AlertCase, key: string) => c.receiver.delivered().find((h) => h.key === key);

async function noFailedDeliveries(c: AlertCase): Promise<{ id: string }[]> {
  return (await cluster.failedDeliveries()).filter((d) => d.receiver === `hook-${c.name}`);
}

describe.concurrent('alert delivery faults', () => {
  it('a. receiver down 30 s (refused 12 s, then 503), then up: every notification arrives, each Idempotency-Key at least once', async ({ expect }) => {
    const c = cases.down!;
    const r = c.receiver;
    await r.refuse();
    const downAt = Date.now();
    const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
    try {
      await alertState(cluster, c, 'firing', 20_000);
      await sleep(1500);
    } finally {
      await node.stop();
    }
    // Both notifications are committed while the receiver is down.
    await alertState(cluster, c, null, 20_000);
    const jobs = await jobsOf(c);

    // From 12 s: it listens again, but answers 503.
    await sleep(Math.max(0, downAt + 12_000 - Date.now()));
    r.answer = () => ({ status: 503 });
    await r.accept();
    await sleep(Math.max(0, downAt + 30_000 - Date.now()));
    expect(r.delivered()).toEqual([]);
    const attemptsWhileDown = r.hits.length;
    r.answer = () => ({ status: 200 });
    const upAt = Date.now();

    // With the defaults (8 attempts, backoff 1 s × 2^n, half of it jitter) the next attempt is at most ~33 s away.
    await until('both notifications delivered', () => delivered(c, jobs.firing) && delivered(c, jobs.resolved), 60_000, 100);
    await sleep(1500); // anything late
    const firingAt = delivered(c, jobs.firing)!.at;
    const resolvedAt = delivered(c, jobs.resolved)!.at;
    const dup = duplicates(r);
    const stored = await Promise.all([cluster.job(jobs.firing), cluster.job(jobs.resolved)]);
    console.log(
      `[faults] alerts receiver-down: ${dup.text}; ${attemptsWhileDown} attempts reached it while it answered 503 ` +
        `(firing ${r.hitsFor(jobs.firing).filter((h) => h.answered === 503).length}, resolved ${r.hitsFor(jobs.resolved).filter((h) => h.answered === 503).length}); ` +
        `after it came up: firing delivered in ${seconds(firingAt - upAt)}, resolved in ${seconds(resolvedAt - upAt)} ` +
        `(attempts spent: ${stored.map((j) => j?.attemptsMade).join(', ')} of 8); delivered in the order ${deliveredOrder(r)}`,
    );
    expect(new Set(r.delivered().map((h) => h.key))).toEqual(new Set([jobs.firing, jobs.resolved]));
    expect(r.delivered().every((h) => h.at >= upAt)).toBe(true);
    expect(dup.extraNotifications).toBe(0);
    expect(dup.redelivered).toBe(0);
    expect(await noFailedDeliveries(c)).toEqual([]);
  }, 120_000);

  it('b. 429 with Retry-After: 2: the next attempt arrives no sooner than 2 s later, and the 429s spend no attempt', async ({ expect }) => {
    const c = cases.busy!;
    const r = c.receiver;
    // Per notification: three 429s, one 503 (spends an attempt), then 200.
    r.answer = (_hit, earlier) => (earlier < 3 ? { status: 429, headers: { 'Retry-After': '2' } } : earlier === 3 ? { status: 503 } : { status: 200 });
    const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
    try {
      await alertState(cluster, c, 'firing', 20_000);
      await sleep(1500);
    } finally {
      await node.stop();
    }
    const jobs = await jobsOf(c, 20_000);
    await until('both notifications delivered', () => delivered(c, jobs.firing) && delivered(c, jobs.resolved), 40_000, 100);
    await sleep(1500);

    const lines: string[] = [];
    for (const [status, key] of Object.entries(jobs)) {
      const answers = r.hitsFor(key).map((h) => h.answered);
      expect(answers).toEqual([429, 429, 429, 503, 200]);
      const gaps = gapsOf(r, key);
      // After each 429: its Retry-After, never less.
      for (const gap of gaps.slice(0, 3)) expect(gap).toBeGreaterThanOrEqual(2000);
      const job = (await cluster.job(key))!;
      // Only the 503 and the delivery are attempts: the job still had 7 of its 8 after the 429s and the 503.
      expect(job).toMatchObject({ attemptsMade: 2, deferrals: 3 });
      expect(job.finishedOn).not.toBeNull();
      lines.push(`${status}: answers ${answers.join(',')}, gaps ${gaps.map((g) => `${g} ms`).join(' / ')}, attempts spent ${job.attemptsMade} of 8 (429s waited out ${job.deferrals}, requests ${job.attemptsStarted})`);
    }
    const dup = duplicates(r);
    console.log(`[faults] alerts 429 Retry-After: 2: ${dup.text}; ${lines.join('; ')}`);
    expect(dup.extraNotifications).toBe(0);
    expect(dup.redelivered).toBe(0);
    expect(await noFailedDeliveries(c)).toEqual([]);
  }, 90_000);

  it('c. kill -9 of the aggregator mid-delivery (the receiver hangs the request): the job is delivered by the other worker', async ({ expect }) => {
    const c = cases.crash!;
    const r = c.receiver;
    const senders = new Map<string, (number | null)[]>();
    const pids = () => cluster.aggregators.map((a) => a.child.pid!);
    r.answer = (hit, earlier) => {
      const list = senders.get(hit.key) ?? [];
      list.push(pidOfConnection(hit.remotePort, r.port, pids()));
      senders.set(hit.key, list);
      // The first firing request hangs: its sender dies holding it.
      return hit.status === 'firing' && earlier === 0 ? 'hang' : { status: 200 };
    };
    const node = new FailingNode(() => cluster.ingest.url, nodeOf(c)).start();
    let killedAt: number;
    let victimRole: string | null;
    let firingKey: string;
    try {
      const hung = await until('the firing notification to reach the receiver', () => r.first('firing'), 20_000, 20);
      firingKey = hung.key;
      const victimPid = senders.get(firingKey)![0];
      expect(victimPid, 'the process holding the hung request').not.toBeNull();
      const victim = cluster.running().find((a) => a.child.pid === victimPid)!;
      expect(victim).toBeDefined();
      victimRole = await roleOf(victim);
      killedAt = Date.now();
      await kill9(victim);
      // The replica comes back (as any supervisor would restart it).
      await cluster.startAggregator();
      await sleep(1000);
    } finally {
      await node.stop();
    }
    const jobs = await jobsOf(c, 20_000);
    expect(jobs.firing).toBe(firingKey);
    // BullMQ's stalled check: the dead worker's lock lapses (30 s), a live worker's next check (every 30 s) takes the job.
    await until('the firing notification delivered after the kill', () => delivered(c, jobs.firing), 90_000, 100);
    await until('the resolution delivered', () => delivered(c, jobs.resolved), 20_000, 100);
    await sleep(1500);

    const firing = delivered(c, jobs.firing)!;
    const deliveredBy = senders.get(jobs.firing)![r.hitsFor(jobs.firing).indexOf(firing)];
    const byWhom = cluster.aggregators.findIndex((a) => a.child.pid === deliveredBy);
    const job = (await cluster.job(jobs.firing))!;
    const dup = duplicates(r);
    console.log(
      `[faults] alerts kill -9 mid-delivery: ${dup.text}; killed the ${victimRole} holding the hung request, ` +
        `firing delivered ${seconds(firing.at - killedAt!)} after the kill by aggregator #${byWhom + 1} ` +
        `(${byWhom === cluster.aggregators.length - 1 ? 'the restarted one' : 'the survivor'}), attempts spent ${job.attemptsMade}, requests ${job.attemptsStarted}; ` +
        `delivered in the order ${deliveredOrder(r)}`,
    );
    // The hung request was never answered; the delivery came from a live process.
    expect(r.hitsFor(jobs.firing)[0]!.answered).toBeNull();
    expect(deliveredBy).not.toBe(senders.get(jobs.firing)![0]);
    expect(r.hitsFor(jobs.firing).filter((h) => h.answered === 200)).toHaveLength(1);
    expect(dup.extraNotifications).toBe(0);
    expect(dup.redelivered).toBe(0);
    expect(await noFailedDeliveries(c)).toEqual([]);
  }, 150_000);
});
