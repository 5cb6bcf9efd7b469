/** The ingest section: the search steps, the best sustained rate, the XADD ceilings. */
import type { IngestResult } from '../scenarios/ingest.js';
import { machineLoad, n, pct, ratio, table } from './format.js';

/** CPU µs per event of a process at `perSec` events/s using `cpuPct` % of a core. */
export function usPerEvent(cpuPct: number | undefined, perSec: number): number {
  return cpuPct === undefined ? NaN : (cpuPct * 10_000) / perSec;
}

/** A lag of a batch no snapshot had included when the bench stopped waiting is counted up to then: a lower bound. */
const DRAIN_NOTE = '15 s later (lags are lower bounds)';

export function ingestSection(r: IngestResult): string[] {
  const b = r.best;
  const out = [
    '## 1. Ingest: one ingest node → Redis → aggregator',
    '',
    `A load generator process POSTs ${n(r.batch)}-event JSON batches (${n(r.bodyBytes)} bytes, FakeAI-like start/end pairs over`,
    `20 endpoints × 5 models) to one ingest node, open loop at a target rate, ${r.connections} requests in flight at most. The lag of`,
    'each batch is the time from its 202 to the first published snapshot whose `eventsApplied` covers it (the aggregator applies',
    'the stream in order); "sustained" means the achieved rate is within 3 % of the target and every event was in a snapshot',
    'soon after the step. Each step starts from a settled aggregator and lasts 6 s. The highest passing rate is searched below',
    `the node's closed-loop capacity, ${n(r.capacityPerSec)} events/s with ${r.connections} requests in flight: 85 % of it first, 30 % lower`,
    'while nothing passes, then bisection. The aggregator\'s own `GET /status` lag (newest applied entry → last snapshot) is polled too.',
    '',
    ...table(
      ['target /s', 'achieved /s', 'lag p50 ms', 'lag p99 ms', 'lag max ms', '/status lag max ms', 'ingest CPU', 'aggregator CPU', 'redis CPU', 'load gen CPU', 'verdict'],
      r.steps.map((s) => [
        n(s.targetPerSec),
        n(s.achievedPerSec),
        n(s.lagMs.p50),
        n(s.lagMs.p99),
        n(s.lagMs.max),
        n(s.statusLagMaxMs),
        pct(s.cpu.cpuPct.ingest),
        pct(s.cpu.cpuPct.aggregator),
        pct(s.cpu.cpuPct.redis),
        pct(s.cpu.cpuPct.loadgen),
        s.pass ? 'sustained' : s.drainMs === null ? `not sustained; not all in a snapshot ${DRAIN_NOTE}` : 'not sustained',
      ]),
    ),
    '',
    ...(r.stalled ? [`The search stopped early: ${r.stalled}.`, ''] : []),
  ];
  if (b) {
    const at = b.achievedPerSec;
    out.push(
      `**Highest sustained: ${n(at)} events/s**, aggregator lag p50 ${n(b.lagMs.p50)} ms, p99 ${n(b.lagMs.p99)} ms.`,
      `CPU per event at that rate: ingest ${n(usPerEvent(b.cpu.cpuPct.ingest, at), 2)} µs, aggregator ${n(usPerEvent(b.cpu.cpuPct.aggregator, at), 2)} µs,`,
      `Redis ${n(usPerEvent(b.cpu.cpuPct.redis, at), 2)} µs, load generator ${n(usPerEvent(b.cpu.cpuPct.loadgen, at), 2)} µs (${machineLoad(b.cpu)}).`,
      '',
    );
  } else {
    out.push('No step sustained its rate with lag p99 < 1 s.', '');
  }
  const c = r.ceiling;
  const rb = c.redisBenchmark;
  out.push(
    'Ceiling, same Redis, same run, from separate processes: raw pipelined XADDs with the bytes Pulse writes. `redis-benchmark` (C,',
    '64-deep pipelines, 4 connections) is what Redis takes when the producer costs nothing; ioredis (500-command pipelines, 4 in',
    'flight) what one Node process can feed it.',
    '',
    ...table(
      ['layout', 'client', 'entry bytes', 'entries /s', 'events /s', 'Pulse / ceiling'],
      [
        ...(rb ? [['one entry per event', 'redis-benchmark', n(rb.payloadBytes), n(rb.perSec), n(rb.perSec), ratio(r.ratio?.redisBenchmark)]] : []),
        ['one entry per event', 'ioredis', n(c.perEvent.entryBytes), n(c.perEvent.entriesPerSec), n(c.perEvent.eventsPerSec), ratio(r.ratio?.perEventXadd)],
        [`one entry per ${n(r.batch)}-event request (Pulse's layout)`, 'ioredis', n(c.perBatch.entryBytes), n(c.perBatch.entriesPerSec), n(c.perBatch.eventsPerSec), ratio(r.ratio?.perBatchXadd)],
      ],
    ),
    '',
    'Pulse stores one entry per ingest request, so Redis is far from its limit: at the best rate above it spent',
    `${b ? n(usPerEvent(b.cpu.cpuPct.redis, b.achievedPerSec), 2) : '–'} µs of CPU per event; the two JSON parses (ingest, aggregator) and the aggregator's window are what cost.`,
    '',
  );
  return out;
}
