/**
 * The aggregator's side of MemoryEventLog: `npm start` without Redis (one
 * replica) and unit tests of several replicas on a controlled clock. The
 * replicas of one process share a MemoryConsumerGroup, the twin of the Redis
 * stream's group: entries delivered to a consumer stay pending until it
 * commits them, a consumer taking over reclaims what the others left
 * pending, and a commit is fenced by the lease like the Redis script.
 */
import type { LogEntry } from './event-log.js';
import type { MemoryEventLog } from './event-log.memory.js';
import { compareIds, type EventSource, type Fence } from './event-source.js';
import type { MemoryLeaseStore } from './leader-lease.memory.js';

/** What the consumers of one store share: delivery state, pending entries, totals, creation time. */
export class MemoryConsumerGroup {
  readonly totals = new Map<string, number>();
  /** Last id handed out as new. */
  lastDelivered = '0-0';
  /** Delivered and not committed: id → consumer and when, in delivery order. */
  readonly pending = new Map<string, { consumer: string; at: number }>();

  /**
   * @param createdAt when the metrics store was created (ms)
   * @param leases the lease commits are fenced by; without one, every commit holds (a single replica)
   */
  constructor(
    readonly createdAt: number,
    readonly leases: MemoryLeaseStore | null = null,
  ) {}
}

export interface MemoryEventSourceOptions {
  /** Shared by the replicas of one store. Default: a group of its own, created now. */
  group?: MemoryConsumerGroup;
  /** This consumer's name in the group. */
  consumer?: string;
  /** Entries pending this long with another consumer are taken over. Default 5 s. */
  reclaimIdleMs?: number;
  now?: () => number;
}

export class MemoryEventSource implements EventSource {
  private readonly group: MemoryConsumerGroup;
  private readonly consumer: string;
  private readonly reclaimIdleMs: number;
  private readonly now: () => number;
  /** The next claims take over every pending entry, however fresh (set on becoming leader). */
  private reclaimEverything = false;
  /** Where the reclaim pass goes on from: a pass runs to the end before new entries are read (as XAUTOCLAIM's cursor). */
  private reclaimFrom = '0-0';

  constructor(
    private readonly log: MemoryEventLog,
    options: MemoryEventSourceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.group = options.group ?? new MemoryConsumerGroup(this.now());
    this.consumer = options.consumer ?? 'pulse';
    this.reclaimIdleMs = options.reclaimIdleMs ?? 5000;
  }

  async createdAt(): Promise<number> {
    return this.group.createdAt;
  }

  async loadTotals(): Promise<Record<string, string>> {
    return Object.fromEntries([...this.group.totals].map(([k, v]) => [k, String(v)]));
  }

  async tail(afterId: string, count: number, blockMs: number): Promise<LogEntry[]> {
    let entries = this.log.readAfter(afterId, count);
    if (entries.length === 0 && blockMs > 0) {
      await this.log.waitForAppend(blockMs);
      entries = this.log.readAfter(afterId, count);
    }
    return entries;
  }

  async has(id: string): Promise<boolean> {
    return this.log.entry(id) !== undefined;
  }

  takeOver(): void {
    this.reclaimEverything = true;
    this.reclaimFrom = '0-0';
  }

  async claim(count: number, blockMs: number): Promise<LogEntry[]> {
    const reclaimed = this.reclaim(count);
    if (reclaimed.length > 0) return reclaimed;
    const entries = await this.tail(this.group.lastDelivered, count, blockMs);
    const at = this.now();
    for (const entry of entries) this.group.pending.set(entry.id, { consumer: this.consumer, at });
    const last = entries[entries.length - 1];
    if (last && compareIds(last.id, this.group.lastDelivered) > 0) this.group.lastDelivered = last.id;
    return entries;
  }

  async commit(ids: readonly string[], totals: ReadonlyMap<string, number>, fence: Fence): Promise<boolean> {
    const { group } = this;
    if (group.leases && !group.leases.holds(fence)) return false;
    for (const id of ids) group.pending.delete(id);
    for (const [field, n] of totals) {
      const value = (group.totals.get(field) ?? 0) + n;
      if (value === 0) group.totals.delete(field);
      else group.totals.set(field, value);
    }
    return true;
  }

  async close(): Promise<void> {}

  /**
   * Entries pending with consumers that went quiet — after a takeover, all
   * of them, this consumer's own included — now this consumer's. As with
   * XAUTOCLAIM, a pass walks the pending entries in id order from a cursor,
   * `count` at a time, until it reaches the end.
   */
  private reclaim(count: number): LogEntry[] {
    const now = this.now();
    const minIdle = this.reclaimEverything ? 0 : this.reclaimIdleMs;
    const ids: string[] = [];
    let more = false;
    for (const [id, p] of this.group.pending) {
      // Pending entries keep delivery order, which is id order.
      if (compareIds(id, this.reclaimFrom) <= 0 || now - p.at < minIdle) continue;
      if (ids.length === count) {
        more = true;
        break;
      }
      ids.push(id);
    }
    this.reclaimFrom = more ? ids[ids.length - 1]! : '0-0';
    if (!more) this.reclaimEverything = false;
    const entries: LogEntry[] = [];
    for (const id of ids) {
      const entry = this.log.entry(id);
      // Trimmed away while pending: nothing left to count.
      if (!entry) this.group.pending.delete(id);
      else {
        this.group.pending.set(id, { consumer: this.consumer, at: now });
        entries.push(entry);
      }
    }
    return entries;
  }
}
