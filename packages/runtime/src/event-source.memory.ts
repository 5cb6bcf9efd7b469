/**
 * The aggregator's side of MemoryEventLog, for the single-process mode. One
 * process means one consumer: `claim` simply reads on from its position, and
 * every claimed entry counts as acknowledged.
 */
import type { LogEntry } from './event-log.js';
import type { MemoryEventLog } from './event-log.memory.js';
import type { EventSource } from './event-source.js';

export class MemoryEventSource implements EventSource {
  private position = '0-0';
  private readonly totals = new Map<string, number>();
  private readonly created: number;

  constructor(private readonly log: MemoryEventLog, now: number = Date.now()) {
    this.created = now;
  }

  async createdAt(): Promise<number> {
    return this.created;
  }

  async loadTotals(): Promise<Record<string, string>> {
    return Object.fromEntries([...this.totals].map(([k, v]) => [k, String(v)]));
  }

  async tail(afterId: string, count: number, blockMs: number): Promise<LogEntry[]> {
    let entries = this.log.readAfter(afterId, count);
    if (entries.length === 0 && blockMs > 0) {
      await this.log.waitForAppend(blockMs);
      entries = this.log.readAfter(afterId, count);
    }
    return entries;
  }

  async claim(count: number, blockMs: number): Promise<LogEntry[]> {
    const entries = await this.tail(this.position, count, blockMs);
    const last = entries[entries.length - 1];
    if (last) this.position = last.id;
    return entries;
  }

  takeOver(): void {}

  async commit(_ids: readonly string[], totals: ReadonlyMap<string, number>): Promise<boolean> {
    for (const [field, n] of totals) this.totals.set(field, (this.totals.get(field) ?? 0) + n);
    return true;
  }

  async close(): Promise<void> {}
}
