/**
 * What changed in a window since its last snapshot or patch, as a
 * SnapshotPatch (@pulse/protocol's patch.ts): the numbers that changed, the
 * keyed counts when they changed, and per distribution the new count and sum,
 * min and max when they moved, and the histogram indices added and expired.
 * Taking a patch makes its content the base of the next one.
 */
import {
  CELL_DISTRIBUTIONS,
  CELL_NUMBERS,
  compileChanges,
  field,
  NO_KEYED_COUNTS,
  type CellPatch,
  type DistributionPatch,
  type NodeData,
  type SnapshotPatch,
} from '@pulse/protocol';
import { DIST_BIT, NO_INDICES, type CellState } from './cell.js';
import type { MetricsWindow } from './window.js';

/** Call `window.advance(nowMs)` first, as for a snapshot. */
export function takePatch(window: MetricsWindow, nowMs: number, epoch: number, seq: number, baseSeq: number, eventsDropped: number): SnapshotPatch {
  const cells: CellPatch[] = [];
  for (const cell of window.changed) {
    const patch = cellPatch(cell);
    if (patch) cells.push(patch);
    window.markReported(cell);
  }
  const nodes: NodeData[] = [];
  for (const state of window.nodes.values()) {
    const now = window.nodeData(state);
    const was = state.reported;
    if (!was || was.lastSeen !== now.lastSeen || was.queueAdjust !== now.queueAdjust || was.activeAdjust !== now.activeAdjust) {
      nodes.push(now);
      state.reported = now;
    }
  }
  const removedCells = window.forgotten.map(({ node, endpoint, model }) => ({ node, endpoint, model }));
  const removedNodes = [...window.forgottenNodes];
  window.changed.clear();
  window.forgotten.length = 0;
  window.forgottenNodes.length = 0;
  return { ...window.header(nowMs, epoch, seq, eventsDropped), baseSeq, nodes, removedNodes, cells, removedCells };
}

const numberChanges = compileChanges(CELL_NUMBERS);
const ascending = (a: number, b: number) => a - b;

/**
 * What changed in `cell`, or null when nothing did. The lists of indices
 * added and removed move into the patch (the cell starts again from NO_INDICES), sorted so
 * they go out as one-byte deltas. About half a fleet's cells change each tick,
 * so this allocates as little as it can.
 */
function cellPatch(cell: CellState): CellPatch | null {
  const numbers = numberChanges(cell.counts, cell.reported);
  let dists: CellPatch['dists'] | null = null;
  for (const name of CELL_DISTRIBUTIONS) {
    if (!(cell.distsChanged & DIST_BIT[name])) continue;
    const d = cell.dists[name];
    if (d.added.length === 0 && d.removed.length === 0) continue;
    const { min, max } = cell.extremes(name);
    const patch: DistributionPatch = {
      count: d.count,
      sum: d.sum,
      min: d.count > 0 && min !== d.reportedMin ? min : undefined,
      max: d.count > 0 && max !== d.reportedMax ? max : undefined,
      added: take(d.added),
      removed: take(d.removed),
    };
    d.added = NO_INDICES;
    d.removed = NO_INDICES;
    (dists ??= noDists())[name] = patch;
  }
  const keyed = cell.keyedChanged
    ? { errorsByStatus: (cell.statusesCopy ??= copy(cell.statuses)), errorsByType: (cell.typesCopy ??= copy(cell.types)), sloGood: cell.sloGood.slice() }
    : undefined;
  const cumulative = cell.movedSlots.length > 0 ? cumulativeChanges(cell) : undefined;
  // A cell no snapshot or patch reported yet goes out even when all its numbers are still 0.
  if (!numbers && !dists && !keyed && !cumulative && cell.reportedOnce) return null;
  // One shape for every cell patch and each of its parts (absent ones undefined): a shape per combination made the encoder's reads megamorphic.
  return { node: cell.node, endpoint: cell.endpoint, model: cell.model, numbers: numbers ?? NO_NUMBERS, keyed, dists: dists ?? NO_DISTS, cumulative };
}

/** An object with every field of `keys` undefined: the shape compileChanges makes (compiled from the list). */
function allUndefined(keys: readonly string[]): () => Record<string, undefined> {
  return new Function(`return { ${keys.map((k) => `${field(k)}: undefined`).join(', ')} };`) as () => Record<string, undefined>;
}

/** A cell patch's distributions, none yet. */
const noDists = allUndefined(CELL_DISTRIBUTIONS) as () => CellPatch['dists'];
const NO_DISTS = Object.freeze(noDists());
const NO_NUMBERS: CellPatch['numbers'] = Object.freeze(allUndefined(CELL_NUMBERS)());

/** The cumulative slots that moved since the last report, as (slot, value) pairs, slots ascending; undefined when none did. */
function cumulativeChanges(cell: CellState): number[] | undefined {
  let pairs: number[] | undefined;
  const now = cell.cumulative;
  const was = cell.cumulativeReported;
  const moved = cell.movedSlots.sort(ascending);
  for (let i = 0; i < moved.length; i++) {
    const slot = moved[i]!;
    if (slot !== moved[i - 1] && now[slot] !== was[slot]) (pairs ??= []).push(slot, now[slot]!);
  }
  return pairs;
}

function take(indices: number[]): readonly number[] {
  return indices.length > 1 ? indices.sort(ascending) : indices;
}

function copy<K>(counts: ReadonlyMap<K, number>): ReadonlyMap<K, number> {
  return counts.size === 0 ? NO_KEYED_COUNTS : new Map(counts);
}
