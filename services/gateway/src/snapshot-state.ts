/**
 * The snapshot a gateway holds — the last keyframe with the patches after it
 * applied (@pulse/metrics' SnapshotReplica) — and what every client shares of
 * it: the unfiltered view, the `historical_data` frame and the REST body,
 * each built at most once per snapshot and only when first asked for.
 *
 * With partitions (PULSE_PARTITIONS > 1), one replica per partition, merged
 * (@pulse/metrics' PartitionMerge): a partition's message only moves its
 * replica ('partial'), and the merged snapshot of a tick goes to `onUpdate`
 * once every partition has it or half a tick later, naming the partitions
 * that are behind (docs/PROTOCOL.md §5.4, `stale_partitions`).
 */
import { PatchDecoder, decodeSnapshot, isNewer, messageKind, type BusMessage, type InternalSnapshot } from '@pulse/protocol';
import { buildReplicaView, buildView, PartitionMerge, SnapshotReplica, type CellFilter, type MergedSnapshot, type StatsMemo, type View } from '@pulse/metrics';
import type { FragmentMemo } from './fragments.js';
import { historicalFrame, RenderedView, snapshotBody, staleJson } from './frames.js';
import { ALL_TYPES_MASK } from './metric-types.js';

export type AcceptResult =
  | { kind: 'accepted'; snapshot: InternalSnapshot }
  /** Not decodable: a bug or a foreign publisher on the channel. */
  | { kind: 'invalid'; error: unknown }
  /** Not newer than the one held: a catch-up racing a live message, or a message already applied. */
  | { kind: 'duplicate'; snapshot: Pick<InternalSnapshot, 'epoch' | 'seq'> }
  /** Older than the one held: a paused old leader still publishing. */
  | { kind: 'stale'; snapshot: Pick<InternalSnapshot, 'epoch' | 'seq'> }
  /** A patch that does not follow on from what is held (a message missed, or a new epoch): catch up. */
  | { kind: 'gap'; snapshot: Pick<InternalSnapshot, 'epoch' | 'seq'> }
  /** Partitioned: applied to its partition's replica; the merged update goes to `onUpdate` when the tick is complete. */
  | { kind: 'partial'; snapshot: Pick<InternalSnapshot, 'epoch' | 'seq'> };

export interface SnapshotStateOptions {
  /** PULSE_PARTITIONS; default 1. */
  partitions?: number;
  /** How long a merged tick waits for late partitions (half a tick). */
  waitMs?: number;
  /** Partitioned: a merged snapshot is held, to be fanned out. */
  onUpdate?: (snapshot: MergedSnapshot) => void;
}

/** The figures before any snapshot exists: six metric types, empty maps, zeros. */
const EMPTY = new RenderedView(buildView(null));

export class SnapshotState {
  private readonly replica = new SnapshotReplica();
  /** Partitioned only: a replica per partition, merged tick by tick. */
  private readonly merge: PartitionMerge | null;
  private full: RenderedView | null = null;
  private historical: Buffer | null = null;
  /** Each patch is applied, then released, before the next arrives: one decoder's objects serve them all (patch.ts `PatchDecoder`). */
  private readonly decoder = new PatchDecoder();
  /** Stats of whole aggregates, shared by this snapshot's views (a new one for each snapshot). */
  private memo: StatsMemo = new WeakMap();
  /** JSON of what this snapshot's views share (fragments.ts), by object: goes with `memo`. */
  private fragments: FragmentMemo = new WeakMap();

  constructor(private readonly opts: SnapshotStateOptions = {}) {
    const partitions = opts.partitions ?? 1;
    this.merge =
      partitions > 1
        ? new PartitionMerge({ partitions, waitMs: opts.waitMs ?? 250, onMerged: (merged) => this.merged(merged) })
        : null;
  }

  private get held(): InternalSnapshot | null {
    return this.merge ? this.merge.snapshot : this.replica.snapshot;
  }

  /** Partitions of the held snapshot that are behind (always empty without partitions). */
  get stalePartitions(): readonly number[] {
    return this.merge?.snapshot?.stalePartitions ?? [];
  }

  /** Decodes `encoded`, a keyframe or a patch of `partition`, and applies it when it takes the state forward. Never throws. */
  accept(encoded: Buffer, partition = 0): AcceptResult {
    if (this.merge) return this.acceptPartial(this.merge, encoded, partition);
    try {
      if (messageKind(encoded) === 'patch') {
        const patch = this.decoder.decode(encoded);
        const held = this.held;
        if (held && !isNewer(patch, held)) return { kind: patch.epoch === held.epoch ? 'duplicate' : 'stale', snapshot: patch };
        if (this.replica.apply(patch) === 'gap') return { kind: 'gap', snapshot: patch };
      } else {
        const snapshot = decodeSnapshot(encoded);
        const held = this.held;
        if (held && !isNewer(snapshot, held)) {
          // An older keyframe of the same epoch is what a catch-up starts from: the patches after it follow.
          const same = snapshot.epoch === held.epoch;
          return { kind: same ? 'duplicate' : 'stale', snapshot };
        }
        this.replica.load(snapshot);
      }
    } catch (error) {
      return { kind: 'invalid', error };
    } finally {
      this.decoder.release();
    }
    const snapshot = this.held!;
    this.full = null;
    this.historical = null;
    this.memo = new WeakMap();
    this.fragments = new WeakMap();
    return { kind: 'accepted', snapshot };
  }

  private acceptPartial(merge: PartitionMerge, encoded: Buffer, partition: number): AcceptResult {
    let message: BusMessage;
    try {
      message = this.decoder.decodeMessage(encoded);
    } catch (error) {
      return { kind: 'invalid', error };
    }
    const header = 'keyframe' in message ? message.keyframe : message.patch;
    const snapshot = { epoch: header.epoch, seq: header.seq };
    // What a view reads moved: nothing built from the replicas before may be served again.
    this.dropBuilt();
    const result = merge.accept(partition, message);
    this.decoder.release();
    return { kind: result === 'accepted' ? 'partial' : result, snapshot } as AcceptResult;
  }

  /** A merged tick is held: what was built from the one before goes, and the update goes out. */
  private merged(snapshot: MergedSnapshot): void {
    this.dropBuilt();
    this.opts.onUpdate?.(snapshot);
  }

  private dropBuilt(): void {
    this.full = null;
    this.historical = null;
    this.memo = new WeakMap();
    this.fragments = new WeakMap();
  }

  /** Stops merging (partitioned): nothing goes to `onUpdate` after. */
  close(): void {
    this.merge?.close();
  }

  get snapshot(): InternalSnapshot | null {
    return this.held;
  }

  /** The unfiltered view of the held snapshot (the empty one before any). */
  fullView(): RenderedView {
    if (!this.held) return EMPTY;
    return (this.full ??= new RenderedView(buildReplicaView(this.merge?.replica ?? this.replica, undefined, this.memo), this.fragments, true));
  }

  /** A filtered view of the held snapshot, from the replica's aggregates. */
  view(filter: CellFilter): View {
    return buildReplicaView(this.merge?.replica ?? this.replica, filter, this.memo);
  }

  /**
   * The `historical_data` frame: timestamped with the snapshot's build time,
   * or with `nowSeconds` before any snapshot exists.
   */
  historicalFrame(nowSeconds: number): Buffer {
    if (!this.held) return historicalFrame(nowSeconds, EMPTY.dataJson(ALL_TYPES_MASK), staleJson(this.emptyStale()));
    return (this.historical ??= historicalFrame(this.held.builtAt, this.fullView().dataJson(ALL_TYPES_MASK), staleJson(this.stalePartitions)));
  }

  /** The body of `GET /metrics/snapshot`: the same data as `historical_data`. */
  restBody(nowSeconds: number): string {
    const stale = this.held ? this.stalePartitions : this.emptyStale();
    return snapshotBody(this.held?.builtAt ?? nowSeconds, this.fullView().dataJson(ALL_TYPES_MASK), staleJson(stale));
  }

  /** Before any merged snapshot every partition is behind. */
  private emptyStale(): readonly number[] {
    return this.merge ? this.merge.replica.parts.map((_, i) => i) : [];
  }
}
