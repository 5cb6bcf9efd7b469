/**
 * Scenario `partitions` (issue 16, item 5): ingest throughput and CPU per
 * event with PULSE_PARTITIONS = 1, 2 and 4, side by side in one run. Each
 * setting on a fresh redis-server with one ingest node and one aggregator
 * process per partition (PULSE_PARTITION=i, the deployment that spreads
 * aggregation over cores). First closed-loop (as fast as 8 connections of
 * 1,000-event requests allow): events/s; then at one fixed rate for every
 * setting, well below that: CPU per event, each process doing the same work
 * per second whatever N. Each run is drained: every acknowledged event must
 * reach its partition's leader. Two request shapes:
 * each request from one node (what a FakeAI reporter sends: it lands in one
 * partition whole, its body stored as sent) and each request from 8 nodes
 * (ingest splits it into one append per partition, re-encoding each part).
 *
 * On a 2-core machine this measures what partitioning costs, not how it
 * scales: every process shares the same two cores.
 */
import { PatchDecoder, decodeSnapshot, encodePatch, encodeSnapshot, partitionOf, type PulseEvent } from '@pulse/protocol';
import { MetricsWindow, SnapshotReplica, takePatch } from '@pulse/metrics';
import { seededRandom } from '@pulse/simulator';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BenchRedis } from './lib/redis-server.js';
import { ServiceProcess } from './lib/services.js';
import { WorkerProcess } from './lib/rpc.js';
import { CpuMeter, rssBytes, type CpuWindow } from './lib/proc-stats.js';
import { sleep } from './lib/ports.js';
import { percentile, round } from './timing.js';
import { fleetRequest } from './lib/fleet-traffic.js';
import type { IngestLoadConfig, IngestRunResult } from './workers/ingest-load.js';

const PARTITION_COUNTS = [1, 2, 4];
/** The load of the partitions and cluster scenarios: batches of events, connections, and the phases' lengths. */
export const BATCH = 1000;
export const CONNECTIONS = 8;
export const WARMUP_MS = 2000;
export const CAPACITY_MS = 6000;
/** The fixed-rate run: events/s and length. */
export const RATE = 30_000;
export const RUN_MS = 8000;
const DRAIN_MS = 30_000;

export type Shape = 'one node per request' | '8 nodes per request';
const SHAPES: Shape[] = ['one node per request', '8 nodes per request'];

export interface PartitionRun {
  partitions: number;
  shape: Shape;
  /** Closed loop: events acknowledged per second. */
  eventsPerSec: number;
  /** Closed loop: % of one core by role (aggregators summed), and the machine. */
  capacityCpu: CpuWindow;
  /** Closed loop: CPU time per acknowledged event, µs, as below (the marginal cost: fixed costs spread over the most events). */
  capacityUsPerEvent: { ingest: number; aggregators: number; redis: number; total: number };
  /** The fixed-rate run: its rate, round trips, failures. */
  ratePerSec: number;
  roundTripMs: { p50: number; p99: number };
  failures: Record<string, number>;
  /** Until every acknowledged event was applied by its partition's leader, after the fixed-rate run; null if not within DRAIN_MS. */
  drainMs: number | null;
  /** The fixed-rate run: % of one core by role (aggregators summed), and the machine. */
  cpu: CpuWindow;
  /** CPU time per acknowledged event, µs, by role (aggregators summed), and the sum of ingest, aggregators and Redis. */
  cpuUsPerEvent: { ingest: number; aggregators: number; redis: number; total: number };
  /** Resident memory after the run, MiB (aggregators summed). */
  rssMiB: { ingest: number; aggregators: number; redis: number };
}

export interface PartitionsResult {
  batch: number;
  connections: number;
  capacitySeconds: number;
  ratePerSec: number;
  runSeconds: number;
  runs: PartitionRun[];
  /** One partition of the 200-node fleet of docs/DEPLOY.md, in one process: at 4 partitions and at 16. */
  fleetPartitions: FleetPartitionResult[];
}

export async function benchPartitions(log: (line: string) => void): Promise<PartitionsResult> {
  const runs: PartitionRun[] = [];
  for (const shape of SHAPES) {
    for (const partitions of PARTITION_COUNTS) {
      log(`partitions: ${partitions}, ${shape}`);
      const run = await measure(partitions, shape);
      log(
        `partitions: ${partitions}, ${shape}: closed loop ${run.eventsPerSec} events/s; at ${run.ratePerSec}/s drained in ${run.drainMs ?? '–'} ms, ` +
          `µs/event ingest ${run.cpuUsPerEvent.ingest} aggregators ${run.cpuUsPerEvent.aggregators} redis ${run.cpuUsPerEvent.redis} (total ${run.cpuUsPerEvent.total})`,
      );
      runs.push(run);
    }
  }
  const fleetPartitions: FleetPartitionResult[] = [];
  for (const partitions of [16, 4]) {
    log(`partitions: one of ${partitions} partitions of a 200-node fleet, in one process`);
    const fleet = fleetPartition({ ...FLEET, partitions }, log);
    log(`partitions: fleet partition ${JSON.stringify(fleet)}`);
    fleetPartitions.push(fleet);
  }
  return { batch: BATCH, connections: CONNECTIONS, capacitySeconds: CAPACITY_MS / 1000, ratePerSec: RATE, runSeconds: RUN_MS / 1000, runs, fleetPartitions };
}

async function measure(partitions: number, shape: Shape): Promise<PartitionRun> {
  const redis = await BenchRedis.start();
  const env = { REDIS_URL: redis.url, PULSE_PARTITIONS: String(partitions) };
  const ingest = await ServiceProcess.start('ingest', env);
  const aggregators = await Promise.all(
    Array.from({ length: partitions }, (_, i) => ServiceProcess.start('aggregator', partitions === 1 ? env : { ...env, PULSE_PARTITION: String(i) })),
  );
  const load = await WorkerProcess.start('ingest-load', 'ingest-load');
  const meter = new CpuMeter(() => [
    { name: 'ingest', pid: ingest.pid },
    ...aggregators.map((a, i) => ({ name: `aggregator-${i}`, pid: a.pid })),
    { name: 'redis', pid: redis.pid },
    { name: 'loadgen', pid: load.pid },
    { name: 'bench', pid: process.pid },
  ]);
  try {
    await load.call('configure', {
      url: ingest.url,
      batch: BATCH,
      connections: CONNECTIONS,
      prefix: `p${partitions}`,
      nodePerBatch: shape === 'one node per request',
    } satisfies IngestLoadConfig);
    await untilLeading(aggregators);
    const { capacity, capacityCpu, run, cpu, drainMs } = await loadPhases(load, aggregators, meter, withAggregators, DRAIN_MS);
    const us = usPerEvent(cpu, run.ackedEvents);
    const capacityUs = usPerEvent(capacityCpu, capacity.ackedEvents);
    const roundTrips = Array.from(run.roundTripMs);
    return {
      partitions,
      shape,
      eventsPerSec: Math.round((capacity.ackedEvents * 1000) / capacity.elapsedMs),
      capacityCpu,
      capacityUsPerEvent: capacityUs,
      ratePerSec: Math.round((run.ackedEvents * 1000) / run.elapsedMs),
      roundTripMs: { p50: round(percentile(roundTrips, 0.5), 1), p99: round(percentile(roundTrips, 0.99), 1) },
      failures: run.failures,
      drainMs,
      cpu,
      cpuUsPerEvent: us,
      rssMiB: {
        ingest: mib(rssBytes(ingest.pid)),
        aggregators: aggregators.reduce((a, p) => a + mib(rssBytes(p.pid)), 0),
        redis: mib(rssBytes(redis.pid)),
      },
    };
  } finally {
    await load.stop();
    await Promise.all([ingest.stop(), ...aggregators.map((a) => a.stop())]);
    await redis.stop();
    await sleep(200);
  }
}

interface Status {
  role: string;
  eventsApplied: number;
}

async function statusOf(p: ServiceProcess): Promise<Status | null> {
  try {
    return (await (await fetch(`${p.url}/status`)).json()) as Status;
  } catch {
    return null;
  }
}

/** Until every partition's process leads (each serves one, or the only one serves all). */
export async function untilLeading(aggregators: readonly ServiceProcess[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(aggregators.map(statusOf));
    if (statuses.every((s) => s?.role === 'leader')) return;
    await sleep(100);
  }
  throw new Error('the partitions did not all get a leader');
}

/** Until the leaders together applied `events` (each partition's events are applied by its leader once). */
/**
 * The load every ingest scenario here runs, in order: a warm-up, a closed loop
 * (as fast as it goes), then RATE events/s; each drained by the aggregators
 * before the next, CPU metered over the last two (`cpuOf` sorts it by role).
 */
export async function loadPhases<C>(
  load: WorkerProcess,
  aggregators: readonly ServiceProcess[],
  meter: CpuMeter,
  cpuOf: (window: CpuWindow) => C,
  drainMs: number,
): Promise<{ capacity: IngestRunResult; capacityCpu: C; run: IngestRunResult; cpu: C; drainMs: number | null }> {
  let applied = 0;
  const warm = await load.call<IngestRunResult>('run', { eventsPerSec: 0, durationMs: WARMUP_MS });
  await drained(aggregators, (applied += warm.ackedEvents), drainMs);
  meter.begin();
  const capacity = await load.call<IngestRunResult>('run', { eventsPerSec: 0, durationMs: CAPACITY_MS });
  const capacityCpu = cpuOf(meter.end());
  await drained(aggregators, (applied += capacity.ackedEvents), drainMs);
  meter.begin();
  const run = await load.call<IngestRunResult>('run', { eventsPerSec: RATE, durationMs: RUN_MS });
  const cpu = cpuOf(meter.end());
  const doneAt = Date.now();
  const ok = await drained(aggregators, applied + run.ackedEvents, drainMs);
  return { capacity, capacityCpu, run, cpu, drainMs: ok ? Date.now() - doneAt : null };
}

export async function drained(aggregators: readonly ServiceProcess[], events: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(aggregators.map(statusOf));
    if (statuses.reduce((a, s) => a + (s?.eventsApplied ?? 0), 0) >= events) return true;
    await sleep(100);
  }
  return false;
}

/** CPU time per event over a window, µs, by role, and their sum. */
function usPerEvent(w: CpuWindow, events: number): { ingest: number; aggregators: number; redis: number; total: number } {
  const per = (pct: number | undefined) => round((((pct ?? 0) / 100) * w.seconds * 1e6) / Math.max(1, events), 2);
  const us = { ingest: per(w.cpuPct.ingest), aggregators: per(w.cpuPct.aggregators), redis: per(w.cpuPct.redis) };
  return { ...us, total: round(us.ingest + us.aggregators + us.redis, 2) };
}

/** The window with the aggregator processes' CPU summed as `aggregators`. */
function withAggregators(w: CpuWindow): CpuWindow {
  const sum = Object.entries(w.cpuPct)
    .filter(([name]) => name.startsWith('aggregator-'))
    .reduce((a, [, v]) => a + v, 0);
  return { ...w, cpuPct: { ...w.cpuPct, aggregators: round(sum, 1) } };
}

export function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

/**
 * One partition of a 200-node FakeAI fleet at 2,000 requests/s each (docs/DEPLOY.md's arithmetic), in one process:
 * its aggregator's window in steady state and, per tick, the aggregator's work (apply the tick's events, expire,
 * take and encode the patch) and a gateway's (decode and apply that patch to its replica of the partition).
 */
export interface FleetPartitionShape {
  partitions: number;
  /** Of the whole fleet. */
  nodes: number;
  endpoints: number;
  models: number;
  requestsPerSecPerNode: number;
}

export interface FleetPartitionResult {
  shape: FleetPartitionShape;
  /** This partition's share. */
  nodes: number;
  cells: number;
  eventsPerSec: number;
  /** Aggregator per tick, ms: apply + advance + takePatch + encode. */
  aggregatorTickMs: { p50: number; p99: number };
  /** Of which applying the tick's events, ms (p50). */
  applyEventsMs: number;
  patchBytes: number;
  keyframeBytes: number;
  /** Gateway per tick, ms: decode + apply this partition's patch. */
  gatewayApplyMs: { p50: number; p99: number };
  /** Heap growth, MiB: the aggregator's window in steady state, and a gateway's replica of the partition. */
  windowHeapMiB: number;
  replicaHeapMiB: number;
}

export const FLEET: FleetPartitionShape = { partitions: 4, nodes: 200, endpoints: 20, models: 5, requestsPerSecPerNode: 2000 };

/** The heap in use after a full collection (the bench runs without --expose-gc: it is turned on here). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

export function fleetPartition(shape: FleetPartitionShape = FLEET, log: (line: string) => void = () => undefined): FleetPartitionResult {
  const TICK = 500;
  const WINDOW = 60_000;
  const r = seededRandom(11);
  const nodes = Array.from({ length: shape.nodes }, (_, i) => `fakeai-${i}`).filter((n) => partitionOf(n, shape.partitions) === 0);
  const endpoints = Array.from({ length: shape.endpoints }, (_, i) => `/v1/endpoint-${i}`);
  const models = Array.from({ length: shape.models }, (_, i) => `model-${i}`);
  const perTick = Math.round((nodes.length * shape.requestsPerSecPerNode * TICK) / 1000);
  let t = Math.floor(Date.now() / TICK) * TICK;
  let id = 0;
  let pending: PulseEvent[] = [];
  /** The tick's starts, and the ends of last tick's requests (latency under a tick: ends land one tick later). */
  const tickEvents = (): PulseEvent[] => {
    const out = pending;
    pending = [];
    for (let i = 0; i < perTick; i++) {
      const { start, end } = fleetRequest(r, () => ({ ts: (t - TICK * r()) / 1000, node: nodes[i % nodes.length]!, request_id: `r${id++}`, endpoint: endpoints[Math.floor(r() * endpoints.length)]!, model: models[Math.floor(r() * models.length)]! }));
      out.push(start);
      pending.push(end);
    }
    return out;
  };
  const heapBefore = heapAfterGc();
  const w = new MetricsWindow({ windowMs: WINDOW, bucketMs: TICK, createdAtMs: t - 10 * WINDOW, maxEndpoints: 1000, maxModels: 1000, maxNodes: 256, maxCells: 100_000 });
  const applyMs: number[] = [];
  const tickOnce = (publish: 'patch' | 'keyframe' | 'none'): { ms: number; encoded: Buffer | null } => {
    t += TICK;
    const events = tickEvents();
    const started = performance.now();
    for (const e of events) w.apply(e, t, true);
    applyMs.push(performance.now() - started);
    w.advance(t);
    let encoded: Buffer | null = null;
    if (publish === 'patch') encoded = encodePatch(takePatch(w, t, 1, t / TICK, t / TICK - 1, 0));
    else if (publish === 'keyframe') {
      encoded = encodeSnapshot(w.snapshot(t, 1, t / TICK, 0));
      w.reportedAll();
    } else w.discardChanges();
    return { ms: performance.now() - started, encoded };
  };
  for (let i = 0; i < WINDOW / TICK + 4; i++) {
    tickOnce('none');
    if (i % 40 === 0) log(`partitions: fleet partition, filling the window, tick ${i} of ${WINDOW / TICK + 4}`);
  }
  const windowHeap = heapAfterGc() - heapBefore;
  applyMs.length = 0;
  const keyframe = tickOnce('keyframe').encoded!;
  const tickMs: number[] = [];
  const patches: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const tick = tickOnce('patch');
    tickMs.push(tick.ms);
    patches.push(tick.encoded!);
  }
  // The gateway's replica after the aggregator's ticks: they are separate processes, and a replica
  // held during the ticks made the aggregator's garbage collection dearer.
  const replicaBefore = heapAfterGc();
  const replica = new SnapshotReplica();
  replica.load(decodeSnapshot(keyframe));
  const replicaHeap = heapAfterGc() - replicaBefore;
  const gatewayMs: number[] = [];
  const decoder = new PatchDecoder(); // as a gateway decodes them
  for (const patch of patches) {
    const started = performance.now();
    if (replica.apply(decoder.decode(patch)) !== 'applied') throw new Error('a patch did not follow on');
    decoder.release();
    gatewayMs.push(performance.now() - started);
  }
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 0.5), 1), p99: round(percentile(sorted, 0.99), 1) };
  };
  return {
    shape,
    nodes: nodes.length,
    cells: replica.snapshot!.cells.length,
    eventsPerSec: (2 * perTick * 1000) / TICK,
    aggregatorTickMs: stats(tickMs.slice(2)),
    applyEventsMs: stats(applyMs.slice(2)).p50,
    patchBytes: Math.round(percentile([...patches.map((p) => p.length)].sort((a, b) => a - b), 0.5)),
    keyframeBytes: keyframe.length,
    gatewayApplyMs: stats(gatewayMs.slice(2)),
    windowHeapMiB: Math.round(windowHeap / 2 ** 20),
    replicaHeapMiB: Math.round(replicaHeap / 2 ** 20),
  };
}
