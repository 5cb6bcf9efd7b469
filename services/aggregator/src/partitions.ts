/**
 * Partitioned aggregation (PULSE_PARTITIONS > 1, docs/ARCHITECTURE.md): which
 * partitions an aggregator process serves, and what it reports of them.
 *
 * Each partition is aggregated exactly as a whole deployment is without
 * partitions: one Aggregator (its own window, lease, epoch, consumer group,
 * totals and snapshot keys), leading or standing by. A process serves one
 * partition (PULSE_PARTITION=i: the way to use more than one core, since a
 * process is one thread) or, by default, all of them (each partition's lease
 * contended separately: two such processes are each partition's leader and
 * standby; `npm start` runs them all in one).
 */
import { MAX_PARTITIONS } from '@pulse/protocol';
import { ConfigError, intVar } from '@pulse/runtime';
import type { Aggregator, AggregatorStatus } from './aggregator.js';
import { aggregatorVars } from './config.js';

/**
 * PULSE_PARTITION: the one partition this process aggregates, 0 … PULSE_PARTITIONS − 1.
 * Unset (or empty) means every partition. Read by `npm start -w services/aggregator` only.
 */
export const partitionVars = {
  PULSE_PARTITION: intVar(-1, -1, MAX_PARTITIONS - 1),
};

/** The environment of an aggregator process: aggregatorVars and PULSE_PARTITION. */
export const aggregatorProcessVars = { ...aggregatorVars, ...partitionVars };

/** The partitions a process serves, in order; ConfigError when PULSE_PARTITION is not one of PULSE_PARTITIONS. */
export function servedPartitions(config: { PULSE_PARTITIONS: number; PULSE_PARTITION?: number }): number[] {
  const one = config.PULSE_PARTITION ?? -1;
  if (one < 0) return Array.from({ length: config.PULSE_PARTITIONS }, (_, i) => i);
  if (one >= config.PULSE_PARTITIONS) {
    throw new ConfigError([`PULSE_PARTITION: must be below PULSE_PARTITIONS (${config.PULSE_PARTITIONS}), got ${one}`]);
  }
  return [one];
}

/** One partition an aggregator process serves. */
export interface ServedPartition {
  readonly partition: number;
  readonly aggregator: Aggregator;
}

/** What `/status` answers for a process serving several partitions: their sums, and each one's own. */
export type ProcessStatus = AggregatorStatus & {
  /** With PULSE_PARTITIONS > 1: each served partition's status (the fields above then sum or summarise them). */
  partitions?: (AggregatorStatus & { partition: number })[];
};

/**
 * The status of a process: without partitions, its aggregator's, unchanged.
 * With them, `partitions` lists each served one; `role` is leader when it
 * leads any, counts are summed, `lagMs` and `lastTickMs` the largest, `epoch` and
 * `appliedId` are the single partition's (else null and '').
 */
export function processStatus(served: readonly ServedPartition[], partitions: number): () => ProcessStatus {
  if (partitions === 1 && served.length === 1) return served[0]!.aggregator.status;
  return () => {
    const each = served.map(({ partition, aggregator }) => ({ partition, ...aggregator.status() }));
    const one = each.length === 1 ? each[0]! : null;
    const sum = (f: (s: AggregatorStatus) => number) => each.reduce((a, s) => a + f(s), 0);
    const max = (f: (s: AggregatorStatus) => number | null) =>
      each.reduce<number | null>((a, s) => {
        const v = f(s);
        return v === null ? a : a === null ? v : Math.max(a, v);
      }, null);
    const leading = each.some((s) => s.role === 'leader');
    return {
      role: leading ? 'leader' : 'standby',
      state: one?.state ?? (leading ? 'leading' : (each.find((s) => s.state !== 'standby')?.state ?? 'standby')),
      epoch: one?.epoch ?? null,
      lastPublishedSeq: max((s) => s.lastPublishedSeq),
      lastPublishedAt: max((s) => s.lastPublishedAt),
      cells: sum((s) => s.cells),
      buckets: sum((s) => s.buckets),
      eventsApplied: sum((s) => s.eventsApplied),
      appliedId: one?.appliedId ?? '',
      inFlight: sum((s) => s.inFlight),
      nodes: sum((s) => s.nodes),
      recordedEntries: sum((s) => s.recordedEntries),
      labelsFolded: sum((s) => s.labelsFolded),
      lagMs: max((s) => s.lagMs),
      ticksSkipped: sum((s) => s.ticksSkipped),
      lastTickMs: max((s) => s.lastTickMs) ?? 0,
      partitions: each,
    };
  };
}
