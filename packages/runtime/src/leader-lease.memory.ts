/**
 * The lease in one process: `npm start` without Redis (a single holder, which
 * always wins) and unit tests of leadership on a controlled clock (several
 * holders of one `MemoryLeaseStore`, each lease expiring `ttlMs` after it was
 * last renewed, and every new holder getting a higher epoch) — the same
 * semantics as `leader-lease.redis.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { Fence } from './event-source.js';
import type { LeaderLease } from './leader-lease.js';

/** What the replicas of one process share: who holds the lease, until when, and the epoch counter. */
export class MemoryLeaseStore {
  private holder: { token: string; epoch: number; expiresAt: number } | null = null;
  private epoch = 0;

  constructor(private readonly now: () => number = Date.now) {}

  acquireOrRenew(token: string, ttlMs: number): Fence | null {
    const now = this.now();
    if (this.holder && this.holder.expiresAt <= now) this.holder = null;
    if (this.holder && this.holder.token !== token) return null;
    this.holder ??= { token, epoch: ++this.epoch, expiresAt: 0 };
    this.holder.expiresAt = now + ttlMs;
    return { token, epoch: this.holder.epoch };
  }

  release(token: string): void {
    if (this.holder?.token === token) this.holder = null;
  }

  /** True while `fence` still holds the lease (what a fenced write checks). */
  holds(fence: Fence): boolean {
    const h = this.holder;
    return h !== null && h.token === fence.token && h.epoch === fence.epoch && h.expiresAt > this.now();
  }
}

export class MemoryLeaderLease implements LeaderLease {
  readonly token = randomUUID();

  /** With the defaults, a store of its own and a lease that never expires: always the leader. */
  constructor(
    readonly store: MemoryLeaseStore = new MemoryLeaseStore(),
    private readonly ttlMs: number = Number.POSITIVE_INFINITY,
  ) {}

  async acquireOrRenew(): Promise<Fence | null> {
    return this.store.acquireOrRenew(this.token, this.ttlMs);
  }

  async release(): Promise<void> {
    this.store.release(this.token);
  }
}
