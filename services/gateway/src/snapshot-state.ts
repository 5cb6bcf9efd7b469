/**
 * The newest snapshot a gateway holds, and what every client shares of it:
 * the unfiltered view, the `historical_data` frame and the REST body, each
 * built at most once per snapshot and only when first asked for.
 */
import { decodeSnapshot, isNewer, type InternalSnapshot } from '@pulse/protocol';
import { buildView } from '@pulse/metrics';
import { historicalFrame, RenderedView, snapshotBody } from './frames.js';
import { SnapshotHistory } from './history.js';
import { ALL_TYPES_MASK } from './metric-types.js';

export type AcceptResult =
  | { kind: 'accepted'; snapshot: InternalSnapshot }
  /** Not decodable: a bug or a foreign publisher on the channel. */
  | { kind: 'invalid'; error: unknown }
  /** Same epoch and seq as the one held: a catch-up racing a live message. */
  | { kind: 'duplicate'; snapshot: InternalSnapshot }
  /** Older than the one held: a paused old leader still publishing. */
  | { kind: 'stale'; snapshot: InternalSnapshot };

/** The figures before any snapshot exists: six metric types, empty maps, zeros. */
const EMPTY = new RenderedView(buildView(null));

export class SnapshotState {
  private held: InternalSnapshot | null = null;
  private full: RenderedView | null = null;
  private historical: Buffer | null = null;
  /** Recent unfiltered figures, for `GET /metrics/history`. */
  readonly history = new SnapshotHistory();

  /** Decodes `encoded` and keeps it when it is newer than the one held. Never throws. */
  accept(encoded: Buffer): AcceptResult {
    let snapshot: InternalSnapshot;
    try {
      snapshot = decodeSnapshot(encoded);
    } catch (error) {
      return { kind: 'invalid', error };
    }
    if (this.held && !isNewer(snapshot, this.held)) {
      const same = snapshot.epoch === this.held.epoch && snapshot.seq === this.held.seq;
      return { kind: same ? 'duplicate' : 'stale', snapshot };
    }
    this.held = snapshot;
    this.full = null;
    this.historical = null;
    this.history.offer(snapshot.builtAt, () => this.fullView().dataJson(ALL_TYPES_MASK));
    return { kind: 'accepted', snapshot };
  }

  get snapshot(): InternalSnapshot | null {
    return this.held;
  }

  /** The unfiltered view of the held snapshot (the empty one before any). */
  fullView(): RenderedView {
    if (!this.held) return EMPTY;
    return (this.full ??= new RenderedView(buildView(this.held)));
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
