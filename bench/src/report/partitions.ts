/** Partitioned ingest (issue 16, item 5): events/s and CPU per event with PULSE_PARTITIONS = 1, 2 and 4, side by side; and on a Redis Cluster versus one redis-server. */
import type { PartitionsResult } from '../partitions-cost.js';
import type { ClusterResult } from '../cluster-cost.js';
import { machineLoad, n, pct, table } from './format.js';

export function partitionsSection(r: PartitionsResult): string[] {
  return [
    '## Partitioned ingest: PULSE_PARTITIONS = 1, 2, 4',
    '',
    `Each setting on a fresh redis-server, one ingest node, one aggregator process per partition (\`PULSE_PARTITION=i\`). First`,
    `closed-loop for ${r.capacitySeconds} s (${r.connections} connections of ${n(r.batch)}-event requests, as fast as they go): events/s acknowledged.`,
    `Then ${n(r.ratePerSec)} events/s for ${r.runSeconds} s in every setting, so each does the same work per second: CPU per event (a process's CPU`,
    'time over the run ÷ events acknowledged in it), and how long after it every acknowledged event was applied by its partition\'s',
    'leader. Two request shapes: from one node each (a FakeAI reporter\'s: the request lands in one partition whole, stored as',
    'sent) and from 8 nodes each (ingest splits it into one append per partition, each part re-encoded). Every process shares',
    'this machine\'s cores (and the machine\'s other load, in the last columns): the point is what partitioning costs per event,',
    'not that it scales here (docs/DEPLOY.md has the arithmetic for a fleet).',
    '',
    ...table(
      ['partitions', 'requests', 'closed loop events/s', 'CPU ingest / aggregators / Redis', 'µs/event ingest / aggregators / Redis', `at ${n(r.ratePerSec)}/s: µs/event ingest`, 'µs/event aggregators', 'µs/event Redis', 'µs/event total', 'round trip p50 / p99 ms', 'drained after', 'RSS MiB ingest / aggregators / Redis', 'machine (fixed rate)'],
      r.runs.map((run) => [
        n(run.partitions),
        run.shape,
        n(run.eventsPerSec),
        `${pct(run.capacityCpu.cpuPct.ingest)} / ${pct(run.capacityCpu.cpuPct.aggregators)} / ${pct(run.capacityCpu.cpuPct.redis)}`,
        `${n(run.capacityUsPerEvent.ingest, 2)} / ${n(run.capacityUsPerEvent.aggregators, 2)} / ${n(run.capacityUsPerEvent.redis, 2)}`,
        n(run.cpuUsPerEvent.ingest, 2),
        n(run.cpuUsPerEvent.aggregators, 2),
        n(run.cpuUsPerEvent.redis, 2),
        n(run.cpuUsPerEvent.total, 2),
        `${n(run.roundTripMs.p50, 1)} / ${n(run.roundTripMs.p99, 1)}`,
        run.drainMs === null ? 'not within 30 s' : `${n(run.drainMs)} ms`,
        `${n(run.rssMiB.ingest)} / ${n(run.rssMiB.aggregators)} / ${n(run.rssMiB.redis)}`,
        `${machineLoad({ cpuPct: Object.fromEntries(Object.entries(run.cpu.cpuPct).filter(([k]) => k !== 'aggregators')), hostBusyPct: run.cpu.hostBusyPct })}, load ${n(run.cpu.loadAvg1m, 1)}`,
      ]),
    ),
    '',
  ];
}

/** The same ingest load on one redis-server and on a 3-primary/3-replica Redis Cluster, side by side (scenario `cluster`). */
export function clusterSection(r: ClusterResult): string[] {
  return [
    '## Ingest on a Redis Cluster versus one redis-server',
    '',
    'The same load against a fresh standalone redis-server and a fresh Redis Cluster of 3 primaries and 3 replicas (`redis+cluster://`,',
    '`redis-cli --cluster create`, cluster-node-timeout 1 s, no persistence, `PULSE_INGEST_MIN_REPLICAS=0`), each with',
    '`PULSE_PARTITIONS=1` (on the Cluster all keys share one slot: one shard does the work) and 3 (on the Cluster a partition per',
    'primary, by their hash tags). One ingest node, one aggregator process per partition, each request from one node (a FakeAI',
    `reporter's shape). Closed loop for ${r.capacitySeconds} s (${r.connections} connections of ${n(r.batch)}-event requests), then ${n(r.ratePerSec)} events/s offered for ${r.runSeconds} s:`,
    'events/s acknowledged and CPU per event by role, every redis-server process summed (on the Cluster primaries and replicas, also',
    'apart). Every process shares this machine\'s cores and its other load (last column).',
    '',
    ...table(
      ['Redis', 'partitions', 'shards used', 'closed loop events/s', 'closed loop µs/event total', `acknowledged at ${n(r.ratePerSec)}/s offered`, 'µs/event ingest', 'µs/event aggregators', 'µs/event Redis (primaries + replicas)', 'µs/event total', 'busiest primary % of a core', 'round trip p50 / p99 ms', 'drained after', 'RSS MiB ingest / aggregators / Redis', 'machine (fixed rate)'],
      r.runs.map((run) => [
        run.topology === 'cluster' ? 'Cluster 3+3' : 'standalone',
        n(run.partitions),
        n(run.shardsUsed),
        n(run.eventsPerSec),
        n(run.capacityUsPerEvent.total, 2),
        `${n(run.ratePerSec)}/s`,
        n(run.cpuUsPerEvent.ingest, 2),
        n(run.cpuUsPerEvent.aggregators, 2),
        run.topology === 'cluster' ? `${n(run.cpuUsPerEvent.redis, 2)} (${n(run.cpuUsPerEvent.redisPrimaries, 2)} + ${n(run.cpuUsPerEvent.redisReplicas, 2)})` : n(run.cpuUsPerEvent.redis, 2),
        n(run.cpuUsPerEvent.total, 2),
        pct(run.primaryCpuPct[0]),
        `${n(run.roundTripMs.p50, 1)} / ${n(run.roundTripMs.p99, 1)}`,
        run.drainMs === null ? 'not within 20 s' : `${n(run.drainMs)} ms`,
        `${n(run.rssMiB.ingest)} / ${n(run.rssMiB.aggregators)} / ${n(run.rssMiB.redis)}`,
        `${machineLoad({ cpuPct: Object.fromEntries(Object.entries(run.cpu.cpuPct).filter(([k]) => !['aggregators', 'redis', 'redisPrimaries', 'redisReplicas'].includes(k))), hostBusyPct: run.cpu.hostBusyPct })}, load ${n(run.cpu.loadAvg1m, 1)}`,
      ]),
    ),
    '',
  ];
}
