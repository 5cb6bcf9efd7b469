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
import type { InternalSnapshot, SnapshotData, SnapshotPatch } from '@pulse/protocol';
import { buildReplicaView, SnapshotReplica, type CellFilter } from '@pulse/metrics';
import type { Logger } from '@pulse/runtime';

export class AlertsOnSnapshots {
  private replica = new SnapshotReplica();

  constructor(
    private readonly evaluator: AlertEvaluator,
    /** The lease key whose `token|epoch` value fences the alert state's writes. */
    private readonly fenceKey: string,
    private readonly log: Logger,
  ) {}

  /** A keyframe or patch went out under `epoch` at `nowMs`: evaluate every rule on it (not awaited: never on the tick's path). */
  published(message: { keyframe: InternalSnapshot } | { patch: SnapshotPatch }, epoch: number, nowMs: number): void {
    if ('keyframe' in message) this.replica.load(message.keyframe);
    else if (this.replica.apply(message.patch) === 'gap') return; // the next keyframe brings the replica back
    const replica = this.replica;
    const snapshot = replica.snapshot!;
    const labels = {
      endpoints: [...replica.aggregates.byEndpoint.keys()],
      models: [...new Set(snapshot.cells.map((c) => c.model))],
      nodes: [...replica.aggregates.byNode.keys()],
    };
    const view = (f: ViewFilter): SnapshotData => buildReplicaView(replica, cellFilter(f)).lazyData;
    void this.evaluator.evaluate({ nowMs, view, labels, fence: { key: this.fenceKey, epoch } }).then((result) => {
      if (result.status === 'fenced') this.log.info({ epoch }, 'alert state write fenced off: another aggregator leads');
    });
  }

  /** Leadership lost: the next one starts from a keyframe and the stored state. */
  stoodDown(): void {
    this.replica = new SnapshotReplica();
    this.evaluator.reset();
  }
}

function cellFilter(f: ViewFilter): CellFilter {
  return { endpoints: new Set(f.endpoints ?? []), models: new Set(f.models ?? []), nodes: new Set(f.nodes ?? []) };
}
