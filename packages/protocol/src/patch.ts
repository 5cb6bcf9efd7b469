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
import { CELL_DISTRIBUTIONS, CELL_NUMBERS, compileFill, field, type CellDistribution, type CellNumber, type Counts } from './cell-fields.js';
import { CUMULATIVE_SLOT_COUNT } from './cumulative.js';
import {
  collectStrings,
  decodeSnapshot,
  keyedReader,
  NO_KEYED_COUNTS,
  readNode,
  readStats,
  StringTable,
  writeKeyed,
  writeNode,
  writeStats,
  type AggregatorStats,
  type CellData,
  type InternalSnapshot,
  type KeyedSlot,
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

/** Decodes a patch into objects of its own (`PatchDecoder` reuses them). */
export function decodePatch(buf: Buffer): SnapshotPatch {
  return new PatchDecoder().decode(buf);
}

/**
 * Decodes patches into the objects of the one before. A fleet gateway
 * decodes ~2,700 changed cells every tick, ~3 MB of objects that die as soon
 * as the patch is applied; the young generation filled every couple of
 * patches, each time with a patch half-applied and alive, which the collector
 * then copied (docs/PERFORMANCE.md §2b). Reused, they stay where they are.
 *
 * So a patch this returns is valid only until `release` or the next
 * `decode`: apply it, then release it. What a holder may keep is a cell's
 * error maps, new with every decode; its SLO counts, number objects,
 * distributions and index lists are refilled by the next (the replica copies
 * them).
 */
export class PatchDecoder {
  private readonly slots: CellSlot[] = [];
  /** Slots the last decode filled. */
  private filled = 0;

  /**
   * Lets go of what the last patch's slots point to. Its index lists, error
   * maps and boxed numbers are new with each decode; left in the kept slots
   * until the next patch overwrote them (a second later at a 1 s tick), they
   * outlived a young-generation collection or two, and were promoted: a third
   * of what a fleet gateway promoted, and so of its full collections.
   */
  release(): void {
    for (let i = 0; i < this.filled; i++) clearSlot(this.slots[i]!);
    this.filled = 0;
  }

  decode(buf: Buffer): SnapshotPatch {
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
    const n = r.uint();
    // Each cell takes at least a byte: a count beyond what is left is a corrupt message, not slots to make.
    if (n > r.remaining) throw new DecodeError(`${n} changed cells`);
    const cells = new Array<CellPatch>(n);
    this.release();
    this.filled = n;
    for (let i = 0; i < n; i++) cells[i] = readCellPatch(r, label, readKeyed, this.slot(i));
    const removedCells: CellRef[] = [];
    for (let i = 0, n = r.uint(); i < n; i++) removedCells.push(readRef(r, label));
    if (!r.done) throw new DecodeError('trailing bytes after patch');
    return { epoch, seq, baseSeq, builtAt, coveredSeconds, stats, nodes, removedNodes, cells, removedCells };
  }

  /** A message off the snapshot bus: a keyframe, decoded afresh, or a patch, into this decoder's objects. */
  decodeMessage(buf: Buffer): BusMessage {
    return messageKind(buf) === 'patch' ? { patch: this.decode(buf) } : { keyframe: decodeSnapshot(buf) };
  }

  private slot(i: number): CellSlot {
    return (this.slots[i] ??= newSlot());
  }
}

/** What the snapshot bus carries, decoded. */
export type BusMessage = { keyframe: InternalSnapshot } | { patch: SnapshotPatch };

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
  const pairs = new Array<number>(2 * n);
  let at = -1;
  for (let i = 0; i < 2 * n; i += 2) {
    at += r.uint() + 1;
    if (at >= CUMULATIVE_SLOT_COUNT) throw new DecodeError(`cumulative slot ${at} of ${CUMULATIVE_SLOT_COUNT}`);
    pairs[i] = at;
    pairs[i + 1] = r.uint();
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

/** A decoded cell and the objects it holds, refilled by each decode that reaches it. */
interface CellSlot {
  patch: MutableCellPatch;
  numbers: Partial<Counts<CellNumber>>;
  dists: Record<CellDistribution, MutableDistributionPatch | undefined>;
  /** Each distribution's own patch object, in `dists` when the cell carries it. */
  distStore: Record<CellDistribution, MutableDistributionPatch>;
  keyed: KeyedSlot;
}

type MutableCellPatch = { -readonly [K in keyof CellPatch]: CellPatch[K] };
type MutableDistributionPatch = { -readonly [K in keyof DistributionPatch]: DistributionPatch[K] };

/**
 * Reads a changed cell's numbers into its slot's object: one shape, absent ones
 * undefined (compiled from the field list, cell-fields.ts says why). With a
 * shape per mask, the replica's reads of them were megamorphic, a fifth of a
 * fleet gateway's patch apply.
 */
const readNumbers = new Function(
  'r',
  'mask',
  'o',
  `${CELL_NUMBERS.map((k, i) => `o.${field(k)} = mask & ${1 << i} ? r.uint() : undefined;`).join('\n')}\nreturn o;`,
) as (r: BinaryReader, mask: number, o: Partial<Counts<CellNumber>>) => Partial<Counts<CellNumber>>;

/** A changed cell's distributions, read in wire order into their slot's objects; the absent ones undefined. */
const readDists = new Function(
  'r',
  'mask',
  'o',
  'store',
  'one',
  `${CELL_DISTRIBUTIONS.map((k, i) => `o.${field(k)} = mask & ${1 << i} ? one(r, store.${field(k)}) : undefined;`).join('\n')}\nreturn o;`,
) as (
  r: BinaryReader,
  mask: number,
  o: CellSlot['dists'],
  store: CellSlot['distStore'],
  one: (r: BinaryReader, into: MutableDistributionPatch) => MutableDistributionPatch,
) => CellSlot['dists'];

const perDistribution = compileFill(CELL_DISTRIBUTIONS);

function newSlot(): CellSlot {
  const numbers = readNumbers(EMPTY_READER, 0, {});
  const dists = perDistribution<MutableDistributionPatch | undefined>(() => undefined);
  const distStore = perDistribution<MutableDistributionPatch>(() => ({ count: 0, sum: 0, min: undefined, max: undefined, added: NO_INDICES, removed: NO_INDICES }));
  const patch: MutableCellPatch = { node: '', endpoint: '', model: '', numbers, keyed: undefined, dists, cumulative: undefined };
  return { patch, numbers, dists, distStore, keyed: { errorsByStatus: NO_KEYED_COUNTS, errorsByType: NO_KEYED_COUNTS, sloGood: [] } };
}

const EMPTY_READER = new BinaryReader(Buffer.alloc(0));

function clearSlot(slot: CellSlot): void {
  slot.patch.keyed = undefined;
  slot.patch.cumulative = undefined;
  slot.keyed.errorsByStatus = NO_KEYED_COUNTS;
  slot.keyed.errorsByType = NO_KEYED_COUNTS;
  for (const name of CELL_DISTRIBUTIONS) {
    const d = slot.distStore[name];
    d.min = undefined;
    d.max = undefined;
    d.added = NO_INDICES;
    d.removed = NO_INDICES;
  }
}

function readDistribution(r: BinaryReader, d: MutableDistributionPatch): MutableDistributionPatch {
  d.count = r.uint();
  d.sum = r.f64();
  const flags = r.u8();
  d.min = flags & MIN_BIT ? r.f64() : undefined;
  d.max = flags & MAX_BIT ? r.f64() : undefined;
  d.added = readIndices(r);
  d.removed = readIndices(r);
  return d;
}

function readCellPatch(r: BinaryReader, label: (i: number) => string, readKeyed: (r: BinaryReader, into: KeyedSlot) => KeyedSlot, slot: CellSlot): CellPatch {
  const p = slot.patch;
  p.node = label(r.uint());
  p.endpoint = label(r.uint());
  p.model = label(r.uint());
  readNumbers(r, r.uint(), slot.numbers);
  p.keyed = r.u8() === 1 ? readKeyed(r, slot.keyed) : undefined;
  readDists(r, r.uint(), slot.dists, slot.distStore, readDistribution);
  p.cumulative = readCumulativeChanges(r);
  return p;
}

const NO_INDICES: readonly number[] = Object.freeze([]);

/**
 * A list of histogram indices, new: refilling a kept array costs more than
 * it saves, since setting an array's length to less trims it, and the next
 * list grows it again.
 */
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
