/**
 * Listens to the snapshots an aggregator publishes, as a gateway would, and
 * keeps when each arrived and how many events it includes
 * (`stats.eventsApplied`): the ingest lag is matched against that count.
 */
import { Redis } from 'ioredis';
import { decodeSnapshot, pulseKeys } from '@pulse/protocol';

export interface ObservedSnapshot {
  /** Wall-clock ms when it arrived here: "published". */
  recvMs: number;
  builtAtMs: number;
  epoch: number;
  seq: number;
  eventsApplied: number;
  bytes: number;
  cells: number;
}

export class SnapshotObserver {
  readonly seen: ObservedSnapshot[] = [];
  private constructor(private readonly sub: Redis) {}

  static async start(url: string, prefix = 'pulse'): Promise<SnapshotObserver> {
    const sub = new Redis(url);
    const observer = new SnapshotObserver(sub);
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      const recvMs = Date.now();
      const s = decodeSnapshot(message);
      observer.seen.push({ recvMs, builtAtMs: s.builtAt * 1000, epoch: s.epoch, seq: s.seq, eventsApplied: s.stats.eventsApplied, bytes: message.length, cells: s.cells.length });
    });
    await sub.subscribe(pulseKeys(prefix).snapshotChannel);
    return observer;
  }

  get last(): ObservedSnapshot | undefined {
    return this.seen[this.seen.length - 1];
  }

  /**
   * The aggregator's event count once it stopped moving (two snapshots in a
   * row with the same count, nothing being sent): everything sent is applied.
   * Null when it did not settle within `timeoutMs`.
   */
  async settled(timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    let seen = this.seen.length;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (this.seen.length < seen + 2) continue;
      const [a, b] = this.seen.slice(-2) as [ObservedSnapshot, ObservedSnapshot];
      if (a.epoch === b.epoch && a.eventsApplied === b.eventsApplied) return b.eventsApplied;
      seen = this.seen.length - 1;
    }
    return null;
  }

  /** Resolves once a snapshot includes at least `events` events, or false after `timeoutMs`. */
  async waitApplied(events: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((this.last?.eventsApplied ?? -1) >= events) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  async stop(): Promise<void> {
    this.sub.disconnect();
  }
}
