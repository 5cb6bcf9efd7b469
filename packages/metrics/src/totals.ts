/**
 * The since-creation totals' protocol (docs/PROTOCOL.md §4): which totals a
 * request start and end add to (the seed's four, and the cumulative export
 * slots of @pulse/protocol's cumulative.ts), the increments not yet persisted — the delta the
 * aggregator commits with each acknowledgement, so each is counted exactly
 * once — and loading the persisted hash back. The values themselves live in
 * each cell's counts, where the snapshot reads them; the hash's field format
 * is @pulse/protocol's `totalsField`.
 *
 * With `exponential` on (the leader pushes OTLP exponential histograms), each
 * value of the cumulative histograms is also counted into its base-2
 * exponential bucket (@pulse/protocol's exponential.ts), persisted the same
 * way. Those counts stay here, by cell, for the OTLP push alone: no snapshot
 * or patch carries them.
 */
import {
  bucketOf,
  CELL_TOTALS,
  COUNTER_SLOT,
  CUMULATIVE_HISTOGRAM_NAMES,
  CUMULATIVE_SLOTS,
  exponentialBucketOf,
  exponentialFieldName,
  HISTOGRAM_SLOTS,
  isErrorEnd,
  parseTotalsField,
  totalsField,
  type CellTotal,
  type CumulativeHistogram,
  type ExponentialPart,
  type PulseEvent,
  type RequestEnd,
} from '@pulse/protocol';
import type { CellState } from './cell.js';
import { ExponentialCounts } from './exponential-counts.js';

export { ExponentialCounts } from './exponential-counts.js';
import { interTokenLatencyMs } from './itl.js';

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
  private readonly fields = new WeakMap<CellState, string[]>();
  /** The cells with increments not yet in `delta` (held on each cell: `pendingSlots`, `pendingTouched`). */
  private readonly dirty: CellState[] = [];
  /** Each cell's exponential histograms (CUMULATIVE_HISTOGRAM_NAMES order), the increments not yet in `delta`, and the cells with any. */
  private exponentials = new WeakMap<CellState, ExponentialCounts[]>();
  private readonly pendingExponentials = new WeakMap<CellState, ExponentialCounts[]>();
  private readonly dirtyExponentials = new Set<CellState>();
  /** Each cell's `totalsField` up to its last part, built once: `["node","endpoint","model"`. */
  private readonly fieldPrefixes = new WeakMap<CellState, string>();
  /**
   * Whether new values are counted into the exponential histograms too (the
   * aggregator turns it on when it pushes them). Persisted ones are loaded and
   * moved with a retired node either way, so they stay right whoever leads.
   */
  exponential = false;

  constructor(private readonly cells: TotalsCells) {}

  /** A cell's exponential histograms, in CUMULATIVE_HISTOGRAM_NAMES order; undefined while it has none. */
  exponentialOf(cell: CellState): readonly ExponentialCounts[] | undefined {
    return this.exponentials.get(cell);
  }

  /**
   * A copy of every cell's exponential histograms as they are now (taken
   * with the snapshot the push reads, which it must match), by
   * `JSON.stringify([node, endpoint, model])`.
   */
  exponentialByCell(): Map<string, readonly ExponentialCounts[]> {
    const out = new Map<string, readonly ExponentialCounts[]>();
    for (const cell of this.cells.all()) {
      const histograms = this.exponentials.get(cell);
      if (!histograms || histograms.every((h) => h.empty)) continue;
      out.set(
        JSON.stringify([cell.node, cell.endpoint, cell.model]),
        histograms.map((h) => h.clone()),
      );
    }
    return out;
  }

  /** Counts a request start of `cell`. */
  countStart(cell: CellState): void {
    this.addSlot(cell, COUNTER_SLOT.requests, 1);
  }

  /** Counts what `end` adds to the totals of `cell`; `stream` says whether it was a stream (its start may have said so). */
  count(cell: CellState, end: RequestEnd, stream: boolean): void {
    const error = isErrorEnd(end);
    if (stream) this.add(cell, error ? 'failedStreams' : 'completedStreams', 1);
    if (end.cache) {
      this.add(cell, 'totalLookups', 1);
      if (end.cache.hit) this.add(cell, 'totalHits', 1);
    }
    this.addSlot(cell, COUNTER_SLOT.responses, 1);
    if (error) this.addSlot(cell, COUNTER_SLOT.errors, 1);
    if (end.prompt_tokens !== undefined) {
      this.addSlot(cell, COUNTER_SLOT.promptTokens, end.prompt_tokens);
      this.observe(cell, 'inputTokens', end.prompt_tokens);
    }
    if (end.completion_tokens !== undefined) {
      this.addSlot(cell, COUNTER_SLOT.completionTokens, end.completion_tokens);
      this.observe(cell, 'outputTokens', end.completion_tokens);
    }
    this.observe(cell, 'latency', end.latency_ms);
    // TTFT and ITL as the window's distributions take them: streams only.
    if (stream && end.ttft_ms !== undefined) this.observe(cell, 'ttft', end.ttft_ms);
    const itl = interTokenLatencyMs(end, stream);
    if (itl !== undefined) this.observe(cell, 'itl', itl);
  }

  /**
   * Counts an event's totals without its start at hand: for a log entry
   * whose window share was applied before its totals were known. The end's
   * own `stream` flag says whether it was a stream, else `startSaidStream`
   * (what the window saw when it applied the start).
   */
  countEvent(event: PulseEvent, startSaidStream = false): void {
    if (event.type === 'request.end') this.count(this.cells.cell(event.node, event.endpoint, event.model), event, event.stream ?? startSaidStream);
    else if (event.type === 'request.start') this.countStart(this.cells.cell(event.node, event.endpoint, event.model));
  }

  /** The increments since the last call, to persist with the batch's acknowledgement. */
  takeDelta(): TotalsDelta {
    this.flushSlots();
    this.flushExponentials();
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
      if (!parsed) continue;
      const cell = this.cells.cell(parsed.node, parsed.endpoint, parsed.model);
      if (parsed.total) this.add(cell, parsed.total, n);
      else if (parsed.exponential) this.addExponential(cell, HISTOGRAM_INDEX[parsed.exponential.histogram], parsed.exponential.part, n);
      else this.addSlot(cell, parsed.slot, n);
    }
  }

  /** Replaces every cell's totals with the persisted hash; returns how many fields could not be read. */
  load(hash: Record<string, string>): number {
    for (const cell of this.cells.all()) {
      for (const k of CELL_TOTALS) cell.counts[k] = 0;
      cell.cumulative.fill(0);
    }
    this.delta = new Map();
    for (const cell of this.dirty) {
      cell.pendingSlots!.fill(0);
      cell.pendingTouched.length = 0;
    }
    this.dirty.length = 0;
    this.exponentials = new WeakMap();
    for (const cell of this.dirtyExponentials) for (const h of this.pendingExponentials.get(cell)!) h.clear();
    this.dirtyExponentials.clear();
    let bad = 0;
    for (const [field, raw] of Object.entries(hash)) {
      const parsed = parseTotalsField(field);
      const value = Number(raw);
      if (!parsed || !Number.isSafeInteger(value) || value < 0) {
        bad++;
        continue;
      }
      const cell = this.cells.cell(parsed.node, parsed.endpoint, parsed.model);
      if (parsed.total) cell.counts[parsed.total] = value;
      else if (parsed.exponential) bump(histogramsOf(this.exponentials, cell)[HISTOGRAM_INDEX[parsed.exponential.histogram]]!, parsed.exponential.part, value);
      else cell.cumulative[parsed.slot] = value;
    }
    // Every slot of every cell may have moved: the next patch compares them all.
    for (const cell of this.cells.all()) for (let slot = 0; slot < cell.cumulative.length; slot++) cell.movedSlots.push(slot);
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
    for (let slot = 0; slot < from.cumulative.length; slot++) {
      const n = from.cumulative[slot]!;
      if (n === 0) continue;
      this.addSlot(from, slot, -n);
      this.addSlot(to, slot, n);
    }
    const exponentials = this.exponentials.get(from);
    if (!exponentials) return;
    exponentials.forEach((h, i) => {
      if (h.sum !== 0) this.moveExponential(from, to, i, 'sum', h.sum);
      if (h.zero !== 0) this.moveExponential(from, to, i, 'zero', h.zero);
      // Backwards: taking a bucket away removes it from the arrays being walked.
      for (let b = h.indices.length - 1; b >= 0; b--) this.moveExponential(from, to, i, h.indices[b]!, h.counts[b]!);
    });
  }

  /**
   * Counts `value` into a histogram: its bucket and its sum, a time's in
   * whole microseconds (cumulative.ts says why); and, when `exponential` is
   * on, into its exponential bucket and sum.
   */
  private observe(cell: CellState, name: CumulativeHistogram, value: number): void {
    const h = HISTOGRAM_SLOTS[name];
    this.addSlot(cell, h.first + bucketOf(h.bounds, h.time ? value / 1000 : value), 1);
    const sum = h.time ? Math.round(value * 1000) : value;
    if (sum > 0) this.addSlot(cell, h.sum, sum);
    if (!this.exponential) return;
    const i = HISTOGRAM_INDEX[name];
    this.addExponential(cell, i, exponentialBucketOf(name, value), 1);
    if (sum > 0) this.addExponential(cell, i, 'sum', sum);
  }

  private moveExponential(from: CellState, to: CellState, histogram: number, part: ExponentialPart, n: number): void {
    this.addExponential(from, histogram, part, -n);
    this.addExponential(to, histogram, part, n);
  }

  /** Adds to a cell's exponential histogram and to its pending increments, which `takeDelta` turns into hash fields. */
  private addExponential(cell: CellState, histogram: number, part: ExponentialPart, by: number): void {
    const held = histogramsOf(this.exponentials, cell)[histogram]!;
    const n = part === 'sum' ? saturated(held.sum, by) - held.sum : by;
    if (n === 0) return;
    bump(held, part, n);
    bump(histogramsOf(this.pendingExponentials, cell)[histogram]!, part, n);
    this.dirtyExponentials.add(cell);
  }

  /** Moves the cells' pending exponential increments into the delta, by hash field. */
  private flushExponentials(): void {
    for (const cell of this.dirtyExponentials) {
      let prefix = this.fieldPrefixes.get(cell);
      if (prefix === undefined) {
        prefix = JSON.stringify([cell.node, cell.endpoint, cell.model]).slice(0, -1);
        this.fieldPrefixes.set(cell, prefix);
      }
      const pending = this.pendingExponentials.get(cell)!;
      pending.forEach((h, i) => {
        const name = CUMULATIVE_HISTOGRAM_NAMES[i]!;
        // The part names are plain ASCII: appended, they make the same text as totalsField.
        const put = (part: ExponentialPart, n: number) => {
          if (n === 0) return;
          const field = `${prefix},"${exponentialFieldName(name, part)}"]`;
          this.delta.set(field, (this.delta.get(field) ?? 0) + n);
        };
        put('sum', h.sum);
        put('zero', h.zero);
        for (let b = 0; b < h.indices.length; b++) put(h.indices[b]!, h.counts[b]!);
        h.clear();
      });
    }
    this.dirtyExponentials.clear();
  }

  /** Adds to a cumulative slot, and to the cell's pending increments. */
  private addSlot(cell: CellState, slot: number, by: number): void {
    const was = cell.cumulative[slot]!;
    const n = saturated(was, by) - was;
    if (n === 0) return;
    cell.cumulative[slot] = was + n;
    if (was === cell.cumulativeReported[slot]) cell.movedSlots.push(slot);
    this.pend(cell, slot, n);
  }

  /** Adds to one of the cell's CELL_TOTALS, and to its pending increments. */
  private add(cell: CellState, total: CellTotal, n: number): void {
    cell.counts[total] += n;
    this.pend(cell, PENDING_OF_TOTAL[total], n);
  }

  /**
   * Adds to a cell's pending increment `i` (PENDING_FIELDS), which `takeDelta`
   * turns into a hash field per batch: a keyed map update per field per event
   * measured a twentieth of a fleet's tick. The increments are held on the
   * cell itself: a WeakMap lookup and a Set insert per field, some ten per
   * end, were most of counting one.
   */
  private pend(cell: CellState, i: number, n: number): void {
    const pending = (cell.pendingSlots ??= new Array<number>(PENDING_FIELDS.length).fill(0));
    if (pending[i] === 0) {
      // A cell is in `dirty` exactly while it has touched increments.
      if (cell.pendingTouched.length === 0) this.dirty.push(cell);
      cell.pendingTouched.push(i);
    }
    pending[i]! += n;
  }

  /** Moves the cells' pending increments into the delta, by hash field. */
  private flushSlots(): void {
    for (const cell of this.dirty) {
      const pending = cell.pendingSlots!;
      let fields = this.fields.get(cell);
      if (!fields) {
        fields = [];
        this.fields.set(cell, fields);
      }
      for (const i of cell.pendingTouched) {
        const n = pending[i]!;
        if (n === 0) continue;
        pending[i] = 0;
        const field = (fields[i] ??= totalsField(cell.node, cell.endpoint, cell.model, PENDING_FIELDS[i]!));
        // A set, not an add: these fields reach the delta only here, each once per flush.
        this.delta.set(field, n);
      }
      cell.pendingTouched.length = 0;
    }
    this.dirty.length = 0;
  }
}

/** What a cell's pending increments count, by index: the cumulative slots, then the CELL_TOTALS. */
const PENDING_FIELDS: readonly string[] = [...CUMULATIVE_SLOTS, ...CELL_TOTALS];
const PENDING_OF_TOTAL = Object.fromEntries(CELL_TOTALS.map((total, i) => [total, CUMULATIVE_SLOTS.length + i])) as Record<CellTotal, number>;

/** A histogram's place in a cell's exponential histograms. */
const HISTOGRAM_INDEX = Object.fromEntries(CUMULATIVE_HISTOGRAM_NAMES.map((name, i) => [name, i])) as Record<CumulativeHistogram, number>;

/** The exponential histograms of `cell` in `map`, created empty when it has none. */
function histogramsOf(map: WeakMap<CellState, ExponentialCounts[]>, cell: CellState): ExponentialCounts[] {
  let histograms = map.get(cell);
  if (!histograms) {
    histograms = CUMULATIVE_HISTOGRAM_NAMES.map(() => new ExponentialCounts());
    map.set(cell, histograms);
  }
  return histograms;
}

/**
 * `was + by`, saturated at 2^53 − 1. A sum of since-creation values must stay
 * an exact integer: the snapshot codec writes it as a varint of at most 56
 * bits and HINCRBY refuses past 2^63, so one absurd but valid value (an
 * hour-long latency summed in µs a billion times, or a hostile 1e300 ms)
 * would otherwise make every later snapshot undecodable and every commit
 * fail. A saturated sum says "at least this much"; its count stays exact.
 */
function saturated(was: number, by: number): number {
  return Math.min(was + by, Number.MAX_SAFE_INTEGER);
}

function bump(h: ExponentialCounts, part: ExponentialPart, n: number): void {
  if (part === 'sum') h.sum += n;
  else h.bump(part, n);
}
