/**
 * A snapshot patch: how the window changed since the previous message of the
 * same epoch (`baseSeq`). Between keyframes the active aggregator publishes
 * only these, so what goes over pub/sub each tick grows with the traffic of
 * that tick, not with the number of cells: at a fleet of 64 nodes × 20
 * endpoints × 5 models a full snapshot is ~1.5 MB, a tick's patch ~0.1 MB
 * (docs/ARCHITECTURE.md has the arithmetic).
 *
 * A changed cell carries the new values of the numbers that changed, its
 * keyed counts whole when they changed, and for each distribution that
 * changed its new count, sum and (when they moved) min and max, plus the
 * histogram indices of the samples added and of those that left the window,
 * and the cumulative slots (cumulative.ts) that moved, with their new values.
 * Applied in order to the snapshot of `baseSeq`, patches rebuild exactly the
 * snapshot the aggregator would have sent (a property the tests check).
 *
 * Wire layout (version 2): magic 'Q', version, epoch, seq, baseSeq, builtAt
 * f64, coveredSeconds f64, self counters, string table, nodes changed,
 * nodes removed, cells changed, cells removed.
 */
import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';
import { CELL_DISTRIBUTIONS, CELL_NUMBERS, field, type CellDistribution, type CellNumber, type Counts } from './cell-fields.js';
import { CUMULATIVE_SLOT_COUNT } from './cumulative.js';
import {
  collectStrings,
  keyedReader,
  readNode,
  readStats,
  StringTable,
  writeKeyed,
  writeNode,
  writeStats,
  type AggregatorStats,
  type CellData,
  type NodeData,
} from './snapshot.js';

export const PATCH_MAGIC = 0x51; // 'Q'
export const PATCH_VERSION = 2;

/** How one distribution of a cell changed. */
export interface DistributionPatch {
  count: number;
  sum: number;
  /** Present when they changed. */
  min?: number;
  max?: number;
  /** Histogram indices of the samples added and of those expired (ZERO_INDEX for the zeros). */
  added: readonly number[];
  removed: readonly number[];
}

export type KeyedData = Pick<CellData, 'errorsByStatus' | 'errorsByType' | 'sloGood'>;

export interface CellRef {
  node: string;
  endpoint: string;
  model: string;
}

export interface CellPatch extends CellRef {
  /** The new value of each number that changed. */
  numbers: Partial<Counts<CellNumber>>;
  /** All keyed counts, when any changed. */
  keyed?: KeyedData;
  dists: Partial<Record<CellDistribution, DistributionPatch>>;
  /** The cumulative slots that changed as flat (slot, new value) pairs, slots ascending; absent when none did. */
  cumulative?: readonly number[];
}

export interface SnapshotPatch {
  epoch: number;
  seq: number;
  /** The seq of the snapshot (or patch) this one applies to. */
  baseSeq: number;
  builtAt: number;
  coveredSeconds: number;
  stats: AggregatorStats;
  /** Nodes new or changed, whole. */
  nodes: NodeData[];
  removedNodes: string[];
  cells: CellPatch[];
  removedCells: CellRef[];
}

const MIN_BIT = 1;
const MAX_BIT = 2;

export function encodePatch(p: SnapshotPatch): Buffer {
  const w = new BinaryWriter(1024 + p.cells.length * 64);
  w.u8(PATCH_MAGIC);
  w.u8(PATCH_VERSION);
  w.uint(p.epoch);
  w.uint(p.seq);
  w.uint(p.baseSeq);
  w.f64(p.builtAt);
  w.f64(p.coveredSeconds);
  writeStats(w, p.stats);
  const strings = new StringTable();
  collectStrings(strings, [], p.nodes);
  for (const n of p.removedNodes) strings.add(n);
  for (const c of p.cells) {
    addRef(strings, c);
    if (c.keyed) for (const type of c.keyed.errorsByType.keys()) strings.add(type);
  }
  for (const c of p.removedCells) addRef(strings, c);
  strings.write(w);
  w.uint(p.nodes.length);
  for (const n of p.nodes) writeNode(w, n, strings);
  w.uint(p.removedNodes.length);
  for (const n of p.removedNodes) w.uint(strings.ref(n));
  w.uint(p.cells.length);
  for (const c of p.cells) writeCellPatch(w, c, strings);
  w.uint(p.removedCells.length);
  for (const c of p.removedCells) writeRef(w, c, strings);
  return w.finish();
}

export function decodePatch(buf: Buffer): SnapshotPatch {
  const r = new BinaryReader(buf);
  if (r.u8() !== PATCH_MAGIC) throw new DecodeError('not a Pulse snapshot patch');
  const version = r.u8();
  if (version !== PATCH_VERSION) throw new DecodeError(`patch version ${version} is not supported`);
  const epoch = r.uint();
  const seq = r.uint();
  const baseSeq = r.uint();
  const builtAt = r.f64();
  const coveredSeconds = r.f64();
  const stats = readStats(r);
  const label = StringTable.read(r);
  const readKeyed = keyedReader(label);
  const nodes: NodeData[] = [];
  for (let i = 0, n = r.uint(); i < n; i++) nodes.push(readNode(r, label));
  const removedNodes: string[] = [];
  for (let i = 0, n = r.uint(); i < n; i++) removedNodes.push(label(r.uint()));
  const cells: CellPatch[] = [];
  for (let i = 0, n = r.uint(); i < n; i++) cells.push(readCellPatch(r, label, readKeyed));
  const removedCells: CellRef[] = [];
  for (let i = 0, n = r.uint(); i < n; i++) removedCells.push(readRef(r, label));
  if (!r.done) throw new DecodeError('trailing bytes after patch');
  return { epoch, seq, baseSeq, builtAt, coveredSeconds, stats, nodes, removedNodes, cells, removedCells };
}

/** Which kind of message a buffer on the snapshot bus is, by its first byte. */
export function messageKind(buf: Buffer): 'snapshot' | 'patch' | null {
  return buf[0] === PATCH_MAGIC ? 'patch' : buf[0] === 0x50 ? 'snapshot' : null;
}

function addRef(strings: StringTable, c: CellRef): void {
  strings.add(c.node);
  strings.add(c.endpoint);
  strings.add(c.model);
}

function writeRef(w: BinaryWriter, c: CellRef, strings: StringTable): void {
  w.uint(strings.ref(c.node));
  w.uint(strings.ref(c.endpoint));
  w.uint(strings.ref(c.model));
}

function readRef(r: BinaryReader, label: (i: number) => string): CellRef {
  return { node: label(r.uint()), endpoint: label(r.uint()), model: label(r.uint()) };
}

function writeCellPatch(w: BinaryWriter, c: CellPatch, strings: StringTable): void {
  writeRef(w, c, strings);
  w.uint(numbersMask(c.numbers));
  for (const k of CELL_NUMBERS) {
    const v = c.numbers[k];
    if (v !== undefined) w.uint(v);
  }
  w.u8(c.keyed ? 1 : 0);
  if (c.keyed) writeKeyed(w, c.keyed, strings);
  w.uint(distsMask(c.dists));
  for (const k of CELL_DISTRIBUTIONS) {
    const d = c.dists[k];
    if (!d) continue;
    w.uint(d.count);
    w.f64(d.sum);
    w.u8((d.min !== undefined ? MIN_BIT : 0) | (d.max !== undefined ? MAX_BIT : 0));
    if (d.min !== undefined) w.f64(d.min);
    if (d.max !== undefined) w.f64(d.max);
    // Indices as zigzag deltas from the previous one (sorted lists make them one byte each).
    w.intDeltas(d.added);
    w.intDeltas(d.removed);
  }
  writeCumulativeChanges(w, c.cumulative ?? NONE);
}

const NONE: readonly number[] = Object.freeze([]);

function writeCumulativeChanges(w: BinaryWriter, pairs: readonly number[]): void {
  w.uint(pairs.length / 2);
  let last = -1;
  for (let i = 0; i < pairs.length; i += 2) {
    w.uint(pairs[i]! - last - 1);
    w.uint(pairs[i + 1]!);
    last = pairs[i]!;
  }
}

function readCumulativeChanges(r: BinaryReader): number[] | undefined {
  const n = r.uint();
  if (n === 0) return undefined;
  if (n > CUMULATIVE_SLOT_COUNT) throw new DecodeError(`${n} cumulative changes`);
  const pairs: number[] = [];
  let at = -1;
  for (let i = 0; i < n; i++) {
    at += r.uint() + 1;
    if (at >= CUMULATIVE_SLOT_COUNT) throw new DecodeError(`cumulative slot ${at} of ${CUMULATIVE_SLOT_COUNT}`);
    pairs.push(at, r.uint());
  }
  return pairs;
}

/** Which numbers (bit i: CELL_NUMBERS[i]) a changed cell carries, compiled from the field list. */
const numbersMask = new Function('n', `return ${CELL_NUMBERS.map((k, i) => `(n.${field(k)} !== undefined ? ${1 << i} : 0)`).join(' | ')};`) as (
  numbers: Partial<Counts<CellNumber>>,
) => number;

/** Which distributions (bit i: CELL_DISTRIBUTIONS[i]) a changed cell carries. */
const distsMask = new Function('d', `return ${CELL_DISTRIBUTIONS.map((k, i) => `(d.${field(k)} ? ${1 << i} : 0)`).join(' | ')};`) as (
  dists: Partial<Record<CellDistribution, DistributionPatch>>,
) => number;

/**
 * Reads a changed cell's numbers into one object shape, absent ones
 * undefined (compiled from the field list, cell-fields.ts says why): with a
 * shape per mask, the replica's reads of them were megamorphic, a fifth of
 * a fleet gateway's patch apply.
 */
const readNumbers = new Function(
  'r',
  'mask',
  `return { ${CELL_NUMBERS.map((k, i) => `${field(k)}: mask & ${1 << i} ? r.uint() : undefined`).join(', ')} };`,
) as (r: BinaryReader, mask: number) => Partial<Counts<CellNumber>>;

/** A changed cell's distributions, one shape (absent ones undefined), read in wire order. */
const readDists = new Function(
  'r',
  'mask',
  'one',
  `return { ${CELL_DISTRIBUTIONS.map((k, i) => `${field(k)}: mask & ${1 << i} ? one(r) : undefined`).join(', ')} };`,
) as (r: BinaryReader, mask: number, one: (r: BinaryReader) => DistributionPatch) => Partial<Record<CellDistribution, DistributionPatch>>;

function readDistribution(r: BinaryReader): DistributionPatch {
  const count = r.uint();
  const sum = r.f64();
  const flags = r.u8();
  const min = flags & MIN_BIT ? r.f64() : undefined;
  const max = flags & MAX_BIT ? r.f64() : undefined;
  return { count, sum, min, max, added: readIndices(r), removed: readIndices(r) };
}

function readCellPatch(r: BinaryReader, label: (i: number) => string, readKeyed: (r: BinaryReader) => KeyedData): CellPatch {
  const { node, endpoint, model } = readRef(r, label);
  const numbers = readNumbers(r, r.uint());
  const keyed = r.u8() === 1 ? readKeyed(r) : undefined;
  const dists = readDists(r, r.uint(), readDistribution);
  return { node, endpoint, model, numbers, keyed, dists, cumulative: readCumulativeChanges(r) };
}

const NO_INDICES: readonly number[] = Object.freeze([]);

function readIndices(r: BinaryReader): readonly number[] {
  const n = r.uint();
  if (n === 0) return NO_INDICES;
  // Each index takes at least a byte: a count beyond what is left is a corrupt message, not an allocation to make.
  if (n > r.remaining) throw new DecodeError(`${n} histogram indices`);
  const out = new Array<number>(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    prev += r.int();
    out[i] = prev;
  }
  return out;
}
