/**
 * In-process event log for `npm start` without Redis and for unit tests.
 * Same contract as the Redis stream: ids `<ms>-<seq>`, ascending; entries
 * older than the retention are trimmed; idempotency keys expire.
 */
import type { PulseEvent } from '@pulse/protocol';
import type { AppendResult, EventLog, LogEntry, StoredReply } from './event-log.js';
import { compareIds, idMs } from './event-source.js';

export class MemoryEventLog implements EventLog {
  private readonly entries: LogEntry[] = [];
  private readonly replies = new Map<string, { reply: StoredReply; expiresAt: number }>();
  private readonly waiters = new Set<() => void>();
  private lastMs = 0;
  private lastSeq = 0;

  /** @param retentionMs entries older than this are trimmed (≥ 2 windows). */
  constructor(private readonly retentionMs: number, private readonly now: () => number = Date.now) {}

  async append(
    events: readonly PulseEvent[],
    idempotency?: { key: string; reply: StoredReply; ttlSeconds: number },
  ): Promise<AppendResult> {
    const now = this.now();
    if (idempotency) {
      const seen = this.replies.get(idempotency.key);
      if (seen && seen.expiresAt > now) return { id: null, replay: seen.reply };
    }
    let id: string | null = null;
    if (events.length > 0) {
      id = this.nextId(now);
      this.entries.push({ id, events: [...events], prev: this.entries.at(-1)?.id ?? '0-0' });
      this.trim(now);
    }
    if (idempotency) {
      this.replies.set(idempotency.key, { reply: idempotency.reply, expiresAt: now + idempotency.ttlSeconds * 1000 });
      this.expireReplies(now);
    }
    for (const wake of this.waiters) wake();
    return { id, replay: null };
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
  }

  /** Entries held: those of the last `retentionMs`. */
  get size(): number {
    return this.entries.length;
  }

  /** Idempotency replies held: those not yet expired, plus a few expired ones awaiting the next appends. */
  get replyCount(): number {
    return this.replies.size;
  }

  /** Entries with id strictly after `afterId` ('0-0' for all), oldest first, at most `count`. */
  readAfter(afterId: string, count: number): LogEntry[] {
    const start = this.firstAfter(afterId);
    return this.entries.slice(start, start + count);
  }

  /** The entry with this id, unless trimmed (or never appended). */
  entry(id: string): LogEntry | undefined {
    const found = this.entries[this.firstAfter(id) - 1];
    return found?.id === id ? found : undefined;
  }

  /** Index of the first entry with an id after `id` (ids ascend: a binary search). */
  private firstAfter(id: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.entries[mid]!.id, id) > 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Resolves when an entry is appended or after `ms`, whichever comes first. */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  private nextId(now: number): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq++;
    }
    return `${this.lastMs}-${this.lastSeq}`;
  }

  private trim(now: number): void {
    const minMs = now - this.retentionMs;
    let drop = 0;
    while (drop < this.entries.length && idMs(this.entries[drop]!.id) < minMs) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }

  private expireReplies(now: number): void {
    // Expire lazily, a few per append, so the map stays bounded without a timer.
    let checked = 0;
    for (const [key, value] of this.replies) {
      if (checked++ > 8) break;
      if (value.expiresAt <= now) this.replies.delete(key);
    }
  }
}
