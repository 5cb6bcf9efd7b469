/**
 * Builds the public figures (docs/PROTOCOL.md §4) of one filtered view from an
 * internal snapshot, by summing the selected cells' numbers and merging their
 * histograms, grouped by endpoint and by node. Pure; a gateway calls it once
 * per distinct view per snapshot.
 */
import {
  CELL_NUMBERS,
  compileAdd,
  compileSubtract,
  compileZero,
  METRIC_TYPES,
  type CacheData,
  type CacheFigures,
  type CellData,
  type CellDistribution,
  type CellNumber,
  type Counts,
  type DistributionData,
  type ErrorData,
  type InternalSnapshot,
  type MetricType,
  type NodeData,
  type QueueData,
  type StreamingData,
  type ThroughputData,
  type NodeFigures,
  type SloEntry,
  type SloFigures,
  type SnapshotData,
  type Stats,
} from '@pulse/protocol';
import { LogHistogram } from './log-histogram.js';
import type { Aggregate } from './aggregates.js';
import type { PartitionedReplica } from './partitions.js';
import type { SnapshotReplica } from './replica.js';

/** Which cells a view keeps. Empty sets keep everything. */
export interface CellFilter {
  readonly endpoints: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
  readonly nodes: ReadonlySet<string>;
}

export const ALL_CELLS: CellFilter = { endpoints: new Set(), models: new Set(), nodes: new Set() };

/** The figures a client's deltas are computed from (docs/PROTOCOL.md §5). */
export interface DeltaBase {
  totalRequestsPerSec: number;
  totalTokensPerSec: number;
  activeStreams: number;
}

/** Accumulates distributions; one instance is reused across views to avoid allocation. */
class DistributionAccumulator {
  readonly histogram = new LogHistogram();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  /** Adds `d` (`sign` −1: takes out a part of what was added, whose min and max then say nothing). */
  add(d: DistributionData, sign: 1 | -1 = 1): void {
    if (d.count === 0) return;
    const sparse = d.sparse;
    if (sparse) {
      this.histogram.mergeSparse(sparse.indices, sparse.counts, sign);
      this.histogram.zeros += sign * d.zeros;
      this.histogram.total += sign * d.zeros;
    } else {
      this.histogram.merge(d, sign);
    }
    this.count += sign * d.count;
    this.sum += sign * d.sum;
    if (sign < 0) return;
    if (d.min < this.min) this.min = d.min;
    if (d.max > this.max) this.max = d.max;
  }

  stats(): Stats {
    const { min, max } = this;
    const h = this.histogram;
    const [p50, p90, p95, p99, p999] = h.quantiles(QUANTILES, min, max) as [number, number, number, number, number];
    return { avg: this.sum / this.count, min, max, p50, p90, p95, p99, p999 };
  }

  reset(): void {
    this.histogram.reset();
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

const QUANTILES = [0.5, 0.9, 0.95, 0.99, 0.999];
const scratch = new DistributionAccumulator();

function statsOf(parts: Parts): Stats | undefined {
  scratch.reset();
  for (const d of parts.kept) scratch.add(d);
  for (const d of parts.covering) scratch.add(d);
  for (const d of parts.minus) scratch.add(d, -1);
  if (scratch.count === 0) return undefined;
  if (parts.minus.length > 0) {
    // Counts, sums and histograms subtract exactly; a minimum does not.
    scratch.min = parts.extreme('min', Infinity);
    scratch.max = parts.extreme('max', -Infinity);
  }
  return scratch.stats();
}

type Side = 'min' | 'max';

/** Whether `x` is beyond `best` on `side`. */
function beats(side: Side, x: number, best: number): boolean {
  return side === 'min' ? x < best : x > best;
}

/** The extreme on `side` of the distributions with samples. */
function extremeOf(ds: readonly DistributionData[], side: Side, from: number): number {
  let best = from;
  for (const d of ds) {
    if (d.count === 0) continue;
    const x = side === 'min' ? d.min : d.max;
    if (beats(side, x, best)) best = x;
  }
  return best;
}

/** The extreme on `side` of the selected cells behind a covering sum, or `best` if none beats it. */
type Walk = (side: Side, best: number) => number;

/**
 * The distributions one figure of a group merges: `kept` (units the filter
 * selects whole) and `covering` (whole aggregates, and the cells added back
 * by inclusion–exclusion) summed, less `minus` (the units a filter leaves
 * out of a covering aggregate, see `compose`). `walks` find the extremes of
 * the selected cells behind `covering` when they are ambiguous.
 */
class Parts {
  readonly kept: DistributionData[] = [];
  readonly covering: DistributionData[] = [];
  readonly minus: DistributionData[] = [];
  readonly walks: Walk[] = [];
  /** Merged parts (`of`): the groups whose extremes make theirs. */
  private groups: readonly Parts[] | null = null;

  /** The parts of several groups merged into one (the view's totals over its endpoints). */
  static of(groups: readonly Parts[]): Parts {
    const all = new Parts();
    for (const g of groups) {
      all.kept.push(...g.kept);
      all.covering.push(...g.covering);
      all.minus.push(...g.minus);
    }
    all.groups = groups;
    return all;
  }

  /**
   * The extreme on `side` of the selected cells, or `best` when none beats
   * it. What was added bounds it; that bound is the answer unless a
   * subtracted unit reaches it too (every left-out cell lies in one, so
   * otherwise the cell holding it is selected). Only then are the selected
   * cells searched — and not at all when the bound cannot beat `best`.
   */
  extreme(side: Side, best: number): number {
    if (this.groups) {
      for (const g of this.groups) best = g.extreme(side, best);
      return best;
    }
    const none = side === 'min' ? Infinity : -Infinity;
    const bound = extremeOf(this.covering, side, extremeOf(this.kept, side, none));
    if (!beats(side, bound, best)) return best;
    const out = extremeOf(this.minus, side, none);
    if (beats(side, bound, out)) return bound;
    best = extremeOf(this.kept, side, best);
    for (const walk of this.walks) best = walk(side, best);
    return best;
  }
}

const zeroNumbers = compileZero(CELL_NUMBERS);
const addNumbers = compileAdd(CELL_NUMBERS);
const subtractNumbers = compileSubtract(CELL_NUMBERS);

/** What a view reads of a cell, or of an aggregate of cells (aggregates.ts): the same fields. */
type Unit = Pick<CellData, CellNumber | 'latency' | 'ttft' | 'tokensPerSecond' | 'itl' | 'errorsByStatus' | 'errorsByType' | 'sloGood'>;

/**
 * What a view sums over the units of one endpoint (`full`: every figure) or
 * of one node (numbers, latency and TTFT: the node view's figures).
 */
class Group {
  readonly n = zeroNumbers();
  readonly latency = new Parts();
  readonly ttft = new Parts();
  readonly tps = new Parts();
  readonly itl = new Parts();
  readonly statuses = new Map<number, number>();
  readonly types = new Map<string, number>();
  sloGood: number[] = [];

  constructor(private readonly full: boolean) {}

  /** Adds a unit the filter selects whole. */
  add(c: Unit): void {
    this.sum(c, 1, 'kept');
  }

  /** Adds a unit that also holds cells the filter leaves out (they are subtracted, see `compose`). */
  cover(c: Unit): void {
    this.sum(c, 1, 'covering');
  }

  /** Takes out a unit of left-out cells that `cover` counted. */
  subtract(c: Unit): void {
    this.sum(c, -1, 'minus');
  }

  private sum(c: Unit, sign: 1 | -1, into: 'kept' | 'covering' | 'minus'): void {
    if (sign > 0) addNumbers(this.n, c);
    else subtractNumbers(this.n, c);
    if (inWindow(c)) {
      this.latency[into].push(c.latency);
      this.ttft[into].push(c.ttft);
    }
    if (!this.full) return;
    this.tps[into].push(c.tokensPerSecond);
    this.itl[into].push(c.itl);
    if (c.errorsByStatus.size > 0) addCounts(this.statuses, c.errorsByStatus, sign);
    if (c.errorsByType.size > 0) addCounts(this.types, c.errorsByType, sign);
    for (let i = 0; i < c.sloGood.length; i++) this.sloGood[i] = (this.sloGood[i] ?? 0) + sign * c.sloGood[i]!;
  }

  /** How to find the extremes of the selected cells behind what `cover` added, when they are ambiguous. */
  selected(find: (name: CellDistribution, side: Side, best: number) => number): void {
    this.latency.walks.push((side, best) => find('latency', side, best));
    this.ttft.walks.push((side, best) => find('ttft', side, best));
    if (!this.full) return;
    this.tps.walks.push((side, best) => find('tokensPerSecond', side, best));
    this.itl.walks.push((side, best) => find('itl', side, best));
  }
}

function addCounts<K>(into: Map<K, number>, from: ReadonlyMap<K, number>, sign: 1 | -1): void {
  for (const [k, n] of from) {
    const v = (into.get(k) ?? 0) + sign * n;
    if (v === 0) into.delete(k);
    else into.set(k, v);
  }
}

/** The groups of one view: by endpoint (every figure) and by node. */
class Groups {
  readonly perEndpoint = new Map<string, Group>();
  readonly perNode = new Map<string, Group>();

  endpoint(name: string): Group {
    return groupOf(this.perEndpoint, name, true);
  }

  node(name: string): Group {
    return groupOf(this.perNode, name, false);
  }
}

function cacheFigures(n: Counts<CellNumber>): CacheFigures {
  return {
    hit_rate: n.lookups > 0 ? (100 * n.hits) / n.lookups : 0,
    token_reuse_rate: n.lookupPromptTokens > 0 ? (100 * n.cachedTokens) / n.lookupPromptTokens : 0,
    avg_prefix_length: n.hits > 0 ? n.prefixSum / n.hits : 0,
    total_lookups: n.totalLookups,
    cache_hits: n.totalHits,
  };
}

function selects(filter: CellFilter, cell: CellData): boolean {
  return (
    (filter.endpoints.size === 0 || filter.endpoints.has(cell.endpoint)) &&
    (filter.models.size === 0 || filter.models.has(cell.model)) &&
    (filter.nodes.size === 0 || filter.nodes.has(cell.node))
  );
}

/** True when a cell (or a group's sum) has anything in the window (else it stays out of the maps). */
function inWindow(c: Pick<CellData, 'requests' | 'responses'>): boolean {
  return c.requests > 0 || c.responses > 0;
}

/**
 * A map keyed by names producers chose (endpoints, nodes, error types). On a
 * plain `{}`, `map['__proto__'] = stats` would replace the map's prototype
 * (and the name vanish from the JSON), and a read of `map['constructor']`
 * would find Object. Without a prototype every name is just a key, and
 * JSON.stringify gives the same text.
 */
function byName<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function groupOf(groups: Map<string, Group>, key: string, full: boolean): Group {
  let g = groups.get(key);
  if (!g) {
    g = new Group(full);
    groups.set(key, g);
  }
  return g;
}

/** A view built from the cells of a snapshot, each selected cell merged into its endpoint's and its node's groups. */
export function buildView(snapshot: InternalSnapshot | null, filter: CellFilter = ALL_CELLS): View {
  const groups = new Groups();
  for (const c of snapshot?.cells ?? []) {
    if (!selects(filter, c)) continue;
    groups.endpoint(c.endpoint).add(c);
    groups.node(c.node).add(c);
  }
  return new View(snapshot, filter, groups.perEndpoint, () => groups.perNode);
}

/**
 * A view of what a replica holds, built from its aggregates: each endpoint's
 * and each node's group composed from the coarsest aggregates the filter
 * allows (see `compose`). Equal to `buildView` of the replica's snapshot.
 * `memo`, one per snapshot, shares the stats of whole aggregates between the
 * views of that snapshot.
 */
export function buildReplicaView(replica: SnapshotReplica | PartitionedReplica, filter: CellFilter = ALL_CELLS, memo: StatsMemo | null = null): View {
  const snapshot = replica.snapshot;
  if (!snapshot) return buildView(null, filter);
  // Partitions (partitions.ts): each one's aggregates are composed into the same groups, which sums their cells.
  const parts = 'parts' in replica ? replica.parts : [replica];
  const { endpoints: E, models: M, nodes: N } = filter;
  const groups = new Groups();
  for (const part of parts) {
    // The nodes the filter leaves out, found once for every endpoint's group (not per group among its nodes).
    const outN = leftOut(part.byLabels.keys(), N);
    forPicked(part.aggregates.byEndpoint, E, (whole, endpoint) => compose(groups.endpoint(endpoint), whole, endpointSlice(part, endpoint), N, M, outN));
  }
  const nodeGroups = () => {
    for (const part of parts) {
      const outE = leftOut(part.aggregates.byEndpoint.keys(), E);
      forPicked(part.aggregates.byNode, N, (whole, node) => compose(groups.node(node), whole, nodeSlice(part, node), E, M, outE));
    }
    return groups.perNode;
  };
  return new View(snapshot, filter, groups.perEndpoint, once(nodeGroups), memo);
}

/**
 * One group's cube in one part: an endpoint's cells by node and model, or a
 * node's by endpoint and model — its units along the first label (`a`),
 * along the model, and its single cells.
 */
interface Slice {
  models(): Iterable<string>;
  byLabel(a: string): Unit | undefined;
  byModel(m: string): Unit | undefined;
  cell(a: string, m: string): Unit | undefined;
  labelOf(c: CellData): string;
}

// The slices read the pair groupings only when a filter needs them: reading one keeps it (aggregates.ts).
function endpointSlice(part: SnapshotReplica, endpoint: string): Slice {
  const a = part.aggregates;
  return {
    models: () => a.byEndpointModel.get(endpoint)?.keys() ?? [],
    byLabel: (node) => a.byEndpointNode.get(endpoint)?.get(node),
    byModel: (model) => a.byEndpointModel.get(endpoint)?.get(model),
    cell: (node, model) => part.byLabels.get(node)?.get(endpoint)?.get(model),
    labelOf: (c) => c.node,
  };
}

function nodeSlice(part: SnapshotReplica, node: string): Slice {
  const a = part.aggregates;
  const cells = part.byLabels.get(node);
  return {
    models: () => a.byNodeModel.get(node)?.keys() ?? [],
    byLabel: (endpoint) => a.byEndpointNode.get(endpoint)?.get(node),
    byModel: (model) => a.byNodeModel.get(node)?.get(model),
    cell: (endpoint, model) => cells?.get(endpoint)?.get(model),
    labelOf: (c) => c.endpoint,
  };
}

/**
 * Adds to `g` the cells of `whole` whose label is in `keepA` and whose model
 * is in `keepM` (empty sets keep all), by the cheapest of two exact ways:
 * the units the filter selects (one per label, per model, or per cell when
 * it filters both), or inclusion–exclusion — the whole aggregate, less the
 * units of the labels and of the models left out, plus the cells left out
 * twice. A filter that keeps most of a group ("every node but one") costs a
 * few merges instead of one per kept unit. Subtracting leaves the extremes
 * ambiguous: the group can walk its selected cells (`settleExtremes`).
 * `outA` are the labels not in `keepA`, found once for every group of a part.
 */
function compose(g: Group, whole: Aggregate, slice: Slice, keepA: ReadonlySet<string>, keepM: ReadonlySet<string>, outA: readonly string[]): void {
  if (keepA.size === 0 && keepM.size === 0) {
    g.add(whole);
    return;
  }
  const outM = leftOut(slice.models(), keepM);
  const keptA = keepA.size === 0 ? 1 : keepA.size;
  const keptM = keepM.size === 0 ? 1 : keepM.size;
  const subtracted = 1 + outA.length + outM.length + outA.length * outM.length;
  // A whole aggregate's merge costs a little more than a cell's, and subtracting leaves the extremes to find among the
  // ranked cells, hence a margin: at 2 (before extremes were ranked as they move) the fleet's endpoint groups under a
  // filter on most models merged 4 units where 2 do, and the heaviest views took 2.1–2.4 ms at p50; at 1.5, 1.6–2.0.
  if (1.5 * subtracted < keptA * keptM) {
    g.cover(whole);
    for (const a of outA) subtractUnit(g, slice.byLabel(a));
    for (const m of outM) subtractUnit(g, slice.byModel(m));
    for (const a of outA) for (const m of outM) coverUnit(g, slice.cell(a, m));
    const keeps = (c: CellData) => (keepA.size === 0 || keepA.has(slice.labelOf(c))) && (keepM.size === 0 || keepM.has(c.model));
    g.selected((name, side, best) => {
      // The whole's most extreme cells, most extreme first: the first one selected has the group's extreme.
      const ranked = whole[name].extremeCells(side);
      const first = ranked.cells.findIndex(keeps);
      if (first >= 0) return beats(side, ranked.values[first]!, best) ? ranked.values[first]! : best;
      // All of them left out: unless they were all it has, the rest might hold it.
      return ranked.all ? best : sliceExtreme(slice, keepA, keepM, name, side, best);
    });
  } else if (keepM.size === 0) {
    for (const a of keepA) addUnit(g, slice.byLabel(a));
  } else if (keepA.size === 0) {
    for (const m of keepM) addUnit(g, slice.byModel(m));
  } else {
    for (const a of keepA) for (const m of keepM) addUnit(g, slice.cell(a, m));
  }
}

/**
 * The minimum (or maximum) of `read` over the cells of a slice with a label
 * in `keepA` and a model in `keepM` (all when empty; not both). When only one
 * is filtered, its units hold exactly the selected cells. When both are, a
 * label's unit bounds its cells, so only the units that could beat the best
 * so far have their cells looked at: a few of them, not every cell.
 */
function sliceExtreme(
  slice: Slice,
  keepA: ReadonlySet<string>,
  keepM: ReadonlySet<string>,
  name: CellDistribution,
  side: Side,
  best: number,
): number {
  // A unit with samples of a distribution has them in the window.
  const extreme = (u: Unit | undefined): number | null => {
    const d = u?.[name];
    return !d || d.count === 0 ? null : d[side];
  };
  if (keepA.size === 0) {
    for (const m of keepM) {
      const x = extreme(slice.byModel(m));
      if (x !== null && beats(side, x, best)) best = x;
    }
    return best;
  }
  for (const a of keepA) {
    const bound = extreme(slice.byLabel(a));
    if (bound === null || !beats(side, bound, best)) continue;
    if (keepM.size === 0) {
      best = bound;
      continue;
    }
    for (const m of keepM) {
      const x = extreme(slice.cell(a, m));
      if (x !== null && beats(side, x, best)) best = x;
    }
  }
  return best;
}

function once<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = f();
      done = true;
    }
    return value;
  };
}

/**
 * The labels of `all` a filter keeping `keep` leaves out (none when it keeps
 * everything). Found for a whole part, a group's slice may lack some of them:
 * its unit of such a label is undefined, which adds and subtracts nothing.
 */
function leftOut(all: Iterable<string>, keep: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (keep.size === 0) return out;
  for (const k of all) if (!keep.has(k)) out.push(k);
  return out;
}

/** Calls `f` on the entries of `map` whose keys are in `keys`, or on all of them when `keys` is empty. */
function forPicked<V>(map: ReadonlyMap<string, V>, keys: ReadonlySet<string>, f: (value: V, key: string) => void): void {
  if (keys.size === 0) {
    map.forEach(f);
    return;
  }
  for (const k of keys) {
    const v = map.get(k);
    if (v !== undefined) f(v, k);
  }
}

function addUnit(g: Group, unit: Unit | undefined): void {
  if (unit) g.add(unit);
}

function coverUnit(g: Group, unit: Unit | undefined): void {
  if (unit) g.cover(unit);
}

function subtractUnit(g: Group, unit: Unit | undefined): void {
  if (unit) g.subtract(unit);
}

/**
 * Stats of distributions shared by views of one snapshot, each merged once:
 * a replica's aggregate (an endpoint's, a node's) reads the same in every view
 * that takes it whole. Make a new one for each snapshot (aggregates change with
 * each patch).
 */
export type StatsMemo = WeakMap<DistributionData, Stats | undefined>;

/**
 * The figures of one view from its groups, each metric type computed when
 * first read: a client of a view rarely asks for all eight, and the costly
 * parts (merging histograms, quantiles) belong to a few of them. The numbers
 * the deltas need (`base`) are summed at once; they are cheap.
 */
export class View {
  readonly base: DeltaBase;
  private readonly parts = new Map<MetricType, SnapshotData[MetricType]>();
  private readonly endpoints: string[];
  private readonly total = zeroNumbers();
  private readonly rate: (n: number) => number;
  private readonly gauges: boolean;
  private readonly queue: QueueData;

  constructor(
    private readonly snapshot: InternalSnapshot | null,
    private readonly filter: CellFilter,
    private readonly perEndpoint: ReadonlyMap<string, Group>,
    /** The node groups: only the `nodes` type reads them, so they are collected when it is read. */
    private readonly perNode: () => ReadonlyMap<string, Group>,
    private readonly memo: StatsMemo | null = null,
  ) {
    const seconds = snapshot?.coveredSeconds ?? 1;
    this.rate = (n) => n / seconds;
    this.endpoints = [...perEndpoint.keys()].sort();
    for (const g of perEndpoint.values()) addNumbers(this.total, g.n);
    // Node gauges carry no endpoint or model: they correct views that keep every endpoint and model.
    this.gauges = filter.endpoints.size === 0 && filter.models.size === 0 && snapshot !== null;
    let queueDepth = this.total.queueDepth;
    let activeStreams = this.total.activeStreams;
    if (this.gauges) {
      for (const n of snapshot!.nodes) {
        if (filter.nodes.size > 0 && !filter.nodes.has(n.node)) continue;
        queueDepth += n.queueAdjust;
        activeStreams += n.activeAdjust;
      }
    }
    this.queue = { queue_depth: Math.max(0, queueDepth), active_streams: Math.max(0, activeStreams) };
    this.base = { totalRequestsPerSec: this.rate(this.total.requests), totalTokensPerSec: this.rate(this.total.completionTokens), activeStreams: this.queue.active_streams };
  }

  /** One metric type's figures. */
  part<T extends MetricType>(type: T): SnapshotData[T] {
    let part = this.parts.get(type);
    if (!part) {
      part = this.build(type);
      this.parts.set(type, part);
    }
    return part as SnapshotData[T];
  }

  /** Every metric type. */
  get data(): SnapshotData {
    return Object.fromEntries(METRIC_TYPES.map((t) => [t, this.part(t)])) as unknown as SnapshotData;
  }

  /**
   * Every metric type, each built when first read: for readers of a few
   * figures (alert rules), who must not pay for the `nodes` table they never read.
   */
  get lazyData(): SnapshotData {
    const data = {};
    for (const t of METRIC_TYPES) Object.defineProperty(data, t, { get: () => this.part(t), enumerable: true });
    return data as SnapshotData;
  }

  private build(type: MetricType): SnapshotData[MetricType] {
    switch (type) {
      case 'throughput':
        return this.throughput();
      case 'latency':
        return this.latency();
      case 'cache':
        return this.cache();
      case 'queue':
        return { ...this.queue };
      case 'streaming':
        return this.streaming();
      case 'error':
        return this.error();
      case 'slo':
        return this.slo();
      case 'nodes':
        return this.nodes();
    }
  }

  /** The endpoints with anything in the window, in order, with their groups. */
  private *live(): Iterable<[string, Group]> {
    for (const endpoint of this.endpoints) {
      const g = this.perEndpoint.get(endpoint)!;
      if (inWindow(g.n)) yield [endpoint, g];
    }
  }

  private stats(parts: Parts): Stats | undefined {
    // Only a unit taken whole reads the same in every view.
    if (parts.kept.length !== 1 || parts.covering.length !== 0 || parts.minus.length !== 0 || !this.memo) return statsOf(parts);
    const d = parts.kept[0]!;
    if (this.memo.has(d)) return this.memo.get(d);
    const s = statsOf(parts);
    this.memo.set(d, s);
    return s;
  }

  private throughput(): ThroughputData {
    const { rate, total } = this;
    const out: ThroughputData = {
      requests_per_sec: byName(),
      responses_per_sec: byName(),
      tokens_per_sec: byName(),
      total_requests_per_sec: rate(total.requests),
      total_responses_per_sec: rate(total.responses),
      total_tokens_per_sec: rate(total.completionTokens),
    };
    for (const [endpoint, { n }] of this.live()) {
      out.requests_per_sec[endpoint] = rate(n.requests);
      out.responses_per_sec[endpoint] = rate(n.responses);
      out.tokens_per_sec[endpoint] = rate(n.completionTokens);
    }
    return out;
  }

  private latency(): Record<string, Stats> {
    const out = byName<Stats>();
    for (const [endpoint, g] of this.live()) {
      const stats = this.stats(g.latency);
      if (stats) out[endpoint] = stats;
    }
    return out;
  }

  private cache(): CacheData {
    const out: CacheData = { ...cacheFigures(this.total), by_endpoint: byName() };
    for (const [endpoint, { n }] of this.live()) if (n.lookups > 0) out.by_endpoint[endpoint] = cacheFigures(n);
    return out;
  }

  private streaming(): StreamingData {
    const out: StreamingData = { active_streams: this.queue.active_streams, completed_streams: this.total.completedStreams, failed_streams: this.total.failedStreams };
    const all = (pick: (g: Group) => Parts) => Parts.of([...this.perEndpoint.values()].map(pick));
    const ttft = statsOf(all((g) => g.ttft));
    if (ttft) out.ttft = ttft;
    const tps = statsOf(all((g) => g.tps));
    if (tps) out.tokens_per_second = tps;
    const itl = statsOf(all((g) => g.itl));
    if (itl) out.itl = itl;
    return out;
  }

  private error(): ErrorData {
    const { rate } = this;
    const statuses = new Map<number, number>();
    const types = new Map<string, number>();
    const out: ErrorData = { errors_per_sec: byName(), total_errors_per_sec: rate(this.total.errors), by_status: byName(), by_type: byName() };
    for (const g of this.perEndpoint.values()) {
      for (const [status, c] of g.statuses) statuses.set(status, (statuses.get(status) ?? 0) + c);
      for (const [type, c] of g.types) types.set(type, (types.get(type) ?? 0) + c);
    }
    for (const [endpoint, { n }] of this.live()) out.errors_per_sec[endpoint] = rate(n.errors);
    for (const status of [...statuses.keys()].sort((a, b) => a - b)) out.by_status[String(status)] = rate(statuses.get(status)!);
    for (const type of [...types.keys()].sort()) out.by_type[type] = rate(types.get(type)!);
    return out;
  }

  private slo(): Record<string, SloEntry> {
    const out = byName<SloEntry>();
    const slos = this.snapshot?.slos ?? [];
    slos.forEach((name, i) => {
      let good = 0;
      for (const g of this.perEndpoint.values()) good += g.sloGood[i] ?? 0;
      const byEndpoint = byName<SloFigures>();
      for (const [endpoint, g] of this.live()) byEndpoint[endpoint] = sloFigures(g.sloGood[i] ?? 0, g.n.responses, this.rate);
      const entry = sloFigures(good, this.total.responses, this.rate) as SloEntry;
      entry.by_endpoint = byEndpoint;
      out[name] = entry;
    });
    return out;
  }

  private nodes(): Record<string, NodeFigures> {
    const out = byName<NodeFigures>();
    const perNode = this.perNode();
    const nodeInfo = new Map<string, NodeData>((this.snapshot?.nodes ?? []).map((n) => [n.node, n]));
    // A node whose own gauge says it has requests in flight is listed too, cells or not.
    const listed = new Set(perNode.keys());
    if (this.gauges) for (const n of nodeInfo.keys()) if (this.filter.nodes.size === 0 || this.filter.nodes.has(n)) listed.add(n);
    for (const node of [...listed].sort()) {
      const g = perNode.get(node);
      const figures = nodeFigures(g ?? new Group(false), nodeInfo.get(node), this.gauges, this.rate, (parts) => this.stats(parts));
      if (figures) out[node] = figures;
    }
    return out;
  }
}

function sloFigures(good: number, valid: number, rate: (n: number) => number): SloFigures {
  // Built without a spread: views build thousands of these per snapshot.
  return valid > 0
    ? { attainment_pct: (100 * good) / valid, good_per_sec: rate(good), valid_per_sec: rate(valid) }
    : { good_per_sec: rate(good), valid_per_sec: rate(valid) };
}

/** A node's figures, or null when it has nothing in the window and nothing in flight. */
function nodeFigures(
  g: Group,
  info: NodeData | undefined,
  gauges: boolean,
  rate: (n: number) => number,
  stats: (parts: Parts) => Stats | undefined,
): NodeFigures | null {
  const n = g.n;
  const queueDepth = Math.max(0, n.queueDepth + (gauges && info ? info.queueAdjust : 0));
  const activeStreams = Math.max(0, n.activeStreams + (gauges && info ? info.activeAdjust : 0));
  if (!inWindow(n) && queueDepth === 0) return null;
  const figures: NodeFigures = {
    requests_per_sec: rate(n.requests),
    responses_per_sec: rate(n.responses),
    tokens_per_sec: rate(n.completionTokens),
    errors_per_sec: rate(n.errors),
    queue_depth: queueDepth,
    active_streams: activeStreams,
    last_seen: info?.lastSeen ?? 0,
  };
  const latency = stats(g.latency);
  if (latency) figures.latency = latency;
  const ttft = stats(g.ttft);
  if (ttft) figures.ttft = ttft;
  return figures;
}
