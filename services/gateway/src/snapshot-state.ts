/**
 * The snapshot a gateway holds — the last keyframe with the patches after it
 * applied (@pulse/metrics' SnapshotReplica) — and what every client shares of
 * it: the unfiltered view, the `historical_data` frame and the REST body,
 * each built at most once per snapshot and only when first asked for.
 */
import { decodePatch, decodeSnapshot, isNewer, messageKind, type InternalSnapshot } from '@pulse/protocol';
import { buildReplicaView, buildView, SnapshotReplica, type CellFilter, type StatsMemo, type View } from '@pulse/metrics';
import { historicalFrame, RenderedView, snapshotBody } from './frames.js';
import { SnapshotHistory } from './history.js';
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
  | { kind: 'gap'; snapshot: Pick<InternalSnapshot, 'epoch' | 'seq'> };

/** The figures before any snapshot exists: six metric types, empty maps, zeros. */
const EMPTY = new RenderedView(buildView(null));

export class SnapshotState {
  private readonly replica = new SnapshotReplica();
  private full: RenderedView | null = null;
  private historical: Buffer | null = null;
  /** Stats of whole aggregates, shared by this snapshot's views (a new one for each snapshot). */
  private memo: StatsMemo = new WeakMap();
  /** Recent unfiltered figures, for `GET /metrics/history`. */
  readonly history = new SnapshotHistory();

  private get held(): InternalSnapshot | null {
    return this.replica.snapshot;
  }

  /** Decodes `encoded`, a keyframe or a patch, and applies it when it takes the state forward. Never throws. */
  accept(encoded: Buffer): AcceptResult {
    try {
      if (messageKind(encoded) === 'patch') {
        const patch = decodePatch(encoded);
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
    }
    const snapshot = this.held!;
    this.full = null;
    this.historical = null;
    this.memo = new WeakMap();
    this.history.offer(snapshot.builtAt, () => this.fullView().dataJson(ALL_TYPES_MASK));
    return { kind: 'accepted', snapshot };
  }

  get snapshot(): InternalSnapshot | null {
    return this.held;
  }

  /** The unfiltered view of the held snapshot (the empty one before any). */
  fullView(): RenderedView {
    if (!this.held) return EMPTY;
    return (this.full ??= new RenderedView(buildReplicaView(this.replica, undefined, this.memo)));
  }

  /** A filtered view of the held snapshot, from the replica's aggregates. */
  view(filter: CellFilter): View {
    return buildReplicaView(this.replica, filter, this.memo);
  }

  /**
   * The `historical_data` frame: timestamped with the snapshot's build time,
   * or with `nowSeconds` before any snapshot exists.
   */
  historicalFrame(nowSeconds: number): Buffer {
    if (!this.held) return historicalFrame(nowSeconds, EMPTY.dataJson(ALL_TYPES_MASK));
    return (this.historical ??= historicalFrame(this.held.builtAt, this.fullView().dataJson(ALL_TYPES_MASK)));
  }

  /** The body of `GET /metrics/snapshot`: the same data as `historical_data`. */
  restBody(nowSeconds: number): string {
    return snapshotBody(this.held?.builtAt ?? nowSeconds, this.fullView().dataJson(ALL_TYPES_MASK));
  }
}
