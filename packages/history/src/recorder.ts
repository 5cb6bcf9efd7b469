/**
 * The aggregator's side of history (docs/HISTORY.md). Every tick, in either
 * role, `capture` notes what the tick tier's record of the bucket that just
 * closed needs besides that bucket's increments: each cell's gauges and
 * since-creation totals, the nodes, the covered length — as the live
 * snapshot of that tick saw them. While leading, `flush` writes the record of
 * every tick bucket that closed at least `graceMs` ago (so events a little
 * late still land in it), adding each to its coarser tier's open bucket, and
 * writes that bucket once its last finer one is written (the part an earlier
 * leader wrote read back from the store). Writes are fenced by
 * the partition's lease.
 */
import { CELL_DISTRIBUTIONS, CELL_GAUGES, CELL_TOTALS, field, WINDOW_COUNTERS, type CellData, type DistributionData, type NodeData } from '@pulse/protocol';
import { ZERO_INDEX, type BucketCell, type CellState, type MetricsWindow } from '@pulse/metrics';
import type { Fence, Logger } from '@pulse/runtime';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { decodeRecord, encodeRecord, RecordSum, type HistoryRecord } from './record.js';
import type { HistoryStore, StoredRecord } from './store.js';
import type { Tier } from './tiers.js';

export interface HistoryRecorderOptions {
  store: HistoryStore;
  partition: number;
  /** Finest first; the first one's step is the tick. */
  tiers: readonly Tier[];
  windowMs: number;
  /** How long after a tick bucket closes its record is written (PULSE_HISTORY_GRACE_MS). */
  graceMs: number;
  /**
   * Per tier, the factor its records' histograms are coarsened by (PULSE_HISTORY_COARSEN): bucket
   * indices rounded down to multiples of it, so k × ~2 % relative accuracy instead of ~2 %; counts,
   * sums, min and max stay exact. 1 (the default) keeps them as the window has them.
   */
  coarsen?: readonly number[];
  logger: Logger;
}

interface Capture {
  readonly cells: Map<CellState, readonly number[]>;
  readonly nodes: NodeData[];
  readonly coveredSeconds: number;
  readonly slos: readonly string[];
}

/** A coarser tier's bucket while it is open: the sum of the finer records written so far, and which. */
interface OpenBucket {
  readonly sum: RecordSum;
  readonly added: Set<number>;
}

const openBucket = (tier: Tier): OpenBucket => ({ sum: new RecordSum(tier.rollup), added: new Set() });

const LAST = [...CELL_GAUGES, ...CELL_TOTALS] as const;
const NO_CUMULATIVE: readonly number[] = Object.freeze([]);

export class HistoryRecorder {
  /** Captures by the tick edge (ms) ending their bucket. */
  private readonly pending = new Map<number, Capture>();
  /** End (ms) of the newest tick bucket written in this leadership; null until its first flush. */
  private writtenEnd: number | null = null;
  /** Per coarser tier (index ≥ 1): its open buckets, by coarse bucket. */
  private readonly open: Map<number, OpenBucket>[];
  private flushing: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly tick: Tier;
  /** CPU spent building, encoding and summing records (ms), for the bench and the logs. */
  cpuMs = 0;
  recordsWritten = 0;
  bytesWritten = 0;

  constructor(private readonly opts: HistoryRecorderOptions) {
    if (opts.tiers.length === 0) throw new Error('history needs at least one tier');
    this.tick = opts.tiers[0]!;
    this.open = opts.tiers.map(() => new Map());
    this.log = opts.logger.child({ component: 'history', partition: opts.partition });
  }

  /** After `window.advance(tickMs)`, in either role: what the record of the bucket ending at `tickMs` needs. */
  capture(window: MetricsWindow, tickMs: number): void {
    const started = performance.now();
    const cells = new Map<CellState, readonly number[]>();
    for (const cell of window.cellStates()) cells.set(cell, LAST.map((k) => cell.counts[k]));
    const nodes = [...window.nodes.values()].map((s) => window.nodeData(s));
    this.pending.set(tickMs, { cells, nodes, coveredSeconds: window.coveredMs(tickMs) / 1000, slos: window.slos.map((s) => s.name) });
    for (const at of this.pending.keys()) if (at < tickMs - this.opts.windowMs) this.pending.delete(at);
    this.cpuMs += performance.now() - started;
  }

  /** A leadership starts (or ends): what was written and summed is no longer known. */
  reset(): void {
    this.writtenEnd = null;
    for (const m of this.open) m.clear();
  }

  /**
   * Leading, after capturing at `tickMs`: starts writing the records now due,
   * unless the previous flush is still running (the next one catches up).
   * Resolves false when the store fenced the write off.
   */
  flush(window: MetricsWindow, tickMs: number, fence: Fence): Promise<boolean> | null {
    if (this.flushing) return null;
    const run = (async () => {
      try {
        return await this.write(window, tickMs, fence);
      } catch (err) {
        this.log.warn({ err }, 'writing history failed; the next tick retries');
        return true;
      } finally {
        // Before `run` resolves: a caller that awaited it may flush again at once.
        this.flushing = null;
      }
    })();
    this.flushing = run.then(() => undefined);
    return run;
  }

  /** Resolves when no flush runs (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async write(window: MetricsWindow, tickMs: number, fence: Fence): Promise<boolean> {
    const step = this.tick.stepMs;
    const due = Math.floor((tickMs - this.opts.graceMs) / step) * step;
    let ends = [...this.pending.keys()].filter((e) => e <= due && (this.writtenEnd === null || e > this.writtenEnd)).sort((a, b) => a - b);
    if (ends.length === 0) return true;
    if (this.writtenEnd === null) {
      // A new leadership: leave what an earlier leader wrote; fill what nobody did (its last moments).
      const have = await this.opts.store.read(this.tick, ends.map((e) => e / step - 1), this.opts.partition);
      ends = ends.filter((_, i) => have[i]!.length === 0);
      this.writtenEnd = due;
      // Coarse buckets open now are summed with what the store holds of them when they close.
    }
    const out: StoredRecord[] = [];
    const closed: { tier: number; bucket: number }[] = [];
    for (const end of ends) {
      // Each record in a turn of the event loop of its own: at a fleet's 6,400 cells one is tens of ms of CPU,
      // and the leader's lease renewal (a timer) must get its turn between them, or a busy machine stretches the
      // run of them past the lease.
      await nextTurn();
      const started = performance.now();
      const record = this.tickRecord(window, end, fence.epoch);
      coarsenRecord(record, this.opts.coarsen?.[0] ?? 1);
      out.push({ tier: this.tick, bucket: end / step - 1, blob: encodeRecord(record) });
      this.offer(1, end / step - 1, record, closed);
      this.cpuMs += performance.now() - started;
    }
    this.writtenEnd = Math.max(this.writtenEnd, due);
    // Coarser buckets that closed: each the sum of its finer records (read back where this leadership lacks them).
    for (let i = 0; i < closed.length; i++) {
      const { tier, bucket } = closed[i]!;
      await nextTurn();
      const record = await this.sum(tier, bucket, fence.epoch);
      const t = this.opts.tiers[tier]!;
      const at = performance.now();
      coarsenRecord(record, this.opts.coarsen?.[tier] ?? 1);
      out.push({ tier: t, bucket, blob: encodeRecord(record, 'brotli') });
      this.offer(tier + 1, bucket, record, closed);
      this.cpuMs += performance.now() - at;
    }
    const ok = await this.opts.store.write(this.opts.partition, out, fence);
    if (ok) {
      this.recordsWritten += out.length;
      for (const r of out) this.bytesWritten += r.blob.length;
    }
    for (const end of ends) this.pending.delete(end);
    return ok;
  }

  /** Hands the record of bucket `bucket` of tier `tier − 1` to tier `tier`'s open bucket; notes it when that closes. */
  private offer(tier: number, bucket: number, record: HistoryRecord, closed: { tier: number; bucket: number }[]): void {
    const coarse = this.opts.tiers[tier];
    if (!coarse) return;
    const fine = this.opts.tiers[tier - 1]!;
    const ratio = coarse.stepMs / fine.stepMs;
    const c = Math.floor(bucket / ratio);
    const open = this.open[tier]!;
    for (const b of open.keys()) if (b < c - 1) open.delete(b); // left behind (a gap in the finer tier)
    let into = open.get(c);
    if (!into) open.set(c, (into = openBucket(coarse)));
    if (!into.added.has(bucket)) {
      into.added.add(bucket);
      into.sum.add(record);
    }
    if ((bucket + 1) % ratio === 0) closed.push({ tier, bucket: c });
  }

  /** The record of coarse bucket `bucket` of tier `tier`: the sum of its finer records, those this leadership did not write read back. */
  private async sum(tier: number, bucket: number, epoch: number): Promise<HistoryRecord> {
    const coarse = this.opts.tiers[tier]!;
    const fine = this.opts.tiers[tier - 1]!;
    const ratio = coarse.stepMs / fine.stepMs;
    const open = this.open[tier]!.get(bucket) ?? openBucket(coarse);
    this.open[tier]!.delete(bucket);
    const missing: number[] = [];
    for (let b = bucket * ratio; b < (bucket + 1) * ratio; b++) if (!open.added.has(b)) missing.push(b);
    const blobs = missing.length > 0 ? await this.opts.store.read(fine, missing, this.opts.partition) : [];
    const started = performance.now();
    for (const [blob] of blobs) if (blob) open.sum.add(decodeRecord(blob));
    const record = open.sum.record(bucket * coarse.stepMs, (bucket + 1) * coarse.stepMs, coarse.stepMs, epoch);
    this.cpuMs += performance.now() - started;
    return record;
  }

  /** The tick tier's record of the bucket ending at `endMs`: its increments, and the capture taken at its end. */
  private tickRecord(window: MetricsWindow, endMs: number, epoch: number): HistoryRecord {
    const step = this.tick.stepMs;
    const capture = this.pending.get(endMs)!;
    const shares = window.sharesAt(endMs - step);
    const cells: CellData[] = [];
    for (const [cell, last] of capture.cells) cells.push(cellRecord(cell, shares && window.shareAt(cell, endMs - step), last));
    if (shares) for (const share of shares) if (!capture.cells.has(share.cell)) cells.push(cellRecord(share.cell, share, null));
    return {
      epoch,
      seq: endMs / step - 1,
      builtAt: endMs / 1000,
      coveredSeconds: capture.coveredSeconds,
      stats: { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 },
      slos: capture.slos,
      nodes: capture.nodes,
      cells,
    };
  }
}

/**
 * A cell of a tick record: its bucket's increments (zeros when it had none),
 * the gauges and totals captured at the bucket's end. One object literal with
 * every field named, compiled from the field lists (cell-fields.ts says why):
 * filled in by a loop over names, each of a fleet's 6,400 cells per tick was an
 * object in dictionary mode, slow to build and slower for the encoder and the
 * sums that read it.
 */
const cellLiteral = new Function(
  'cell',
  'share',
  'last',
  'dist',
  'cumulative',
  `return { node: cell.node, endpoint: cell.endpoint, model: cell.model, ${[
    ...WINDOW_COUNTERS.map((k) => `${field(k)}: share ? share.${field(k)} : 0`),
    ...LAST.map((k, i) => `${field(k)}: last ? last[${i}] : 0`),
    ...CELL_DISTRIBUTIONS.map((d) => `${field(d)}: dist(share ? share.${field(d)} : null)`),
  ].join(', ')}, errorsByStatus: (share && share.statuses) ?? new Map(), errorsByType: (share && share.types) ?? new Map(), sloGood: (share && share.sloGood) ?? new Array(cell.sloGood.length).fill(0), cumulative };`,
) as (cell: CellState, share: BucketCell | undefined, last: readonly number[] | null, dist: typeof distribution, cumulative: readonly number[]) => CellData;

function cellRecord(cell: CellState, share: BucketCell | undefined, last: readonly number[] | null): CellData {
  return cellLiteral(cell, share, last, distribution, NO_CUMULATIVE);
}

const EMPTY: DistributionData = Object.freeze({ count: 0, sum: 0, min: 0, max: 0, zeros: 0, offset: 0, counts: new Uint32Array(0) });

function distribution(s: BucketCell['latency']): DistributionData {
  if (!s || s.count === 0) return EMPTY;
  let lo = Infinity;
  let hi = -Infinity;
  let zeros = 0;
  for (let i = 0; i < s.count; i++) {
    const index = s.indices[i]!;
    if (index === ZERO_INDEX) zeros++;
    else {
      if (index < lo) lo = index;
      if (index > hi) hi = index;
    }
  }
  const counts = new Uint32Array(hi >= lo ? hi - lo + 1 : 0);
  for (let i = 0; i < s.count; i++) {
    const index = s.indices[i]!;
    if (index !== ZERO_INDEX) counts[index - lo]!++;
  }
  return { count: s.count, sum: s.sum, min: s.min, max: s.max, zeros, offset: counts.length > 0 ? lo : 0, counts };
}

/**
 * Coarsens the distributions of `record` by `k` (1: unchanged): each histogram
 * index to the middle of its group of k (an estimate is then off by at most
 * half a group, ±k·1 %), sums to float32 and min and max to 10 significant
 * bits (±0.1 %, well inside a bucket). The codec then writes fewer distinct
 * buckets and numbers whose low bytes are zero, which compress (docs/HISTORY.md
 * "Size"); counts stay exact.
 */
export function coarsenRecord(record: HistoryRecord, k: number): void {
  if (k <= 1) return;
  for (const c of record.cells) {
    const cell = c as unknown as Record<string, DistributionData>;
    for (const name of CELL_DISTRIBUTIONS) cell[name] = coarsen(cell[name]!, k);
  }
}

function coarsen(d: DistributionData, k: number): DistributionData {
  if (d.count === 0) return d;
  const numbers = { count: d.count, sum: Math.fround(d.sum), min: keepBits(d.min, 10), max: keepBits(d.max, 10), zeros: d.zeros };
  if (d.counts.length === 0) return { ...numbers, offset: d.offset, counts: d.counts };
  // Groups start at multiples of k, so a coarser tier's k' (a multiple of k) regroups the middles exactly as the original indices.
  const middle = (i: number) => Math.floor(i / k) * k + (k >> 1);
  const lo = middle(d.offset);
  const counts = new Uint32Array(middle(d.offset + d.counts.length - 1) - lo + 1);
  for (let i = 0; i < d.counts.length; i++) {
    const n = d.counts[i]!;
    if (n) counts[middle(d.offset + i) - lo]! += n;
  }
  return { ...numbers, offset: lo, counts };
}

/** `x` rounded to `bits` bits after its leading one: the float64's low mantissa bytes become zeros. */
function keepBits(x: number, bits: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const q = 2 ** (Math.floor(Math.log2(Math.abs(x))) - bits);
  return Math.round(x / q) * q;
}
