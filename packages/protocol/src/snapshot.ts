/**
 * The internal snapshot — the whole window's state — and its binary codec.
 * The active aggregator publishes one as a keyframe (at takeover, then every
 * few seconds) and patches in between (patch.ts); a gateway holds the
 * current one and builds any filtered view from it by merging cells.
 *
 * One entry per (node, endpoint, model) cell: window counters, exact
 * sum/min/max and a log-bucket histogram per distribution, errors by status
 * and type, good counts per SLO, in-flight gauges and since-creation totals
 * (the seed's four and the cumulative slots of cumulative.ts, for export);
 * one entry per node with its last event time and the corrections its own
 * gauges make to what start/end pairs imply.
 *
 * Wire layout (version 3, integers LEB128 varints, signed ones zigzag):
 *   magic 'P', version, epoch, seq, builtAt f64, coveredSeconds f64,
 *   self counters, SLO names, string table, nodes, cells.
 */
import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';
import { CELL_DISTRIBUTIONS, CELL_NUMBERS, field, type CellDistribution, type CellNumber, type Counts } from './cell-fields.js';
import { CUMULATIVE_SLOT_COUNT } from './cumulative.js';

export const SNAPSHOT_MAGIC = 0x50; // 'P'
export const SNAPSHOT_VERSION = 3;

/**
 * A distribution over the window: exact count/sum/min/max plus histogram
 * counts, where `counts[i]` counts samples in bucket `offset + i` and `zeros`
 * those too small to index (see @pulse/metrics LogHistogram).
 */
export interface DistributionData {
  count: number;
  sum: number;
  min: number;
  max: number;
  zeros: number;
  offset: number;
  counts: ArrayLike<number>;
  /**
   * The same counts as (bucket index, count) pairs of the buckets in use,
   * when the holder keeps them so (a gateway's cells): merging then costs
   * what the samples are, not the span they cover.
   */
  readonly sparse?: { readonly indices: ArrayLike<number>; readonly counts: ArrayLike<number> };
}

/** Window counts keyed by a label the producer chose (error statuses, error types). */
export type KeyedCounts<K> = ReadonlyMap<K, number>;

/**
 * One (node, endpoint, model) cell: every number of `CELL_NUMBERS` (window
 * counters, in-flight gauges, since-creation totals), every window
 * distribution of `CELL_DISTRIBUTIONS` (cell-fields.ts), and the keyed
 * window counts.
 */
export type CellData = { node: string; endpoint: string; model: string } & Counts<CellNumber> &
  Record<CellDistribution, DistributionData> & {
    /** Error ends by HTTP status (status ≥ 400). */
    errorsByStatus: KeyedCounts<number>;
    /** Error ends by their `error` string. */
    errorsByType: KeyedCounts<string>;
    /** Ends that met each SLO, in the snapshot's `slos` order. */
    sloGood: readonly number[];
    /** Since-creation counters and classic histograms, by CUMULATIVE_SLOTS (cumulative.ts). */
    cumulative: readonly number[];
  };

/** A producing node heard from lately. */
export interface NodeData {
  node: string;
  /** `ts` of its newest event, seconds since the epoch (the producer's clock). */
  lastSeen: number;
  /** What its own gauges add to what its start/end pairs imply (0 without a gauge). */
  queueAdjust: number;
  activeAdjust: number;
}

/** Self-metrics of the aggregator, for operators. */
export interface AggregatorStats {
  eventsApplied: number;
  eventsDropped: number;
  labelsFolded: number;
}

export interface InternalSnapshot {
  epoch: number;
  /** floor(builtAt / tick): strictly increasing across leaders with synced clocks. */
  seq: number;
  /** Build time, seconds since the epoch; the `timestamp` clients see. */
  builtAt: number;
  /** Length of history the window figures cover, seconds (≤ the window). */
  coveredSeconds: number;
  stats: AggregatorStats;
  /** The SLO names of PULSE_SLOS, in the order of every cell's `sloGood`. */
  slos: readonly string[];
  nodes: NodeData[];
  cells: CellData[];
}

export const EMPTY_DISTRIBUTION: DistributionData = Object.freeze({
  count: 0,
  sum: 0,
  min: 0,
  max: 0,
  zeros: 0,
  offset: 0,
  counts: new Uint32Array(0),
});

/** An empty keyed count, shared (never written to). */
export const NO_KEYED_COUNTS: KeyedCounts<never> = new Map<never, number>();

/** Strings of a snapshot (labels, error types), each written once and referred to by index. */
export class StringTable {
  private readonly index = new Map<string, number>();

  add(s: string): void {
    if (!this.index.has(s)) this.index.set(s, this.index.size);
  }

  ref(s: string): number {
    return this.index.get(s)!;
  }

  write(w: BinaryWriter): void {
    w.uint(this.index.size);
    for (const s of this.index.keys()) w.str(s);
  }

  static read(r: BinaryReader): (i: number) => string {
    const strings: string[] = [];
    const n = r.uint();
    for (let i = 0; i < n; i++) strings.push(r.str());
    return (i) => {
      const s = strings[i];
      if (s === undefined) throw new DecodeError(`string index ${i} out of range`);
      return s;
    };
  }
}

// The cell codec, compiled from the field lists (cell-fields.ts explains why): the numbers as
// varints in CELL_NUMBERS order, then the distributions. The reader builds each cell as one
// object literal, fields in wire order (property values evaluate in order): one allocation and
// one shape per cell, where adding fields one by one cost a third of a gateway's decode.
const writeCellFields = new Function(
  'w',
  'c',
  'writeDistribution',
  [...CELL_NUMBERS.map((k) => `w.uint(c.${field(k)});`), ...CELL_DISTRIBUTIONS.map((k) => `writeDistribution(w, c.${field(k)});`)].join('\n'),
) as (w: BinaryWriter, c: CellData, writeDistribution: (w: BinaryWriter, d: DistributionData) => void) => void;

const readCellFields = new Function(
  'r',
  'node',
  'endpoint',
  'model',
  'readDistribution',
  'readKeyed',
  'readCumulative',
  `return { node, endpoint, model, ${[...CELL_NUMBERS.map((k) => `${field(k)}: r.uint()`), ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: readDistribution(r)`)].join(', ')}, ...readKeyed(r), cumulative: readCumulative(r) };`,
) as (
  r: BinaryReader,
  node: string,
  endpoint: string,
  model: string,
  readDistribution: (r: BinaryReader) => DistributionData,
  readKeyed: (r: BinaryReader) => Pick<CellData, 'errorsByStatus' | 'errorsByType' | 'sloGood'>,
  readCumulative: (r: BinaryReader) => number[],
) => CellData;

/**
 * A distribution's histogram goes dense (every count of the span) or sparse
 * ((gap, count) pairs for the buckets in use), whichever is shorter: a cell
 * of a large fleet holds a few dozen samples spread over a span of a hundred
 * buckets or more. The low bit of the span's length says which.
 */
export function writeDistribution(w: BinaryWriter, d: DistributionData): void {
  w.uint(d.count);
  if (d.count === 0) return;
  w.f64(d.sum);
  w.f64(d.min);
  w.f64(d.max);
  w.uint(d.zeros);
  w.int(d.offset);
  const len = d.counts.length;
  let used = 0;
  for (let i = 0; i < len; i++) if (d.counts[i] !== 0) used++;
  const sparse = used * 2 < len;
  w.uint(len * 2 + (sparse ? 1 : 0));
  if (!sparse) return w.uints(d.counts);
  w.uint(used);
  let last = -1;
  for (let i = 0; i < len; i++) {
    const c = d.counts[i]!;
    if (c === 0) continue;
    w.uint(i - last - 1);
    w.uint(c);
    last = i;
  }
}

export function readDistribution(r: BinaryReader): DistributionData {
  const count = r.uint();
  if (count === 0) return EMPTY_DISTRIBUTION;
  const sum = r.f64();
  const min = r.f64();
  const max = r.f64();
  const zeros = r.uint();
  const offset = r.int();
  const header = r.uint();
  const len = Math.floor(header / 2);
  if (len > 65536) throw new DecodeError(`histogram of ${len} buckets`);
  if (header % 2 === 0) return { count, sum, min, max, zeros, offset, counts: r.uints(len) };
  const counts = new Uint32Array(len);
  const used = r.uint();
  let at = -1;
  for (let i = 0; i < used; i++) {
    at += r.uint() + 1;
    if (at >= len) throw new DecodeError(`histogram bucket ${at} beyond its span of ${len}`);
    counts[at] = r.uint();
  }
  return { count, sum, min, max, zeros, offset, counts };
}

export function writeKeyed(w: BinaryWriter, c: Pick<CellData, 'errorsByStatus' | 'errorsByType' | 'sloGood'>, strings: StringTable): void {
  w.uint(c.errorsByStatus.size);
  for (const [status, n] of c.errorsByStatus) {
    w.uint(status);
    w.uint(n);
  }
  w.uint(c.errorsByType.size);
  for (const [type, n] of c.errorsByType) {
    w.uint(strings.ref(type));
    w.uint(n);
  }
  w.uint(c.sloGood.length);
  for (const n of c.sloGood) w.uint(n);
}

/** A cell's keyed counts; its SLO counts writable, so that a reader can refill them (`keyedReader`). */
export interface KeyedSlot {
  errorsByStatus: KeyedCounts<number>;
  errorsByType: KeyedCounts<string>;
  sloGood: number[];
}

/**
 * Reads a cell's keyed counts, into `into` when given: its SLO array is
 * refilled and its error maps replaced with new ones (a holder may keep
 * those; a patch decoder reuses the rest, patch.ts `PatchDecoder`).
 */
export function keyedReader(label: (i: number) => string): (r: BinaryReader, into?: KeyedSlot) => KeyedSlot {
  return (r, into) => {
    let errorsByStatus: KeyedCounts<number> = NO_KEYED_COUNTS;
    let n = r.uint();
    if (n > 0) {
      const m = new Map<number, number>();
      for (let i = 0; i < n; i++) m.set(r.uint(), r.uint());
      errorsByStatus = m;
    }
    let errorsByType: KeyedCounts<string> = NO_KEYED_COUNTS;
    n = r.uint();
    if (n > 0) {
      const m = new Map<string, number>();
      for (let i = 0; i < n; i++) m.set(label(r.uint()), r.uint());
      errorsByType = m;
    }
    n = r.uint();
    if (n > 1024) throw new DecodeError(`${n} SLO counts`);
    const sloGood = into ? into.sloGood : new Array<number>(n);
    // Refilled by index: setting an array's length to less trims it, and the next fill grows it again.
    for (let i = 0; i < n; i++) sloGood[i] = r.uint();
    if (sloGood.length !== n) sloGood.length = n;
    if (!into) return { errorsByStatus, errorsByType, sloGood };
    into.errorsByStatus = errorsByStatus;
    into.errorsByType = errorsByType;
    return into;
  };
}

/** Adds every label and error type of `cells` and `nodes` to `strings`. */
export function collectStrings(strings: StringTable, cells: Iterable<Pick<CellData, 'node' | 'endpoint' | 'model' | 'errorsByType'>>, nodes: Iterable<{ node: string }>): void {
  for (const n of nodes) strings.add(n.node);
  for (const c of cells) {
    strings.add(c.node);
    strings.add(c.endpoint);
    strings.add(c.model);
    for (const type of c.errorsByType.keys()) strings.add(type);
  }
}

export function writeNode(w: BinaryWriter, n: NodeData, strings: StringTable): void {
  w.uint(strings.ref(n.node));
  w.f64(n.lastSeen);
  w.int(n.queueAdjust);
  w.int(n.activeAdjust);
}

export function readNode(r: BinaryReader, label: (i: number) => string): NodeData {
  return { node: label(r.uint()), lastSeen: r.f64(), queueAdjust: r.int(), activeAdjust: r.int() };
}

export function writeCell(w: BinaryWriter, c: CellData, strings: StringTable): void {
  w.uint(strings.ref(c.node));
  w.uint(strings.ref(c.endpoint));
  w.uint(strings.ref(c.model));
  writeCellFields(w, c, writeDistribution);
  writeKeyed(w, c, strings);
  writeCumulative(w, c.cumulative);
}

/** The cumulative slots as (gap, value) pairs of those above 0: most buckets of most cells are. */
export function writeCumulative(w: BinaryWriter, slots: readonly number[]): void {
  let used = 0;
  for (const v of slots) if (v !== 0) used++;
  w.uint(used);
  let last = -1;
  for (let i = 0; i < slots.length; i++) {
    const v = slots[i]!;
    if (v === 0) continue;
    w.uint(i - last - 1);
    w.uint(v);
    last = i;
  }
}

export function readCumulative(r: BinaryReader): number[] {
  const slots = new Array<number>(CUMULATIVE_SLOT_COUNT).fill(0);
  const used = r.uint();
  let at = -1;
  for (let i = 0; i < used; i++) {
    at += r.uint() + 1;
    if (at >= CUMULATIVE_SLOT_COUNT) throw new DecodeError(`cumulative slot ${at} of ${CUMULATIVE_SLOT_COUNT}`);
    slots[at] = r.uint();
  }
  return slots;
}

export function writeStats(w: BinaryWriter, s: AggregatorStats): void {
  w.uint(s.eventsApplied);
  w.uint(s.eventsDropped);
  w.uint(s.labelsFolded);
}

export function readStats(r: BinaryReader): AggregatorStats {
  return { eventsApplied: r.uint(), eventsDropped: r.uint(), labelsFolded: r.uint() };
}

export function encodeSnapshot(s: InternalSnapshot): Buffer {
  const w = new BinaryWriter(1024 + s.cells.length * 512);
  w.u8(SNAPSHOT_MAGIC);
  w.u8(SNAPSHOT_VERSION);
  w.uint(s.epoch);
  w.uint(s.seq);
  w.f64(s.builtAt);
  w.f64(s.coveredSeconds);
  writeStats(w, s.stats);
  w.uint(s.slos.length);
  for (const name of s.slos) w.str(name);
  const strings = new StringTable();
  collectStrings(strings, s.cells, s.nodes);
  strings.write(w);
  w.uint(s.nodes.length);
  for (const n of s.nodes) writeNode(w, n, strings);
  w.uint(s.cells.length);
  for (const c of s.cells) writeCell(w, c, strings);
  return w.finish();
}

/** Decodes a snapshot; throws DecodeError on anything malformed. */
export function decodeSnapshot(buf: Buffer): InternalSnapshot {
  const r = new BinaryReader(buf);
  if (r.u8() !== SNAPSHOT_MAGIC) throw new DecodeError('not a Pulse snapshot');
  const version = r.u8();
  if (version !== SNAPSHOT_VERSION) throw new DecodeError(`snapshot version ${version} is not supported`);
  const epoch = r.uint();
  const seq = r.uint();
  const builtAt = r.f64();
  const coveredSeconds = r.f64();
  const stats = readStats(r);
  const slos: string[] = [];
  const nSlos = r.uint();
  if (nSlos > 1024) throw new DecodeError(`${nSlos} SLOs`);
  for (let i = 0; i < nSlos; i++) slos.push(r.str());
  const label = StringTable.read(r);
  const readKeyed = keyedReader(label);
  const nodes: NodeData[] = [];
  const nNodes = r.uint();
  for (let i = 0; i < nNodes; i++) nodes.push(readNode(r, label));
  const cells: CellData[] = [];
  const nCells = r.uint();
  for (let i = 0; i < nCells; i++) cells.push(readCellFields(r, label(r.uint()), label(r.uint()), label(r.uint()), readDistribution, readKeyed, readCumulative));
  if (!r.done) throw new DecodeError('trailing bytes after snapshot');
  return { epoch, seq, builtAt, coveredSeconds, stats, slos, nodes, cells };
}

/** True when `a` is strictly newer than `b`: higher epoch, or same epoch and higher seq. */
export function isNewer(a: Pick<InternalSnapshot, 'epoch' | 'seq'>, b: Pick<InternalSnapshot, 'epoch' | 'seq'>): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);
}
