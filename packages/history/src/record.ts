/**
 * A history record: what one partition's cells held in one bucket of one
 * tier (docs/HISTORY.md). It is an InternalSnapshot, so the snapshot codec
 * writes it (varints, sparse histograms, one string table), then deflated:
 *
 * - `seq`: the bucket's number in its tier (start ms ÷ step); `builtAt`: its end (s);
 * - `coveredSeconds`: the live snapshot's at that end (how long the window was then);
 * - per cell, the window counters, distributions (exact count, sum, min, max and
 *   the histogram), errors by status and type and good ends per SLO are the
 *   bucket's increments — summed over buckets they give the window's;
 * - the gauges (queue depth, active streams), since-creation totals and the
 *   nodes are as they stood at the bucket's end (a coarser bucket: its last);
 * - `cumulative` is left empty (export slots are not history).
 *
 * A tier that rolls up (`Tier.rollup`, docs/HISTORY.md "Rollups") keeps no
 * node × endpoint × model cell: each cell is summed into two rollups, one per
 * (endpoint, model) over every node (`node` = ALL) and one per (node,
 * endpoint) over every model (`model` = ALL).
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  CELL_DISTRIBUTIONS,
  CELL_GAUGES,
  CELL_TOTALS,
  compileAdd,
  compileAssign,
  compileZero,
  decodeSnapshot,
  encodeSnapshot,
  WINDOW_COUNTERS,
  type CellData,
  type CellDistribution,
  type CellNumber,
  type Counts,
  type DistributionData,
  type InternalSnapshot,
  type NodeData,
} from '@pulse/protocol';
import { cellKey } from '@pulse/metrics';

export type HistoryRecord = InternalSnapshot;

/**
 * How a record's bytes are compressed, its blob's first byte. The tick tier's
 * records, written every tick, use deflate at level 1 (within a few % of level
 * 6 in size at a third of the CPU); the coarser tiers', written once a bucket
 * and kept for hours or days, brotli at quality 5: 8–11 % smaller again at
 * ~3 ms a record (docs/HISTORY.md "Size").
 */
export type RecordCodec = 'deflate' | 'brotli';
const TAG: Record<RecordCodec, number> = { deflate: 1, brotli: 2 };

export function encodeRecord(r: HistoryRecord, codec: RecordCodec = 'deflate'): Buffer {
  const raw = encodeSnapshot(r);
  const body =
    codec === 'deflate'
      ? deflateRawSync(raw, { level: 1 })
      : brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  return Buffer.concat([Buffer.of(TAG[codec]), body]);
}

export function decodeRecord(blob: Buffer): HistoryRecord {
  const body = blob.subarray(1);
  if (blob[0] === TAG.deflate) return decodeSnapshot(inflateRawSync(body));
  if (blob[0] === TAG.brotli) return decodeSnapshot(brotliDecompressSync(body));
  throw new Error(`history record of unknown format ${blob[0]}`);
}

const NO_CUMULATIVE: readonly number[] = Object.freeze([]);
const zeroCounters = compileZero(WINDOW_COUNTERS);
const addCounters = compileAdd(WINDOW_COUNTERS);
const LAST_NUMBERS = [...CELL_GAUGES, ...CELL_TOTALS] as const;
const zeroLast = compileZero(LAST_NUMBERS);
const assignLast = compileAssign(LAST_NUMBERS);
const addLast = compileAdd(LAST_NUMBERS);

/** The label of a rolled-up dimension: "every node" or "every model". Events' labels are never empty. */
export const ALL = '';

/** A distribution's running sum: exact count, sum, min, max and histogram counts by index. */
export class DistSum {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  zeros = 0;
  readonly counts = new Map<number, number>();

  add(d: DistributionData, sign: 1 | -1 = 1): void {
    if (d.count === 0) return;
    this.count += sign * d.count;
    this.sum = this.count === 0 ? 0 : this.sum + sign * d.sum;
    this.zeros += sign * d.zeros;
    if (sign > 0) {
      if (d.min < this.min) this.min = d.min;
      if (d.max > this.max) this.max = d.max;
    }
    const sparse = d.sparse;
    if (sparse) {
      for (let i = 0; i < sparse.indices.length; i++) bump(this.counts, sparse.indices[i]!, sign * sparse.counts[i]!);
    } else {
      for (let i = 0; i < d.counts.length; i++) if (d.counts[i]) bump(this.counts, d.offset + i, sign * d.counts[i]!);
    }
  }

  data(min = this.min, max = this.max): DistributionData {
    if (this.count <= 0) return EMPTY;
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of this.counts.keys()) {
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
    const counts = new Uint32Array(hi >= lo ? hi - lo + 1 : 0);
    for (const [i, n] of this.counts) counts[i - lo] = n;
    return { count: this.count, sum: this.sum, min, max, zeros: this.zeros, offset: counts.length > 0 ? lo : 0, counts };
  }
}

const EMPTY: DistributionData = Object.freeze({ count: 0, sum: 0, min: 0, max: 0, zeros: 0, offset: 0, counts: new Uint32Array(0) });

function bump<K>(m: Map<K, number>, k: K, n: number): void {
  const v = (m.get(k) ?? 0) + n;
  if (v === 0) m.delete(k);
  else m.set(k, v);
}

/** One cell's sum over records. */
export class CellSum {
  readonly counters = zeroCounters();
  readonly last = zeroLast();
  /** End (s) of the record `last` was taken from. */
  lastAt = -Infinity;
  readonly dists = Object.fromEntries(CELL_DISTRIBUTIONS.map((d) => [d, new DistSum()])) as Record<CellDistribution, DistSum>;
  readonly statuses = new Map<number, number>();
  readonly types = new Map<string, number>();
  readonly sloGood: number[] = [];

  constructor(
    readonly node: string,
    readonly endpoint: string,
    readonly model: string,
  ) {}

  /**
   * Adds (or takes out) cell `c` of the record ending at `at`. Its gauges and
   * totals replace older ones; those of other cells at the same end add up
   * (a rollup, or one partition's part of it).
   */
  add(c: CellData, at: number, sign: 1 | -1 = 1): void {
    if (sign > 0) addCounters(this.counters, c);
    else for (const k of WINDOW_COUNTERS) this.counters[k] -= c[k];
    for (const d of CELL_DISTRIBUTIONS) this.dists[d].add(c[d], sign);
    for (const [k, n] of c.errorsByStatus) bump(this.statuses, k, sign * n);
    for (const [k, n] of c.errorsByType) bump(this.types, k, sign * n);
    for (let i = 0; i < c.sloGood.length; i++) this.sloGood[i] = (this.sloGood[i] ?? 0) + sign * c.sloGood[i]!;
    if (sign > 0 && at > this.lastAt) {
      assignLast(this.last, c);
      this.lastAt = at;
    } else if (sign > 0 && at === this.lastAt) addLast(this.last, c);
  }

  /** As a cell of a snapshot, its gauges and totals those of the record ending at `lastAt` (0 when it was not in it). */
  data(lastAt: number, extremes?: (d: CellDistribution) => { min: number; max: number }): CellData {
    const last = this.lastAt === lastAt ? this.last : zeroLast();
    const dist = (d: CellDistribution) => {
      const x = extremes?.(d);
      return x ? this.dists[d].data(x.min, x.max) : this.dists[d].data();
    };
    return {
      node: this.node,
      endpoint: this.endpoint,
      model: this.model,
      ...this.counters,
      ...last,
      latency: dist('latency'),
      ttft: dist('ttft'),
      tokensPerSecond: dist('tokensPerSecond'),
      itl: dist('itl'),
      errorsByStatus: new Map(this.statuses),
      errorsByType: new Map(this.types),
      sloGood: this.sloGood.slice(),
      cumulative: NO_CUMULATIVE,
    } as Counts<CellNumber> & CellData;
  }
}

/** A rollup cell: one of its node and model is ALL. */
export function isRollup(c: { node: string; model: string }): boolean {
  return c.node === ALL || c.model === ALL;
}

/**
 * The exact sum of records (one partition's consecutive buckets of a tier) as
 * the record of the coarser bucket they make up; with `rollup`, of their
 * rollups (cells already rolled up keep their labels). Built one record at a
 * time, in any order: the recorder adds each finer record to its coarse
 * bucket as it is written, so closing a bucket costs one pass over its cells,
 * not a pass over every record in it, spelled out in one stretch of the
 * leader's event loop (docs/HISTORY.md, "Each coarser tier").
 */
export class RecordSum {
  private readonly cells = new Map<string, CellSum>();
  /** What the newest record added says of the whole bucket (null before any). */
  private newest: Pick<HistoryRecord, 'builtAt' | 'coveredSeconds' | 'slos' | 'nodes'> | null = null;

  constructor(private readonly rollup = false) {}

  add(r: HistoryRecord): void {
    if (!this.newest || r.builtAt >= this.newest.builtAt) this.newest = { builtAt: r.builtAt, coveredSeconds: r.coveredSeconds, slos: r.slos, nodes: r.nodes };
    for (const c of r.cells) {
      if (this.rollup && !isRollup(c)) {
        this.into(ALL, c.endpoint, c.model, c, r.builtAt);
        this.into(c.node, c.endpoint, ALL, c, r.builtAt);
      } else this.into(c.node, c.endpoint, c.model, c, r.builtAt);
    }
  }

  private into(node: string, endpoint: string, model: string, c: CellData, at: number): void {
    const key = cellKey(node, endpoint, model);
    let sum = this.cells.get(key);
    if (!sum) this.cells.set(key, (sum = new CellSum(node, endpoint, model)));
    sum.add(c, at);
  }

  /** The record of the coarser bucket [`startMs`, `endMs`) of step `stepMs`. */
  record(startMs: number, endMs: number, stepMs: number, epoch: number): HistoryRecord {
    const newest = this.newest;
    const endAt = newest?.builtAt ?? endMs / 1000;
    return {
      epoch,
      seq: Math.floor(startMs / stepMs),
      builtAt: endMs / 1000,
      coveredSeconds: newest?.coveredSeconds ?? 0,
      stats: { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 },
      slos: newest?.slos ?? [],
      nodes: (newest?.nodes ?? []).map((n): NodeData => ({ ...n })),
      cells: [...this.cells.values()].map((s) => s.data(endAt)),
    };
  }
}
