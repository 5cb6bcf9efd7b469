/**
 * Scenario `cluster` (issue 16, item 5): the same ingest load against one
 * standalone redis-server and against a Redis Cluster of three primaries and
 * three replicas (REDIS_URL=redis+cluster://…, made as the fault tests make
 * theirs), side by side: PULSE_PARTITIONS=1 on each (on the Cluster every key
 * is in one slot, so one shard does all the work), and PULSE_PARTITIONS=3 on
 * each (on the Cluster a partition per primary, by their hash tags). One
 * ingest node, one aggregator process per partition, each request from one
 * node (a FakeAI reporter's shape: it lands in one partition whole).
 *
 * Per setting: a warm-up, a short closed loop (events/s as fast as the
 * connections go), then a fixed offered rate for every setting: events/s
 * acknowledged and CPU per event by role, the Redis processes summed
 * (primaries and replicas also apart). Each run drained: every acknowledged
 * event must reach its partition's leader. Load ≤ 16 s per setting, on
 * 127.0.0.1 only. PULSE_INGEST_MIN_REPLICAS stays 0 (its default): the
 * replicas' cost is replication alone, not a WAIT per append.
 */
import { partitionKeys } from '@pulse/protocol';
import { BenchRedis } from './lib/redis-server.js';
import { BenchRedisCluster } from './lib/redis-cluster.js';
import { ServiceProcess } from './lib/services.js';
import { WorkerProcess } from './lib/rpc.js';
import { CpuMeter, rssBytes, type CpuWindow } from './lib/proc-stats.js';
import { sleep } from './lib/ports.js';
import { percentile, round } from './timing.js';
import { BATCH, CAPACITY_MS, CONNECTIONS, loadPhases, mib, RATE, RUN_MS, untilLeading } from './partitions-cost.js';
import type { IngestLoadConfig } from './workers/ingest-load.js';

export type Topology = 'standalone' | 'cluster';

const SETTINGS: { topology: Topology; partitions: number }[] = [
  { topology: 'standalone', partitions: 1 },
  { topology: 'cluster', partitions: 1 },
  { topology: 'standalone', partitions: 3 },
  { topology: 'cluster', partitions: 3 },
];
// The partitions scenario's load and offered rate, so the figures compare.
const DRAIN_MS = 20_000;

export interface UsPerEvent {
  ingest: number;
  aggregators: number;
  /** Every redis-server process summed (on the Cluster: three primaries and three replicas). */
  redis: number;
  redisPrimaries: number;
  redisReplicas: number;
  /** ingest + aggregators + redis. */
  total: number;
}

export interface ClusterRun {
  topology: Topology;
  partitions: number;
  /** On the Cluster: how many primaries hold the partitions' slots (the partitions' hash tags spread over them). */
  shardsUsed: number;
  /** Closed loop: events acknowledged per second, and CPU per event. */
  eventsPerSec: number;
  capacityUsPerEvent: UsPerEvent;
  /** The fixed-rate run: the rate offered, and the rate acknowledged. */
  offeredPerSec: number;
  ratePerSec: number;
  roundTripMs: { p50: number; p99: number };
  failures: Record<string, number>;
  /** After the fixed-rate run, until every acknowledged event was applied by its leader; null if not within DRAIN_MS. */
  drainMs: number | null;
  /** The fixed-rate run: % of one core by role (aggregators and Redis nodes summed), every process, and the machine. */
  cpu: CpuWindow;
  cpuUsPerEvent: UsPerEvent;
  /** The fixed-rate run: % of one core of each primary (on the Cluster), busiest first. */
  primaryCpuPct: number[];
  /** Resident memory after the run, MiB (summed by role). */
  rssMiB: { ingest: number; aggregators: number; redis: number };
}

export interface ClusterResult {
  batch: number;
  connections: number;
  capacitySeconds: number;
  ratePerSec: number;
  runSeconds: number;
  runs: ClusterRun[];
}

export async function benchCluster(log: (line: string) => void): Promise<ClusterResult> {
  const runs: ClusterRun[] = [];
  for (const { topology, partitions } of SETTINGS) {
    log(`cluster: ${topology}, ${partitions} partition(s)`);
    const run = await measure(topology, partitions, log);
    const us = run.cpuUsPerEvent;
    log(
      `cluster: ${topology}, ${partitions} partition(s): closed loop ${run.eventsPerSec} events/s; at ${run.offeredPerSec}/s ${run.ratePerSec}/s acknowledged, drained in ${run.drainMs ?? '–'} ms, ` +
        `µs/event ingest ${us.ingest} aggregators ${us.aggregators} redis ${us.redis} (primaries ${us.redisPrimaries}, replicas ${us.redisReplicas}) total ${us.total}, load ${run.cpu.loadAvg1m}`,
    );
    runs.push(run);
  }
  return { batch: BATCH, connections: CONNECTIONS, capacitySeconds: CAPACITY_MS / 1000, ratePerSec: RATE, runSeconds: RUN_MS / 1000, runs };
}

interface RedisUnderTest {
  url: string;
  nodes: { name: string; pid: number; role: 'primary' | 'replica' }[];
  /** On the Cluster: a key prefix whose partitions' tags land on as many primaries as can be (the default `pulse` does for 3). */
  prefix: string;
  shardsUsed: number;
  stop(): Promise<void>;
}

async function startRedis(topology: Topology, partitions: number): Promise<RedisUnderTest> {
  if (topology === 'standalone') {
    const redis = await BenchRedis.start();
    return { url: redis.url, nodes: [{ name: 'redis-0', pid: redis.pid, role: 'primary' }], prefix: 'pulse', shardsUsed: 1, stop: () => redis.stop() };
  }
  const cluster = await BenchRedisCluster.start();
  const primaries = cluster.nodes.filter((n) => n.role === 'primary').length;
  let prefix = 'pulse';
  let shardsUsed = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    prefix = attempt === 0 ? 'pulse' : `pulse-${attempt}`;
    const ports = await Promise.all(partitionKeys(prefix, partitions).map((k) => cluster.primaryFor(k.events)));
    shardsUsed = new Set(ports).size;
    if (shardsUsed === Math.min(partitions, primaries)) break;
  }
  return {
    url: cluster.url,
    nodes: cluster.nodes.map((n, i) => ({ name: `redis-${i}`, pid: n.pid, role: n.role })),
    prefix,
    shardsUsed,
    stop: () => cluster.stop(),
  };
}

async function measure(topology: Topology, partitions: number, log: (line: string) => void): Promise<ClusterRun> {
  const redis = await startRedis(topology, partitions);
  if (topology === 'cluster') log(`cluster: key prefix ${redis.prefix}: ${partitions} partition(s) on ${redis.shardsUsed} of 3 primaries`);
  const env = { REDIS_URL: redis.url, PULSE_PARTITIONS: String(partitions), PULSE_KEY_PREFIX: redis.prefix };
  let ingest: ServiceProcess | null = null;
  let aggregators: ServiceProcess[] = [];
  let load: WorkerProcess | null = null;
  try {
    ingest = await ServiceProcess.start('ingest', env);
    aggregators = await Promise.all(
      Array.from({ length: partitions }, (_, i) => ServiceProcess.start('aggregator', partitions === 1 ? env : { ...env, PULSE_PARTITION: String(i) })),
    );
    load = await WorkerProcess.start('ingest-load', 'ingest-load');
    const [ing, gen] = [ingest, load];
    const meter = new CpuMeter(() => [
      { name: 'ingest', pid: ing.pid },
      ...aggregators.map((a, i) => ({ name: `aggregator-${i}`, pid: a.pid })),
      ...redis.nodes,
      { name: 'loadgen', pid: gen.pid },
      { name: 'bench', pid: process.pid },
    ]);
    await load.call('configure', { url: ingest.url, batch: BATCH, connections: CONNECTIONS, prefix: `c${topology[0]}${partitions}`, nodePerBatch: true } satisfies IngestLoadConfig);
    await untilLeading(aggregators);
    const { capacity, capacityCpu, run, cpu, drainMs } = await loadPhases(load, aggregators, meter, (window) => byRole(window, redis), DRAIN_MS);
    const roundTrips = Array.from(run.roundTripMs);
    return {
      topology,
      partitions,
      shardsUsed: redis.shardsUsed,
      eventsPerSec: Math.round((capacity.ackedEvents * 1000) / capacity.elapsedMs),
      capacityUsPerEvent: usPerEvent(capacityCpu, capacity.ackedEvents),
      offeredPerSec: RATE,
      ratePerSec: Math.round((run.ackedEvents * 1000) / run.elapsedMs),
      roundTripMs: { p50: round(percentile(roundTrips, 0.5), 1), p99: round(percentile(roundTrips, 0.99), 1) },
      failures: run.failures,
      drainMs,
      cpu,
      cpuUsPerEvent: usPerEvent(cpu, run.ackedEvents),
      primaryCpuPct: redis.nodes
        .filter((n) => n.role === 'primary')
        .map((n) => cpu.cpuPct[n.name] ?? 0)
        .sort((a, b) => b - a),
      rssMiB: {
        ingest: mib(rssBytes(ingest.pid)),
        aggregators: aggregators.reduce((a, p) => a + mib(rssBytes(p.pid)), 0),
        redis: redis.nodes.reduce((a, n) => a + mib(rssBytes(n.pid)), 0),
      },
    };
  } finally {
    await load?.stop();
    await Promise.all([ingest?.stop(), ...aggregators.map((a) => a.stop())]);
    await redis.stop();
    await sleep(200);
  }
}

/** The window with the aggregator processes summed as `aggregators`, and the Redis nodes as `redis`, `redisPrimaries`, `redisReplicas`. */
function byRole(w: CpuWindow, redis: RedisUnderTest): CpuWindow {
  const sum = (names: string[]) => round(names.reduce((a, name) => a + (w.cpuPct[name] ?? 0), 0), 1);
  const aggregators = sum(Object.keys(w.cpuPct).filter((name) => name.startsWith('aggregator-')));
  const of = (role?: 'primary' | 'replica') => sum(redis.nodes.filter((n) => role === undefined || n.role === role).map((n) => n.name));
  return {
    ...w,
    cpuPct: { ...w.cpuPct, aggregators, redis: of(), redisPrimaries: of('primary'), redisReplicas: of('replica') },
  };
}

/** CPU time per event over a window, µs, by role. */
function usPerEvent(w: CpuWindow, events: number): UsPerEvent {
  const per = (pct: number | undefined) => round((((pct ?? 0) / 100) * w.seconds * 1e6) / Math.max(1, events), 2);
  const us = { ingest: per(w.cpuPct.ingest), aggregators: per(w.cpuPct.aggregators), redis: per(w.cpuPct.redis) };
  return { ...us, redisPrimaries: per(w.cpuPct.redisPrimaries), redisReplicas: per(w.cpuPct.redisReplicas), total: round(us.ingest + us.aggregators + us.redis, 2) };
}
