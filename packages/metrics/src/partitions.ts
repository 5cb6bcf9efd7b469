/**
 * Partitioned aggregation (PULSE_PARTITIONS > 1, docs/ARCHITECTURE.md): each
 * partition's leading aggregator publishes its own keyframes and patches, of
 * the cells of its nodes. Whoever needs the cluster's figures — a gateway, the
 * aggregator evaluating alerts — keeps one replica per partition and merges
 * them here:
 *
 * - **Exactly.** A node's events all go to one partition, so partitions'
 *   cells are disjoint but for the `__other__` node (a retired node's totals,
 *   the cardinality guard's folds), and a view is a sum over cells: the
 *   view builder (view.ts) adds every partition's aggregates into the same
 *   groups, which is the one-partition view of the same events (floats
 *   summed in another order aside). Every partition counts from the same
 *   creation time, so the covered length every rate divides by is the same.
 * - **Tick-aligned.** Every aggregator publishes at wall-clock tick edges and
 *   numbers each message by its tick (`seq`). A merged update for tick S goes
 *   out once every partition that is not stale holds S, or `waitMs` after the
 *   first one did, whichever is first.
 * - **Stale, not missing.** A partition more than one tick behind the merged
 *   tick (its leader died, is taking over, is slow, or never published) keeps
 *   its last state in the merge and is named in `stalePartitions`; it is not
 *   waited for until it catches up.
 */
import {
  PatchDecoder,
  isNewer,
  type AggregatorStats,
  type BusMessage,
  type CellData,
  type InternalSnapshot,
  type NodeData,
} from '@pulse/protocol';
import { SnapshotReplica } from './replica.js';

/** The cluster's snapshot merged from its partitions: the union of their cells, their nodes merged. */
export interface MergedSnapshot extends InternalSnapshot {
  /** Partitions whose figures in this snapshot are more than a tick old (or absent), ascending. */
  readonly stalePartitions: readonly number[];
}

/** What became of a partition's message. */
export type PartitionAccept =
  | 'accepted'
  /** not decodable */
  | 'invalid'
  /** not newer than what the partition holds (a catch-up racing a live message) */
  | 'duplicate'
  /** older than what it holds: a paused former leader */
  | 'stale'
  /** a patch that does not follow on from what it holds: the partition's feed must catch up */
  | 'gap';

/** One replica per partition, and their merge. */
export class PartitionedReplica {
  readonly parts: readonly SnapshotReplica[];
  private merged: MergedSnapshot | null = null;
  /** Every patch is applied, then released, as it is decoded: one decoder's objects serve them all (PatchDecoder). */
  private readonly decoder = new PatchDecoder();

  constructor(partitions: number) {
    this.parts = Array.from({ length: partitions }, () => new SnapshotReplica());
  }

  /** The last merge; null before any partition held a snapshot. */
  get snapshot(): MergedSnapshot | null {
    return this.merged;
  }

  /** Tick of the newest snapshot any partition holds, or -Infinity. */
  newestSeq(): number {
    let newest = -Infinity;
    for (const part of this.parts) if (part.snapshot && part.snapshot.seq > newest) newest = part.snapshot.seq;
    return newest;
  }

  /** Partitions more than one tick behind tick `seq`, or holding nothing. */
  staleAt(seq: number): number[] {
    const out: number[] = [];
    this.parts.forEach((part, i) => {
      if (!part.snapshot || part.snapshot.seq < seq - 1) out.push(i);
    });
    return out;
  }

  /** Applies a decoded keyframe or patch of `partition`. */
  accept(partition: number, message: BusMessage): PartitionAccept {
    const part = this.part(partition);
    const held = part.snapshot;
    const incoming = 'keyframe' in message ? message.keyframe : message.patch;
    if (held && !isNewer(incoming, held)) return incoming.epoch === held.epoch ? 'duplicate' : 'stale';
    if ('keyframe' in message) part.load(message.keyframe);
    else if (part.apply(message.patch) === 'gap') return 'gap';
    return 'accepted';
  }

  /** Decodes and applies an encoded keyframe or patch of `partition`. Never throws. */
  acceptEncoded(partition: number, encoded: Buffer): PartitionAccept {
    let message: BusMessage;
    try {
      message = this.decoder.decodeMessage(encoded);
    } catch {
      return 'invalid';
    }
    const result = this.accept(partition, message);
    this.decoder.release();
    return result;
  }

  /** Forgets what `partition` holds (its leader stood down in this process); it is stale until its next keyframe. */
  reset(partition: number): void {
    (this.parts as SnapshotReplica[])[this.checked(partition)] = new SnapshotReplica();
  }

  /**
   * Merges what the partitions hold now as the snapshot of tick `seq`
   * (default: the newest any holds): the union of their cells, their nodes
   * (a label in several — `__other__` — summed), their stats added.
   */
  merge(seq: number = this.newestSeq()): MergedSnapshot | null {
    let freshest: InternalSnapshot | null = null;
    for (const part of this.parts) {
      const s = part.snapshot;
      if (s && (!freshest || s.seq > freshest.seq)) freshest = s;
    }
    if (!freshest) return (this.merged = null);
    const cells: CellData[] = [];
    const nodes = new Map<string, NodeData>();
    const stats: AggregatorStats = { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 };
    let epoch = 0;
    for (const part of this.parts) {
      const s = part.snapshot;
      if (!s) continue;
      for (const cell of s.cells) cells.push(cell);
      for (const n of s.nodes) {
        const seen = nodes.get(n.node);
        nodes.set(
          n.node,
          seen
            ? { node: n.node, lastSeen: Math.max(seen.lastSeen, n.lastSeen), queueAdjust: seen.queueAdjust + n.queueAdjust, activeAdjust: seen.activeAdjust + n.activeAdjust }
            : n,
        );
      }
      stats.eventsApplied += s.stats.eventsApplied;
      stats.eventsDropped += s.stats.eventsDropped;
      stats.labelsFolded += s.stats.labelsFolded;
      if (s.epoch > epoch) epoch = s.epoch;
    }
    this.merged = {
      epoch,
      seq,
      builtAt: freshest.builtAt,
      coveredSeconds: freshest.coveredSeconds,
      stats,
      slos: freshest.slos,
      nodes: [...nodes.values()],
      cells,
      stalePartitions: this.staleAt(seq),
    };
    return this.merged;
  }

  private part(partition: number): SnapshotReplica {
    return this.parts[this.checked(partition)]!;
  }

  private checked(partition: number): number {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.parts.length) {
      throw new RangeError(`partition ${partition} is not one of 0…${this.parts.length - 1}`);
    }
    return partition;
  }
}

export interface PartitionMergeOptions {
  partitions: number;
  /** How long after the first partition reached a tick the merge waits for the others (half a tick is right). */
  waitMs: number;
  /** A merged snapshot is due: every partition not stale reached its tick, or the wait ran out. */
  onMerged(snapshot: MergedSnapshot): void;
}

/** A PartitionedReplica with the timing of docs/ARCHITECTURE.md: when a merged update goes out. */
export class PartitionMerge {
  readonly replica: PartitionedReplica;
  /** Tick of the last merged update. */
  private emitted = -Infinity;
  /** Stale at the last merged update: not waited for until they catch up. */
  private stale = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: PartitionMergeOptions) {
    this.replica = new PartitionedReplica(opts.partitions);
  }

  get snapshot(): MergedSnapshot | null {
    return this.replica.snapshot;
  }

  /** Applies a message of `partition` (encoded, or decoded) and merges when that completes a tick. */
  accept(partition: number, message: Buffer | BusMessage): PartitionAccept {
    const result = Buffer.isBuffer(message) ? this.replica.acceptEncoded(partition, message) : this.replica.accept(partition, message);
    if (result === 'accepted') this.progressed();
    return result;
  }

  /** Forgets what `partition` holds; see PartitionedReplica.reset. */
  reset(partition: number): void {
    this.replica.reset(partition);
  }

  /** Merges now if a newer tick than the last merged one is complete; otherwise makes sure the wait is running. */
  progressed(): void {
    if (this.closed) return;
    const target = this.replica.newestSeq();
    if (target <= this.emitted) return;
    const waiting = this.replica.parts.some((part, i) => !this.stale.has(i) && (part.snapshot?.seq ?? -Infinity) < target);
    if (!waiting) return this.emit(target);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.emit(this.replica.newestSeq());
    }, this.opts.waitMs);
    this.timer.unref?.();
  }

  /** Stops the wait; nothing is merged after. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private emit(seq: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed || seq <= this.emitted) return;
    const merged = this.replica.merge(seq);
    if (!merged) return;
    this.emitted = seq;
    this.stale = new Set(merged.stalePartitions);
    this.opts.onMerged(merged);
  }
}
