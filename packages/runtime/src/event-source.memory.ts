/**
 * The aggregator's side of MemoryEventLog, for the single-process mode. One
 * process means one consumer: `claim` simply reads on from its position.
 */
import type { LogEntry } from './event-log.js';
import type { MemoryEventLog } from './event-log.memory.js';
import { compareIds, type EventSource } from './event-source.js';

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

  async history(sinceMs: number, onPage: (entries: LogEntry[]) => void): Promise<void> {
    // One process, one consumer: whatever it claimed it applied already, so
    // history is what lies between the window's start and its position.
    let after = `${sinceMs - 1}-${Number.MAX_SAFE_INTEGER}`;
    for (;;) {
      const page = this.log.readAfter(after, 1000).filter((e) => compareIds(e.id, this.position) <= 0);
      if (page.length === 0) return;
      onPage(page);
      after = page[page.length - 1]!.id;
    }
  }

  async claim(count: number, blockMs: number): Promise<LogEntry[]> {
    let entries = this.log.readAfter(this.position, count);
    if (entries.length === 0 && blockMs > 0) {
      await this.log.waitForAppend(blockMs);
      entries = this.log.readAfter(this.position, count);
    }
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
