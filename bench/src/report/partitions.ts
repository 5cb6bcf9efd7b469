/** Partitioned ingest (issue 16, item 5): events/s and CPU per event with PULSE_PARTITIONS = 1, 2 and 4, side by side. */
import type { PartitionsResult } from '../partitions-cost.js';
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
