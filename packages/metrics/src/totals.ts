/**
 * The since-creation totals' protocol (docs/PROTOCOL.md §4): which totals a
 * request end adds to, the increments not yet persisted — the delta the
 * aggregator commits with each acknowledgement, so each is counted exactly
 * once — and loading the persisted hash back. The values themselves live in
 * each cell's counts, where the snapshot reads them; the hash's field format
 * is @pulse/protocol's `totalsField`.
 */
import { CELL_TOTALS, isErrorEnd, parseTotalsField, totalsField, type CellTotal, type PulseEvent, type RequestEnd } from '@pulse/protocol';
import type { CellState } from './cell.js';

/** Totals that changed, to persist: hash field → increment. */
export type TotalsDelta = Map<string, number>;

/** How the ledger reaches the window's cells. */
export interface TotalsCells {
  /** The cell of these labels, after the cardinality guards (created if new). */
  cell(node: string, endpoint: string, model: string): CellState;
  /** Every cell held. */
  all(): Iterable<CellState>;
}

export class TotalsLedger {
  private delta: TotalsDelta = new Map();
  /** Each cell's field names, built once: a JSON.stringify per event was a fifth of the aggregator's CPU. */
  private readonly fields = new WeakMap<CellState, Partial<Record<CellTotal, string>>>();

  constructor(private readonly cells: TotalsCells) {}

  /** Counts what `end` adds to the totals of `cell`; `stream` says whether it was a stream (its start may have said so). */
  count(cell: CellState, end: RequestEnd, stream: boolean): void {
    if (stream) this.add(cell, isErrorEnd(end) ? 'failedStreams' : 'completedStreams', 1);
    if (end.cache) {
      this.add(cell, 'totalLookups', 1);
      if (end.cache.hit) this.add(cell, 'totalHits', 1);
    }
  }

  /**
   * Counts an event's totals without its start at hand: for a log entry
   * whose window share was applied before its totals were known. Only the
   * end's own `stream` flag says whether it was a stream here.
   */
  countEvent(event: PulseEvent): void {
    if (event.type === 'request.end') this.count(this.cells.cell(event.node, event.endpoint, event.model), event, event.stream === true);
  }

  /** The increments since the last call, to persist with the batch's acknowledgement. */
  takeDelta(): TotalsDelta {
    const delta = this.delta;
    this.delta = new Map();
    return delta;
  }

  /**
   * Adds increments taken earlier (a delta recorded while standing by) as if
   * their events were counted now: to the cells and to the delta to persist.
   */
  addDelta(delta: ReadonlyMap<string, number>): void {
    for (const [field, n] of delta) {
      const parsed = parseTotalsField(field);
      if (parsed) this.add(this.cells.cell(parsed.node, parsed.endpoint, parsed.model), parsed.total, n);
    }
  }

  /** Replaces every cell's totals with the persisted hash; returns how many fields could not be read. */
  load(hash: Record<string, string>): number {
    for (const cell of this.cells.all()) for (const k of CELL_TOTALS) cell.counts[k] = 0;
    this.delta = new Map();
    let bad = 0;
    for (const [field, raw] of Object.entries(hash)) {
      const parsed = parseTotalsField(field);
      const value = Number(raw);
      if (!parsed || !Number.isSafeInteger(value) || value < 0) {
        bad++;
        continue;
      }
      this.cells.cell(parsed.node, parsed.endpoint, parsed.model).counts[parsed.total] = value;
    }
    return bad;
  }

  /**
   * Moves every total of `from` to `to` (a retired node's cell to the
   * `__other__` node's): the sums over any view without a node filter stay
   * the same, and the persisted field of `from` reaches 0, which the store
   * deletes.
   */
  move(from: CellState, to: CellState): void {
    for (const k of CELL_TOTALS) {
      const n = from.counts[k];
      if (n === 0) continue;
      this.add(from, k, -n);
      this.add(to, k, n);
    }
  }

  private add(cell: CellState, total: CellTotal, n: number): void {
    cell.counts[total] += n;
    let fields = this.fields.get(cell);
    if (!fields) {
      fields = {};
      this.fields.set(cell, fields);
    }
    const field = (fields[total] ??= totalsField(cell.node, cell.endpoint, cell.model, total));
    this.delta.set(field, (this.delta.get(field) ?? 0) + n);
  }
}
