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
  type CellNumber,
  type CellPatch,
  type Counts,
  type DistributionPatch,
  type NodeData,
  type SnapshotPatch,
} from '@pulse/protocol';
import type { CellState } from './cell.js';
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

/** What changed in `cell`, or null when nothing did. */
function cellPatch(cell: CellState): CellPatch | null {
  const numbers: Partial<Counts<CellNumber>> = {};
  let changed = false;
  for (const k of CELL_NUMBERS) {
    if (cell.counts[k] !== cell.reported[k]) {
      numbers[k] = cell.counts[k];
      changed = true;
    }
  }
  const dists: CellPatch['dists'] = {};
  for (const name of CELL_DISTRIBUTIONS) {
    const d = cell.dists[name];
    if (d.added.length === 0 && d.removed.length === 0) continue;
    const { min, max } = cell.extremes(name);
    const patch: DistributionPatch = {
      count: d.count,
      sum: d.sum,
      ...(d.count > 0 && min !== d.reportedMin && { min }),
      ...(d.count > 0 && max !== d.reportedMax && { max }),
      // Sorted, so the indices go out as one-byte deltas.
      added: d.added.slice().sort((a, b) => a - b),
      removed: d.removed.slice().sort((a, b) => a - b),
    };
    dists[name] = patch;
    changed = true;
  }
  const keyed = cell.keyedChanged ? { errorsByStatus: new Map(cell.statuses), errorsByType: new Map(cell.types), sloGood: cell.sloGood.slice() } : undefined;
  // A cell no snapshot or patch reported yet goes out even when all its numbers are still 0.
  if (!changed && !keyed && cell.reportedOnce) return null;
  return { node: cell.node, endpoint: cell.endpoint, model: cell.model, numbers, ...(keyed && { keyed }), dists };
}
