/**
 * The node dimension's budget, in one process: at today's shape (8 nodes ×
 * 14 endpoints × 3 models, 400 requests/s) and at a realistic fleet's (64
 * nodes × 20 endpoints × 5 models, 2,000 requests/s), a window in steady
 * state, then per tick:
 * - what goes over pub/sub: a patch (what changed this tick) beside the
 *   whole snapshot that went every tick before patches (and is now stored
 *   as a keyframe every 10 s, broadcast only on a takeover);
 * - the aggregator's CPU: applying the tick's events, expiring, building and
 *   encoding the message;
 * - a gateway's: decoding and applying the patch (its replica and the
 *   aggregates views read), and building each kind of view from them
 *   (unfiltered, by endpoint, model, node, node and model, many nodes).
 */
import { PatchDecoder, encodePatch, encodeSnapshot, parseSlos, type PulseEvent } from '@pulse/protocol';
import { buildReplicaView, MetricsWindow, SnapshotReplica, takePatch, type CellFilter } from '@pulse/metrics';
import { seededRandom } from '@pulse/simulator';
import { fleetRequest } from './lib/fleet-traffic.js';
import { fleetPartition } from './partitions-cost.js';
import { percentile, round } from './timing.js';

const TICK_MS = 500;
/** Patches measured: 12 of each kind of view, after one round that builds the groupings. */
const PATCHES = 13 * 9;
const WINDOW_MS = 60_000;
const SLOS = parseSlos('interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=30000');

export interface FleetShape {
  name: string;
  nodes: number;
  endpoints: number;
  models: number;
  requestsPerSec: number;
}

export const SHAPES: FleetShape[] = [
  { name: 'today', nodes: 8, endpoints: 14, models: 3, requestsPerSec: 400 },
  { name: 'fleet', nodes: 64, endpoints: 20, models: 5, requestsPerSec: 2000 },
];

export interface FleetRun {
  shape: FleetShape;
  cells: number;
  /**
   * Bytes per tick: the patch, the whole snapshot (every tick before patches;
   * now a keyframe stored every 10 s, broadcast only on a takeover), what is
   * published to every gateway on average (the patches), and what the
   * aggregator writes to Redis on average (the patches and the stored keyframes).
   */
  bytesPerTick: { patch: { p50: number; max: number }; snapshot: number; published: number; written: number };
  /** Aggregator CPU per tick, ms: apply + advance + build + encode. */
  aggregatorMs: { patch: { p50: number; p99: number }; snapshot: { p50: number; p99: number } };
  /** Gateway per tick, ms: decode and apply the patch. */
  applyMs: { p50: number; p99: number };
  /**
   * Gateway: building one view and its JSON, ms, by kind of filter: the first
   * view built after a patch (paying for the aggregates it reads that the patch
   * moved, as the first client's view of a tick does), and built again at once
   * (what every other view of that tick sharing those aggregates pays).
   */
  viewMs: Record<string, { p50: number; p99: number }>;
  viewWarmMs: Record<string, { p50: number; p99: number }>;
}

/** One partition's leader and a gateway's share for it, at the fleet shape split by PULSE_PARTITIONS. */
export interface FleetPartitioned {
  partitions: number;
  cells: number;
  /** Aggregator per tick, ms: apply + advance + takePatch + encode. */
  tickMs: { p50: number; p99: number };
  /** Gateway per tick for this partition's patch, ms: decode + apply (a gateway applies every partition's). */
  gatewayApplyMs: { p50: number; p99: number };
}

export interface FleetResult {
  tickMs: number;
  runs: FleetRun[];
  /** The fleet shape with the node dimension split over 1, 2 and 4 partitions (issue 16): one partition's leader each. */
  partitioned: FleetPartitioned[];
}

/** One tick's traffic: requests spread evenly over the cells, each ending within a second or two. */
export class Traffic {
  private readonly r = seededRandom(7);
  private id = 0;
  private pending: { at: number; event: PulseEvent }[] = [];
  readonly names: { nodes: string[]; endpoints: string[]; models: string[] };

  constructor(private readonly shape: FleetShape) {
    this.names = {
      nodes: Array.from({ length: shape.nodes }, (_, i) => `fakeai-${i}`),
      endpoints: Array.from({ length: shape.endpoints }, (_, i) => `/v1/endpoint-${i}`),
      models: Array.from({ length: shape.models }, (_, i) => `model-${i}`),
    };
  }

  /** The events logged in the tick ending at `t`. */
  tick(t: number): PulseEvent[] {
    const { r } = this;
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    const out: PulseEvent[] = [];
    const n = (this.shape.requestsPerSec * TICK_MS) / 1000;
    for (let i = 0; i < n; i++) {
      const { start, end, latency } = fleetRequest(r, () => ({ ts: (t - TICK_MS * r()) / 1000, node: pick(this.names.nodes), request_id: `r${this.id++}`, endpoint: pick(this.names.endpoints), model: pick(this.names.models) }));
      out.push(start);
      this.pending.push({ at: t + latency, event: end });
    }
    const due = this.pending.filter((p) => p.at <= t);
    this.pending = this.pending.filter((p) => p.at > t);
    for (const p of due) out.push(p.event);
    return out;
  }
}

function stats(xs: number[]): { p50: number; p99: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
}

function filters(names: Traffic['names']): Record<string, CellFilter> {
  const set = (xs: string[]) => new Set(xs);
  const none = set([]);
  return {
    unfiltered: { endpoints: none, models: none, nodes: none },
    endpoint: { endpoints: set(names.endpoints.slice(0, 1)), models: none, nodes: none },
    model: { endpoints: none, models: set(names.models.slice(0, 1)), nodes: none },
    node: { endpoints: none, models: none, nodes: set(names.nodes.slice(0, 1)) },
    'node+model': { endpoints: none, models: set(names.models.slice(0, 1)), nodes: set(names.nodes.slice(0, 1)) },
    'most nodes': { endpoints: none, models: none, nodes: set(names.nodes.slice(1)) },
    'most nodes, most models': { endpoints: none, models: set(names.models.slice(1)), nodes: set(names.nodes.slice(1)) },
    'most endpoints, most models': { endpoints: set(names.endpoints.slice(1)), models: set(names.models.slice(1)), nodes: none },
    'most of all three': { endpoints: set(names.endpoints.slice(1)), models: set(names.models.slice(1)), nodes: set(names.nodes.slice(1)) },
  };
}

function run(shape: FleetShape): FleetRun {
  const traffic = new Traffic(shape);
  let t = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  const w = new MetricsWindow({
    windowMs: WINDOW_MS,
    bucketMs: TICK_MS,
    createdAtMs: t - 10 * WINDOW_MS,
    maxEndpoints: 1000,
    maxModels: 1000,
    maxNodes: 256,
    slos: SLOS,
  });
  const replica = new SnapshotReplica();
  const tickOnce = (publish: 'patch' | 'snapshot' | 'none'): { ms: number; bytes: number; encoded: Buffer | null } => {
    t += TICK_MS;
    const events = traffic.tick(t);
    const started = performance.now();
    for (const e of events) w.apply(e, t, true);
    w.advance(t);
    let encoded: Buffer | null = null;
    if (publish === 'patch') encoded = encodePatch(takePatch(w, t, 1, t / TICK_MS, t / TICK_MS - 1, 0));
    else if (publish === 'snapshot') {
      encoded = encodeSnapshot(w.snapshot(t, 1, t / TICK_MS, 0));
      w.reportedAll();
    } else w.discardChanges();
    return { ms: performance.now() - started, bytes: encoded?.length ?? 0, encoded };
  };
  // Fill the window: two windows of traffic, so buckets both fill and expire.
  for (let i = 0; i < (2 * WINDOW_MS) / TICK_MS; i++) tickOnce('none');
  // The gateway's replica is loaded after the aggregator's ticks: held during them, its heap made
  // the aggregator's garbage collection dearer (a fleet tick measured 40 ms with it, ~30 without).
  const keyframe = tickOnce('snapshot').encoded!;

  const patchMs: number[] = [];
  const patchBytes: number[] = [];
  const applyMs: number[] = [];
  // The aggregator's ticks first, then a gateway's applies: they are separate processes, and
  // interleaved here each paid for the other's garbage (the aggregator's tick measured twice its own cost).
  const patches: Buffer[] = [];
  for (let i = 0; i < PATCHES; i++) {
    const tick = tickOnce('patch');
    patchMs.push(tick.ms);
    patchBytes.push(tick.bytes);
    patches.push(tick.encoded!);
  }
  replica.load(decodeSnapshotOf(keyframe));
  // After each patch one kind of view, the kinds in turn: built first (cold), then again (warm).
  const kinds = Object.entries(filters(traffic.names));
  const cold = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
  const warm = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
  const decoder = new PatchDecoder(); // as a gateway decodes them
  patches.forEach((patch, i) => {
    let started = performance.now();
    if (replica.apply(decoder.decode(patch)) !== 'applied') throw new Error('a patch did not follow on');
    decoder.release();
    applyMs.push(performance.now() - started);
    const [kind, filter] = kinds[i % kinds.length]!;
    for (const times of [cold, warm]) {
      started = performance.now();
      JSON.stringify(buildReplicaView(replica, filter).data);
      // The first round reads each grouping for the first time, which builds it (aggregates.ts): not a tick's cost.
      if (i >= kinds.length) times.get(kind)!.push(performance.now() - started);
    }
  });
  const snapshotMs: number[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < 20; i++) {
    const tick = tickOnce('snapshot');
    snapshotMs.push(tick.ms);
    snapshotBytes = tick.bytes;
    replica.load(decodeSnapshotOf(tick.encoded!));
  }
  const snapshot = replica.snapshot!;
  const patch50 = percentile([...patchBytes].sort((a, b) => a - b), 0.5);
  const patchMean = patchBytes.reduce((a, b) => a + b, 0) / patchBytes.length;
  const keyframeEvery = 10_000 / TICK_MS;
  return {
    shape,
    cells: snapshot.cells.length,
    bytesPerTick: {
      patch: { p50: Math.round(patch50), max: Math.max(...patchBytes) },
      snapshot: snapshotBytes,
      published: Math.round(patchMean),
      written: Math.round(patchMean + snapshotBytes / keyframeEvery),
    },
    aggregatorMs: { patch: stats(patchMs.slice(5)), snapshot: stats(snapshotMs.slice(2)) },
    applyMs: stats(applyMs.slice(5)),
    viewMs: Object.fromEntries([...cold].map(([k, times]) => [k, stats(times)])),
    viewWarmMs: Object.fromEntries([...warm].map(([k, times]) => [k, stats(times)])),
  };
}

function decodeSnapshotOf(encoded: Buffer) {
  return SnapshotReplica.fromMessages([encoded]).snapshot!;
}

export function benchFleet(log: (line: string) => void): FleetResult {
  const runs = SHAPES.map((shape) => {
    log(`fleet: ${shape.name} (${shape.nodes} nodes × ${shape.endpoints} endpoints × ${shape.models} models, ${shape.requestsPerSec} requests/s)`);
    return run(shape);
  });
  const fleet = SHAPES[SHAPES.length - 1]!;
  const partitioned = [1, 2, 4].map((partitions): FleetPartitioned => {
    log(`fleet: ${fleet.name} split over ${partitions} partition(s), one partition's leader`);
    const r = fleetPartition({ partitions, nodes: fleet.nodes, endpoints: fleet.endpoints, models: fleet.models, requestsPerSecPerNode: fleet.requestsPerSec / fleet.nodes });
    return { partitions, cells: r.cells, tickMs: r.aggregatorTickMs, gatewayApplyMs: r.gatewayApplyMs };
  });
  return { tickMs: TICK_MS, runs, partitioned };
}
