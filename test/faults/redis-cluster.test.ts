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
import { completedStreams, kill9, postEvents, requests, sleep, spawnService, until, UpdateRecorder } from './support.js';
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
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(pulse?.logTail());
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
});
