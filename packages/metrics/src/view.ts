/**
 * Builds the public figures (docs/PROTOCOL.md §4) of one filtered view from an
 * internal snapshot, by summing the selected cells' numbers and merging their
 * histograms, grouped by endpoint and by node. Pure; a gateway calls it once
 * per distinct view per snapshot.
 */
import {
  CELL_NUMBERS,
  compileAdd,
  compileZero,
  type CacheFigures,
  type CellData,
  type CellNumber,
  type Counts,
  type DistributionData,
  type InternalSnapshot,
  type NodeData,
  type NodeFigures,
  type SloEntry,
  type SloFigures,
  type SnapshotData,
  type Stats,
} from '@pulse/protocol';
import { LogHistogram } from './log-histogram.js';
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

export interface View {
  data: SnapshotData;
  base: DeltaBase;
}

/** Accumulates distributions; one instance is reused across views to avoid allocation. */
class DistributionAccumulator {
  readonly histogram = new LogHistogram();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(d: DistributionData): void {
    if (d.count === 0) return;
    const sparse = d.sparse;
    if (sparse) {
      this.histogram.mergeSparse(sparse.indices, sparse.counts);
      this.histogram.zeros += d.zeros;
      this.histogram.total += d.zeros;
    } else {
      this.histogram.merge(d);
    }
    this.count += d.count;
    this.sum += d.sum;
    if (d.min < this.min) this.min = d.min;
    if (d.max > this.max) this.max = d.max;
  }

  stats(): Stats {
    const { min, max } = this;
    const h = this.histogram;
    const q = (p: number) => h.quantile(p, min, max);
    return { avg: this.sum / this.count, min, max, p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), p999: q(0.999) };
  }

  reset(): void {
    this.histogram.reset();
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

const scratch = new DistributionAccumulator();

function statsOf(parts: readonly DistributionData[]): Stats | undefined {
  scratch.reset();
  for (const d of parts) scratch.add(d);
  return scratch.count === 0 ? undefined : scratch.stats();
}

const zeroNumbers = compileZero(CELL_NUMBERS);
const addNumbers = compileAdd(CELL_NUMBERS);

/** What a view reads of a cell, or of an aggregate of cells (aggregates.ts): the same fields. */
type Unit = Pick<CellData, CellNumber | 'latency' | 'ttft' | 'tokensPerSecond' | 'itl' | 'errorsByStatus' | 'errorsByType' | 'sloGood'>;

/**
 * What a view sums over the units of one endpoint (`full`: every figure) or
 * of one node (numbers, latency and TTFT: the node view's figures).
 */
class Group {
  readonly n = zeroNumbers();
  readonly latency: DistributionData[] = [];
  readonly ttft: DistributionData[] = [];
  readonly tps: DistributionData[] = [];
  readonly itl: DistributionData[] = [];
  readonly statuses = new Map<number, number>();
  readonly types = new Map<string, number>();
  sloGood: number[] = [];

  constructor(private readonly full: boolean) {}

  add(c: Unit): void {
    addNumbers(this.n, c);
    if (inWindow(c)) {
      this.latency.push(c.latency);
      this.ttft.push(c.ttft);
    }
    if (!this.full) return;
    this.tps.push(c.tokensPerSecond);
    this.itl.push(c.itl);
    if (c.errorsByStatus.size > 0) for (const [status, n] of c.errorsByStatus) this.statuses.set(status, (this.statuses.get(status) ?? 0) + n);
    if (c.errorsByType.size > 0) for (const [type, n] of c.errorsByType) this.types.set(type, (this.types.get(type) ?? 0) + n);
    for (let i = 0; i < c.sloGood.length; i++) this.sloGood[i] = (this.sloGood[i] ?? 0) + c.sloGood[i]!;
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
  return assemble(snapshot, filter, groups);
}

/**
 * A view of what a replica holds, built from its aggregates: the coarsest
 * ones the filter allows (by endpoint or node when the filter does not
 * split them, by a pair of labels when it splits one), and single cells
 * only when it filters on both models and nodes. Equal to `buildView` of the
 * replica's snapshot.
 */
export function buildReplicaView(replica: SnapshotReplica, filter: CellFilter = ALL_CELLS): View {
  const snapshot = replica.snapshot;
  if (!snapshot) return buildView(null, filter);
  const { endpoints: E, models: M, nodes: N } = filter;
  const a = replica.aggregates;
  const groups = new Groups();
  // A grouping whose other two labels are both filtered has no aggregate to read: its cells are walked, once for both.
  const endpointsFromCells = N.size > 0 && M.size > 0;
  const nodesFromCells = E.size > 0 && M.size > 0;
  if (endpointsFromCells || nodesFromCells) {
    for (const [node, endpoints] of pick(replica.byLabels, N)) {
      for (const [endpoint, models] of pick(endpoints, E)) {
        for (const [, cell] of pick(models, M)) {
          if (endpointsFromCells) groups.endpoint(endpoint).add(cell);
          if (nodesFromCells) groups.node(node).add(cell);
        }
      }
    }
  }
  if (!endpointsFromCells) {
    for (const [endpoint, whole] of pick(a.byEndpoint, E)) {
      const g = groups.endpoint(endpoint);
      if (N.size === 0 && M.size === 0) g.add(whole);
      else if (M.size === 0) addFrom(g, a.byEndpointNode.get(endpoint), N);
      else addFrom(g, a.byEndpointModel.get(endpoint), M);
    }
  }
  if (!nodesFromCells) {
    for (const [node, whole] of pick(a.byNode, N)) {
      const g = groups.node(node);
      if (E.size === 0 && M.size === 0) g.add(whole);
      else if (M.size === 0) for (const endpoint of E) addUnit(g, a.byEndpointNode.get(endpoint)?.get(node));
      else addFrom(g, a.byNodeModel.get(node), M);
    }
  }
  return assemble(snapshot, filter, groups);
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

/** The figures of one view from its groups. */
function assemble(snapshot: InternalSnapshot | null, filter: CellFilter, groups: Groups): View {
  const { perEndpoint, perNode } = groups;
  const seconds = snapshot?.coveredSeconds ?? 1;
  const rate = (n: number) => n / seconds;
  const total = new Group(true);
  const data: SnapshotData = {
    throughput: {
      requests_per_sec: byName(),
      responses_per_sec: byName(),
      tokens_per_sec: byName(),
      total_requests_per_sec: 0,
      total_responses_per_sec: 0,
      total_tokens_per_sec: 0,
    },
    latency: byName(),
    cache: { ...cacheFigures(total.n), by_endpoint: byName() },
    queue: { queue_depth: 0, active_streams: 0 },
    streaming: { active_streams: 0, completed_streams: 0, failed_streams: 0 },
    error: { errors_per_sec: byName(), total_errors_per_sec: 0, by_status: byName(), by_type: byName() },
    slo: byName(),
    nodes: byName(),
  };
  const slos = snapshot?.slos ?? [];
  const sloByEndpoint = slos.map(() => byName<SloFigures>());
  for (const endpoint of [...perEndpoint.keys()].sort()) {
    const g = perEndpoint.get(endpoint)!;
    const n = g.n;
    addNumbers(total.n, n);
    total.ttft.push(...g.ttft);
    total.tps.push(...g.tps);
    total.itl.push(...g.itl);
    for (const [status, c] of g.statuses) total.statuses.set(status, (total.statuses.get(status) ?? 0) + c);
    for (const [type, c] of g.types) total.types.set(type, (total.types.get(type) ?? 0) + c);
    for (let i = 0; i < slos.length; i++) total.sloGood[i] = (total.sloGood[i] ?? 0) + (g.sloGood[i] ?? 0);
    if (!inWindow(n)) continue;
    data.throughput.requests_per_sec[endpoint] = rate(n.requests);
    data.throughput.responses_per_sec[endpoint] = rate(n.responses);
    data.throughput.tokens_per_sec[endpoint] = rate(n.completionTokens);
    data.error.errors_per_sec[endpoint] = rate(n.errors);
    const stats = statsOf(g.latency);
    if (stats) data.latency[endpoint] = stats;
    if (n.lookups > 0) data.cache.by_endpoint[endpoint] = cacheFigures(n);
    slos.forEach((_, i) => (sloByEndpoint[i]![endpoint] = sloFigures(g.sloGood[i] ?? 0, n.responses, rate)));
  }

  // Node gauges carry no endpoint or model: they correct views that keep every endpoint and model.
  const gauges = filter.endpoints.size === 0 && filter.models.size === 0 && snapshot !== null;
  const nodeInfo = new Map<string, NodeData>((snapshot?.nodes ?? []).map((n) => [n.node, n]));
  let queueDepth = total.n.queueDepth;
  let activeStreams = total.n.activeStreams;
  if (gauges) {
    for (const n of nodeInfo.values()) {
      if (filter.nodes.size > 0 && !filter.nodes.has(n.node)) continue;
      queueDepth += n.queueAdjust;
      activeStreams += n.activeAdjust;
    }
  }
  queueDepth = Math.max(0, queueDepth);
  activeStreams = Math.max(0, activeStreams);

  data.throughput.total_requests_per_sec = rate(total.n.requests);
  data.throughput.total_responses_per_sec = rate(total.n.responses);
  data.throughput.total_tokens_per_sec = rate(total.n.completionTokens);
  data.error.total_errors_per_sec = rate(total.n.errors);
  for (const status of [...total.statuses.keys()].sort((a, b) => a - b)) data.error.by_status[String(status)] = rate(total.statuses.get(status)!);
  for (const type of [...total.types.keys()].sort()) data.error.by_type[type] = rate(total.types.get(type)!);
  Object.assign(data.cache, cacheFigures(total.n));
  data.queue = { queue_depth: queueDepth, active_streams: activeStreams };
  data.streaming = { active_streams: activeStreams, completed_streams: total.n.completedStreams, failed_streams: total.n.failedStreams };
  const ttftStats = statsOf(total.ttft);
  if (ttftStats) data.streaming.ttft = ttftStats;
  const tpsStats = statsOf(total.tps);
  if (tpsStats) data.streaming.tokens_per_second = tpsStats;
  const itlStats = statsOf(total.itl);
  if (itlStats) data.streaming.itl = itlStats;
  slos.forEach((name, i) => {
    const entry: SloEntry = { ...sloFigures(total.sloGood[i] ?? 0, total.n.responses, rate), by_endpoint: sloByEndpoint[i]! };
    data.slo[name] = entry;
  });
  // A node whose own gauge says it has requests in flight is listed too, cells or not.
  const listed = new Set(perNode.keys());
  if (gauges) for (const n of nodeInfo.keys()) if (filter.nodes.size === 0 || filter.nodes.has(n)) listed.add(n);
  for (const node of [...listed].sort()) {
    const figures = nodeFigures(perNode.get(node) ?? new Group(false), nodeInfo.get(node), gauges, rate);
    if (figures) data.nodes[node] = figures;
  }

  return {
    data,
    base: { totalRequestsPerSec: data.throughput.total_requests_per_sec, totalTokensPerSec: data.throughput.total_tokens_per_sec, activeStreams },
  };
}

function sloFigures(good: number, valid: number, rate: (n: number) => number): SloFigures {
  return { ...(valid > 0 && { attainment_pct: (100 * good) / valid }), good_per_sec: rate(good), valid_per_sec: rate(valid) };
}

/** A node's figures, or null when it has nothing in the window and nothing in flight. */
function nodeFigures(g: Group, info: NodeData | undefined, gauges: boolean, rate: (n: number) => number): NodeFigures | null {
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
  const latency = statsOf(g.latency);
  if (latency) figures.latency = latency;
  const ttft = statsOf(g.ttft);
  if (ttft) figures.ttft = ttft;
  return figures;
}
