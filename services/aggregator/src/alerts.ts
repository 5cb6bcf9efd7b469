/**
 * Alerts on the snapshots this aggregator publishes (docs/ALERTS.md): the
 * leader keeps a replica of what it published — the same keyframes and
 * patches gateways apply — and after each publish hands the evaluator views
 * built by the gateways' own view code (buildReplicaView), fenced by the
 * epoch it published under. One evaluator in the cluster, because only the
 * leader publishes; a new leader's first message is a keyframe, and a new
 * epoch makes the evaluator reload the alert state before it evaluates.
 */
import type { AlertEvaluator, ViewFilter } from '@pulse/alerts';
import type { BusMessage, InternalSnapshot, SnapshotData } from '@pulse/protocol';
import { buildReplicaView, PartitionMerge, SnapshotReplica, type CellFilter, type PartitionAccept, type PartitionedReplica } from '@pulse/metrics';
import type { Logger } from '@pulse/runtime';

/**
 * With partitions (PULSE_PARTITIONS > 1) the rules must see every partition:
 * the aggregator of partition 0 evaluates, on the merge of its own messages
 * and the other partitions' (from their feeds, as a gateway reads them),
 * once per merged tick (@pulse/metrics' PartitionMerge), fenced by partition
 * 0's lease — the alert state's keys share its slot.
 */
export interface PartitionedAlerts {
  partitions: number;
  /** How long a merged tick waits for late partitions (half a tick). */
  waitMs: number;
}

export class AlertsOnSnapshots {
  private replica = new SnapshotReplica();
  /** Partitioned only: every partition's replica, merged. */
  private readonly merge: PartitionMerge | null;
  /** Partitioned: the epoch partition 0 leads under in this process, null while it does not. */
  private leading: number | null = null;

  constructor(
    private readonly evaluator: AlertEvaluator,
    /** The lease key whose `token|epoch` value fences the alert state's writes. */
    private readonly fenceKey: string,
    private readonly log: Logger,
    partitioned?: PartitionedAlerts,
  ) {
    this.merge =
      partitioned && partitioned.partitions > 1
        ? new PartitionMerge({
            partitions: partitioned.partitions,
            waitMs: partitioned.waitMs,
            onMerged: (merged) => {
              if (this.leading !== null) this.evaluate(this.merge!.replica, merged, this.leading, merged.builtAt * 1000);
            },
          })
        : null;
  }

  /** A keyframe or patch went out under `epoch` at `nowMs`: evaluate every rule on it (not awaited: never on the tick's path). */
  published(message: BusMessage, epoch: number, nowMs: number): void {
    if (this.merge) {
      // Partition 0's own message: the merged tick is evaluated once the other partitions have it too.
      this.leading = epoch;
      this.merge.accept(0, message);
      return;
    }
    if ('keyframe' in message) this.replica.load(message.keyframe);
    // The leader's own messages, each following the last; a gap waits for its next broadcast keyframe (after a failed publish).
    else if (this.replica.apply(message.patch) === 'gap') return;
    this.evaluate(this.replica, this.replica.snapshot!, epoch, nowMs);
  }

  /** Partitioned: a message of another partition, from its feed. 'gap' means that feed must catch up. */
  partial(partition: number, encoded: Buffer): PartitionAccept {
    if (!this.merge || partition === 0) return 'invalid';
    return this.merge.accept(partition, encoded);
  }

  /** Leadership lost: the next one starts from a keyframe and the stored state. */
  stoodDown(): void {
    this.replica = new SnapshotReplica();
    this.leading = null;
    this.merge?.reset(0);
    this.evaluator.reset();
  }

  /** Stops the partitioned merge's timer (shutdown). */
  close(): void {
    this.merge?.close();
  }

  private evaluate(replica: SnapshotReplica | PartitionedReplica, snapshot: InternalSnapshot, epoch: number, nowMs: number): void {
    const parts = 'parts' in replica ? replica.parts : [replica];
    const labels = {
      endpoints: [...new Set(parts.flatMap((p) => [...p.aggregates.byEndpoint.keys()]))],
      models: [...new Set(snapshot.cells.map((c) => c.model))],
      nodes: [...new Set(parts.flatMap((p) => [...p.aggregates.byNode.keys()]))],
    };
    const view = (f: ViewFilter): SnapshotData => buildReplicaView(replica, cellFilter(f)).lazyData;
    void this.evaluator.evaluate({ nowMs, view, labels, fence: { key: this.fenceKey, epoch } }).then((result) => {
      if (result.status === 'fenced') this.log.info({ epoch }, 'alert state write fenced off: another aggregator leads');
    });
  }
}

function cellFilter(f: ViewFilter): CellFilter {
  return { endpoints: new Set(f.endpoints ?? []), models: new Set(f.models ?? []), nodes: new Set(f.nodes ?? []) };
}
