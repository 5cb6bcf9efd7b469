/**
 * History records in one process, for `npm start` without Redis and for
 * tests: the same contract as store.redis.ts, records expiring at their
 * bucket's end plus their tier's retention (swept as writes come).
 */
import type { Fence } from '@pulse/runtime';
import { expiresAt } from './store.redis.js';
import type { HistoryStore, StoredRecord } from './store.js';
import type { Tier } from './tiers.js';

export class MemoryHistoryStore implements HistoryStore {
  private readonly records = new Map<string, { blob: Buffer; expiresAt: number }>();
  private sweptAt = 0;

  /**
   * @param holds whether a fence still holds a partition's lease (MemoryLeaseStore.holds); by default, one
   * process holds the only lease and every fence holds.
   */
  constructor(
    readonly partitions = 1,
    private readonly holds: (partition: number, fence: Fence) => boolean = () => true,
    private readonly now: () => number = Date.now,
  ) {}

  async write(partition: number, records: readonly StoredRecord[], fence?: Fence): Promise<boolean> {
    if (fence && !this.holds(partition, fence)) return false;
    const now = this.now();
    for (const r of records) {
      const until = expiresAt(r);
      if (until > now) this.records.set(key(partition, r.tier, r.bucket), { blob: r.blob, expiresAt: until });
    }
    if (now - this.sweptAt > 10_000) this.sweep(now);
    return true;
  }

  async read(tier: Tier, buckets: readonly number[], partition?: number): Promise<Buffer[][]> {
    const now = this.now();
    const parts = partition === undefined ? Array.from({ length: this.partitions }, (_, i) => i) : [partition];
    return buckets.map((b) => {
      const out: Buffer[] = [];
      for (const p of parts) {
        const r = this.records.get(key(p, tier, b));
        if (r && r.expiresAt > now) out.push(r.blob);
      }
      return out;
    });
  }

  /** Bytes of the records held (for the bench). */
  get bytes(): number {
    let n = 0;
    for (const r of this.records.values()) n += r.blob.length;
    return n;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [k, r] of this.records) if (r.expiresAt <= now) this.records.delete(k);
  }
}

function key(partition: number, tier: Tier, bucket: number): string {
  return `${partition}:${tier.name}:${bucket}`;
}
