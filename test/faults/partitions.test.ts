/**
 * Partitioned aggregation on a real redis-server (issue 16 item 3, CONTRACT
 * §10): PULSE_PARTITIONS=3, ingest ×2 routing each event by its node, one
 * aggregator process for partition 1 alone (PULSE_PARTITION=1) and one for
 * every partition (its standby for partition 1, the leader of 0 and 2), a
 * gateway merging the three. Batches span every partition, with an
 * Idempotency-Key. Then a kill -9 of partition 1's leader: the other process
 * takes partition 1 over, clients keep getting updates from the other
 * partitions, partition 1 shows in `stale_partitions` meanwhile with its
 * last figures (its nodes do not vanish), and every acknowledged request is
 * counted exactly once. A service started with another PULSE_PARTITIONS
 * refuses to start.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '@pulse/protocol';
import { startService } from '@pulse/test-support/processes';
import { TestClient } from '@pulse/test-support/ws-client';
import { partitionRoles, SpanningProducer } from './partition-support.js';
import { clusterPerFile, kill9, postEvents, requests, sleep, until, type Cluster } from './support.js';

const PARTITIONS = 3;
/** Nine nodes spread over the three partitions (checked below): every batch spans all three. */
const NODES = ['fakeai-0', 'fakeai-1', 'fakeai-2', 'fakeai-3', 'fakeai-4', 'fakeai-5', 'fakeai-6', 'fakeai-7', 'fakeai-8'];

let cluster: Cluster;
clusterPerFile({ ingest: 2, aggregators: 0, gateways: 0, env: { PULSE_PARTITIONS: String(PARTITIONS) } }, (c) => (cluster = c));

interface Message {
  at: number;
  msg: { type: string; timestamp: number; data: any; stale_partitions?: number[] };
}

const total = (m: Message) => m.msg.data?.streaming?.completed_streams as number | undefined;
const rate = (m: Message) => m.msg.data?.throughput?.total_requests_per_sec as number | undefined;

describe(`PULSE_PARTITIONS=${PARTITIONS}`, () => {
  it('routes every node to its partition and merges them; a dead partition leader shows as stale, is taken over, and nothing is lost', { timeout: 90_000 }, async () => {
    const byPartition = new Map<number, string[]>();
    for (const node of NODES) byPartition.set(partitionOf(node, PARTITIONS), [...(byPartition.get(partitionOf(node, PARTITIONS)) ?? []), node]);
    expect([...byPartition.keys()].sort()).toEqual([0, 1, 2]);

    // Partition 1's own process first, so it leads partition 1; then the process of every partition.
    const only1 = await cluster.startAggregator({ PULSE_PARTITION: '1' });
    await until('partition 1 led by its own process', async () => (await partitionRoles(only1.url)).get(1) === 'leader', 8000);
    const all = await cluster.startAggregator();
    await until('the other process leading 0 and 2, standing by for 1', async () => {
      const roles = await partitionRoles(all.url);
      return roles.get(0) === 'leader' && roles.get(2) === 'leader' && roles.get(1) === 'standby';
    }, 8000);
    const gateway = await cluster.startGateway();

    const client = await TestClient.connect(cluster.wsUrl(gateway));
    client.send({ type: 'subscribe', filters: { interval: 0.5 } });
    const updates = () => client.received.filter((r) => r.msg.type === 'metrics_update') as unknown as Message[];
    const producer = new SpanningProducer(() => cluster.ingest.map((i) => i.url), NODES).start();
    // An Idempotency-Key replayed: answered from every partition's stored reply, appended nowhere.
    const once = NODES.flatMap((node) => requests(1, { node, tag: 'replay' }).events);
    const key = randomUUID();
    const first = await postEvents(cluster.ingest[0]!.url, once, { 'idempotency-key': key });
    const again = await postEvents(cluster.ingest[1]!.url, once, { 'idempotency-key': key });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const replayed = NODES.length;

    let killedAt = 0;
    let tookOverMs = 0;
    try {
      await until('traffic in every partition', () => {
        const last = updates().at(-1);
        return last && NODES.every((n) => (last.msg.data.nodes?.[n]?.requests_per_sec ?? 0) > 0);
      }, 15_000);
      await sleep(2000);
      killedAt = Date.now();
      await kill9(only1);
      await until('partition 1 taken over', async () => (await partitionRoles(all.url)).get(1) === 'leader', 8000, 20);
      tookOverMs = Date.now() - killedAt;
      await until('partition 1 fresh again', () => updates().some((u) => u.at > killedAt + tookOverMs && !u.msg.stale_partitions), 8000);
      await sleep(2000);
    } finally {
      await producer.stop();
    }
    const acknowledged = producer.acknowledged + replayed;
    await until(`completed_streams = ${acknowledged}`, () => updates().some((u) => total(u) === acknowledged), 15_000);
    await sleep(1200);

    const list = updates();
    const around = list.filter((u) => u.at > killedAt - 1000 && u.at < killedAt + tookOverMs + 3000);
    const stale = list.filter((u) => u.at > killedAt && u.msg.stale_partitions?.includes(1));
    const before = list.filter((u) => u.at < killedAt).at(-1)!;
    let maxGap = 0;
    for (let i = 1; i < around.length; i++) maxGap = Math.max(maxGap, around[i]!.at - around[i - 1]!.at);
    console.log(
      `[partitions] kill -9 of partition 1's leader: taken over after ${tookOverMs} ms; ${stale.length} updates named partition 1 stale ` +
        `(first ${stale[0] ? stale[0].at - killedAt : '-'} ms after the kill); longest update gap ${maxGap} ms; ` +
        `${acknowledged} streaming requests acknowledged (${producer.retries} retries), completed_streams ${total(list.at(-1)!)}`,
    );
    // Updates kept coming from the live partitions, and partition 1 was named while it had no leader.
    expect(maxGap).toBeLessThan(1500);
    expect(stale.length).toBeGreaterThan(0);
    expect(list.every((u) => (u.msg.stale_partitions ?? []).every((p) => p === 1))).toBe(true);
    // Stale, not missing: its nodes keep their last figures, the total rate does not lose a third.
    for (const u of stale) {
      for (const node of byPartition.get(1)!) expect(u.msg.data.nodes[node], `${node} while stale`).toBeDefined();
      expect(rate(u)).toBeGreaterThan(0.8 * rate(before)!);
    }
    // Nothing lost, nothing counted twice, totals never went back.
    for (const u of list.filter((u) => u.at > list.at(-1)!.at - 1000)) expect(total(u)).toBe(acknowledged);
    const totals = list.map(total).filter((n): n is number => n !== undefined);
    for (let i = 1; i < totals.length; i++) expect(totals[i]).toBeGreaterThanOrEqual(totals[i - 1]!);
    client.close();

    // Each partition has its own stream in its own hash tag; partition 0 keeps the one-partition names.
    const redis = cluster.redisClient();
    const lengths = await Promise.all([0, 1, 2].map((p) => redis.xlen(p === 0 ? `{${cluster.prefix}}:events` : `{${cluster.prefix}:p${p}}:events`)));
    expect(lengths.every((n) => n > 0)).toBe(true);
  });

  it('a service started with another PULSE_PARTITIONS exits 2, naming the variable and the count Redis records', { timeout: 20_000 }, async () => {
    const wrong = await startService('ingest', cluster.env('ingest', { PULSE_PARTITIONS: '2' }), { waitReady: false });
    expect(await wrong.exited).toBe(2);
    expect(wrong.output()).toMatch(/PULSE_PARTITIONS=2, but this deployment's Redis records 3 partitions/);
    const bad = await startService('aggregator', cluster.env('aggregator', { PULSE_PARTITION: '3' }), { waitReady: false });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/PULSE_PARTITION: must be below PULSE_PARTITIONS \(3\)/);
  });
});
