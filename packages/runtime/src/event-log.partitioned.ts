/**
 * The event log of a partitioned deployment (PULSE_PARTITIONS > 1): one log
 * per partition, each event routed by its node (@pulse/protocol's
 * partitionOf), so a request's start and end stay together and each cell is
 * counted by one partition's aggregator.
 *
 * A batch spanning partitions becomes one append per partition, each atomic
 * and idempotent on its own: with an Idempotency-Key every partition's
 * script stores the reply under that partition's key (same slot as its
 * stream). The batch is acknowledged only when every partition's append
 * succeeded; when one fails the caller answers 503, and its retry with the
 * same key replays in the partitions that had appended (nothing counted
 * twice) and appends in the others (nothing lost).
 */
import { ErrorCode, PulseError, partitionOf, type PulseEvent } from '@pulse/protocol';
import type { AppendResult, EventLog, StoredReply } from './event-log.js';

export class PartitionedEventLog implements EventLog {
  /**
   * @param parts one log per partition, in partition order
   * @param closeAll closes what the parts share (one connection); default: closes each part
   */
  constructor(
    readonly parts: readonly EventLog[],
    private readonly closeAll: () => Promise<void> = async () => {
      await Promise.all(parts.map((p) => p.close()));
    },
  ) {
    if (parts.length === 0) throw new RangeError('a partitioned event log needs at least one partition');
  }

  async append(
    events: readonly PulseEvent[],
    idempotency?: { key: string; reply: StoredReply; ttlSeconds: number },
    encoded?: Buffer,
  ): Promise<AppendResult> {
    const n = this.parts.length;
    if (n === 1) return this.parts[0]!.append(events, idempotency, encoded);
    const split = splitByPartition(events, n);
    // A reply stored without events (nothing accepted) lives with partition 0.
    if (split.size === 0) return this.parts[0]!.append(events, idempotency);
    if (split.size === 1) {
      // The whole batch in one partition: its body is its entry, as without partitions.
      const [p, mine] = [...split][0]!;
      return this.parts[p]!.append(mine, idempotency, encoded);
    }
    const results = await Promise.allSettled([...split].map(([p, mine]) => this.parts[p]!.append(mine, idempotency)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw pickError(failed.map((r) => r.reason as unknown));
    const done = results.map((r) => (r as PromiseFulfilledResult<AppendResult>).value);
    // Any partition that had the key already: this is a retry, and the first reply is the one to send again.
    const replay = done.find((r) => r.replay !== null)?.replay ?? null;
    if (replay) return { id: null, replay };
    return { id: done.map((r) => r.id).find((id) => id !== null) ?? null, replay: null };
  }

  async ping(): Promise<boolean> {
    const answers = await Promise.all(this.parts.map((p) => p.ping()));
    return answers.every(Boolean);
  }

  close(): Promise<void> {
    return this.closeAll();
  }
}

/** The events of each partition that has any, in the batch's order. */
export function splitByPartition(events: readonly PulseEvent[], partitions: number): Map<number, PulseEvent[]> {
  const out = new Map<number, PulseEvent[]>();
  let lastNode = '';
  let lastPartition = -1;
  for (const event of events) {
    // Batches come from one node mostly: hash once per run of the same node.
    if (event.node !== lastNode || lastPartition < 0) {
      lastNode = event.node;
      lastPartition = partitionOf(event.node, partitions);
    }
    let mine = out.get(lastPartition);
    if (!mine) {
      mine = [];
      out.set(lastPartition, mine);
    }
    mine.push(event);
  }
  return out;
}

/** The error a partial failure reports: a store outage (503, retry) before anything else. */
function pickError(errors: unknown[]): unknown {
  return errors.find((e) => e instanceof PulseError && e.code === ErrorCode.STORE_UNAVAILABLE) ?? errors[0];
}
