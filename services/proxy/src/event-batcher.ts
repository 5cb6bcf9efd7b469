/**
 * Hands observed events to the event log in batches, off the proxied path:
 * `push` only queues, and one append per batch runs every `flushMs` or as
 * soon as `batchEvents` are queued. The queue is bounded; when the store is
 * down or slow, what does not fit — and every batch the store refuses — is
 * dropped and counted, never retried and never waited for, so proxied bytes
 * never wait on Redis.
 */
import type { PulseEvent } from '@pulse/protocol';
import type { EventLog, Logger } from '@pulse/runtime';

export interface BatcherSettings {
  /** Longest an event waits in the queue while the store answers. */
  readonly flushMs: number;
  /** Events per append, at most; a full batch is flushed at once. */
  readonly batchEvents: number;
  /** Events held at most; more are dropped. */
  readonly maxQueued: number;
}

export interface BatcherStats {
  /** Waiting for the next append. */
  readonly queued: number;
  /** Accepted by the store. */
  readonly appended: number;
  /** Lost: the queue was full, or the store refused their batch. */
  readonly dropped: number;
  readonly failedAppends: number;
}

export class EventBatcher {
  private queue: PulseEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private flushScheduled = false;
  private closed = false;
  private appended = 0;
  private dropped = 0;
  private failedAppends = 0;
  /** Dropped since the store last accepted a batch; logged when it does again. */
  private outageDropped = 0;

  constructor(
    private readonly log: EventLog,
    private readonly settings: BatcherSettings,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.flushSoon(), settings.flushMs);
    this.timer.unref();
  }

  push(event: PulseEvent): void {
    if (this.closed || this.queue.length >= this.settings.maxQueued) {
      this.drop(1, this.closed ? 'closed' : 'the queue is full');
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= this.settings.batchEvents && !this.flushScheduled) {
      // Not from here: encoding a batch would run inside the proxied request's own callback.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushSoon();
      });
    }
  }

  stats(): BatcherStats {
    return { queued: this.queue.length, appended: this.appended, dropped: this.dropped, failedAppends: this.failedAppends };
  }

  /**
   * Stops taking events and appends what is queued, batch by batch. After a
   * refused batch the rest is dropped at once: the store is down, and the
   * shutdown deadline is better spent than on appends that fail one by one.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flushing;
    while (this.queue.length > 0) {
      if (!(await this.appendBatch())) {
        this.drop(this.queue.length, 'closing after a refused batch');
        this.queue = [];
      }
    }
  }

  /** One append at a time: batches stay in order, and a slow store is never piled onto. */
  private flushSoon(): void {
    if (this.flushing || this.closed || this.queue.length === 0) return;
    this.flushing = this.flushWhileFull().finally(() => {
      this.flushing = null;
    });
  }

  private async flushWhileFull(): Promise<void> {
    do {
      await this.appendBatch();
    } while (!this.closed && this.queue.length >= this.settings.batchEvents);
  }

  /** Appends the oldest batch; true when the store took it. */
  private async appendBatch(): Promise<boolean> {
    const batch = this.queue.length <= this.settings.batchEvents ? this.queue : this.queue.slice(0, this.settings.batchEvents);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    try {
      await this.log.append(batch);
    } catch (err) {
      this.failedAppends++;
      this.drop(batch.length, 'the event store refused the batch', err);
      return false;
    }
    this.appended += batch.length;
    if (this.outageDropped > 0) {
      this.logger.info({ dropped: this.outageDropped }, 'event store answers again');
      this.outageDropped = 0;
    }
    return true;
  }

  /** Counts lost events; the first loss after a success is logged, the rest summed up at recovery. */
  private drop(n: number, reason: string, err?: unknown): void {
    if (this.outageDropped === 0) this.logger.warn({ err, events: n, reason }, 'dropping observed events until the event store keeps up');
    this.dropped += n;
    this.outageDropped += n;
  }
}
