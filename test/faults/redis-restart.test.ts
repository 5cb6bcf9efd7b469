/**
 * SIGKILL of redis-server and a restart on the same port, EMPTY (no
 * persistence): ingest answers 503 quickly while it is gone, and every
 * service recovers without help — the aggregator recreates the consumer
 * group and the store's meta, gateways resubscribe — so events accepted
 * after the restart reach the clients.
 *
 * The cluster first goes through a leader change, as any long-running one
 * has: its fencing epoch is above 1 when Redis loses everything.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { clusterPerFile, type Cluster, getJson, postEvents, requests, roleOf, sleep, until, UpdateRecorder } from './support.js';

/** The ingest promise of docs/PROTOCOL.md §3 / README: a 503 within 2 s while Redis is down. */
const MAX_REPLY_MS = 2000;
/** How long Redis stays down. */
const OUTAGE_MS = 2500;

let cluster: Cluster;

clusterPerFile({ ingest: 2, aggregators: 2, gateways: 2 }, (c) => (cluster = c));

/** Posts the same batch until it is answered 202 (a 503 accepted nothing, so a retry cannot double it). */
async function postUntilAccepted(url: string, events: object[], timeoutMs: number): Promise<number> {
  return until(
    `${url} to accept events again`,
    async () => {
      const res = await postEvents(url, events, {}, MAX_REPLY_MS + 500);
      return res.status === 202 ? Date.now() : undefined;
    },
    timeoutMs,
    100,
  );
}

async function allReady(): Promise<boolean> {
  const procs = [...cluster.ingest, ...cluster.aggregators.filter((a) => a.child.exitCode === null), ...cluster.gateways];
  const codes = await Promise.all(procs.map((p) => getJson(`${p.url}/readyz`).then((r) => r.status, () => 0)));
  return codes.every((c) => c === 200);
}

describe('redis-server SIGKILL and restart', () => {
  it('ingest answers 503 within 2 s while Redis is down; after the restart every service recovers and new events are counted', async () => {
    // A leader change first (SIGTERM hands the lease over), so the fencing epoch is 2.
    const first = await cluster.leader();
    expect(await first.stop('SIGTERM')).toBe(0);
    const second = await cluster.leader(8000, cluster.aggregators.filter((a) => a !== first));
    const { body: status } = await getJson(`${second.url}/status`);
    expect(status.epoch).toBeGreaterThan(1);
    await cluster.startAggregator();

    const clients = await Promise.all(cluster.gateways.map((g) => UpdateRecorder.connect(cluster.wsUrl(g), { interval: 0.5 })));
    const before = requests(5);
    expect((await postEvents(cluster.ingest[0]!.url, before.events)).status).toBe(202);
    await Promise.all(clients.map((c) => c.waitFor('the first events', (u) => u.data.streaming.completed_streams === 5, 5000)));

    // ---- Redis gone
    await cluster.redis.kill();
    const downAt = Date.now();
    const replies: { status: number; ms: number; retryAfter: string | null }[] = [];
    while (Date.now() - downAt < OUTAGE_MS) {
      await Promise.all(
        cluster.ingest.map(async (node) => {
          const started = Date.now();
          try {
            const res = await postEvents(node.url, requests(2).events, {}, MAX_REPLY_MS + 1000);
            replies.push({ status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after') });
          } catch (err) {
            replies.push({ status: -1, ms: Date.now() - started, retryAfter: (err as Error).name });
          }
        }),
      );
      await sleep(100);
    }
    const slowest = Math.max(...replies.map((r) => r.ms));
    console.log(`[redis] while Redis was down: ${replies.length} ingest replies, all ${[...new Set(replies.map((r) => r.status))].join('/')}, slowest ${slowest} ms`);
    expect(replies.length).toBeGreaterThan(10);
    for (const r of replies) {
      expect(r.status).toBe(503);
      expect(r.retryAfter).not.toBeNull();
      expect(r.ms).toBeLessThan(MAX_REPLY_MS);
    }
    // Readiness follows: ingest and gateways say they cannot do their job.
    for (const p of [...cluster.ingest, ...cluster.gateways]) expect((await getJson(`${p.url}/readyz`)).status).toBe(503);

    // ---- Redis back, empty
    await cluster.redis.restart();
    const backAt = Date.now();
    const endpoint = `/v1/after-restart-${randomBytes(3).toString('hex')}`;
    const afterA = requests(4, { endpoint });
    const afterB = requests(3, { endpoint });
    const [acceptedA, acceptedB] = await Promise.all([
      postUntilAccepted(cluster.ingest[0]!.url, afterA.events, 10_000),
      postUntilAccepted(cluster.ingest[1]!.url, afterB.events, 10_000),
    ]);
    // The store restarted empty: totals start over and count exactly the 7 streams logged since.
    const seen = await Promise.all(
      clients.map((c) =>
        c.waitFor(
          `the 7 new streams of ${endpoint} in an update`,
          (u) => u.at > backAt && u.data.cache.by_endpoint[endpoint]?.total_lookups === 7 && u.data.streaming.completed_streams === 7,
          15_000,
        ),
      ),
    );
    const recoveryMs = Math.max(...seen.map((u) => u.at)) - backAt;
    console.log(
      `[redis] recovery time: Redis back → first ingest 202 after ${Math.min(acceptedA, acceptedB) - backAt} ms (both nodes after ` +
        `${Math.max(acceptedA, acceptedB) - backAt} ms) → first snapshot counting the new events at every client after ${recoveryMs} ms`,
    );
    // Every service recovered by itself.
    await until('every service ready again', allReady, 10_000, 100);
    const roles = await Promise.all(cluster.aggregators.map((a) => roleOf(a)));
    expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
    // The aggregator recreated the consumer group and the store's meta.
    const redis = cluster.redisClient();
    const groups = (await redis.call('XINFO', 'GROUPS', cluster.keys.events)) as unknown[][];
    expect(groups.map((g) => g[g.indexOf('name') + 1])).toContain(cluster.keys.group);
    expect(Number(await redis.hget(cluster.keys.meta, 'created_at'))).toBeGreaterThan(0);
    for (const c of clients) {
      expect(c.orderViolations()).toEqual([]);
      c.close();
    }
  }, 60_000);
});
