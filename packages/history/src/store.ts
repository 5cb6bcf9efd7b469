/**
 * Where history records live (docs/HISTORY.md): one key per (partition,
 * tier, bucket) holding that partition's record of the bucket — a deflated
 * snapshot of its cells — expiring when the tier's retention has passed
 * since the bucket's end, so the store trims itself. The active aggregator of
 * each partition writes, fenced by that partition's lease like its
 * snapshots; every gateway reads every partition. Two implementations share
 * this contract (store.contract.test.ts): `store.redis.ts` and
 * `store.memory.ts` (for `npm start` without Redis).
 */
import type { Fence } from '@pulse/runtime';
import type { Tier } from './tiers.js';

export interface StoredRecord {
  readonly tier: Tier;
  /** The bucket's number in its tier: its start in ms ÷ the tier's step. */
  readonly bucket: number;
  readonly blob: Buffer;
}

export interface HistoryStore {
  /**
   * Stores `records` of `partition`, each until its bucket's end plus its
   * tier's retention (one already past that is not stored), all or none.
   * With a `fence`, only while it holds the partition's leader lease:
   * otherwise nothing is written and it resolves false.
   */
  write(partition: number, records: readonly StoredRecord[], fence?: Fence): Promise<boolean>;
  /** For each of `buckets` of `tier`, the blobs of every partition that holds it (or of `partition` alone), in partition order. */
  read(tier: Tier, buckets: readonly number[], partition?: number): Promise<Buffer[][]>;
  /** Partitions the records are split over. */
  readonly partitions: number;
}
