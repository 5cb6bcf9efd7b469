/**
 * What counting the OTLP exponential histograms costs the leading
 * aggregator's acknowledgements, side by side with the same traffic counted
 * without them (docs/MONITORING.md, "Exponential histograms"):
 * - CPU: applying the events with their totals and taking each commit's delta;
 * - fields per commit, and the commit script's time on a real redis-server;
 * - the totals hash (fields, bytes) and the aggregator's heap after a long
 *   run, and a takeover's load of that hash.
 *
 *   npx tsc -b bench && node --expose-gc bench/dist/exponential-ack.js [minutes] [fleet|today]
 *
 * Traffic as the fleet bench's (bench/src/fleet.ts): 64 nodes × 20 endpoints
 * × 5 models at 2,000 requests/s, and 8 × 14 × 3 at 400/s; a commit every
 * 100 ms (the leader's read block), so each field merges 0.1 s of events.
 * Not a scenario of `npm run bench`: a one-off measurement behind a design choice.
 */
import { Redis } from 'ioredis';
import { MetricsWindow, type TotalsDelta } from '@pulse/metrics';
import { parseTotalsField, pulseKeys, type PulseEvent } from '@pulse/protocol';
import { RedisEventSource, RedisLeaderLease, type Fence } from '@pulse/runtime';
import { seededRandom } from '@pulse/simulator';
import { BenchRedis } from './lib/redis-server.js';
import { percentile, round } from './timing.js';
import { fleetRequest } from './lib/fleet-traffic.js';

const COMMIT_MS = 100;
const SHAPES = [
  { name: 'fleet', nodes: 64, endpoints: 20, models: 5, requestsPerSec: 2000 },
  { name: 'today', nodes: 8, endpoints: 14, models: 3, requestsPerSec: 400 },
];
type Shape = (typeof SHAPES)[number];

/** The fleet bench's traffic: each request's start now, its end when its latency is up. */
function traffic(shape: Shape) {
  const r = seededRandom(7);
  const pick = (n: number) => Math.floor(r() * n);
  let id = 0;
  let pending: { at: number; event: PulseEvent }[] = [];
  return (t: number): PulseEvent[] => {
    const out: PulseEvent[] = [];
    for (let i = 0; i < (shape.requestsPerSec * COMMIT_MS) / 1000; i++) {
      const { start, end, latency } = fleetRequest(r, () => ({
        ts: (t - COMMIT_MS * r()) / 1000,
        node: `fakeai-${pick(shape.nodes)}`,
        request_id: `r${id++}`,
        endpoint: `/v1/endpoint-${pick(shape.endpoints)}`,
        model: `model-${pick(shape.models)}`,
      }));
      out.push(start);
      pending.push({ at: t + latency, event: end });
    }
    const due = pending.filter((p) => p.at <= t);
    pending = pending.filter((p) => p.at > t);
    for (const p of due) out.push(p.event);
    return out;
  };
}

interface Side {
  /** ms of CPU per 1,000 events: apply with totals + take the delta. */
  cpuMsPer1000Events: number;
  fieldsPerCommit: { p50: number; p99: number };
  /** The commit script (EVAL over the fields) on redis-server, ms per commit. */
  commitMs: { p50: number; p99: number };
  hashFields: number;
  hashBytes: number;
  heapMB: number;
  /** A takeover's HGETALL of the hash, and loading it into a window, ms. */
  hgetallMs: number;
  loadMs: number;
}

/** Windows kept reachable while the heap is measured. */
const alive: MetricsWindow[] = [];

async function side(shape: Shape, exponential: boolean, minutes: number, redis: Redis, prefix: string): Promise<Side> {
  const keys = pulseKeys(prefix);
  const source = new RedisEventSource(redis, redis, { keys, consumer: 'bench', reclaimIdleMs: 60_000 });
  const fence = (await new RedisLeaderLease(redis, keys, 600_000).acquireOrRenew()) as Fence;
  const next = traffic(shape);
  let t = Math.floor(Date.now() / COMMIT_MS) * COMMIT_MS;
  const window = new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: t - 600_000, maxEndpoints: 1000, maxModels: 1000, maxNodes: 256 });
  window.totals.exponential = exponential;
  const commits = (minutes * 60_000) / COMMIT_MS;
  let cpu = 0;
  let events = 0;
  const fields: number[] = [];
  const commitMs: number[] = [];
  const measureFrom = Math.min(commits / 2, 600); // after a minute (or half the run): steady state
  for (let i = 0; i < commits; i++) {
    t += COMMIT_MS;
    const batch = next(t);
    const started = performance.now();
    for (const e of batch) window.apply(e, t, true);
    const delta: TotalsDelta = window.totals.takeDelta();
    const elapsed = performance.now() - started;
    // Expiry is the same work either way; kept off the clock.
    if (i % 5 === 0) window.advance(t);
    const sent = performance.now();
    if (!(await source.commit([], delta, fence))) throw new Error('commit fenced off');
    if (i >= measureFrom) {
      cpu += elapsed;
      events += batch.length;
      fields.push(delta.size);
      commitMs.push(performance.now() - sent);
    }
  }
  const hashFields = await redis.hlen(keys.totals);
  const hashBytes = Number(await redis.call('MEMORY', 'USAGE', keys.totals, 'SAMPLES', '0'));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  alive.push(window);
  gc();
  const heapMB = process.memoryUsage().heapUsed / 2 ** 20;
  alive.length = 0;
  const fetchStarted = performance.now();
  const hash = await source.loadTotals();
  const hgetallMs = performance.now() - fetchStarted;
  const restored = new MetricsWindow({ windowMs: 60_000, bucketMs: 500, createdAtMs: t - 600_000, maxEndpoints: 1000, maxModels: 1000, maxNodes: 256 });
  const loadStarted = performance.now();
  const bad = restored.totals.load(hash);
  const loadMs = performance.now() - loadStarted;
  if (bad > 0) throw new Error(`${bad} unreadable totals fields`);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const q = (xs: number[]) => ({ p50: round(percentile(sorted(xs), 0.5), 2), p99: round(percentile(sorted(xs), 0.99), 2) });
  return {
    cpuMsPer1000Events: round((cpu / events) * 1000, 3),
    fieldsPerCommit: q(fields),
    commitMs: q(commitMs),
    hashFields,
    hashBytes,
    heapMB: round(heapMB, 1),
    hgetallMs: round(hgetallMs, 1),
    loadMs: round(loadMs, 1),
  };
}

const minutes = Number(process.argv[2] ?? 5);
const only = process.argv[3];
const server = await BenchRedis.start();
const redis = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: null });
try {
  const results: Record<string, unknown> = { minutes, commitEveryMs: COMMIT_MS };
  for (const shape of SHAPES.filter((s) => !only || s.name === only)) {
    // Off first, then on, each on a store of its own; the heap of the off side's window is gone by the time on's is measured.
    const off = await side(shape, false, minutes, redis, `bench-exp-off-${shape.name}`);
    const on = await side(shape, true, minutes, redis, `bench-exp-on-${shape.name}`);
    const exponentialFields = (await redis.hkeys(pulseKeys(`bench-exp-on-${shape.name}`).totals)).filter((f) => parseTotalsField(f)?.exponential).length;
    results[shape.name] = { off, on, exponentialFields, cells: shape.nodes * shape.endpoints * shape.models };
    console.log(JSON.stringify({ shape: shape.name, off, on, exponentialFields }, null, 1));
  }
  console.log(JSON.stringify(results));
} finally {
  redis.disconnect();
  await server.stop();
}
