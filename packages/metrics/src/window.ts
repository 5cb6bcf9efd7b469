/**
 * The aggregator's sliding window (docs/PROTOCOL.md §4): one CellState per
 * (node, endpoint, model), time buckets of one tick, in-flight tracking,
 * and what is published from them: a whole snapshot (`snapshot`) or what
 * changed since the last one (`patch`, see patch-builder.ts). The
 * since-creation totals' protocol (what to persist, loading it back) is
 * `totals`, a TotalsLedger.
 *
 * An event lands in the bucket of its producer timestamp, clamped to
 * [store creation, log time]: a late event still counts in its own second,
 * and a producer clock running ahead cannot push events into the future.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_NUMBERS,
  compileAssign,
  OTHER_LABEL,
  field,
  isErrorEnd,
  meetsSlo,
  type CellData,
  type CellDistribution,
  type DistributionData,
  type InternalSnapshot,
  type NodeData,
  type PulseEvent,
  type RequestEnd,
  type Slo,
} from '@pulse/protocol';
import { CellState, DIST_BIT, NO_INDICES, type BucketCell } from './cell.js';
import { InFlightTracker, requestKey } from './inflight.js';
import { ZERO_INDEX } from './log-histogram.js';
import { interTokenLatencyMs } from './itl.js';
import { TotalsLedger } from './totals.js';

export { OTHER_LABEL };

const assignNumbers = compileAssign(CELL_NUMBERS);

export interface WindowOptions {
  windowMs: number;
  /** Bucket length; the tick, so a snapshot's window edge falls on a bucket edge. */
  bucketMs: number;
  /** When the metrics store was created (ms): the covered length starts there. */
  createdAtMs: number;
  /** Distinct endpoints / models / nodes kept before folding into `__other__`. */
  maxEndpoints: number;
  maxModels: number;
  /** Default 256. */
  maxNodes?: number;
  /** Distinct cells kept; beyond it every label folds. Default 10,000. */
  maxCells?: number;
  /** The SLOs whose good ends each cell counts (PULSE_SLOS). */
  slos?: readonly Slo[];
}

export const DEFAULT_MAX_CELLS = 10_000;
export const DEFAULT_MAX_NODES = 256;
/** Distinct `error` strings counted by name; the rest count under `__other__`. */
export const MAX_ERROR_TYPES = 100;

/** A node of the window: its newest event's time, and what the last snapshot or patch said of it. */
export interface NodeState {
  readonly node: string;
  /** `ts` of its newest event (seconds, the producer's clock). */
  lastSeen: number;
  /** Cells of this node. */
  cells: number;
  reported: NodeData | null;
}

export class MetricsWindow {
  readonly slos: readonly Slo[];
  /** The cells, by key; and by node, endpoint and model, found per event without building a key string. */
  private readonly cells = new Map<string, CellState>();
  private readonly byLabels = new Map<string, Map<string, Map<string, CellState>>>();
  /** Every cell's share of each live bucket, by bucket number. */
  private readonly buckets = new Map<number, BucketCell[]>();
  private readonly endpointCells = new Map<string, number>();
  private readonly modelCells = new Map<string, number>();
  readonly nodes = new Map<string, NodeState>();
  /** Error types counted in the window, with how many ends of each it holds. */
  private readonly errorTypes = new Map<string, number>();
  private readonly inflight = new InFlightTracker();
  /** The since-creation totals: counted as ends arrive (when asked to), persisted by the aggregator. */
  readonly totals = new TotalsLedger({
    // A cell whose totals a takeover counts changed too: the next patch must carry them.
    cell: (node, endpoint, model) => {
      const cell = this.cell(this.nodeLabel(node), endpoint, model);
      this.changed.add(cell);
      return cell;
    },
    all: () => this.cells.values(),
  });
  /** Cells changed, and cells or nodes forgotten, since the last snapshot or patch. */
  readonly changed = new Set<CellState>();
  readonly forgotten: CellState[] = [];
  readonly forgottenNodes: string[] = [];
  private applied = 0;
  private folded = 0;

  private readonly firstBucket: number;

  constructor(private readonly opts: WindowOptions) {
    this.slos = opts.slos ?? [];
    this.firstBucket = Math.floor(opts.createdAtMs / opts.bucketMs);
  }

  /**
   * Applies one event logged at `atMs` (the log's clock). With `countTotals`
   * false (a window rebuilt from history) the since-creation totals, which
   * already include it, are left alone. Returns, for an end, whether it
   * counted as a stream (its own flag, else its start's).
   */
  apply(event: PulseEvent, atMs: number, countTotals: boolean): boolean {
    this.applied++;
    const node = this.nodeLabel(event.node);
    const state = this.nodes.get(node);
    if (state && event.ts > state.lastSeen) state.lastSeen = event.ts;
    if (event.type === 'node.gauge') {
      this.inflight.gauge(node, atMs, event.queue_depth, event.active_streams);
      return false;
    }
    const cell = this.cell(node, event.endpoint, event.model);
    this.changed.add(cell);
    const bucket = this.bucketFor(cell, event.ts * 1000, atMs);
    const key = requestKey(event.node, event.request_id);
    if (event.type === 'request.start') {
      this.inflight.start(node, key, cell, event.stream, atMs);
      if (bucket) cell.addCounter(bucket, 'requests', 1);
      if (countTotals) this.totals.countStart(cell);
      return false;
    }
    const startedStreaming = this.inflight.end(node, key, atMs);
    // An end's own `stream` decides when it says; otherwise its start does.
    const stream = event.stream ?? startedStreaming === true;
    if (bucket) this.addEnd(cell, bucket, event, stream);
    if (countTotals) this.totals.count(cell, event, stream);
    return stream;
  }

  private addEnd(cell: CellState, bucket: BucketCell, e: RequestEnd, stream: boolean): void {
    const error = isErrorEnd(e);
    cell.addCounter(bucket, 'responses', 1);
    if (e.completion_tokens !== undefined) cell.addCounter(bucket, 'completionTokens', e.completion_tokens);
    if (error) {
      cell.addCounter(bucket, 'errors', 1);
      if (e.status >= 400) cell.addStatus(bucket, e.status);
      if (e.error) {
        const type = this.errorType(e.error);
        cell.addType(bucket, type);
        this.countErrorType(type, 1);
      }
    }
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
    const itl = interTokenLatencyMs(e, stream);
    if (stream) {
      if (e.ttft_ms !== undefined) cell.addSample(bucket, 'ttft', e.ttft_ms);
      if (e.completion_tokens !== undefined && e.latency_ms > 0) {
        cell.addSample(bucket, 'tokensPerSecond', e.completion_tokens / (e.latency_ms / 1000));
      }
      if (itl !== undefined) cell.addSample(bucket, 'itl', itl);
    }
    for (let i = 0; i < this.slos.length; i++) {
      if (meetsSlo(this.slos[i]!, { error, stream, latencyMs: e.latency_ms, ttftMs: e.ttft_ms, itlMs: itl })) cell.addSloGood(bucket, i);
    }
  }

  /** Marks `node` alive at `atMs` (any event from it does that too). */
  seen(node: string, atMs: number): void {
    this.inflight.seen(this.nodeLabel(node), atMs);
  }

  /** Expires buckets that left the window at `nowMs` and drops silent nodes and idle cells. */
  advance(nowMs: number): void {
    const cutoff = this.cutoffBucket(nowMs);
    for (const [b, shares] of this.buckets) {
      if (b >= cutoff) continue;
      for (const share of shares) {
        if (share.types) for (const [type, n] of share.types) this.countErrorType(type, -n);
        share.cell.expire(b, share);
        this.changed.add(share.cell);
      }
      this.buckets.delete(b);
    }
    this.inflight.sweep(nowMs);
    for (const cell of this.inflight.touched) this.changed.add(cell);
    this.inflight.touched.clear();
    this.retireSilentNodes();
    // A cell turns idle only through a change (an expiry, an end, a sweep), so only changed cells need a look.
    for (const cell of this.changed) {
      if (cell.isIdle()) this.forget(cellKey(cell.node, cell.endpoint, cell.model), cell);
    }
    for (const [name, state] of this.nodes) {
      if (state.cells === 0 && !this.inflight.tracks(name)) {
        this.nodes.delete(name);
        if (state.reported) this.forgottenNodes.push(name);
      }
    }
  }

  /** The whole window at `nowMs` (call `advance(nowMs)` first). Changes nothing: see `reportedAll`. */
  snapshot(nowMs: number, epoch: number, seq: number, eventsDropped: number): InternalSnapshot {
    const cells: CellData[] = [];
    for (const cell of this.cells.values()) cells.push(cellData(cell, windowDistribution));
    const nodes = [...this.nodes.values()].map((state) => this.nodeData(state));
    return { ...this.header(nowMs, epoch, seq, eventsDropped), slos: this.slos.map((s) => s.name), nodes, cells };
  }

  /** A snapshot of the window went out as a keyframe: it is the base the next patch is taken against. */
  reportedAll(): void {
    for (const cell of this.cells.values()) this.markReported(cell, true);
    for (const state of this.nodes.values()) state.reported = this.nodeData(state);
    this.changed.clear();
    this.forgotten.length = 0;
    this.forgottenNodes.length = 0;
  }

  /** Forgets what changed since the last snapshot or patch, unpublished (a standby's tick). */
  discardChanges(): void {
    for (const cell of this.changed) {
      for (const name of CELL_DISTRIBUTIONS) {
        if (!(cell.distsChanged & DIST_BIT[name])) continue;
        cell.dists[name].added = NO_INDICES;
        cell.dists[name].removed = NO_INDICES;
      }
      cell.distsChanged = 0;
      cell.movedSlots.length = 0;
    }
    this.changed.clear();
    this.forgotten.length = 0;
    this.forgottenNodes.length = 0;
  }

  /** What every snapshot and patch built at `nowMs` starts with. */
  header(nowMs: number, epoch: number, seq: number, eventsDropped: number) {
    return {
      epoch,
      seq,
      builtAt: nowMs / 1000,
      coveredSeconds: this.coveredMs(nowMs) / 1000,
      stats: { eventsApplied: this.applied, eventsDropped, labelsFolded: this.folded },
    };
  }

  /** A node as a snapshot carries it, now. */
  nodeData(state: NodeState): NodeData {
    const adjust = this.inflight.adjustment(state.node);
    return { node: state.node, lastSeen: state.lastSeen, queueAdjust: adjust.queueDepth, activeAdjust: adjust.activeStreams };
  }

  /**
   * A node silent past NODE_SILENCE_MS whose cells hold nothing in the window
   * keeps only since-creation totals: they move to the `__other__` node's cell
   * of the same endpoint and model, and its cells go. Without this every pod
   * a deployment ever replaced would keep cells (and totals fields) forever.
   */
  private retireSilentNodes(): void {
    for (const [node, endpoints] of this.byLabels) {
      if (node === OTHER_LABEL || this.inflight.tracks(node)) continue;
      for (const models of [...endpoints.values()]) {
        for (const cell of [...models.values()]) {
          if (cell.shares.length > 0 || cell.counts.queueDepth !== 0 || cell.counts.activeStreams !== 0) continue;
          const heir = this.cell(this.nodeLabel(OTHER_LABEL), cell.endpoint, cell.model);
          this.totals.move(cell, heir);
          this.changed.add(heir);
          this.forget(cellKey(cell.node, cell.endpoint, cell.model), cell);
        }
      }
    }
  }

  /**
   * Records what a snapshot or patch just reported of `cell`: the
   * distributions that changed, or `every` one (a keyframe, after which
   * patches must follow on from all of them).
   */
  markReported(cell: CellState, every = false): void {
    assignNumbers(cell.reported, cell.counts);
    cell.keyedChanged = false;
    cell.reportedOnce = true;
    for (const name of CELL_DISTRIBUTIONS) {
      if (!every && !(cell.distsChanged & DIST_BIT[name])) continue;
      const d = cell.dists[name];
      const { min, max } = cell.extremes(name);
      d.reportedMin = min;
      d.reportedMax = max;
      d.added = NO_INDICES;
      d.removed = NO_INDICES;
    }
    cell.distsChanged = 0;
    const moved = cell.movedSlots;
    if (every) for (let i = 0; i < cell.cumulative.length; i++) cell.cumulativeReported[i] = cell.cumulative[i]!;
    else for (let i = 0; i < moved.length; i++) cell.cumulativeReported[moved[i]!] = cell.cumulative[moved[i]!]!;
    if (moved.length > 0) moved.length = 0;
  }

  /** Every cell of the window now (the history recorder's capture, @pulse/history). */
  cellStates(): IterableIterator<CellState> {
    return this.cells.values();
  }

  /** Every cell's share of the bucket starting at `startMs` (a bucket edge); undefined when it held nothing or left the window. */
  sharesAt(startMs: number): readonly BucketCell[] | undefined {
    return this.buckets.get(this.bucketNumber(startMs, Math.floor));
  }

  /** The share of `cell` in the bucket starting at `startMs`; undefined when it has none. */
  shareAt(cell: CellState, startMs: number): BucketCell | undefined {
    return cell.shareIn(this.bucketNumber(startMs, Math.floor));
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

  /**
   * Buckets are numbered from the store's creation, not from 1970: numbers
   * since 1970 pass 2^31 at a 0.5 s bucket and V8 boxes them, which made every
   * map keyed by bucket measure several times slower.
   */
  private bucketNumber(ms: number, round: (x: number) => number): number {
    return round(ms / this.opts.bucketMs) - this.firstBucket;
  }

  private cutoffBucket(nowMs: number): number {
    return this.bucketNumber(nowMs - this.opts.windowMs, Math.ceil);
  }

  /** The cell's share of the bucket holding `tsMs`, or null when that is outside the window. */
  private bucketFor(cell: CellState, tsMs: number, atMs: number): BucketCell | null {
    const placed = Math.max(this.opts.createdAtMs, Math.min(tsMs, atMs));
    const b = this.bucketNumber(placed, Math.floor);
    if (b < this.cutoffBucket(atMs)) return null;
    const held = cell.shares.length;
    const share = cell.shareOf(b);
    if (cell.shares.length === held) return share;
    const shares = this.buckets.get(b);
    if (shares) shares.push(share);
    else this.buckets.set(b, [share]);
    return share;
  }

  /** The label a node's events count under: its name, or `__other__` beyond the node guard. */
  private nodeLabel(node: string): string {
    if (this.nodes.has(node)) return node;
    if (node !== OTHER_LABEL && this.nodes.size >= (this.opts.maxNodes ?? DEFAULT_MAX_NODES)) {
      this.folded++;
      if (!this.nodes.has(OTHER_LABEL)) this.nodes.set(OTHER_LABEL, { node: OTHER_LABEL, lastSeen: 0, cells: 0, reported: null });
      return OTHER_LABEL;
    }
    this.nodes.set(node, { node, lastSeen: 0, cells: 0, reported: null });
    return node;
  }

  private cell(node: string, endpoint: string, model: string): CellState {
    const found = this.byLabels.get(node)?.get(endpoint)?.get(model);
    if (found) return found;
    // Caps on labels alone would still allow endpoints × models cells: cap those too.
    const full = this.cells.size >= (this.opts.maxCells ?? DEFAULT_MAX_CELLS);
    const ep = full ? OTHER_LABEL : this.admit(this.endpointCells, endpoint, this.opts.maxEndpoints);
    const md = full ? OTHER_LABEL : this.admit(this.modelCells, model, this.opts.maxModels);
    const nd = full ? this.nodeLabel(OTHER_LABEL) : node;
    if (ep !== endpoint || md !== model || nd !== node) {
      this.folded++;
      return this.cell(nd, ep, md);
    }
    const cell = new CellState(node, endpoint, model, this.slos.length);
    this.cells.set(cellKey(node, endpoint, model), cell);
    let endpoints = this.byLabels.get(node);
    if (!endpoints) {
      endpoints = new Map();
      this.byLabels.set(node, endpoints);
    }
    let models = endpoints.get(endpoint);
    if (!models) {
      models = new Map();
      endpoints.set(endpoint, models);
    }
    models.set(model, cell);
    this.endpointCells.set(endpoint, (this.endpointCells.get(endpoint) ?? 0) + 1);
    this.modelCells.set(model, (this.modelCells.get(model) ?? 0) + 1);
    this.nodes.get(node)!.cells++;
    this.changed.add(cell);
    return cell;
  }

  /** The cardinality guard: a label beyond the cap becomes `__other__`. */
  private admit(known: Map<string, number>, label: string, max: number): string {
    return known.has(label) || known.size < max || label === OTHER_LABEL ? label : OTHER_LABEL;
  }

  /** The name an `error` string counts under: itself, or `__other__` once MAX_ERROR_TYPES others are in the window. */
  private errorType(type: string): string {
    if (this.errorTypes.has(type) || this.errorTypes.size < MAX_ERROR_TYPES) return type;
    return OTHER_LABEL;
  }

  private countErrorType(type: string, n: number): void {
    const left = (this.errorTypes.get(type) ?? 0) + n;
    if (left === 0) this.errorTypes.delete(type);
    else this.errorTypes.set(type, left);
  }

  private forget(key: string, cell: CellState): void {
    this.cells.delete(key);
    this.changed.delete(cell);
    this.forgotten.push(cell);
    const endpoints = this.byLabels.get(cell.node);
    const models = endpoints?.get(cell.endpoint);
    models?.delete(cell.model);
    if (models?.size === 0) endpoints!.delete(cell.endpoint);
    if (endpoints?.size === 0) this.byLabels.delete(cell.node);
    for (const [map, label] of [[this.endpointCells, cell.endpoint], [this.modelCells, cell.model]] as const) {
      const n = (map.get(label) ?? 1) - 1;
      if (n === 0) map.delete(label);
      else map.set(label, n);
    }
    const node = this.nodes.get(cell.node);
    if (node) node.cells--;
  }
}

export function cellKey(node: string, endpoint: string, model: string): string {
  return `${node}\u0000${endpoint}\u0000${model}`;
}

/** A cell's window distribution, its histogram built from the samples of its live buckets. */
function windowDistribution(cell: CellState, name: CellDistribution): DistributionData {
  const dist = cell.dists[name];
  if (dist.count === 0) return EMPTY;
  // The span first (one pass over the samples), then the counts (another): no scratch histogram to clear.
  let lo = Infinity;
  let hi = -Infinity;
  let zeros = 0;
  for (const share of cell.shares) {
    const s = share[name];
    if (!s) continue;
    for (let i = 0; i < s.count; i++) {
      const index = s.indices[i]!;
      if (index === ZERO_INDEX) zeros++;
      else {
        if (index < lo) lo = index;
        if (index > hi) hi = index;
      }
    }
  }
  const counts = new Uint32Array(hi >= lo ? hi - lo + 1 : 0);
  if (counts.length > 0) {
    for (const share of cell.shares) {
      const s = share[name];
      if (!s) continue;
      for (let i = 0; i < s.count; i++) {
        const index = s.indices[i]!;
        if (index !== ZERO_INDEX) counts[index - lo]!++;
      }
    }
  }
  const { min, max } = cell.extremes(name);
  return { count: dist.count, sum: dist.sum, min, max, zeros, offset: counts.length > 0 ? lo : 0, counts };
}

const EMPTY: DistributionData = Object.freeze({ count: 0, sum: 0, min: 0, max: 0, zeros: 0, offset: 0, counts: new Uint32Array(0) });

/**
 * A cell as the snapshot carries it, compiled from the field lists (cell-fields.ts says why):
 * one object literal, fields spelled out.
 */
const cellFields = new Function(
  'cell',
  'distribution',
  `const n = cell.counts; return { node: cell.node, endpoint: cell.endpoint, model: cell.model, ${[
    ...CELL_NUMBERS.map((k) => `${field(k)}: n.${field(k)}`),
    ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: distribution(cell, '${k}')`),
  ].join(', ')}, errorsByStatus: new Map(cell.statuses), errorsByType: new Map(cell.types), sloGood: cell.sloGood.slice(), cumulative: cell.cumulative.slice() };`,
) as (cell: CellState, distribution: (cell: CellState, name: CellDistribution) => DistributionData) => CellData;

function cellData(cell: CellState, distribution: (cell: CellState, name: CellDistribution) => DistributionData): CellData {
  return cellFields(cell, distribution);
}
