/**
 * Scenario 1, ingest: the highest sustained events/s through one ingest
 * node → Redis → aggregator at which the aggregator's lag (event accepted →
 * included in a published snapshot) stays p99 < 1 s, found by a search
 * below the closed-loop capacity of the ingest node (85 % of it first, down
 * 30 % while nothing passes, then bisection); then, against the same Redis,
 * the ceiling of raw pipelined XADDs of the same bytes.
 */
import { BenchRedis } from '../lib/redis-server.js';
import { ServiceProcess } from '../lib/services.js';
import { WorkerProcess } from '../lib/rpc.js';
import { CpuMeter, rssBytes, type CpuWindow } from '../lib/proc-stats.js';
import { SnapshotObserver } from '../lib/snapshot-observer.js';
import { xaddWithRedisBenchmark, type RedisBenchmarkResult } from '../lib/redis-benchmark.js';
import { sleep } from '../lib/ports.js';
import { percentile, round } from '../timing.js';
import type { IngestLoadConfig, IngestRunResult } from '../workers/ingest-load.js';
import type { CeilingResult, CeilingRun } from '../workers/xadd-ceiling.js';
import { batchLags, type Ack } from './ingest-lag.js';

const BATCH = 1000;
const CONNECTIONS = 8;
const STEP_MS = 6000;
const MAX_STEPS = 5;
/** The lag target: p99 below this. */
const LAG_P99_MS = 1000;
/** A step whose achieved rate is below this share of its target did not sustain it. */
const SUSTAINED = 0.97;
/** How long after a step every acknowledged event may take to be in a snapshot before the step counts as not drained. */
const DRAIN_MS = 15_000;
/** How long the aggregator may take to stop moving before a step (after a step it could not keep up with). */
const SETTLE_MS = 30_000;

/** The aggregator's event count kept moving with no load: it is stuck catching up (or rebuilding over and over). */
class AggregatorStalled extends Error {
  override readonly name = 'AggregatorStalled';
}

export interface IngestStep {
  targetPerSec: number;
  achievedPerSec: number;
  lagMs: { p50: number; p99: number; max: number };
  /** Highest `lagMs` the aggregator's own GET /status reported during the step. */
  statusLagMaxMs: number | null;
  /** Time after the step until every acknowledged event was in a snapshot. */
  drainMs: number | null;
  failures: Record<string, number>;
  roundTripMs: { p50: number; p99: number };
  pass: boolean;
  cpu: CpuWindow;
}

export interface IngestResult {
  batch: number;
  bodyBytes: number;
  connections: number;
  /** Closed loop, `connections` requests in flight: what one ingest node takes when nothing waits. */
  capacityPerSec: number;
  steps: IngestStep[];
  /** Why the search stopped early, when it did. */
  stalled: string | null;
  best: IngestStep | null;
  /** Raw XADDs: one entry per event and one per request through ioredis, one per event through redis-benchmark (null: not installed). */
  ceiling: { perEvent: CeilingResult; perBatch: CeilingResult; redisBenchmark: RedisBenchmarkResult | null };
  /** best.achievedPerSec over each ceiling. */
  ratio: { perEventXadd: number; perBatchXadd: number; redisBenchmark: number | null } | null;
  rssMiB: Record<string, number>;
}

export async function benchIngest(log: (line: string) => void): Promise<IngestResult> {
  const redis = await BenchRedis.start();
  const env = { REDIS_URL: redis.url };
  const ingest = await ServiceProcess.start('ingest', env);
  const aggregator = await ServiceProcess.start('aggregator', env);
  const observer = await SnapshotObserver.start(redis.url);
  const load = await WorkerProcess.start('ingest-load', 'ingest-load');
  const meter = new CpuMeter(() => [
    { name: 'ingest', pid: ingest.pid },
    { name: 'aggregator', pid: aggregator.pid },
    { name: 'redis', pid: redis.pid },
    { name: 'loadgen', pid: load.pid },
    { name: 'bench', pid: process.pid },
  ]);
  try {
    const { bodyBytes } = await load.call<{ bodyBytes: number }>('configure', {
      url: ingest.url,
      batch: BATCH,
      connections: CONNECTIONS,
      prefix: 'g',
    } satisfies IngestLoadConfig);
    await observer.waitApplied(0, 10_000);

    /**
     * Runs the load from a settled aggregator, waits until it has applied it
     * all, and matches each batch to the snapshot that first included it.
     * A step during which the aggregator's epoch changed or its count went
     * back (a lost lease, a rebuilt window) cannot be matched: it fails.
     */
    const drive = async (eventsPerSec: number, durationMs: number) => {
      const baseline = await observer.settled(SETTLE_MS);
      if (baseline === null) throw new AggregatorStalled();
      const fromSnapshot = observer.seen.length;
      const epoch = observer.last!.epoch;
      const statusLags: number[] = [];
      const poll = setInterval(() => {
        void fetch(`${aggregator.url}/status`)
          .then((r) => r.json() as Promise<{ lagMs: number | null }>)
          .then((s) => s.lagMs !== null && statusLags.push(s.lagMs))
          .catch(() => undefined);
      }, 200);
      meter.begin();
      const run = await load.call<IngestRunResult>('run', { eventsPerSec, durationMs });
      const cpu = meter.end();
      clearInterval(poll);
      const doneAt = Date.now();
      const drained = await observer.waitApplied(baseline + run.ackedEvents, DRAIN_MS);
      const gaveUpAt = Date.now();
      const drainMs = drained ? gaveUpAt - doneAt : null;
      const acks: Ack[] = Array.from(run.ackAt, (at, i) => ({ at, events: run.ackEvents[i]! }));
      const during = observer.seen.slice(fromSnapshot);
      const restarted = during.some((s, i) => s.epoch !== epoch || s.eventsApplied < (during[i - 1]?.eventsApplied ?? baseline));
      const published = during.map((s) => ({ recvMs: s.recvMs, applied: s.eventsApplied - baseline }));
      // A batch no snapshot included (or none we can match, after a restart) waited at least until we gave up.
      const lags = batchLags(restarted ? [] : acks, published, 0).map((lag, i) => (Number.isFinite(lag) ? lag : gaveUpAt - acks[i]!.at));
      if (restarted) {
        for (const a of acks) lags.push(gaveUpAt - a.at);
        log(`ingest: the aggregator changed epoch or rebuilt its window during the ${eventsPerSec}/s step`);
      }
      lags.sort((a, b) => a - b);
      const inWindow = acks.filter((a) => a.at <= run.startedAt + run.elapsedMs).reduce((n, a) => n + a.events, 0);
      return { run, cpu, drainMs, lags, statusLags, achievedPerSec: Math.round((inWindow * 1000) / run.elapsedMs) };
    };

    log('ingest: warm-up 2 s at 20k events/s');
    await drive(20_000, 2000);
    const probe = await drive(0, 2000);
    const capacity = probe.achievedPerSec;
    log(`ingest: closed-loop capacity ${capacity} events/s (aggregator drained in ${probe.drainMs} ms)`);

    const steps: IngestStep[] = [];
    let stalled: string | null = null;
    let lo = 0;
    let hi = Math.round(capacity * 1.05);
    let target = roundTo(capacity * 0.85, 5000);
    for (let i = 0; i < MAX_STEPS && target > lo && target < hi; i++) {
      let r: Awaited<ReturnType<typeof drive>>;
      try {
        r = await drive(target, STEP_MS);
      } catch (err) {
        if (!(err instanceof AggregatorStalled)) throw err;
        stalled = `the aggregator did not settle within ${SETTLE_MS / 1000} s after the ${steps.at(-1)?.targetPerSec ?? '?'}/s step (lost its lease under the backlog?)`;
        log(`ingest: ${stalled}; search stopped`);
        break;
      }
      const lagMs = { p50: round(percentile(r.lags, 0.5), 0), p99: round(percentile(r.lags, 0.99), 0), max: round(r.lags[r.lags.length - 1] ?? NaN, 0) };
      const pass = r.drainMs !== null && lagMs.p99 < LAG_P99_MS && r.achievedPerSec >= SUSTAINED * target;
      const step: IngestStep = {
        targetPerSec: target,
        achievedPerSec: r.achievedPerSec,
        lagMs,
        statusLagMaxMs: r.statusLags.length > 0 ? Math.max(...r.statusLags) : null,
        drainMs: r.drainMs,
        failures: r.run.failures,
        roundTripMs: { p50: round(percentile(Array.from(r.run.roundTripMs), 0.5), 1), p99: round(percentile(Array.from(r.run.roundTripMs), 0.99), 1) },
        pass,
        cpu: r.cpu,
      };
      steps.push(step);
      log(`ingest: ${target}/s → ${step.achievedPerSec}/s, lag p50 ${lagMs.p50} p99 ${lagMs.p99} ms, ${pass ? 'pass' : 'FAIL'} ${JSON.stringify(r.cpu.cpuPct)}`);
      if (pass) lo = target;
      else hi = target;
      // Until a rate passes, step down by 30 % rather than halve: the answer is usually near the capacity.
      const next = roundTo(lo === 0 ? hi * 0.7 : (lo + hi) / 2, 5000);
      if (hi - lo <= Math.max(10_000, capacity * 0.05)) break;
      target = next;
    }
    const best = steps.filter((s) => s.pass).sort((a, b) => b.achievedPerSec - a.achievedPerSec)[0] ?? null;
    const rssMiB = {
      ingest: mib(rssBytes(ingest.pid)),
      aggregator: mib(rssBytes(aggregator.pid)),
      redis: mib(rssBytes(redis.pid)),
    };

    log('ingest: XADD ceiling (raw ioredis pipelines, same Redis)');
    const ceilingWorker = await WorkerProcess.start('xadd-ceiling', 'xadd-ceiling');
    const perEvent = await ceilingWorker.call<CeilingResult>('run', { url: redis.url, eventsPerEntry: 1, durationMs: 3000, pipeline: 500, inFlight: 4 } satisfies CeilingRun);
    const perBatch = await ceilingWorker.call<CeilingResult>('run', { url: redis.url, eventsPerEntry: BATCH, durationMs: 3000, pipeline: 4, inFlight: 4 } satisfies CeilingRun);
    await ceilingWorker.stop();
    const redisBenchmark = await xaddWithRedisBenchmark(redis.port, perEvent.entryBytes);
    log(
      `ingest: ceiling ${perEvent.eventsPerSec} events/s one entry each (ioredis), ${redisBenchmark?.perSec ?? '–'} (redis-benchmark), ` +
        `${perBatch.eventsPerSec} events/s in ${BATCH}-event entries (ioredis)`,
    );
    return {
      batch: BATCH,
      bodyBytes,
      connections: CONNECTIONS,
      capacityPerSec: capacity,
      steps,
      stalled,
      best,
      ceiling: { perEvent, perBatch, redisBenchmark },
      ratio: best
        ? {
            perEventXadd: round(best.achievedPerSec / perEvent.eventsPerSec, 2),
            perBatchXadd: round(best.achievedPerSec / perBatch.eventsPerSec, 3),
            redisBenchmark: redisBenchmark ? round(best.achievedPerSec / redisBenchmark.perSec, 2) : null,
          }
        : null,
      rssMiB,
    };
  } finally {
    await load.stop();
    await observer.stop();
    await Promise.all([ingest.stop(), aggregator.stop()]);
    await redis.stop();
    await sleep(200);
  }
}

function roundTo(n: number, step: number): number {
  return Math.round(n / step) * step;
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
