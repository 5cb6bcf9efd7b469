/**
 * How many log entries to read at once, so that one read holds about
 * `eventsPerRead` events whatever the producers' batch sizes: a read is
 * applied in one go, and a huge one blocks the event loop past the lease
 * (batches of 1,000 events × 500 entries took ~2 s).
 */
export class ReadSize {
  /** Starts as if entries were big, so the very first read cannot be huge; it adapts at once. */
  private eventsPerEntry = 1000;

  constructor(
    private readonly maxEntries: number,
    private readonly eventsPerRead: number,
  ) {}

  /** Entries to ask for in the next read. */
  get count(): number {
    return Math.max(1, Math.min(this.maxEntries, Math.floor(this.eventsPerRead / this.eventsPerEntry)));
  }

  /** Learns from what a read returned (a moving average of events per entry). */
  observe(entries: readonly { events: readonly unknown[] }[]): void {
    if (entries.length === 0) return;
    let events = 0;
    for (const e of entries) events += e.events.length;
    this.eventsPerEntry = Math.max(1, 0.5 * this.eventsPerEntry + (0.5 * events) / entries.length);
  }
}
