/**
 * The internal snapshot an aggregator publishes every tick, and its binary
 * codec. It holds one entry per (endpoint, model) cell with everything a
 * gateway needs to build any filtered view by merging cells: window counters,
 * exact sum/min/max and a log-bucket histogram per distribution, in-flight
 * gauges and since-creation totals.
 *
 * Wire layout (version 1, all integers LEB128 varints):
 *   magic 'P', version, epoch, seq, builtAt f64, coveredSeconds f64,
 *   queueAdjust (zigzag), activeAdjust (zigzag), self counters,
 *   string table, cells.
 */
import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';
import { CELL_DISTRIBUTIONS, CELL_NUMBERS, field, type CellDistribution, type CellNumber, type Counts } from './cell-fields.js';

export const SNAPSHOT_MAGIC = 0x50; // 'P'
export const SNAPSHOT_VERSION = 1;

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
}

/**
 * One (endpoint, model) cell: every number of `CELL_NUMBERS` (window
 * counters, in-flight gauges, since-creation totals) and every window
 * distribution of `CELL_DISTRIBUTIONS` (cell-fields.ts).
 */
export type CellData = { endpoint: string; model: string } & Counts<CellNumber> & Record<CellDistribution, DistributionData>;

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
  /**
   * Node gauges override what start/end pairs imply for that node. They carry
   * no endpoint or model, so they apply to unfiltered views only: these are
   * the corrections to add to the sum of the cells.
   */
  queueAdjust: number;
  activeAdjust: number;
  stats: AggregatorStats;
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

// The cell codec, compiled from the field lists (cell-fields.ts explains why): the numbers as
// varints in CELL_NUMBERS order, then the distributions. The reader builds each cell as one
// object literal, fields in wire order (property values evaluate in order): one allocation and
// one shape per cell, where adding fields one by one cost a third of a gateway's decode.
const writeCell = new Function(
  'w',
  'c',
  'writeDistribution',
  [...CELL_NUMBERS.map((k) => `w.uint(c.${field(k)});`), ...CELL_DISTRIBUTIONS.map((k) => `writeDistribution(w, c.${field(k)});`)].join('\n'),
) as (w: BinaryWriter, c: CellData, writeDistribution: (w: BinaryWriter, d: DistributionData) => void) => void;

const readCell = new Function(
  'r',
  'endpoint',
  'model',
  'readDistribution',
  `return { endpoint, model, ${[...CELL_NUMBERS.map((k) => `${field(k)}: r.uint()`), ...CELL_DISTRIBUTIONS.map((k) => `${field(k)}: readDistribution(r)`)].join(', ')} };`,
) as (r: BinaryReader, endpoint: string, model: string, readDistribution: (r: BinaryReader) => DistributionData) => CellData;

function writeDistribution(w: BinaryWriter, d: DistributionData): void {
  w.uint(d.count);
  if (d.count === 0) return;
  w.f64(d.sum);
  w.f64(d.min);
  w.f64(d.max);
  w.uint(d.zeros);
  w.int(d.offset);
  w.uint(d.counts.length);
  w.uints(d.counts);
}

function readDistribution(r: BinaryReader): DistributionData {
  const count = r.uint();
  if (count === 0) return EMPTY_DISTRIBUTION;
  const sum = r.f64();
  const min = r.f64();
  const max = r.f64();
  const zeros = r.uint();
  const offset = r.int();
  const len = r.uint();
  if (len > 65536) throw new DecodeError(`histogram of ${len} buckets`);
  return { count, sum, min, max, zeros, offset, counts: r.uints(len) };
}

export function encodeSnapshot(s: InternalSnapshot): Buffer {
  const w = new BinaryWriter(1024 + s.cells.length * 512);
  w.u8(SNAPSHOT_MAGIC);
  w.u8(SNAPSHOT_VERSION);
  w.uint(s.epoch);
  w.uint(s.seq);
  w.f64(s.builtAt);
  w.f64(s.coveredSeconds);
  w.int(s.queueAdjust);
  w.int(s.activeAdjust);
  w.uint(s.stats.eventsApplied);
  w.uint(s.stats.eventsDropped);
  w.uint(s.stats.labelsFolded);

  const strings = new Map<string, number>();
  for (const c of s.cells) {
    for (const label of [c.endpoint, c.model]) {
      if (!strings.has(label)) strings.set(label, strings.size);
    }
  }
  w.uint(strings.size);
  for (const label of strings.keys()) w.str(label);

  w.uint(s.cells.length);
  for (const c of s.cells) {
    w.uint(strings.get(c.endpoint)!);
    w.uint(strings.get(c.model)!);
    writeCell(w, c, writeDistribution);
  }
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
  const queueAdjust = r.int();
  const activeAdjust = r.int();
  const stats: AggregatorStats = {
    eventsApplied: r.uint(),
    eventsDropped: r.uint(),
    labelsFolded: r.uint(),
  };
  const strings: string[] = [];
  const nStrings = r.uint();
  for (let i = 0; i < nStrings; i++) strings.push(r.str());
  const label = (i: number): string => {
    const s = strings[i];
    if (s === undefined) throw new DecodeError(`string index ${i} out of range`);
    return s;
  };

  const cells: CellData[] = [];
  const nCells = r.uint();
  for (let i = 0; i < nCells; i++) cells.push(readCell(r, label(r.uint()), label(r.uint()), readDistribution));
  if (!r.done) throw new DecodeError('trailing bytes after snapshot');
  return { epoch, seq, builtAt, coveredSeconds, queueAdjust, activeAdjust, stats, cells };
}

/** True when `a` is strictly newer than `b`: higher epoch, or same epoch and higher seq. */
export function isNewer(a: Pick<InternalSnapshot, 'epoch' | 'seq'>, b: Pick<InternalSnapshot, 'epoch' | 'seq'>): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);
}
