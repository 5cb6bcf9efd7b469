/**
 * Pulse on a Redis Cluster (issue 16, CONTRACT §10): three primaries and three
 * replicas (`redis-server --cluster-enabled yes` ×6, `redis-cli --cluster
 * create … --cluster-replicas 1`), ingest ×2, aggregators ×2 and a gateway on
 * REDIS_URL=redis+cluster://…, PULSE_INGEST_MIN_REPLICAS=1. Every Pulse key
 * shares the `{prefix}` hash tag, so all of them live on one primary; the
 * acceptance path runs on it (ingest → aggregator → gateway, an
 * Idempotency-Key replay, a kill -9 of the leading aggregator), then that
 * primary is SIGKILLed under load: its replica is promoted and no batch
 * answered 202 is lost or counted twice.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { RedisClusterSet, clusterUnavailable } from '@pulse/test-support/redis-topologies';
import { completedStreams, getJson, kill9, postEvents, requests, sleep, spawnService, until, UpdateRecorder } from './support.js';
import { describeRefusals, IdempotentProducer, TopologyServices } from './topology-support.js';

const MAX_GAP_MS = 5000;
const unavailable = clusterUnavailable();
if (unavailable) console.warn(`[cluster] skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('Redis Cluster: the acceptance path, and a primary killed', () => {
  let set: RedisClusterSet;
  let pulse: TopologyServices;
  let client: UpdateRecorder;
  /** Streaming requests answered 202 over the whole file: what completed_streams must reach. */
  let acknowledged = 0;

  beforeAll(async () => {
    set = await RedisClusterSet.start();
    pulse = new TopologyServices(set.url, { PULSE_INGEST_MIN_REPLICAS: '1' });
    await pulse.start({ ingest: 2, aggregators: 2, gateways: 1 });
    client = await UpdateRecorder.connect(pulse.wsUrl(), { interval: 0.5 });
  }, 60_000);
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    console.log(pulse?.logTail());
    // What each aggregator's loop was doing: a read that never returns shows as an appliedId that stopped.
    for (const a of pulse?.aggregators ?? []) console.log(`status :${a.port}`, JSON.stringify(await getJson(`${a.url}/status`, 1000).then((r) => r.body, (err: unknown) => String(err))));
  });
  afterAll(async () => {
    client?.close();
    await pulse?.stop();
    await set?.stop();
  });

  const counted = (n: number, timeoutMs: number) => client.waitFor(`completed_streams = ${n}`, (u) => completedStreams(u) === n, timeoutMs);

  it('ingest → aggregator → gateway, an Idempotency-Key replayed on the other ingest node, kill -9 of the leader', { timeout: 60_000 }, async () => {
    const first = requests(4, { tag: 'cluster' });
    const key = randomUUID();
    const a = await postEvents(pulse.ingest[0]!.url, first.events, { 'idempotency-key': key });
    const b = await postEvents(pulse.ingest[1]!.url, first.events, { 'idempotency-key': key });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await b.text()).toBe(await a.text());
    acknowledged += 4;
    await counted(acknowledged, 10_000);

    const leader = await pulse.leader();
    const producer = new IdempotentProducer(() => pulse.ingest.map((i) => i.url)).start();
    await sleep(1000);
    const killedAt = Date.now();
    await kill9(leader);
    await until('the standby to lead', async () => (await pulse.roles()).includes('leader'), 10_000, 100);
    await sleep(1500);
    const stats = await producer.stop();
    acknowledged += stats.acknowledged;
    await counted(acknowledged, 15_000);
    const gap = client.gaps(killedAt - 1000);
    console.log(`[cluster] aggregator kill -9: ${stats.acknowledged} streaming requests answered 202 during it, all counted once; longest update gap ${gap.maxGapMs} ms`);
    expect(gap.maxGapMs).toBeLessThanOrEqual(MAX_GAP_MS);
    pulse.aggregators.push(await spawnService('aggregator', pulse.env(), 30_000)); // a standby again for what follows
  });

  it('SIGKILL of the primary holding the {prefix} slot: the replica is promoted, nothing acknowledged is lost', { timeout: 90_000 }, async () => {
    const slotKey = `{${pulse.prefix}}:events`;
    const producer = new IdempotentProducer(() => pulse.ingest.map((i) => i.url)).start();
    await sleep(2000);
    const old = await set.primaryFor(slotKey);
    await old.kill();
    const killedAt = Date.now();
    const promoted = await set.untilPromoted(slotKey, old);
    const promotedAt = Date.now();
    // The promoted replica has no replica of its own until the old primary is back: the cluster
    // makes the restarted node (empty) a replica of it, and 202s resume.
    await old.start();
    await set.untilHealthy();
    const rejoinedAt = Date.now();
    await until('ingest to answer 202 again', () => producer.stats.firstAcceptAfter(promotedAt) ?? undefined, 30_000, 50);
    const firstAccept = producer.stats.firstAcceptAfter(promotedAt)!;
    await sleep(3000);
    const stats = await producer.stop();
    expect(stats.abandoned).toBe(0);
    acknowledged += stats.acknowledged;
    const seen = await client.waitFor(`completed_streams ≥ ${acknowledged}`, (u) => (completedStreams(u) ?? 0) >= acknowledged, 20_000);
    await sleep(1500);
    const last = client.updates.at(-1)!;
    const gap = client.gaps(killedAt - 2000);
    await until('every service ready', () => pulse.allReady(), 20_000, 200);
    console.log(
      `[cluster] SIGKILL of primary :${old.port} (slot of ${slotKey}) → :${promoted.port} promoted after ${promotedAt - killedAt} ms; old primary back ` +
        `as a replica ${rejoinedAt - killedAt} ms after the kill; first 202 after the promotion ${firstAccept - killedAt} ms after the kill. ` +
        `Producer: ${stats.acknowledged} streaming requests answered 202 (${stats.replayed} batches on a replay), refusals ${describeRefusals(stats)}; ` +
        `total acknowledged ${acknowledged}, counted ${completedStreams(seen)} → ${completedStreams(last)} (lost ${acknowledged - (completedStreams(last) ?? 0)}); ` +
        `longest update gap ${gap.maxGapMs} ms over ${gap.count} updates`,
    );
    // Ingest's promise (README): a refusal within 2 s, replicas required or not.
    expect(stats.slowestRefusalMs).toBeLessThan(2000);
    expect(completedStreams(last)).toBe(acknowledged);
    expect((await pulse.roles()).filter((r) => r === 'leader')).toHaveLength(1);
  });

  // What a primary's death can lose, and the case a window could count twice (docs/ARCHITECTURE.md, "When the
  // log loses entries"): an append its replica never got is answered 503 but read by the aggregators; the
  // primary dies, and the leading aggregator with it (one machine lost), so the standby that read the append
  // leads next; the promoted replica lacks the append; the producer's retry appends it there.
  it('a write its replica never got: answered 503, read by the aggregators, lost with its primary and the leader, retried — counted once', { timeout: 90_000 }, async () => {
    const slotKey = `{${pulse.prefix}}:events`;
    await counted(acknowledged, 15_000);
    const leader = await pulse.leader();
    const primary = await set.primaryFor(slotKey);
    const replica = await set.replicaOf(primary);
    const batch = requests(5, { tag: 'lost', endpoint: '/v1/lost' });
    const key = randomUUID();
    // Frozen, and its link closed: a frozen replica's kernel would still take the write off the wire.
    replica.pause();
    try {
      await set.cutReplicas(primary);
      const refused = await postEvents(pulse.ingest[0]!.url, batch.events, { 'idempotency-key': key }, 5000);
      expect(refused.status).toBe(503);
      await client.waitFor(`completed_streams = ${acknowledged + 5}: the refused append, read`, (u) => completedStreams(u) === acknowledged + 5, 10_000);
      await Promise.all([primary.kill(), kill9(leader)]);
    } finally {
      replica.resume();
    }
    const killedAt = Date.now();
    const promoted = await set.untilPromoted(slotKey, primary);
    const promotedAt = Date.now();
    await primary.start();
    await set.untilHealthy();
    const retried = await until(
      'the retry answered 202',
      async () => {
        const res = await postEvents(pulse.ingest[0]!.url, batch.events, { 'idempotency-key': key }, 3000);
        return res.status === 202 ? res : undefined;
      },
      30_000,
      200,
    );
    expect(retried.headers.get('idempotent-replayed')).toBeNull(); // appended anew: the promoted replica never had it
    // The same five requests on another endpoint, once: the window must hold as many of each. The totals
    // (completed_streams) cannot show a window that counted the lost append beside its retry.
    const control = requests(5, { tag: 'control', endpoint: '/v1/control' });
    expect((await postEvents(pulse.ingest[0]!.url, control.events)).status).toBe(202);
    acknowledged += 10;
    await counted(acknowledged, 20_000);
    await sleep(3000);
    const last = client.updates.at(-1)!;
    const rates = last.data.throughput.requests_per_sec as Record<string, number>;
    expect(rates['/v1/control']).toBeGreaterThan(0);
    expect(rates['/v1/lost']).toBe(rates['/v1/control']);
    console.log(
      `[cluster] a write the replica never got: refused 503 and counted from the old primary; the primary and the leading aggregator killed; :${promoted.port} promoted ` +
        `${promotedAt - killedAt} ms after the kill without it; the retry appended it there; counted ${completedStreams(last)} of ${acknowledged} acknowledged; ` +
        `requests/s of the lost-and-retried endpoint ${rates['/v1/lost']} vs the control's ${rates['/v1/control']}`,
    );
    expect(completedStreams(last)).toBe(acknowledged);
    pulse.aggregators.push(await spawnService('aggregator', pulse.env(), 30_000));
    await until('every service ready', () => pulse.allReady(), 20_000, 200);
  });
});
