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
  for (const d of parts.plus) scratch.add(d);
  for (const d of parts.minus) scratch.add(d, -1);
  if (scratch.count === 0) return undefined;
  if (parts.bounded) {
    scratch.min = parts.min;
    scratch.max = parts.max;
  }
  return scratch.stats();
}

/**
 * The distributions one figure of a group merges: `plus` summed, less
 * `minus` (a view may take a whole aggregate less the parts its filter
 * leaves out, see `complement`). Counts, sums and histograms subtract
 * exactly; a minimum does not, so a group that subtracts is `bounded` by
 * the min and max of the cells it selects, found by walking them.
 */
class Parts {
  readonly plus: DistributionData[] = [];
  readonly minus: DistributionData[] = [];
  bounded = false;
  min = Infinity;
  max = -Infinity;

  /** A selected cell's distribution: its extremes are the group's candidates. */
  bound(d: DistributionData): void {
    this.bounded = true;
    if (d.count === 0) return;
    if (d.min < this.min) this.min = d.min;
    if (d.max > this.max) this.max = d.max;
  }

  /** The parts of several groups merged into one (the view's totals over its endpoints). */
  static of(groups: readonly Parts[]): Parts {
    const all = new Parts();
    for (const g of groups) {
      all.plus.push(...g.plus);
      all.minus.push(...g.minus);
      if (!g.bounded) continue;
      all.bounded = true;
      all.min = Math.min(all.min, g.min);
      all.max = Math.max(all.max, g.max);
    }
    if (all.bounded) {
      // A group that did not subtract has its extremes in its parts.
      for (const g of groups) if (!g.bounded) for (const d of g.plus) all.bound(d);
    }
    return all;
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

  add(c: Unit): void {
    addNumbers(this.n, c);
    if (inWindow(c)) {
      this.latency.plus.push(c.latency);
      this.ttft.plus.push(c.ttft);
    }
    if (!this.full) return;
    this.tps.plus.push(c.tokensPerSecond);
    this.itl.plus.push(c.itl);
    if (c.errorsByStatus.size > 0) addCounts(this.statuses, c.errorsByStatus, 1);
    if (c.errorsByType.size > 0) addCounts(this.types, c.errorsByType, 1);
    for (let i = 0; i < c.sloGood.length; i++) this.sloGood[i] = (this.sloGood[i] ?? 0) + c.sloGood[i]!;
  }

  /** Takes out a unit `add` counted (whole, as part of a larger one). */
  subtract(c: Unit): void {
    subtractNumbers(this.n, c);
    if (inWindow(c)) {
      this.latency.minus.push(c.latency);
      this.ttft.minus.push(c.ttft);
    }
    if (!this.full) return;
    this.tps.minus.push(c.tokensPerSecond);
    this.itl.minus.push(c.itl);
    if (c.errorsByStatus.size > 0) addCounts(this.statuses, c.errorsByStatus, -1);
    if (c.errorsByType.size > 0) addCounts(this.types, c.errorsByType, -1);
    for (let i = 0; i < c.sloGood.length; i++) this.sloGood[i] = (this.sloGood[i] ?? 0) - c.sloGood[i]!;
  }

  /** The group's extremes are its selected cells' (`bound`), none if it has none: it subtracts. */
  boundByCells(): void {
    this.latency.bounded = this.ttft.bounded = this.tps.bounded = this.itl.bounded = true;
  }

  /** A cell the view selects, for the extremes of a group that subtracts. */
  bound(c: CellData): void {
    if (inWindow(c)) {
      this.latency.bound(c.latency);
      this.ttft.bound(c.ttft);
    }
    if (!this.full) return;
    this.tps.bound(c.tokensPerSecond);
    this.itl.bound(c.itl);
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
 * A view of what a replica holds, built from its aggregates: the coarsest
 * ones the filter allows (by endpoint or node when the filter does not
 * split them, by a pair of labels when it splits one), and single cells
 * only when it filters on both models and nodes. Equal to `buildView` of the
 * replica's snapshot. `memo`, one per snapshot, shares the stats of whole
 * aggregates between the views of that snapshot.
 */
export function buildReplicaView(replica: SnapshotReplica | PartitionedReplica, filter: CellFilter = ALL_CELLS, memo: StatsMemo | null = null): View {
  const snapshot = replica.snapshot;
  if (!snapshot) return buildView(null, filter);
  // Partitions (partitions.ts): each one's aggregates are added into the same groups, which sums their cells.
  const parts = 'parts' in replica ? replica.parts : [replica];
  const { endpoints: E, models: M, nodes: N } = filter;
  const groups = new Groups();
  // A grouping whose other two labels are both filtered has no aggregate to read: its cells are walked, once for both.
  const endpointsFromCells = N.size > 0 && M.size > 0;
  const nodesFromCells = E.size > 0 && M.size > 0;
  for (const part of parts) {
    const a = part.aggregates;
    // Most nodes and most models: each endpoint's whole aggregate less what the filter leaves out costs
    // a few merges instead of one per selected cell (the cells are walked only for their min and max).
    const out = endpointsFromCells ? leftOut(part, N, M) : null;
    if (endpointsFromCells || nodesFromCells) {
      // Callbacks, not the `pick` generator: this walk visits thousands of cells, and resuming a generator per cell was most of a view's time.
      forPicked(part.byLabels, N, (endpoints, node) => {
        const nodeGroup = nodesFromCells ? groups.node(node) : null;
        forPicked(endpoints, E, (models, endpoint) => {
          const g = endpointsFromCells ? groups.endpoint(endpoint) : null;
          forPicked(models, M, (cell) => {
            if (g) {
              // Bound whether added or not: another partition may take its cells out of aggregates.
              g.bound(cell);
              if (!out) g.add(cell);
            }
            nodeGroup?.add(cell);
          });
        });
      });
    }
    if (out) {
      for (const [endpoint, whole] of pick(a.byEndpoint, E)) complement(groups.endpoint(endpoint), part, endpoint, whole, out);
    } else if (!endpointsFromCells) {
      for (const [endpoint, whole] of pick(a.byEndpoint, E)) {
        const g = groups.endpoint(endpoint);
        if (N.size === 0 && M.size === 0) g.add(whole);
        else if (M.size === 0) addFrom(g, a.byEndpointNode.get(endpoint), N);
        else addFrom(g, a.byEndpointModel.get(endpoint), M);
      }
    }
  }
  const nodeGroups = () => {
    if (nodesFromCells) return groups.perNode;
    for (const part of parts) {
      const a = part.aggregates;
      for (const [node, whole] of pick(a.byNode, N)) {
        const g = groups.node(node);
        if (E.size === 0 && M.size === 0) g.add(whole);
        else if (M.size === 0) for (const endpoint of E) addUnit(g, a.byEndpointNode.get(endpoint)?.get(node));
        else addFrom(g, a.byNodeModel.get(node), M);
      }
    }
    return groups.perNode;
  };
  return new View(snapshot, filter, groups.perEndpoint, once(nodeGroups), memo);
}

/** The nodes and models of a partition a filter of both leaves out. */
interface LeftOut {
  nodes: string[];
  models: string[];
}

/**
 * What a filter of nodes and models leaves out, when taking it out of whole
 * endpoint aggregates is cheaper than adding up the cells it keeps (each
 * merge counted alike; an aggregate's is a little dearer, hence the margin);
 * null when it is not.
 */
function leftOut(part: SnapshotReplica, nodes: ReadonlySet<string>, models: ReadonlySet<string>): LeftOut | null {
  const a = part.aggregates;
  const present = new Set<string>();
  for (const byModel of a.byNodeModel.values()) for (const model of byModel.keys()) present.add(model);
  const out = { nodes: [...a.byNode.keys()].filter((n) => !nodes.has(n)), models: [...present].filter((m) => !models.has(m)) };
  const kept = (a.byNode.size - out.nodes.length) * (present.size - out.models.length);
  const takenOut = 1 + out.nodes.length + out.models.length + out.nodes.length * out.models.length;
  return 2 * takenOut < kept ? out : null;
}

/**
 * An endpoint's group as its whole aggregate less the nodes and the models
 * left out, plus the cells of both (taken out twice): inclusion–exclusion,
 * exact for counts, sums and histograms. Extremes come from `Group.bound`.
 */
function complement(g: Group, part: SnapshotReplica, endpoint: string, whole: Unit, out: LeftOut): void {
  const a = part.aggregates;
  g.boundByCells();
  g.add(whole);
  const byNode = a.byEndpointNode.get(endpoint);
  for (const node of out.nodes) {
    const unit = byNode?.get(node);
    if (unit) g.subtract(unit);
  }
  const byModel = a.byEndpointModel.get(endpoint);
  for (const model of out.models) {
    const unit = byModel?.get(model);
    if (unit) g.subtract(unit);
  }
  for (const node of out.nodes) {
    const cells = part.byLabels.get(node)?.get(endpoint);
    if (!cells) continue;
    for (const model of out.models) addUnit(g, cells.get(model));
  }
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

/** The entries of `map` whose keys are in `keys`, or all of them when `keys` is empty. */
function* pick<V>(map: ReadonlyMap<string, V>, keys: ReadonlySet<string>): Iterable<[string, V]> {
  if (keys.size === 0) {
    yield* map;
    return;
  }
  for (const k of keys) {
    const v = map.get(k);
    if (v !== undefined) yield [k, v];
  }
}

function addUnit(g: Group, unit: Unit | undefined): void {
  if (unit) g.add(unit);
}

function addFrom(g: Group, units: ReadonlyMap<string, Unit> | undefined, keys: ReadonlySet<string>): void {
  if (!units) return;
  for (const k of keys) addUnit(g, units.get(k));
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
    if (parts.plus.length !== 1 || parts.minus.length !== 0 || !this.memo) return statsOf(parts);
    const d = parts.plus[0]!;
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
