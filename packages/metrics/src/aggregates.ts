/**
 * What the cells of a gateway's replica add up to, kept up to date as
 * patches change them: by endpoint, by node, and by each pair of endpoint,
 * model and node. A view reads the coarsest of these that its filter allows
 * instead of every cell: at a fleet's 6,400 cells the unfiltered view merges
 * 84 aggregates rather than 6,400 cells (docs/ARCHITECTURE.md).
 *
 * An aggregate looks like a cell to the view builder: the same numbers,
 * distributions and keyed counts. Numbers and histograms change with each
 * patch (integers: exact); a distribution's count, sum, min and max are
 * recomputed from the member cells when read after a change, so no float
 * error piles up in a sum over hours of patches.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_NUMBERS,
  compileAdd,
  compileSubtract,
  field,
  type CellData,
  type CellDistribution,
  type CellNumber,
  type Counts,
  type DistributionData,
} from '@pulse/protocol';
import { MAX_INDEX, MIN_INDEX, ZERO_INDEX } from './log-histogram.js';

const addNumbers = compileAdd(CELL_NUMBERS);
const subtractNumbers = compileSubtract(CELL_NUMBERS);

/**
 * An aggregate's histogram: a dense span of counts that grows to cover the
 * buckets in use. An aggregate holds thousands of samples, so its buckets are
 * mostly in use, and a change is one array write.
 */
class SpanHistogram {
  zeros = 0;
  offset = 0;
  counts = new Uint32Array(0);
  /** The span the next growth covers at least (`reserve`): a keyframe's cells, known before they are added. */
  private wantLo = Infinity;
  private wantHi = -Infinity;

  /** Makes the next growth cover `d`'s buckets too, so adding a keyframe's cells allocates once, not per widening. */
  reserve(d: DistributionData): void {
    const s = d.sparse;
    if (s) {
      if (s.indices.length === 0) return;
      this.wantLo = Math.min(this.wantLo, s.indices[0]!);
      this.wantHi = Math.max(this.wantHi, s.indices[s.indices.length - 1]!);
    } else if (d.counts.length > 0) {
      this.wantLo = Math.min(this.wantLo, d.offset);
      this.wantHi = Math.max(this.wantHi, d.offset + d.counts.length - 1);
    }
  }

  bump(index: number, n: number): void {
    if (index === ZERO_INDEX) {
      this.zeros += n;
      return;
    }
    if (this.counts.length === 0) this.offset = index;
    if (index < this.offset || index >= this.offset + this.counts.length) this.grow(index);
    this.counts[index - this.offset]! += n;
  }

  addAll(d: DistributionData, sign: 1 | -1): void {
    this.zeros += sign * d.zeros;
    const s = d.sparse;
    if (s) {
      for (let i = 0; i < s.indices.length; i++) this.bump(s.indices[i]!, sign * s.counts[i]!);
      return;
    }
    for (let i = 0; i < d.counts.length; i++) if (d.counts[i] !== 0) this.bump(d.offset + i, sign * d.counts[i]!);
  }

  /**
   * Widens the span to cover `index`, with room to spare — at least half the
   * span again — so a drifting distribution does not regrow every tick and a
   * keyframe's thousands of cells cost amortized O(1) per bucket (growing by
   * a fixed 16 was a twelfth of a fleet gateway's CPU, all of it copying).
   */
  private grow(index: number): void {
    const spare = Math.max(16, this.counts.length >> 1);
    // Never past the index range: views merge a span into a dense LogHistogram, which has no room outside it
    // (a span reaching below MIN_INDEX set the merged histogram's low end negative, and its quantiles to NaN).
    const lo = Math.max(MIN_INDEX, Math.min(this.offset, index - spare, this.wantLo));
    const hi = Math.min(MAX_INDEX + 1, Math.max(this.offset + this.counts.length, index + 1 + spare, this.wantHi + 1));
    const counts = new Uint32Array(hi - lo);
    counts.set(this.counts, this.offset - lo);
    this.offset = lo;
    this.counts = counts;
  }
}

/**
 * How many of its cells with the lowest minimums and the highest maximums an
 * aggregate distribution names. A view that leaves out every named cell
 * searches its own cells for its extreme (view.ts), so deeper is cheaper for
 * views: at a fleet, a node table filtered by endpoint and model took 3.0 ms
 * at 3, 1.5 at 6 and 1.3 at 10; a named cell costs an array insert per move.
 */
export const EXTREME_CELLS = 8;

/**
 * The member cells most extreme on one side of one distribution (lowest
 * minimums or highest maximums), most extreme first, with their values:
 * always the first `cells.length` of all members with samples in that order,
 * so every member left out is no more extreme than the last one named. `all`
 * says none is left out. It follows each member's move without a walk over
 * the members: a named cell moving inwards keeps its place only while it
 * provably stays ahead of every cell not named, else it drops out and the
 * list is shorter. Only an empty list that is not `all` needs a walk
 * (`unknown`). The values are kept beside the cells because views read them
 * for every aggregate they merge, and reading them through the cells (a
 * property named by a variable) was a fifth of a node table's time.
 */
class Ranking {
  readonly cells: CellData[] = [];
  readonly values: number[] = [];
  all = true;

  constructor(private readonly side: 'min' | 'max') {}

  /** Whether `x` comes strictly before `y` on this side. */
  private ahead(x: number, y: number): boolean {
    return this.side === 'min' ? x < y : x > y;
  }

  /** Whether the extreme is unknown without a walk over the members. */
  get unknown(): boolean {
    return this.cells.length === 0 && !this.all;
  }

  /** The extreme value, 0 when there is none. */
  get first(): number {
    return this.values.length > 0 ? this.values[0]! : 0;
  }

  clear(): void {
    this.cells.length = 0;
    this.values.length = 0;
    this.all = true;
  }

  /** `cell` gained samples or moved outwards, to `x`. */
  outwards(cell: CellData, x: number): void {
    const { values } = this;
    if (this.drop(cell) < 0 && !this.all && (values.length === 0 || this.ahead(values[values.length - 1]!, x))) {
      // Not named, and some are left out: it must not come after the last named, or one left out might come before it.
      return;
    }
    this.insert(cell, x);
  }

  /** `cell` moved inwards from `was` to `x` (its lowest sample expired, say), keeping some samples. */
  inwards(cell: CellData, x: number, was: number): void {
    const last = this.values.length - 1;
    const at = this.drop(cell);
    if (at < 0) return;
    // Every cell left out is no more extreme than the last named: that one, or `cell` as it was if it was last.
    const bound = at === last ? was : this.values[last - 1]!;
    if (this.all || !this.ahead(bound, x)) this.insert(cell, x);
  }

  /** Takes `cell` out of the list (it has no samples any more, or left); where it was, or −1. */
  drop(cell: CellData): number {
    const { cells, values } = this;
    const at = cells.indexOf(cell);
    if (at < 0) return at;
    // Shifted by hand: splice allocates the array it returns, and this runs for most moves of most patched cells.
    for (let i = at; i < cells.length - 1; i++) {
      cells[i] = cells[i + 1]!;
      values[i] = values[i + 1]!;
    }
    cells.pop();
    values.pop();
    return at;
  }

  /** Puts `cell`, whose value is `x`, after the cells at least as extreme, naming at most EXTREME_CELLS (a walk offers each member). */
  insert(cell: CellData, x: number): void {
    const { cells, values } = this;
    let at = 0;
    while (at < values.length && !this.ahead(x, values[at]!)) at++;
    if (at === EXTREME_CELLS) return void (this.all = false);
    if (cells.length === EXTREME_CELLS) this.all = false;
    else {
      cells.push(cell);
      values.push(x);
    }
    for (let i = cells.length - 1; i > at; i--) {
      cells[i] = cells[i - 1]!;
      values[i] = values[i - 1]!;
    }
    cells[at] = cell;
    values[at] = x;
  }
}

/** How many patches an Aggregates has applied: what a distribution's last read is dated by. */
interface PatchClock {
  patches: number;
}

/**
 * A distribution summed over member cells. Count and sum follow each
 * member's change, and so do the extreme cells (`Ranking`); only when a
 * ranking runs out, or a member joins or leaves, is it found again by
 * walking the members. The walk was what views at a fleet spent their time
 * on: every aggregate changes every tick, and reading thousands of cells
 * scattered over the heap cost ~40 ms a tick; walking again whenever a
 * named cell moved inwards was still half of a filtered view's time.
 * A keyframe, or every RESUM_PATCHES patches, recomputes everything, so no
 * float error piles up in the sum (a gateway that follows on applies patches
 * for as long as it runs: keyframes are only stored, for those that start).
 *
 * One no view read for REST_PATCHES rests (`rest`): it drops its histogram
 * and follows nothing until read again, when it is summed from its members.
 * A gateway's views read few of the pair groupings' aggregates — a node
 * table under one endpoint reads that endpoint's 64 of the 1,280 by
 * endpoint and node at a fleet — and bumping the histograms of all of them
 * with every patched cell was the largest part of applying a patch.
 */
class AggregateDistribution implements DistributionData {
  /** Null while resting. */
  private histogram: SpanHistogram | null = new SpanHistogram();
  private stale = true;
  private readAt: number;
  private count_ = 0;
  private sum_ = 0;
  private readonly lows: Ranking;
  private readonly highs: Ranking;

  constructor(
    private readonly members: ReadonlySet<CellData>,
    private readonly name: CellDistribution,
    private readonly clock: PatchClock,
  ) {
    this.lows = new Ranking('min');
    this.highs = new Ranking('max');
    this.readAt = clock.patches;
  }

  /** A member joined (`sign` 1, holding `d`) or is leaving (−1): count, sum and extremes are recomputed when next read. */
  member(d: DistributionData, sign: 1 | -1): void {
    this.histogram?.addAll(d, sign);
    this.stale = true;
  }

  /** Makes the histogram's next growth cover `d` (SpanHistogram.reserve). */
  reserve(d: DistributionData): void {
    this.histogram?.reserve(d);
  }

  /** Count and sum are summed again from the members when next read (no float error piles up). */
  resum(): void {
    this.stale = true;
  }

  /** Following nothing: neither its histogram nor its count, sum and extremes (a read of either follows it again). */
  get resting(): boolean {
    return this.histogram === null && this.stale;
  }

  /** Not read since patch `since`: follows nothing from now on, until read. */
  rest(since: number): void {
    if (this.readAt >= since) return;
    this.histogram = null;
    this.stale = true;
  }

  /**
   * Member `cell`'s distribution, now `d`, moved from (count, sum, min, max):
   * samples were added and expired at histogram indices `added` and `removed`.
   */
  moved(cell: CellData, d: DistributionData, added: readonly number[], removed: readonly number[], count: number, sum: number, min: number, max: number): void {
    const h = this.histogram;
    if (h) {
      for (let i = 0; i < added.length; i++) h.bump(added[i]!, 1);
      for (let i = 0; i < removed.length; i++) h.bump(removed[i]!, -1);
    }
    if (this.stale) return;
    this.count_ += d.count - count;
    this.sum_ = this.count_ === 0 ? 0 : this.sum_ + (d.sum - sum);
    const was = count > 0;
    const is = d.count > 0;
    const { lows, highs } = this;
    if (!is) {
      if (was) {
        lows.drop(cell);
        highs.drop(cell);
      }
    } else if (!was) {
      lows.outwards(cell, d.min);
      highs.outwards(cell, d.max);
    } else {
      if (d.min < min) lows.outwards(cell, d.min);
      else if (d.min > min) lows.inwards(cell, d.min, min);
      if (d.max > max) highs.outwards(cell, d.max);
      else if (d.max < max) highs.inwards(cell, d.max, max);
    }
    if (lows.unknown || highs.unknown) this.stale = true;
  }

  private read(): void {
    this.readAt = this.clock.patches;
    if (!this.stale) return;
    let count = 0;
    let sum = 0;
    const { lows, highs, name } = this;
    lows.clear();
    highs.clear();
    for (const cell of this.members) {
      const d = cell[name];
      if (d.count === 0) continue;
      count += d.count;
      sum += d.sum;
      lows.insert(cell, d.min);
      highs.insert(cell, d.max);
    }
    this.count_ = count;
    this.sum_ = count === 0 ? 0 : sum;
    this.stale = false;
  }

  /**
   * The member cells with the most extreme values on `side`, most extreme
   * first, and whether they are all the members with samples: a view that
   * leaves some cells out finds its own extreme among them unless it leaves
   * all of them out (view.ts).
   */
  extremeCells(side: 'min' | 'max'): { readonly cells: readonly CellData[]; readonly values: readonly number[]; readonly all: boolean } {
    this.read();
    return side === 'min' ? this.lows : this.highs;
  }

  get count(): number {
    this.read();
    return this.count_;
  }
  get sum(): number {
    this.read();
    return this.sum_;
  }
  get min(): number {
    this.read();
    return this.lows.first;
  }
  get max(): number {
    this.read();
    return this.highs.first;
  }
  get zeros(): number {
    return this.spans().zeros;
  }
  get offset(): number {
    return this.spans().offset;
  }
  /** The live span (its empty ends included: a merge adds their zeros). */
  get counts(): Uint32Array {
    return this.spans().counts;
  }

  /**
   * The histogram, summed from the members if it was resting. Small enough to
   * inline into a merge: dating the read here too made views 15 % slower. A
   * view reads the count first (its last read, `read`) and skips an empty one.
   */
  private spans(): SpanHistogram {
    return this.histogram ?? this.sumMembers();
  }

  private sumMembers(): SpanHistogram {
    const h = new SpanHistogram();
    for (const cell of this.members) h.reserve(cell[this.name]);
    for (const cell of this.members) h.addAll(cell[this.name], 1);
    return (this.histogram = h);
  }
}

/** The sums of a set of cells, shaped like a cell. */
export type Aggregate = Counts<CellNumber> &
  Record<CellDistribution, AggregateDistribution> & {
    readonly members: Set<CellData>;
    errorsByStatus: Map<number, number>;
    errorsByType: Map<string, number>;
    sloGood: number[];
  };

/**
 * One object literal with every field named, compiled from the field lists:
 * one shape for every aggregate, in fast mode (a spread of this many fields
 * measured 2× slower to update).
 */
const aggregateLiteral = new Function(
  'members',
  'dist',
  `return { ${[...CELL_NUMBERS.map((k) => `${field(k)}: 0`), ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: dist('${k}')`)].join(', ')}, members, errorsByStatus: new Map(), errorsByType: new Map(), sloGood: [] };`,
) as (members: Set<CellData>, dist: (name: CellDistribution) => AggregateDistribution) => Aggregate;

function newAggregate(clock: PatchClock): Aggregate {
  const members = new Set<CellData>();
  return aggregateLiteral(members, (name) => new AggregateDistribution(members, name, clock));
}

/** `keyedChange`'s bits: a cell's errors by status, and by type, differ from the patch's. */
export const KEYED_STATUS = 1;
export const KEYED_TYPES = 2;

function sameCounts<K>(a: ReadonlyMap<K, number>, b: ReadonlyMap<K, number>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [k, n] of a) if (b.get(k) !== n) return false;
  return true;
}

function addKeyed<K>(into: Map<K, number>, from: ReadonlyMap<K, number>, sign: number): void {
  for (const [k, n] of from) {
    const v = (into.get(k) ?? 0) + sign * n;
    if (v === 0) into.delete(k);
    else into.set(k, v);
  }
}

/** Two-level map: a → b → aggregate. */
type Grid = Map<string, Map<string, Aggregate>>;

/** The groupings kept only while read: by node, and by each pair of labels. */
export type LazyGrouping = 'byNode' | 'byEndpointModel' | 'byEndpointNode' | 'byNodeModel';
const LAZY: readonly LazyGrouping[] = ['byNode', 'byEndpointModel', 'byEndpointNode', 'byNodeModel'];

/**
 * Patches after which a grouping no view read is dropped (a minute at the
 * default 500 ms tick); the next read builds it again from the cells.
 */
export const IDLE_PATCHES = 120;

/**
 * Patches after which an aggregate distribution no view read rests (5 s at
 * the default tick; resting begins within twice that). Summing one again
 * from its members costs about what following them costs over a few
 * patches, so one read less often than this is cheaper resting.
 */
export const REST_PATCHES = 10;

/** Patches after which every distribution's count and sum are summed again from the cells (10 min at the default tick). */
export const RESUM_PATCHES = 1200;

export class Aggregates {
  /** Kept always: the unfiltered view reads it every tick. */
  readonly byEndpoint = new Map<string, Aggregate>();
  private readonly nodes = new Map<string, Aggregate>();
  private readonly grids: Record<Exclude<LazyGrouping, 'byNode'>, Grid> = { byEndpointModel: new Map(), byEndpointNode: new Map(), byNodeModel: new Map() };
  /**
   * The lazy groupings kept, in LAZY order, and per grouping the patches
   * since a view last read it. At a fleet most of a patch's cost was keeping
   * five aggregates per cell, and most gateways' views never read the
   * node × endpoint and node × model ones (1,600 aggregates of 6,400 cells).
   */
  private keptNow: readonly LazyGrouping[] = [];
  private readonly idle: Record<LazyGrouping, number> = { byNode: 0, byEndpointModel: 0, byEndpointNode: 0, byNodeModel: 0 };
  /** Patches applied: dates each distribution's last read (`AggregateDistribution.rest`). */
  private readonly clock: PatchClock = { patches: 0 };
  /** Every member cell, to build a grouping from when it is first read. */
  private readonly cells = new Set<CellData>();

  /** Each member cell's aggregates in the groupings kept, found once. */
  private memberOf = new WeakMap<CellData, Aggregate[]>();

  get byNode(): ReadonlyMap<string, Aggregate> {
    this.use('byNode');
    return this.nodes;
  }
  /** endpoint → model, endpoint → node, node → model. */
  get byEndpointModel(): Grid {
    this.use('byEndpointModel');
    return this.grids.byEndpointModel;
  }
  get byEndpointNode(): Grid {
    this.use('byEndpointNode');
    return this.grids.byEndpointNode;
  }
  get byNodeModel(): Grid {
    this.use('byNodeModel');
    return this.grids.byNodeModel;
  }

  /** How many aggregate distributions follow their members now (the rest are resting: `AggregateDistribution.rest`). */
  following(): number {
    let n = 0;
    this.forEachDistribution((d) => (n += d.resting ? 0 : 1));
    return n;
  }

  /** The lazy groupings kept now. */
  kept(): LazyGrouping[] {
    return [...this.keptNow];
  }

  clear(): void {
    for (const m of [this.byEndpoint, this.nodes, ...Object.values(this.grids)]) m.clear();
    this.cells.clear();
    this.forgetMembers();
  }

  /**
   * A patch or keyframe was applied: a grouping unread for IDLE_PATCHES is
   * dropped, and a distribution unread for REST_PATCHES rests.
   */
  patched(): void {
    const patches = ++this.clock.patches;
    if (patches % RESUM_PATCHES === 0) this.forEachDistribution((d) => d.resum());
    if (patches % REST_PATCHES === 0) this.forEachDistribution((d) => d.rest(patches - REST_PATCHES));
    for (const g of this.keptNow) this.idle[g] += 1;
    const dropped = this.keptNow.filter((g) => this.idle[g] > IDLE_PATCHES);
    if (dropped.length === 0) return;
    for (const g of dropped) (g === 'byNode' ? this.nodes : this.grids[g]).clear();
    this.keptNow = this.keptNow.filter((g) => !dropped.includes(g));
    this.forgetMembers();
  }

  private forEachDistribution(f: (d: AggregateDistribution) => void): void {
    const each = (a: Aggregate) => {
      for (const name of CELL_DISTRIBUTIONS) f(a[name]);
    };
    this.byEndpoint.forEach(each);
    this.nodes.forEach(each);
    for (const grid of Object.values(this.grids)) for (const inner of grid.values()) inner.forEach(each);
  }

  /** A view reads grouping `g`: kept from now on, built from the cells if it was not. */
  private use(g: LazyGrouping): void {
    this.idle[g] = 0;
    if (this.keptNow.includes(g)) return;
    this.keptNow = LAZY.filter((x) => x === g || this.keptNow.includes(x));
    this.forgetMembers();
    for (const cell of this.cells) this.join(this.aggregateIn(g, cell), cell);
  }

  /**
   * The aggregates `cell` counts in, in the groupings kept, created when
   * missing. The last cell's are kept at hand: a patched cell asks for them
   * once per part of it that moved, and the weak map's lookups were a
   * twentieth of a patch.
   */
  private of(cell: CellData): Aggregate[] {
    if (this.lastCell === cell) return this.lastFound;
    let found = this.memberOf.get(cell);
    if (!found) {
      found = this.labelled(cell);
      this.memberOf.set(cell, found);
    }
    this.lastCell = cell;
    this.lastFound = found;
    return found;
  }
  private lastCell: CellData | null = null;
  private lastFound: Aggregate[] = [];

  /** The groupings kept changed: every cell's aggregates are found again. */
  private forgetMembers(): void {
    this.memberOf = new WeakMap();
    this.lastCell = null;
  }

  /** The aggregates of `cell`'s labels in the groupings kept, created when missing. */
  private labelled(cell: Pick<CellData, 'node' | 'endpoint' | 'model'>): Aggregate[] {
    const found = [one(this.byEndpoint, cell.endpoint, this.clock)];
    for (const g of this.keptNow) found.push(this.aggregateIn(g, cell));
    return found;
  }

  private aggregateIn(g: LazyGrouping, cell: Pick<CellData, 'node' | 'endpoint' | 'model'>): Aggregate {
    switch (g) {
      case 'byNode':
        return one(this.nodes, cell.node, this.clock);
      case 'byEndpointModel':
        return two(this.grids.byEndpointModel, cell.endpoint, cell.model, this.clock);
      case 'byEndpointNode':
        return two(this.grids.byEndpointNode, cell.endpoint, cell.node, this.clock);
      case 'byNodeModel':
        return two(this.grids.byNodeModel, cell.node, cell.model, this.clock);
    }
  }

  /**
   * Before a keyframe's cells are added: sizes every aggregate histogram they
   * reach for all of them at once. Growing cell by cell allocated ~5 typed
   * arrays per histogram per keyframe — 37,000 at a fleet, ~60 ms of its load.
   */
  reserve(cells: Iterable<CellData>): void {
    for (const cell of cells) {
      for (const a of this.labelled(cell)) {
        for (const name of CELL_DISTRIBUTIONS) a[name].reserve(cell[name]);
      }
    }
  }

  /** A cell joins: everything it holds counts. */
  add(cell: CellData): void {
    this.cells.add(cell);
    for (const a of this.of(cell)) this.join(a, cell);
  }

  private join(a: Aggregate, cell: CellData): void {
    a.members.add(cell);
    addNumbers(a, cell);
    for (const name of CELL_DISTRIBUTIONS) {
      const d = cell[name];
      if (d.count === 0 && d.zeros === 0) continue;
      a[name].member(d, 1);
    }
    this.keyed(a, cell, 1);
  }

  /** A cell leaves: everything it held is taken out; an aggregate left without members goes. */
  remove(cell: CellData): void {
    for (const a of this.of(cell)) {
      a.members.delete(cell);
      subtractNumbers(a, cell);
      for (const name of CELL_DISTRIBUTIONS) {
        a[name].member(cell[name], -1);
      }
      this.keyed(a, cell, -1);
    }
    this.cells.delete(cell);
    this.memberOf.delete(cell);
    this.lastCell = null;
    this.prune(cell);
  }

  /** `cell`'s numbers are about to change by `delta` (every number, most of them 0). */
  numbers(cell: CellData, delta: Readonly<Counts<CellNumber>>): void {
    for (const a of this.of(cell)) addNumbers(a, delta);
  }

  /**
   * `cell`'s distribution `name` moved: samples were added and expired
   * (histogram indices), and its count, sum, min and max, which were the
   * ones given, are now what it holds.
   */
  moved(cell: CellData, name: CellDistribution, added: readonly number[], removed: readonly number[], count: number, sum: number, min: number, max: number): void {
    const d = cell[name];
    for (const a of this.of(cell)) a[name].moved(cell, d, added, removed, count, sum, min, max);
  }

  /**
   * `cell`'s keyed counts are about to be replaced by `next`: each aggregate
   * moves by the difference. A patch sends them whole when any moved, and
   * that is the SLO counts on most patched cells: error maps that did not
   * change are skipped, and the SLO counts' difference is taken once.
   * Returns which error maps differ (`KEYED_STATUS`, `KEYED_TYPES`).
   */
  keyedChange(cell: CellData, next: Pick<CellData, 'errorsByStatus' | 'errorsByType' | 'sloGood'>): number {
    const status = !sameCounts(cell.errorsByStatus, next.errorsByStatus);
    const types = !sameCounts(cell.errorsByType, next.errorsByType);
    const slo = this.sloDelta;
    const n = Math.max(cell.sloGood.length, next.sloGood.length);
    let moved = false;
    for (let i = 0; i < n; i++) moved = (slo[i] = (next.sloGood[i] ?? 0) - (cell.sloGood[i] ?? 0)) !== 0 || moved;
    const changed = (status ? KEYED_STATUS : 0) | (types ? KEYED_TYPES : 0);
    if (!changed && !moved) return 0;
    for (const a of this.of(cell)) {
      if (status) {
        addKeyed(a.errorsByStatus, cell.errorsByStatus, -1);
        addKeyed(a.errorsByStatus, next.errorsByStatus, 1);
      }
      if (types) {
        addKeyed(a.errorsByType, cell.errorsByType, -1);
        addKeyed(a.errorsByType, next.errorsByType, 1);
      }
      if (moved) for (let i = 0; i < n; i++) if (slo[i] !== 0) a.sloGood[i] = (a.sloGood[i] ?? 0) + slo[i]!;
    }
    return changed;
  }
  /** Scratch: what a patch moved a cell's SLO counts by. */
  private readonly sloDelta: number[] = [];

  private keyed(a: Aggregate, cell: CellData, sign: number): void {
    addKeyed(a.errorsByStatus, cell.errorsByStatus, sign);
    addKeyed(a.errorsByType, cell.errorsByType, sign);
    for (let i = 0; i < cell.sloGood.length; i++) a.sloGood[i] = (a.sloGood[i] ?? 0) + sign * cell.sloGood[i]!;
  }

  private prune(cell: CellData): void {
    const drop1 = (m: Map<string, Aggregate>, k: string) => {
      if (m.get(k)?.members.size === 0) m.delete(k);
    };
    const drop2 = (g: Grid, a: string, b: string) => {
      const inner = g.get(a);
      if (!inner) return;
      drop1(inner, b);
      if (inner.size === 0) g.delete(a);
    };
    drop1(this.byEndpoint, cell.endpoint);
    drop1(this.nodes, cell.node);
    drop2(this.grids.byEndpointModel, cell.endpoint, cell.model);
    drop2(this.grids.byEndpointNode, cell.endpoint, cell.node);
    drop2(this.grids.byNodeModel, cell.node, cell.model);
  }
}

function one(m: Map<string, Aggregate>, k: string, clock: PatchClock): Aggregate {
  let a = m.get(k);
  if (!a) {
    a = newAggregate(clock);
    m.set(k, a);
  }
  return a;
}

function two(g: Grid, a: string, b: string, clock: PatchClock): Aggregate {
  let inner = g.get(a);
  if (!inner) {
    inner = new Map();
    g.set(a, inner);
  }
  return one(inner, b, clock);
}
