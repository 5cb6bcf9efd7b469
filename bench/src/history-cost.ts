/**
 * `npm run bench history` (docs/HISTORY.md, "Measured"): what the durable
 * history costs at 1,000 cells, against a bench Redis on 127.0.0.1.
 *
 * 1. Write cost per tick: two windows fed the same events (1,000 cells:
 *    20 nodes × 5 endpoints × 10 models, 2,000 requests/s), ticked side by
 *    side on a simulated clock; each tick does what the leader does —
 *    advance, patch (a keyframe every 20 ticks), encode — and the second one
 *    also captures and flushes its history records to Redis. CPU (user +
 *    system) of each tick's work, history off and on.
 * 2. Redis bytes: every record written in that run, and MEMORY USAGE of the
 *    keys of each tier, extrapolated per hour and over each tier's default
 *    retention, against the budget of 500 MB.
 * 3. A 6-hour query: 6 h of 5-s records and 1-min records (copies of the
 *    run's last ones, written through the store at their own bucket
 *    numbers), then GET-equivalent queries through the reader, timed.
 */
import { once } from 'node:events';
import { MetricsWindow, takePatch } from '@pulse/metrics';
import { encodePatch, encodeSnapshot, METRIC_TYPES, parseSlos, partitionKeys, type PulseEvent } from '@pulse/protocol';
import { connectRedis, createLogger, RedisLeaderLease, silentLogger, type Fence } from '@pulse/runtime';
import { DEFAULT_HISTORY_COARSEN, HistoryRecorder, parseTiers, RedisHistoryStore, rollUpFrom, StoreHistoryReader, type HistoryStore, type StoredRecord, type Tier } from '@pulse/history';
import { BenchRedis } from './lib/redis-server.js';
import type { Log } from './scenarios.js';

const TICK_MS = 500;
const WINDOW_MS = 60_000;
/** BENCH_HISTORY_FLEET=1: a fleet's 64 nodes × 20 endpoints × 5 models (6,400 cells) instead of 1,000 cells. */
const FLEET = process.env.BENCH_HISTORY_FLEET === '1';
const NODES = FLEET ? 64 : 20;
const ENDPOINTS = FLEET ? 20 : 5;
const MODELS = FLEET ? 5 : 10;
const REQUESTS_PER_SEC = 2000;
/** Ticks before measuring (the window fills), then measured. */
const WARMUP_TICKS = 130;
/** BENCH_HISTORY_TICKS shortens a trial run. */
const MEASURED_TICKS = Number(process.env.BENCH_HISTORY_TICKS ?? 480);
const BUDGET_BYTES = 500e6;
/** Per tier, its histograms' coarsening (PULSE_HISTORY_COARSEN's default; BENCH_HISTORY_COARSEN to try others). */
const COARSEN = (process.env.BENCH_HISTORY_COARSEN ?? DEFAULT_HISTORY_COARSEN).split(',').map(Number);
/** Tiers that keep every cell (PULSE_HISTORY_CELL_TIERS's default; BENCH_HISTORY_CELL_TIERS=3 keeps cells in all). */
const CELL_TIERS = Number(process.env.BENCH_HISTORY_CELL_TIERS ?? 1);

export interface HistoryBenchResult {
  coarsen: string;
  cellTiers: number;
  load: string;
  cells: number;
  ticks: number;
  writeCost: { offMeanMs: number; offP99Ms: number; onMeanMs: number; onP99Ms: number; onMaxMs: number; recorderMeanMs: number };
  tiers: { tier: string; retention: string; records: number; blobBytesMean: number; redisBytesMean: number; perHourMB: number; retentionMB: number }[];
  retentionTotalMB: number;
  budgetMB: number;
  sixHours: { populated5sKeys: number; populated1mKeys: number; usedMemoryMB5s: number; queries: { query: string; step: number; points: number; ms: number[] }[] };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** One tick's events: REQUESTS_PER_SEC × tick starts and ends spread over its cells, stamped inside it. */
function tickEvents(random: () => number, fromMs: number, id: { n: number }): PulseEvent[] {
  const out: PulseEvent[] = [];
  const n = (REQUESTS_PER_SEC * TICK_MS) / 1000;
  for (let i = 0; i < n; i++) {
    const ts = (fromMs + random() * (TICK_MS - 1)) / 1000;
    const node = `node-${Math.floor(random() * NODES)}`;
    const endpoint = `/v1/endpoint-${Math.floor(random() * ENDPOINTS)}`;
    const model = `model-${Math.floor(random() * MODELS)}`;
    const request_id = `r${id.n++}`;
    const stream = random() < 0.5;
    out.push({ type: 'request.start', ts, node, request_id, endpoint, model, stream });
    const status = random() < 0.02 ? 500 : 200;
    out.push({
      type: 'request.end',
      ts,
      node,
      request_id,
      endpoint,
      model,
      status,
      ...(status !== 200 ? { error: 'upstream_error' } : {}),
      latency_ms: 50 + random() * random() * 2000,
      ...(stream ? { ttft_ms: 10 + random() * 200 } : {}),
      completion_tokens: Math.floor(random() * 400),
      prompt_tokens: 200,
      ...(random() < 0.3 ? { cache: { hit: random() < 0.6, cached_tokens: 64, prefix_length: 32 } } : {}),
    });
  }
  return out;
}

/** Counts what goes through a store, by tier. */
class CountingStore implements HistoryStore {
  readonly bytes = new Map<string, number[]>();
  readonly last = new Map<string, StoredRecord>();
  constructor(private readonly inner: HistoryStore) {}
  get partitions(): number {
    return this.inner.partitions;
  }
  write(partition: number, records: readonly StoredRecord[], fence?: Fence): Promise<boolean> {
    for (const r of records) {
      const list = this.bytes.get(r.tier.name) ?? [];
      list.push(r.blob.length);
      this.bytes.set(r.tier.name, list);
      this.last.set(r.tier.name, r);
    }
    return this.inner.write(partition, records, fence).catch((err: unknown) => {
      console.error(`history write of ${records.length} records failed: ${String(err)}`);
      throw err;
    });
  }
  read(tier: Tier, buckets: readonly number[], partition?: number): Promise<Buffer[][]> {
    return this.inner.read(tier, buckets, partition).catch((err: unknown) => {
      console.error(`history read failed: ${String(err)}`);
      throw err;
    });
  }
}

const cpuMs = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? 0;
const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function benchHistory(log: Log): Promise<HistoryBenchResult> {
  const redis = await BenchRedis.start();
  const conn = connectRedis(redis.url, 'producer', 'bench-history', silentLogger());
  await once(conn, 'ready');
  try {
    const prefix = 'bench-history';
    const keys = partitionKeys(prefix, 1);
    const tiers = rollUpFrom(parseTiers('0.5s:10m,5s:6h,1m:7d', TICK_MS), CELL_TIERS);
    const store = new CountingStore(new RedisHistoryStore(conn, keys));
    const slos = parseSlos('fast:latency_ms<=500;snappy:ttft_ms<=100');
    // Simulated time from the next minute on: records expire at their bucket's end plus retention, in real time.
    const T0 = Math.ceil(Date.now() / 60_000) * 60_000;
    const newWindow = () => new MetricsWindow({ windowMs: WINDOW_MS, bucketMs: TICK_MS, createdAtMs: T0 - 3_600_000, maxEndpoints: 1000, maxModels: 1000, slos });
    const off = newWindow();
    const on = newWindow();
    const recorder = new HistoryRecorder({ store, partition: 0, tiers, windowMs: WINDOW_MS, graceMs: 1000, coarsen: COARSEN, logger: createLogger('bench-history', 'warn') });
    // The records are fenced like the leader's: hold the partition's lease.
    const fence: Fence = (await new RedisLeaderLease(conn, keys[0]!, 3_600_000).acquireOrRenew())!;
    const random = rng(42);
    const id = { n: 0 };
    const offMs: number[] = [];
    const onMs: number[] = [];
    const recorderMs: number[] = [];
    let lastSeq = 0;
    const leaderTick = (w: MetricsWindow, t: number, seq: number) => {
      w.advance(t);
      if (seq % 20 === 0) {
        encodeSnapshot(w.snapshot(t, 1, seq, 0));
        w.reportedAll();
      } else {
        encodePatch(takePatch(w, t, 1, seq, seq - 1, 0));
      }
    };
    log(`history: ${NODES * ENDPOINTS * MODELS} cells, ${REQUESTS_PER_SEC} requests/s, ${WARMUP_TICKS} + ${MEASURED_TICKS} ticks`);
    for (let i = 1; i <= WARMUP_TICKS + MEASURED_TICKS; i++) {
      const t = T0 + i * TICK_MS;
      const events = tickEvents(random, t - TICK_MS, id);
      for (const w of [off, on]) for (const e of events) w.apply(e, Math.ceil(e.ts * 1000) + 2, true);
      const seq = t / TICK_MS;
      let from = process.cpuUsage();
      leaderTick(off, t, seq);
      const a = cpuMs(from);
      from = process.cpuUsage();
      leaderTick(on, t, seq);
      recorder.capture(on, t);
      const before = recorder.cpuMs;
      await recorder.flush(on, t, fence);
      const b = cpuMs(from);
      if (i > WARMUP_TICKS) {
        offMs.push(a);
        onMs.push(b);
        recorderMs.push(recorder.cpuMs - before);
      }
      lastSeq = seq;
      if (i % 100 === 0) log(`history: tick ${i}, off ${round(mean(offMs))} ms, on ${round(mean(onMs))} ms`);
    }
    void lastSeq;
    await recorder.idle();
    log(`history: ${recorder.recordsWritten} records written (${Math.round(recorder.bytesWritten / 1e6)} MB of blobs), ${await conn.dbsize()} keys`);

    // Redis bytes of each tier's keys, sampled with MEMORY USAGE.
    const tierRows: HistoryBenchResult['tiers'] = [];
    for (const tier of tiers) {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await conn.scan(cursor, 'MATCH', `{${prefix}}:history:${tier.name}:*`, 'COUNT', 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
      const sample = found.slice(-Math.min(found.length, 50));
      const usage = (await Promise.all(sample.map((k) => conn.memory('USAGE', k)))).map(Number);
      const redisBytesMean = mean(usage);
      const perHour = 3_600_000 / tier.stepMs;
      const inRetention = tier.retentionMs / tier.stepMs;
      tierRows.push({
        tier: tier.name,
        retention: `${tier.retentionMs / 3_600_000} h`,
        records: found.length,
        blobBytesMean: Math.round(mean(store.bytes.get(tier.name) ?? [])),
        redisBytesMean: Math.round(redisBytesMean),
        perHourMB: round((redisBytesMean * perHour) / 1e6, 1),
        retentionMB: round((redisBytesMean * inRetention) / 1e6, 1),
      });
      log(`history: tier ${tier.name}: ${found.length} keys, ${Math.round(redisBytesMean)} B each in Redis → ${round((redisBytesMean * inRetention) / 1e6, 1)} MB over its retention`);
    }

    const writeCost = { offMeanMs: round(mean(offMs)), offP99Ms: round(p99(offMs)), onMeanMs: round(mean(onMs)), onP99Ms: round(p99(onMs)), onMaxMs: round(max(onMs)), recorderMeanMs: round(mean(recorderMs)) };
    log(`history: CPU per tick, history off ${writeCost.offMeanMs} ms (p99 ${writeCost.offP99Ms}), on ${writeCost.onMeanMs} ms (p99 ${writeCost.onP99Ms}, longest ${writeCost.onMaxMs}: a coarse bucket closing), of which the recorder ${writeCost.recorderMeanMs} ms`);
    for (const [tier, sizes] of store.bytes) log(`history: tier ${tier}: ${sizes.length} records, ${Math.round(mean(sizes))} B of blob each`);
    if (process.env.BENCH_HISTORY_SKIP_QUERY) {
      return { coarsen: COARSEN.join(','), cellTiers: CELL_TIERS, load: '', cells: on.cellCount, ticks: MEASURED_TICKS, writeCost, tiers: tierRows, retentionTotalMB: 0, budgetMB: BUDGET_BYTES / 1e6, sixHours: { populated5sKeys: 0, populated1mKeys: 0, usedMemoryMB5s: 0, queries: [] } };
    }
    // 6 hours of 5-s and 1-min records, through the store, then queries.
    const [, five, minute] = tiers as [Tier, Tier, Tier];
    const now = Date.now();
    const used = async () => Number(/used_memory:(\d+)/.exec(await conn.info('memory'))![1]);
    await conn.flushall();
    const base = await used();
    const fiveBlob = store.last.get(five.name)!.blob;
    const minuteBlob = store.last.get(minute.name)!.blob;
    const lastFive = Math.floor(now / five.stepMs) - 1;
    const lastMinute = Math.floor(now / minute.stepMs) - 1;
    const raw = new RedisHistoryStore(conn, keys);
    let populated5s = 0;
    for (let b = lastFive - 4320 + 1; b <= lastFive; b += 20) {
      const batch: StoredRecord[] = [];
      for (let x = b; x < Math.min(b + 20, lastFive + 1); x++) batch.push({ tier: five, bucket: x, blob: fiveBlob });
      await raw.write(0, batch);
      populated5s += batch.length;
    }
    const usedMemoryMB5s = round(((await used()) - base) / 1e6, 1);
    const minuteBatch: StoredRecord[] = [];
    for (let x = lastMinute - 360 + 1; x <= lastMinute; x++) minuteBatch.push({ tier: minute, bucket: x, blob: minuteBlob });
    for (let i = 0; i < minuteBatch.length; i += 20) await raw.write(0, minuteBatch.slice(i, i + 20));
    log(`history: 6 h populated: ${populated5s} 5-s records (${usedMemoryMB5s} MB used_memory) and ${minuteBatch.length} 1-min records`);
    const reader = new StoreHistoryReader({ store: raw, tiers, windowMs: WINDOW_MS });
    const since = now / 1000 - 6 * 3600;
    const all = { endpoints: new Set<string>(), models: new Set<string>(), nodes: new Set<string>() };
    const oneModel = { endpoints: new Set<string>(), models: new Set(['model-3']), nodes: new Set<string>() };
    const oneNode = { endpoints: new Set<string>(), models: new Set<string>(), nodes: new Set(['node-3']) };
    const queries: HistoryBenchResult['sixHours']['queries'] = [];
    for (const [name, q] of [
      ['6 h, auto step (1-min tier), unfiltered, every type', { since, until: now / 1000, filter: all, types: METRIC_TYPES }],
      ['6 h, auto step, one model, latency + throughput', { since, until: now / 1000, filter: oneModel, types: ['latency', 'throughput'] as const }],
      ['6 h, auto step, one node, every type', { since, until: now / 1000, filter: oneNode, types: METRIC_TYPES }],
      ['6 h, step 30 s (5-s tier), unfiltered, every type', { since, until: now / 1000, step: 30, filter: all, types: METRIC_TYPES }],
    ] as const) {
      const ms: number[] = [];
      let step = 0;
      let points = 0;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const answer = await reader.query(q);
        JSON.stringify(answer.points);
        ms.push(Math.round(performance.now() - t));
        step = answer.step;
        points = answer.points.length;
      }
      queries.push({ query: name, step, points, ms });
      log(`history: ${name}: ${points} points at ${step} s in ${ms.join(' / ')} ms`);
    }
    const retentionTotal = tierRows.reduce((a, r) => a + r.retentionMB, 0);
    return {
      coarsen: COARSEN.join(','),
      cellTiers: CELL_TIERS,
      load: `${REQUESTS_PER_SEC} requests/s (start + end each; 50 % streamed, 2 % errors, 30 % cache lookups, 2 SLOs) over ${NODES} nodes × ${ENDPOINTS} endpoints × ${MODELS} models`,
      cells: on.cellCount,
      ticks: MEASURED_TICKS,
      writeCost,
      tiers: tierRows,
      retentionTotalMB: round(retentionTotal, 1),
      budgetMB: BUDGET_BYTES / 1e6,
      sixHours: { populated5sKeys: populated5s, populated1mKeys: minuteBatch.length, usedMemoryMB5s, queries },
    };
  } finally {
    conn.disconnect();
    await redis.stop();
  }
}
