/**
 * The aggregator's sliding window (docs/PROTOCOL.md §4): one CellState per
 * (endpoint, model), time buckets of one tick, in-flight tracking, and the
 * snapshot built from them every tick. The since-creation totals' protocol
 * (what to persist, loading it back) is `totals`, a TotalsLedger.
 *
 * An event lands in the bucket of its producer timestamp, clamped to
 * [store creation, log time]: a late event still counts in its own second,
 * and a producer clock running ahead cannot push events into the future.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_NUMBERS,
  EMPTY_DISTRIBUTION,
  field,
  isErrorEnd,
  type CellData,
  type CellDistribution,
  type DistributionData,
  type InternalSnapshot,
  type PulseEvent,
  type RequestEnd,
} from '@pulse/protocol';
import { BucketCell, CellState } from './cell.js';
import { InFlightTracker } from './inflight.js';
import { TotalsLedger } from './totals.js';

export const OTHER_LABEL = '__other__';

export interface WindowOptions {
  windowMs: number;
  /** Bucket length; the tick, so a snapshot's window edge falls on a bucket edge. */
  bucketMs: number;
  /** When the metrics store was created (ms): the covered length starts there. */
  createdAtMs: number;
  /** Distinct endpoints / models kept before folding into `__other__`. */
  maxEndpoints: number;
  maxModels: number;
  /** Distinct (endpoint, model) cells kept; beyond it both labels fold. Default 10,000. */
  maxCells?: number;
}

export const DEFAULT_MAX_CELLS = 10_000;

export class MetricsWindow {
  private readonly cells = new Map<string, CellState>();
  /** The same cells by endpoint, then model: found per event without building a key string. */
  private readonly byLabels = new Map<string, Map<string, CellState>>();
  private readonly buckets = new Map<number, Map<CellState, BucketCell>>();
  private readonly endpointCells = new Map<string, number>();
  private readonly modelCells = new Map<string, number>();
  private readonly inflight = new InFlightTracker();
  /** The since-creation totals: counted as ends arrive (when asked to), persisted by the aggregator. */
  readonly totals = new TotalsLedger({ cell: (endpoint, model) => this.cell(endpoint, model), all: () => this.cells.values() });
  private applied = 0;
  private folded = 0;

  constructor(private readonly opts: WindowOptions) {}

  /**
   * Applies one event logged at `atMs` (the log's clock). With `countTotals`
   * false (a window rebuilt from history) the since-creation totals, which
   * already include it, are left alone.
   */
  apply(event: PulseEvent, atMs: number, countTotals: boolean): void {
    this.applied++;
    if (event.type === 'node.gauge') {
      this.inflight.gauge(event.node, atMs, event.queue_depth, event.active_streams);
      return;
    }
    const cell = this.cell(event.endpoint, event.model);
    const bucket = this.bucketFor(cell, event.ts * 1000, atMs);
    if (event.type === 'request.start') {
      this.inflight.start(event.node, event.request_id, cell, event.stream, atMs);
      if (bucket) cell.addCounter(bucket, 'requests', 1);
      return;
    }
    const startedStreaming = this.inflight.end(event.node, event.request_id, atMs);
    const stream = event.stream || startedStreaming === true;
    if (bucket) this.addEnd(cell, bucket, event, stream);
    if (countTotals) this.totals.count(cell, event, stream);
  }

  private addEnd(cell: CellState, bucket: BucketCell, e: RequestEnd, stream: boolean): void {
    cell.addCounter(bucket, 'responses', 1);
    if (e.completion_tokens !== undefined) cell.addCounter(bucket, 'completionTokens', e.completion_tokens);
    if (isErrorEnd(e)) cell.addCounter(bucket, 'errors', 1);
    cell.addSample(bucket, 'latency', e.latency_ms);
    if (e.cache) {
      cell.addCounter(bucket, 'lookups', 1);
      cell.addCounter(bucket, 'cachedTokens', e.cache.cached_tokens);
      cell.addCounter(bucket, 'lookupPromptTokens', e.prompt_tokens ?? 0);
      if (e.cache.hit) {
        cell.addCounter(bucket, 'hits', 1);
        cell.addCounter(bucket, 'prefixSum', e.cache.prefix_length);
      }
    }
    if (!stream) return;
    if (e.ttft_ms !== undefined) cell.addSample(bucket, 'ttft', e.ttft_ms);
    if (e.completion_tokens !== undefined && e.latency_ms > 0) {
      cell.addSample(bucket, 'tokensPerSecond', e.completion_tokens / (e.latency_ms / 1000));
    }
  }

  /** Marks `node` alive at `atMs` (any event from it does that too). */
  seen(node: string, atMs: number): void {
    this.inflight.seen(node, atMs);
  }

  /** Expires buckets that left the window at `nowMs` and drops silent nodes. */
  advance(nowMs: number): void {
    const cutoff = this.cutoffBucket(nowMs);
    for (const [b, shares] of this.buckets) {
      if (b >= cutoff) continue;
      for (const [cell, share] of shares) cell.expire(b, share);
      this.buckets.delete(b);
    }
    this.inflight.sweep(nowMs);
    for (const [key, cell] of this.cells) {
      if (cell.isIdle()) this.forget(key, cell);
    }
  }

  /** Builds the snapshot at `nowMs` (call `advance(nowMs)` first). */
  snapshot(nowMs: number, epoch: number, seq: number, eventsDropped: number): InternalSnapshot {
    const cells: CellData[] = [];
    for (const cell of this.cells.values()) cells.push(cellData(cell, distributionOf));
    const adjust = this.inflight.adjustments();
    return {
      epoch,
      seq,
      builtAt: nowMs / 1000,
      coveredSeconds: this.coveredMs(nowMs) / 1000,
      queueAdjust: adjust.queueDepth,
      activeAdjust: adjust.activeStreams,
      stats: { eventsApplied: this.applied, eventsDropped, labelsFolded: this.folded },
      cells,
    };
  }

  /** Length of history the window covers: the window, or less while the store is younger. */
  coveredMs(nowMs: number): number {
    return Math.max(this.opts.bucketMs, Math.min(this.opts.windowMs, nowMs - this.opts.createdAtMs));
  }

  get cellCount(): number {
    return this.cells.size;
  }

  /** Time buckets held: at most window ÷ bucket + 1 once `advance` runs every bucket. */
  get bucketCount(): number {
    return this.buckets.size;
  }

  get eventsApplied(): number {
    return this.applied;
  }

  /** Events whose labels the cardinality guard folded into `__other__`. */
  get labelsFolded(): number {
    return this.folded;
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  get nodeCount(): number {
    return this.inflight.nodeCount;
  }

  private cutoffBucket(nowMs: number): number {
    return Math.ceil((nowMs - this.opts.windowMs) / this.opts.bucketMs);
  }

  /** The cell's share of the bucket holding `tsMs`, or null when that is outside the window. */
  private bucketFor(cell: CellState, tsMs: number, atMs: number): BucketCell | null {
    const placed = Math.max(this.opts.createdAtMs, Math.min(tsMs, atMs));
    const b = Math.floor(placed / this.opts.bucketMs);
    if (b < this.cutoffBucket(atMs)) return null;
    let shares = this.buckets.get(b);
    if (!shares) {
      shares = new Map();
      this.buckets.set(b, shares);
    }
    let share = shares.get(cell);
    if (!share) {
      share = new BucketCell();
      shares.set(cell, share);
      cell.shares.set(b, share);
    }
    return share;
  }

  private cell(endpoint: string, model: string): CellState {
    const found = this.byLabels.get(endpoint)?.get(model);
    if (found) return found;
    const key = `${endpoint}\u0000${model}`;
    const known = this.cells.get(key);
    if (known) return known;
    // Caps on labels alone would still allow endpoints × models cells: cap those too.
    const full = this.cells.size >= (this.opts.maxCells ?? DEFAULT_MAX_CELLS);
    const ep = full ? OTHER_LABEL : this.admit(this.endpointCells, endpoint, this.opts.maxEndpoints);
    const md = full ? OTHER_LABEL : this.admit(this.modelCells, model, this.opts.maxModels);
    if (ep !== endpoint || md !== model) {
      this.folded++;
      return this.cell(ep, md);
    }
    const cell = new CellState(endpoint, model);
    this.cells.set(key, cell);
    let models = this.byLabels.get(endpoint);
    if (!models) {
      models = new Map();
      this.byLabels.set(endpoint, models);
    }
    models.set(model, cell);
    this.endpointCells.set(endpoint, (this.endpointCells.get(endpoint) ?? 0) + 1);
    this.modelCells.set(model, (this.modelCells.get(model) ?? 0) + 1);
    return cell;
  }

  /** The cardinality guard: a label beyond the cap becomes `__other__`. */
  private admit(known: Map<string, number>, label: string, max: number): string {
    return known.has(label) || known.size < max || label === OTHER_LABEL ? label : OTHER_LABEL;
  }

  private forget(key: string, cell: CellState): void {
    this.cells.delete(key);
    const models = this.byLabels.get(cell.endpoint);
    models?.delete(cell.model);
    if (models?.size === 0) this.byLabels.delete(cell.endpoint);
    for (const [map, label] of [[this.endpointCells, cell.endpoint], [this.modelCells, cell.model]] as const) {
      const n = (map.get(label) ?? 1) - 1;
      if (n === 0) map.delete(label);
      else map.set(label, n);
    }
  }
}

/** A cell's window distribution as a snapshot carries it (its histogram counts are a view: encode before the next add). */
function distributionOf(cell: CellState, name: CellDistribution): DistributionData {
  const dist = cell.dists[name];
  if (dist.count === 0) return EMPTY_DISTRIBUTION;
  const { min, max } = cell.extremes(name);
  const h = dist.histogram.data();
  return { count: dist.count, sum: dist.sum, min, max, zeros: h.zeros, offset: h.offset, counts: h.counts };
}

/**
 * A cell as the snapshot carries it, compiled from the field lists (cell-fields.ts says why):
 * one object literal, fields spelled out — this runs for every cell every tick, and spreading
 * cost a third of a 1,000-cell snapshot's build.
 */
const cellData = new Function(
  'cell',
  'distributionOf',
  `const n = cell.counts; return { endpoint: cell.endpoint, model: cell.model, ${[
    ...CELL_NUMBERS.map((k) => `${field(k)}: n.${field(k)}`),
    ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: distributionOf(cell, '${k}')`),
  ].join(', ')} };`,
) as (cell: CellState, distributionOf: (cell: CellState, name: CellDistribution) => DistributionData) => CellData;
