/**
 * A gateway's copy of the aggregator's window: the last keyframe (a whole
 * snapshot) with every patch after it applied, in order. Patches carry only
 * what changed each tick (@pulse/protocol's patch.ts); applied to the
 * snapshot they were taken against, they give exactly the snapshot the
 * aggregator would have sent. One that does not follow on from what is held
 * — another epoch, or a tick missed — is refused as a gap, and the holder
 * catches up from the next keyframe.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_NUMBERS,
  compileZero,
  decodePatch,
  decodeSnapshot,
  messageKind,
  NO_KEYED_COUNTS,
  type CellData,
  type CellPatch,
  type DistributionData,
  type DistributionPatch,
  type InternalSnapshot,
  type NodeData,
  type SnapshotPatch,
} from '@pulse/protocol';
import { ZERO_INDEX } from './log-histogram.js';
import { cellKey } from './window.js';

/** A distribution that patches change in place: a dense span of counts over the occupied bucket range. */
class SpanDistribution implements DistributionData {
  count = 0;
  sum = 0;
  min = 0;
  max = 0;
  zeros = 0;
  offset = 0;
  counts = new Uint32Array(0);

  static from(d: DistributionData): SpanDistribution {
    const s = new SpanDistribution();
    Object.assign(s, { count: d.count, sum: d.sum, min: d.min, max: d.max, zeros: d.zeros, offset: d.offset, counts: Uint32Array.from(d.counts) });
    return s;
  }

  apply(p: DistributionPatch): void {
    for (const i of p.added) this.bump(i, 1);
    for (const i of p.removed) this.bump(i, -1);
    this.count = p.count;
    this.sum = p.sum;
    if (p.count === 0) {
      this.min = 0;
      this.max = 0;
      this.zeros = 0;
      this.offset = 0;
      this.counts = new Uint32Array(0);
      return;
    }
    if (p.min !== undefined) this.min = p.min;
    if (p.max !== undefined) this.max = p.max;
    this.trim();
  }

  private bump(index: number, n: number): void {
    if (index === ZERO_INDEX) {
      this.zeros += n;
      return;
    }
    if (this.counts.length === 0) this.offset = index;
    if (index < this.offset || index >= this.offset + this.counts.length) this.grow(index);
    this.counts[index - this.offset]! += n;
  }

  /** Widens the span to cover `index`, with some room to spare on that side. */
  private grow(index: number): void {
    const lo = Math.min(this.offset, index);
    const hi = Math.max(this.offset + this.counts.length, index + 1);
    const counts = new Uint32Array(hi - lo);
    counts.set(this.counts, this.offset - lo);
    this.offset = lo;
    this.counts = counts;
  }

  /** Drops empty buckets at both ends, so the span follows the live samples rather than every one ever seen. */
  private trim(): void {
    let lo = 0;
    let hi = this.counts.length;
    while (lo < hi && this.counts[lo] === 0) lo++;
    while (hi > lo && this.counts[hi - 1] === 0) hi--;
    if (lo === 0 && hi === this.counts.length) return;
    this.counts = this.counts.slice(lo, hi);
    this.offset = hi > lo ? this.offset + lo : 0;
  }
}

const zeroNumbers = compileZero(CELL_NUMBERS);

type MutableCell = CellData & Record<(typeof CELL_DISTRIBUTIONS)[number], SpanDistribution>;

function newCell(node: string, endpoint: string, model: string, slos: number): MutableCell {
  const cell = { node, endpoint, model, ...zeroNumbers(), errorsByStatus: NO_KEYED_COUNTS, errorsByType: NO_KEYED_COUNTS, sloGood: new Array<number>(slos).fill(0) } as Partial<MutableCell>;
  for (const name of CELL_DISTRIBUTIONS) cell[name] = new SpanDistribution();
  return cell as MutableCell;
}

export type ReplicaResult = 'applied' | 'gap';

export class SnapshotReplica {
  private held: InternalSnapshot | null = null;
  private readonly cells = new Map<string, MutableCell>();
  private readonly nodes = new Map<string, NodeData>();

  /** The snapshot held, as a keyframe would carry it; null before the first keyframe. */
  get snapshot(): InternalSnapshot | null {
    return this.held;
  }

  /** The replica of what a bus stores: a keyframe, then the patches after it, encoded. Throws on a gap. */
  static fromMessages(messages: readonly Buffer[]): SnapshotReplica {
    const replica = new SnapshotReplica();
    for (const m of messages) {
      if (messageKind(m) === 'patch') {
        if (replica.apply(decodePatch(m)) === 'gap') throw new Error('a stored patch does not follow on from the one before it');
      } else {
        replica.load(decodeSnapshot(m));
      }
    }
    return replica;
  }

  /** Replaces everything held with a keyframe. */
  load(keyframe: InternalSnapshot): void {
    this.cells.clear();
    this.nodes.clear();
    for (const c of keyframe.cells) {
      const cell = { ...c } as MutableCell;
      for (const name of CELL_DISTRIBUTIONS) cell[name] = SpanDistribution.from(c[name]);
      this.cells.set(cellKey(c.node, c.endpoint, c.model), cell);
    }
    for (const n of keyframe.nodes) this.nodes.set(n.node, n);
    this.held = { ...keyframe, cells: [...this.cells.values()], nodes: [...this.nodes.values()] };
  }

  /** Applies a patch taken against the snapshot held; 'gap' (changing nothing) when it was not. */
  apply(patch: SnapshotPatch): ReplicaResult {
    const held = this.held;
    if (!held || patch.epoch !== held.epoch || patch.baseSeq !== held.seq) return 'gap';
    for (const c of patch.removedCells) this.cells.delete(cellKey(c.node, c.endpoint, c.model));
    for (const c of patch.cells) this.applyCell(c, held.slos.length);
    for (const n of patch.removedNodes) this.nodes.delete(n);
    for (const n of patch.nodes) this.nodes.set(n.node, n);
    this.held = {
      epoch: patch.epoch,
      seq: patch.seq,
      builtAt: patch.builtAt,
      coveredSeconds: patch.coveredSeconds,
      stats: patch.stats,
      slos: held.slos,
      nodes: [...this.nodes.values()],
      cells: [...this.cells.values()],
    };
    return 'applied';
  }

  private applyCell(p: CellPatch, slos: number): void {
    const key = cellKey(p.node, p.endpoint, p.model);
    let cell = this.cells.get(key);
    if (!cell) {
      cell = newCell(p.node, p.endpoint, p.model, slos);
      this.cells.set(key, cell);
    }
    for (const k of CELL_NUMBERS) {
      const v = p.numbers[k];
      if (v !== undefined) cell[k] = v;
    }
    if (p.keyed) Object.assign(cell, p.keyed);
    for (const name of CELL_DISTRIBUTIONS) {
      const d = p.dists[name];
      if (d) cell[name].apply(d);
    }
  }
}
