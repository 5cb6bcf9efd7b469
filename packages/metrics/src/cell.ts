/**
 * The aggregator's state of one (node, endpoint, model) cell: its numbers
 * (window counters, in-flight gauges, since-creation totals — the lists of
 * @pulse/protocol's cell-fields.ts), its cumulative export slots (cumulative.ts), its running window distributions, its
 * keyed counts, and its share of every time bucket so expired buckets can be
 * subtracted exactly.
 *
 * A distribution keeps exact count, sum, min and max running; its histogram
 * is not kept here (at a fleet's 6,400 cells × 4 distributions, a dense one
 * each would be 300 MB) but built from the buckets' samples when a snapshot
 * is, and followed by gateways through the indices each patch adds and
 * removes (the journal below).
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_GAUGES,
  CELL_NUMBERS,
  CELL_TOTALS,
  compileFill,
  compileSubtract,
  compileZero,
  field,
  WINDOW_COUNTERS,
  zeroCumulative,
  type CellDistribution,
  type CellNumber,
  type Counts,
  type WindowCounter,
} from '@pulse/protocol';
import { BucketSamples } from './samples.js';
import { SlidingMin } from './sliding-min.js';

const zeroNumbers = compileZero(CELL_NUMBERS);
const subtractWindowCounters = compileSubtract(WINDOW_COUNTERS);
export const perDistribution = compileFill(CELL_DISTRIBUTIONS);
/** Each distribution's bit in `CellState.distsChanged`. */
export const DIST_BIT = perDistribution((name) => 1 << CELL_DISTRIBUTIONS.indexOf(name));

/**
 * What one cell contributed to one time bucket: its window counters and its
 * samples of each distribution as fields of one object. A window of a fleet
 * holds 100,000-odd of these, each alive for the whole window, and three
 * objects apiece (counters, samples, the share) measured a tenth more tick in
 * garbage collection than one.
 */
export type BucketCell = Counts<WindowCounter> &
  Record<CellDistribution, BucketSamples | null> & {
    /** The time bucket's number, and whose share of it this is. */
    readonly bucketNo: number;
    readonly cell: CellState;
    statuses: Map<number, number> | null;
    types: Map<string, number> | null;
    sloGood: number[] | null;
  };

/** A new, empty BucketCell: one object literal (one shape for all), compiled from the field lists. */
export const newBucketCell = new Function(
  'bucketNo',
  'cell',
  `return { bucketNo, cell, ${[...WINDOW_COUNTERS.map((k) => `${field(k)}: 0`), ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: null`)].join(', ')}, statuses: null, types: null, sloGood: null };`,
) as (bucketNo: number, cell: CellState) => BucketCell;

/**
 * The empty list of histogram indices every distribution starts with and
 * returns to once a patch took its lists. Frozen: a list is replaced on its
 * first index, never pushed to while empty (a fresh array per list per tick,
 * grown on its first push, was two allocations each of some 10,000 a tick).
 */
export const NO_INDICES: number[] = Object.freeze([]) as unknown as number[];

/** A running window distribution: exact count, sum, min and max, and what changed since the last patch. */
export class RunningDistribution {
  count = 0;
  sum = 0;
  /** Min and max over the live buckets, kept exact as buckets expire (sliding-min.ts; the max as negated values). */
  readonly lows = new SlidingMin();
  readonly highs = new SlidingMin();
  /** Histogram indices of samples added and expired since the last patch (NO_INDICES while none). */
  added: number[] = NO_INDICES;
  removed: number[] = NO_INDICES;
  /** min and max as the last patch or snapshot reported them. */
  reportedMin = Infinity;
  reportedMax = -Infinity;

  /** Infinity while empty. */
  get min(): number {
    return this.lows.value;
  }

  /** -Infinity while empty. */
  get max(): number {
    return -this.highs.value;
  }
}

export class CellState {
  /** Every number of the cell: the window counters (running sums over the live buckets), gauges and totals. */
  readonly counts: Counts<CellNumber> = zeroNumbers();
  readonly dists: Record<CellDistribution, RunningDistribution> = perDistribution(() => new RunningDistribution());
  /** Error ends by status, and by `error` string, over the window. */
  readonly statuses = new Map<number, number>();
  readonly types = new Map<string, number>();
  /**
   * Copies of `statuses` and `types` as a patch carries them, made once per
   * change (null since one): with SLOs set every end changes the keyed
   * counts, and copying error maps that had not moved was a tenth of taking a patch.
   */
  statusesCopy: ReadonlyMap<number, number> | null = null;
  typesCopy: ReadonlyMap<string, number> | null = null;
  /** Ends that met each SLO, over the window. */
  readonly sloGood: number[];
  /**
   * This cell's share of each live time bucket, in bucket order. An array,
   * not a map by bucket: events land in the newest share or a new one, and
   * buckets expire from the front; a map's set and delete per share, ~1,000
   * a tick each at a fleet, were a tenth of the aggregator's tick.
   */
  readonly shares: BucketCell[] = [];
  /** The numbers as the last patch or snapshot reported them. */
  readonly reported: Counts<CellNumber> = zeroNumbers();
  /**
   * Which distributions gained or lost samples since the last patch (DIST_BIT):
   * about half a fleet's cells change each tick, most of them in one or two
   * distributions, and a patch looks only at those.
   */
  distsChanged = 0;
  /** The keyed counts changed since the last patch. */
  keyedChanged = false;
  /** Whether any snapshot or patch reported this cell yet. */
  reportedOnce = false;
  /** Since-creation counters and classic histograms for export, by CUMULATIVE_SLOTS; counted by the TotalsLedger. */
  readonly cumulative: number[] = zeroCumulative();
  /** `cumulative` as the last patch or snapshot reported it. */
  readonly cumulativeReported: number[] = zeroCumulative();
  /**
   * The cumulative slots moved since the last report, in no order and maybe
   * repeated (a slot is added whenever it leaves its reported value): a patch
   * looks at these, not at all 86 slots of every changed cell.
   */
  readonly movedSlots: number[] = [];
  /**
   * Increments the TotalsLedger has not yet put in its delta (null until the
   * first): by cumulative slot, then by CELL_TOTALS after them; and which were touched.
   */
  pendingSlots: number[] | null = null;
  readonly pendingTouched: number[] = [];

  constructor(
    readonly node: string,
    readonly endpoint: string,
    readonly model: string,
    slos: number,
  ) {
    this.sloGood = new Array<number>(slos).fill(0);
  }

  addCounter(bucket: BucketCell, key: WindowCounter, n: number): void {
    bucket[key] += n;
    this.counts[key] += n;
  }

  addSample(bucket: BucketCell, name: CellDistribution, value: number): void {
    const samples = (bucket[name] ??= new BucketSamples());
    const index = samples.add(value);
    const dist = this.dists[name];
    this.distsChanged |= DIST_BIT[name];
    if (dist.added.length === 0) dist.added = [index];
    else dist.added.push(index);
    dist.count++;
    dist.sum += value;
    dist.lows.add(bucket.bucketNo, value);
    dist.highs.add(bucket.bucketNo, -value);
  }

  addStatus(bucket: BucketCell, status: number): void {
    bucket.statuses ??= new Map();
    bucket.statuses.set(status, (bucket.statuses.get(status) ?? 0) + 1);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.statusesCopy = null;
    this.keyedChanged = true;
  }

  addType(bucket: BucketCell, type: string): void {
    bucket.types ??= new Map();
    bucket.types.set(type, (bucket.types.get(type) ?? 0) + 1);
    this.types.set(type, (this.types.get(type) ?? 0) + 1);
    this.typesCopy = null;
    this.keyedChanged = true;
  }

  addSloGood(bucket: BucketCell, slo: number): void {
    bucket.sloGood ??= new Array<number>(this.sloGood.length).fill(0);
    bucket.sloGood[slo]!++;
    this.sloGood[slo]!++;
    this.keyedChanged = true;
  }

  /** The cell's share of bucket `b`, created (in its place) when it has none. */
  shareOf(b: number): BucketCell {
    const at = this.placeOf(b);
    const found = this.shares[at - 1];
    if (found?.bucketNo === b) return found;
    const share = newBucketCell(b, this);
    if (at === this.shares.length) this.shares.push(share);
    else this.shares.splice(at, 0, share);
    return share;
  }

  /** The cell's share of bucket `b`; undefined when it has none. */
  shareIn(b: number): BucketCell | undefined {
    const found = this.shares[this.placeOf(b) - 1];
    return found?.bucketNo === b ? found : undefined;
  }

  /** Where bucket `b`'s share is, or would go: just after the last share of a bucket not later (searched from the newest, where events land). */
  private placeOf(b: number): number {
    let at = this.shares.length;
    while (at > 0 && this.shares[at - 1]!.bucketNo > b) at--;
    return at;
  }

  /** Takes the share of expired bucket `b` out of the running aggregates. */
  expire(b: number, bucket: BucketCell): void {
    if (this.shares[0] === bucket) this.shares.shift();
    else this.shares.splice(this.shares.indexOf(bucket), 1);
    subtractWindowCounters(this.counts, bucket);
    for (const name of CELL_DISTRIBUTIONS) {
      const samples = bucket[name];
      if (!samples) continue;
      const dist = this.dists[name];
      this.distsChanged |= DIST_BIT[name];
      // The expired bucket's own list becomes the removed list when that is empty (usual: one bucket expires a tick): it is garbage after this.
      if (dist.removed.length === 0) dist.removed = samples.indices;
      else for (let i = 0; i < samples.count; i++) dist.removed.push(samples.indices[i]!);
      dist.count -= samples.count;
      // Sums are floats: reset exactly when the window empties so no drift survives.
      dist.sum = dist.count === 0 ? 0 : dist.sum - samples.sum;
      dist.lows.expire(b);
      dist.highs.expire(b);
    }
    if (bucket.statuses) {
      subtractKeyed(this.statuses, bucket.statuses);
      this.statusesCopy = null;
    }
    if (bucket.types) {
      subtractKeyed(this.types, bucket.types);
      this.typesCopy = null;
    }
    if (bucket.sloGood) bucket.sloGood.forEach((n, i) => (this.sloGood[i]! -= n));
    if (bucket.statuses || bucket.types || bucket.sloGood) this.keyedChanged = true;
  }

  /** Exact min and max over the live buckets. */
  extremes(name: CellDistribution): { readonly min: number; readonly max: number } {
    return this.dists[name];
  }

  /** True when the cell holds nothing worth publishing or keeping: no live bucket, nothing in flight, no totals. */
  isIdle(): boolean {
    return (
      this.shares.length === 0 &&
      CELL_GAUGES.every((k) => this.counts[k] === 0) &&
      CELL_TOTALS.every((k) => this.counts[k] === 0) &&
      this.cumulative.every((n) => n === 0)
    );
  }
}

function subtractKeyed<K>(from: Map<K, number>, part: ReadonlyMap<K, number>): void {
  for (const [k, n] of part) {
    const left = (from.get(k) ?? 0) - n;
    if (left === 0) from.delete(k);
    else from.set(k, left);
  }
}
