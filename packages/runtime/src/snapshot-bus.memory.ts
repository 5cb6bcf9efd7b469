/**
 * In-process snapshot bus for `npm start` without Redis and for tests: one
 * object is both the aggregator's publisher and the gateway's feed. The
 * stored state expires after the TTL, like the Redis keys.
 */
import { messageKind } from '@pulse/protocol';
import { MAX_STORED_PATCHES, MissingKeyframeError, SNAPSHOT_TTL_SECONDS, type SnapshotFeed, type SnapshotPublisher } from './snapshot-bus.js';

type Listener = (encoded: Buffer) => void;

export class MemorySnapshotBus implements SnapshotPublisher, SnapshotFeed {
  private stored: { messages: Buffer[]; expiresAt: number } | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly ttlSeconds: number = SNAPSHOT_TTL_SECONDS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One process holds the only lease: the fence always holds. */
  async publish(encoded: Buffer): Promise<boolean> {
    const expiresAt = this.now() + this.ttlSeconds * 1000;
    if (messageKind(encoded) === 'patch') {
      const stored = this.current();
      if (!stored || stored.length > MAX_STORED_PATCHES) throw new MissingKeyframeError();
      stored.push(encoded);
      this.stored!.expiresAt = expiresAt;
    } else {
      this.stored = { messages: [encoded], expiresAt };
    }
    this.broadcast(encoded);
    return true;
  }

  async refresh(patch: Buffer, keyframe: Buffer): Promise<boolean> {
    this.stored = { messages: [keyframe], expiresAt: this.now() + this.ttlSeconds * 1000 };
    this.broadcast(patch);
    return true;
  }

  private broadcast(encoded: Buffer): void {
    // Delivered on a later turn of the event loop, as from Redis: a listener
    // never runs inside the publisher's tick, and its exceptions are its own.
    for (const listener of this.listeners) queueMicrotask(() => listener(encoded));
  }

  async latest(): Promise<Buffer[]> {
    return [...(this.current() ?? [])];
  }

  async start(onMessage: Listener, onStatus?: (connected: boolean) => void): Promise<void> {
    this.listeners.add(onMessage);
    for (const m of await this.latest()) onMessage(m);
    onStatus?.(true);
  }

  async catchUp(): Promise<void> {
    const messages = await this.latest();
    for (const listener of this.listeners) for (const m of messages) listener(m);
  }

  /**
   * Detaches every feed listener. Publishing stays possible (it only updates
   * the stored state), so in a single process the gateway and the
   * aggregator can each close the bus in whatever order they stop.
   */
  async close(): Promise<void> {
    this.listeners.clear();
  }

  private current(): Buffer[] | null {
    if (this.stored && this.stored.expiresAt <= this.now()) this.stored = null;
    return this.stored?.messages ?? null;
  }
}
