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
  compileFill,
  compileZero,
  PatchDecoder,
  field,
  decodeSnapshot,
  messageKind,
  zeroCumulative,
  NO_KEYED_COUNTS,
  type CellData,
  type CellNumber,
  type CellPatch,
  type Counts,
  type DistributionData,
  type DistributionPatch,
  type InternalSnapshot,
  type NodeData,
  type SnapshotPatch,
} from '@pulse/protocol';
import { Aggregates, KEYED_STATUS, KEYED_TYPES } from './aggregates.js';
import { SparseHistogram } from './sparse-histogram.js';
import { cellKey } from './window.js';

/**
 * A cell's distribution that patches change in place; its histogram sparse
 * (sparse-histogram.ts says why). It is its histogram, not a holder of one:
 * no getters forwarding to it, and one object fewer per distribution for a
 * patch's thousands of cells to reach.
 */
class CellDistributionState extends SparseHistogram implements DistributionData {
  count = 0;
  sum = 0;
  min = 0;
  max = 0;

  static from(d: DistributionData): CellDistributionState {
    const s = new CellDistributionState();
    s.count = d.count;
    s.sum = d.sum;
    s.min = d.min;
    s.max = d.max;
    s.addAll(d, 1);
    return s;
  }

  get counts(): Uint32Array {
    return this.dense();
  }

  toJSON(): Omit<DistributionData, 'sparse'> {
    return { count: this.count, sum: this.sum, min: this.min, max: this.max, zeros: this.zeros, offset: this.offset, counts: this.counts };
  }

  apply(p: DistributionPatch): void {
    for (let i = 0; i < p.added.length; i++) this.bump(p.added[i]!, 1);
    for (let i = 0; i < p.removed.length; i++) this.bump(p.removed[i]!, -1);
    this.count = p.count;
    this.sum = p.sum;
    if (p.count === 0) {
      this.min = 0;
      this.max = 0;
      this.clear();
      return;
    }
    if (p.min !== undefined) this.min = p.min;
    if (p.max !== undefined) this.max = p.max;
  }
}

const zeroNumbers = compileZero(CELL_NUMBERS);
const perDistribution = compileFill(CELL_DISTRIBUTIONS);

/**
 * Sets the numbers a patch carries on a cell and writes what each moved by
 * (0 for the rest) into `delta`; true when any did. Compiled from the field list
 * (cell-fields.ts says why): a loop over names made every access keyed.
 */
const applyNumbers = new Function(
  'cell',
  'numbers',
  'delta',
  `let moved = false; let v;\n${CELL_NUMBERS.map(
    (k) => `v = numbers.${field(k)}; if (v !== undefined && v !== cell.${field(k)}) { delta.${field(k)} = v - cell.${field(k)}; cell.${field(k)} = v; moved = true; } else delta.${field(k)} = 0;`,
  ).join('\n')}\nreturn moved;`,
) as (cell: Counts<CellNumber>, numbers: Partial<Counts<CellNumber>>, delta: Counts<CellNumber>) => boolean;

type MutableCell = CellData & Record<(typeof CELL_DISTRIBUTIONS)[number], CellDistributionState> & { cumulative: number[]; sloGood: number[] };

/** Every cell built the one way, so all have one shape (a view reads thousands of them). */
function newCell(node: string, endpoint: string, model: string, slos: number): MutableCell {
  return {
    node,
    endpoint,
    model,
    ...zeroNumbers(),
    errorsByStatus: NO_KEYED_COUNTS,
    errorsByType: NO_KEYED_COUNTS,
    sloGood: new Array<number>(slos).fill(0),
    ...perDistribution(() => new CellDistributionState()),
    cumulative: zeroCumulative(),
  };
}

export type ReplicaResult = 'applied' | 'gap';

export class SnapshotReplica {
  private held: InternalSnapshot | null = null;
  private readonly cells = new Map<string, MutableCell>();
  private readonly nodes = new Map<string, NodeData>();
  /** The cells as a list, as a snapshot carries them: made again only when a cell comes or goes, not per patch. */
  private list: MutableCell[] | null = null;
  /** Scratch: what a patch moved a cell's numbers by. */
  private readonly delta = zeroNumbers();
  /** What the cells add up to, by endpoint, node and pairs of labels, kept up to date (aggregates.ts; the last four only while views read them). */
  readonly aggregates = new Aggregates();

  /** The snapshot held, as a keyframe would carry it; null before the first keyframe. */
  get snapshot(): InternalSnapshot | null {
    return this.held;
  }

  /** The cells held, by node, endpoint and model (what a view filtering on several labels walks). */
  readonly byLabels = new Map<string, Map<string, Map<string, MutableCell>>>();

  /** The replica of what a bus stores: a keyframe, then the patches after it, encoded. Throws on a gap. */
  static fromMessages(messages: readonly Buffer[]): SnapshotReplica {
    const replica = new SnapshotReplica();
    const patches = new PatchDecoder();
    for (const m of messages) {
      if (messageKind(m) === 'patch') {
        // Back to back: each decode lets go of the patch before it, no release needed between them.
        if (replica.apply(patches.decode(m)) === 'gap') throw new Error('a stored patch does not follow on from the one before it');
      } else {
        replica.load(decodeSnapshot(m));
      }
    }
    return replica;
  }

  /** Replaces everything held with a keyframe. */
  load(keyframe: InternalSnapshot): void {
    this.cells.clear();
    this.list = null;
    this.byLabels.clear();
    this.nodes.clear();
    this.aggregates.clear();
    this.aggregates.reserve(keyframe.cells);
    for (const c of keyframe.cells) {
      const cell = newCell(c.node, c.endpoint, c.model, keyframe.slos.length);
      for (const k of CELL_NUMBERS) cell[k] = c[k];
      cell.errorsByStatus = c.errorsByStatus;
      cell.errorsByType = c.errorsByType;
      cell.sloGood = [...c.sloGood];
      cell.cumulative = [...c.cumulative];
      for (const name of CELL_DISTRIBUTIONS) cell[name] = CellDistributionState.from(c[name]);
      this.hold(cell);
    }
    for (const n of keyframe.nodes) this.nodes.set(n.node, n);
    this.aggregates.patched();
    this.held = { ...keyframe, cells: this.cellList(), nodes: [...this.nodes.values()] };
  }

  /** Applies a patch taken against the snapshot held; 'gap' (changing nothing) when it was not. */
  apply(patch: SnapshotPatch): ReplicaResult {
    const held = this.held;
    if (!held || patch.epoch !== held.epoch || patch.baseSeq !== held.seq) return 'gap';
    for (const c of patch.removedCells) {
      const key = cellKey(c.node, c.endpoint, c.model);
      const cell = this.cells.get(key);
      if (cell) this.release(key, cell);
    }
    for (const c of patch.cells) this.applyCell(c, held.slos.length);
    this.aggregates.patched();
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
      cells: this.cellList(),
    };
    return 'applied';
  }

  private applyCell(p: CellPatch, slos: number): void {
    // By labels, not by key: building and hashing a key string per changed cell measured a tenth of the patch.
    let cell = this.byLabels.get(p.node)?.get(p.endpoint)?.get(p.model);
    if (!cell) {
      cell = newCell(p.node, p.endpoint, p.model, slos);
      this.hold(cell);
    }
    const delta = this.delta;
    if (applyNumbers(cell, p.numbers, delta)) this.aggregates.numbers(cell, delta);
    if (p.keyed) {
      const moved = this.aggregates.keyedChange(cell, p.keyed);
      // A patch's error maps are the cell's to keep (PatchDecoder makes them new), kept only when they moved: an
      // unchanged one dies young. Its SLO counts are refilled by the next decode, so they are copied.
      if (moved & KEYED_STATUS) cell.errorsByStatus = p.keyed.errorsByStatus;
      if (moved & KEYED_TYPES) cell.errorsByType = p.keyed.errorsByType;
      const good = p.keyed.sloGood;
      if (cell.sloGood.length !== good.length) cell.sloGood.length = good.length;
      for (let i = 0; i < good.length; i++) cell.sloGood[i] = good[i]!;
    }
    for (const name of CELL_DISTRIBUTIONS) {
      const d = p.dists[name];
      if (!d) continue;
      const state = cell[name];
      const { count, sum, min, max } = state;
      state.apply(d);
      this.aggregates.moved(cell, name, d.added, d.removed, count, sum, min, max);
    }
    if (p.cumulative) for (let i = 0; i < p.cumulative.length; i += 2) cell.cumulative[p.cumulative[i]!] = p.cumulative[i + 1]!;
  }

  private cellList(): MutableCell[] {
    return (this.list ??= [...this.cells.values()]);
  }

  private hold(cell: MutableCell): void {
    this.list = null;
    this.cells.set(cellKey(cell.node, cell.endpoint, cell.model), cell);
    let endpoints = this.byLabels.get(cell.node);
    if (!endpoints) {
      endpoints = new Map();
      this.byLabels.set(cell.node, endpoints);
    }
    let models = endpoints.get(cell.endpoint);
    if (!models) {
      models = new Map();
      endpoints.set(cell.endpoint, models);
    }
    models.set(cell.model, cell);
    this.aggregates.add(cell);
  }

  private release(key: string, cell: MutableCell): void {
    this.list = null;
    this.cells.delete(key);
    const endpoints = this.byLabels.get(cell.node);
    const models = endpoints?.get(cell.endpoint);
    models?.delete(cell.model);
    if (models?.size === 0) endpoints!.delete(cell.endpoint);
    if (endpoints?.size === 0) this.byLabels.delete(cell.node);
    this.aggregates.remove(cell);
  }
}
