/**
 * Partitioned aggregation on a Redis Cluster (issue 16 items 3 and 4):
 * PULSE_PARTITIONS=3 with a key prefix whose three partition hash tags land
 * on the three primaries, so the partitions' streams, scripts and snapshot
 * channels are spread over the shards; PULSE_INGEST_MIN_REPLICAS=1, so each
 * partition's append WAITs on its own shard. Ingest ×2, two aggregator
 * processes (each contending for every partition), a gateway merging them.
 * Batches span the three partitions. Then SIGKILL of the primary of
 * partition 1's slot under load: appends to partition 1 fail while the
 * other partitions' succeed, and the producer's retries with the same
 * Idempotency-Key complete those batches — replayed where stored, appended
 * where not — so every request answered 202 is counted once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { partitionKeys, partitionOf } from '@pulse/protocol';
import { RedisClusterSet, clusterUnavailable } from '@pulse/test-support/redis-topologies';
import { partitionRoles, SpanningProducer } from './partition-support.js';
import { completedStreams, sleep, until, UpdateRecorder } from './support.js';
import { TopologyServices } from './topology-support.js';

const PARTITIONS = 3;
const NODES = Array.from({ length: 9 }, (_, i) => `fakeai-${i}`);
const unavailable = clusterUnavailable();
if (unavailable) console.warn(`[cluster partitions] skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)(`Redis Cluster, PULSE_PARTITIONS=${PARTITIONS}`, () => {
  let set: RedisClusterSet;
  let pulse: TopologyServices;
  let client: UpdateRecorder;

  beforeAll(async () => {
    set = await RedisClusterSet.start();
    // A prefix whose partitions live on three different primaries (a random one does a third of the time).
    for (let attempt = 0; ; attempt++) {
      pulse = new TopologyServices(set.url, { PULSE_PARTITIONS: String(PARTITIONS), PULSE_INGEST_MIN_REPLICAS: '1' });
      const primaries = await Promise.all(partitionKeys(pulse.prefix, PARTITIONS).map((k) => set.primaryFor(k.events)));
      if (new Set(primaries.map((p) => p.port)).size === PARTITIONS || attempt === 50) break;
    }
    await pulse.start({ ingest: 2, aggregators: 2, gateways: 1 });
    client = await UpdateRecorder.connect(pulse.wsUrl(), { interval: 0.5 });
  }, 90_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(pulse?.logTail());
  });
  afterAll(async () => {
    client?.close();
    await pulse?.stop();
    await set?.stop();
  });

  it('spreads the partitions over the shards; a primary killed under load loses and doubles nothing', { timeout: 120_000 }, async () => {
    expect(new Set(NODES.map((n) => partitionOf(n, PARTITIONS))).size).toBe(PARTITIONS);
    const keys = partitionKeys(pulse.prefix, PARTITIONS);
    const primaries = await Promise.all(keys.map((k) => set.primaryFor(k.events)));
    expect(new Set(primaries.map((p) => p.port)).size).toBe(PARTITIONS);
    // Each partition has a leader, in one process or the other.
    await until('a leader for every partition', async () => {
      const roles = await Promise.all(pulse.aggregators.map((a) => partitionRoles(a.url)));
      return keys.every((k) => roles.some((r) => r.get(k.partition) === 'leader'));
    }, 15_000, 100);

    const producer = new SpanningProducer(() => pulse.ingest.map((i) => i.url), NODES).start();
    await client.waitFor('traffic counted', (u) => (completedStreams(u) ?? 0) > 0, 15_000);
    await sleep(2000);
    const old = primaries[1]!;
    await old.kill();
    const killedAt = Date.now();
    const promoted = await set.untilPromoted(keys[1]!.events, old);
    const promotedAt = Date.now();
    await old.start();
    await set.untilHealthy();
    await until('202s again after the promotion', () => producer.accepts.find((t) => t > promotedAt + 500), 30_000, 100);
    await sleep(3000);
    await producer.stop();
    const acknowledged = producer.acknowledged;
    await client.waitFor(`completed_streams = ${acknowledged}`, (u) => completedStreams(u) === acknowledged, 30_000, (u) => ({ completed_streams: completedStreams(u), stale_partitions: u.stale }));
    await sleep(1500);
    const last = client.updates.at(-1)!;
    const gap = client.gaps(killedAt - 2000);
    console.log(
      `[cluster partitions] primaries of partitions 0/1/2 on :${primaries.map((p) => p.port).join('/:')}; SIGKILL of :${old.port} (partition 1) → ` +
        `:${promoted.port} promoted after ${promotedAt - killedAt} ms. Producer: ${acknowledged} streaming requests answered 202, ` +
        `${producer.replayed} batches completed on a replay, refusals ${producer.describeRefusals()}; counted ${completedStreams(last)}; ` +
        `longest update gap ${gap.maxGapMs} ms over ${gap.count} updates`,
    );
    expect(completedStreams(last)).toBe(acknowledged);
    expect(gap.maxGapMs).toBeLessThanOrEqual(5000);
    await until('every service ready', () => pulse.allReady(), 20_000, 200);
  });
});
