/**
 * In-process snapshot bus for `npm start` without Redis and for tests: one
 * object is both the aggregator's publisher and the gateway's feed. The
 * latest snapshot expires after the TTL, like the Redis key.
 */
import { SNAPSHOT_TTL_SECONDS, type SnapshotFeed, type SnapshotPublisher } from './snapshot-bus.js';

type Listener = (encoded: Buffer) => void;

export class MemorySnapshotBus implements SnapshotPublisher, SnapshotFeed {
  private stored: { encoded: Buffer; expiresAt: number } | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly ttlSeconds: number = SNAPSHOT_TTL_SECONDS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One process holds the only lease: the fence always holds. */
  async publish(encoded: Buffer): Promise<boolean> {
    this.stored = { encoded, expiresAt: this.now() + this.ttlSeconds * 1000 };
    // Delivered on a later turn of the event loop, as from Redis: a listener
    // never runs inside the publisher's tick, and its exceptions are its own.
    for (const listener of this.listeners) queueMicrotask(() => listener(encoded));
    return true;
  }

  async latest(): Promise<Buffer | null> {
    if (this.stored && this.stored.expiresAt <= this.now()) this.stored = null;
    return this.stored?.encoded ?? null;
  }

  async start(onSnapshot: Listener, onStatus?: (connected: boolean) => void): Promise<void> {
    this.listeners.add(onSnapshot);
    const latest = await this.latest();
    if (latest) onSnapshot(latest);
    onStatus?.(true);
  }

  /**
   * Detaches every feed listener. Publishing stays possible (it only updates
   * the latest snapshot), so in a single process the gateway and the
   * aggregator can each close the bus in whatever order they stop.
   */
  async close(): Promise<void> {
    this.listeners.clear();
  }
}
