/**
 * Delivery in the process, for `npm start` without Redis: the policy of
 * delivery.ts on timers. What it holds lives and dies with the process —
 * the same as every other piece of `npm start`'s state — and is bounded:
 * notifications under way (as many as the evaluator sends, a handful per
 * alert), the newest `maxFailed` failed ones, and the ids delivered within
 * `dedupeMs` (so a repeated enqueue is still recognised).
 */
import { attemptDelivery } from './http-delivery.js';
import {
  deferDelayMs,
  deliveryOptions,
  failedDelivery,
  retryDelayMs,
  type DeliveryOptions,
  type FailedDelivery,
  type NotificationQueue,
} from './delivery.js';
import type { Notification } from './notification.js';
import type { Receiver } from './rules.js';

export interface MemoryQueueOptions {
  readonly receivers: readonly Receiver[];
  readonly delivery?: Partial<DeliveryOptions>;
  /** Failed notifications kept, the oldest dropped beyond. Default 1000. */
  readonly maxFailed?: number;
  /** How long a delivered id is remembered against a repeated enqueue, ms. Default 24 h, like the BullMQ queue. */
  readonly dedupeMs?: number;
  /** Told of each failure, for the log. */
  readonly onFailed?: (failure: FailedDelivery) => void;
}

/** Delivered ids remembered at most, whatever `dedupeMs` says. */
const MAX_DELIVERED_IDS = 10_000;

interface Job {
  notification: Notification;
  attemptsMade: number;
  deferrals: number;
  lastError: string;
}

export class MemoryNotificationQueue implements NotificationQueue {
  private readonly options: DeliveryOptions;
  private readonly receivers: ReadonlyMap<string, Receiver>;
  private readonly maxFailed: number;
  private readonly dedupeMs: number;
  /** Waiting for an attempt, or in one. */
  private readonly live = new Map<string, Job>();
  private readonly failedJobs = new Map<string, { job: Job; failure: FailedDelivery }>();
  /** id → when delivered, oldest first. */
  private readonly delivered = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly attempts = new Set<Promise<void>>();
  private closing = false;

  constructor(private readonly config: MemoryQueueOptions) {
    this.options = deliveryOptions(config.delivery);
    this.receivers = new Map(config.receivers.map((r) => [r.name, r]));
    this.maxFailed = config.maxFailed ?? 1000;
    this.dedupeMs = config.dedupeMs ?? 24 * 3_600_000;
  }

  async enqueue(notification: Notification): Promise<void> {
    if (this.closing) throw new Error('notification queue is closed');
    this.forgetOldDeliveries();
    const id = notification.id;
    if (this.live.has(id) || this.failedJobs.has(id) || this.delivered.has(id)) return;
    const job: Job = { notification: structuredClone(notification), attemptsMade: 0, deferrals: 0, lastError: '' };
    this.live.set(id, job);
    this.schedule(job, 0);
  }

  async failed(limit = 1000): Promise<FailedDelivery[]> {
    return [...this.failedJobs.values()]
      .map((f) => f.failure)
      .reverse()
      .slice(0, limit);
  }

  async retry(id: string): Promise<boolean> {
    const entry = this.failedJobs.get(id);
    if (!entry || this.closing) return false;
    this.failedJobs.delete(id);
    const job: Job = { notification: entry.job.notification, attemptsMade: 0, deferrals: 0, lastError: entry.job.lastError };
    this.live.set(id, job);
    this.schedule(job, 0);
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.attempts]);
  }

  private schedule(job: Job, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const attempt = this.attempt(job).finally(() => this.attempts.delete(attempt));
      this.attempts.add(attempt);
    }, delayMs);
    // Pending retries must not keep a process alive that is otherwise done.
    timer.unref();
    this.timers.add(timer);
  }

  private async attempt(job: Job): Promise<void> {
    const resolution = job.notification.resolvedBy;
    if (resolution && (this.live.has(resolution) || this.delivered.has(resolution) || this.failedJobs.has(resolution))) {
      // Delivered after its resolution, a firing notification would reopen an alert that is over (Notification.resolvedBy).
      this.live.delete(job.notification.id);
      this.delivered.set(job.notification.id, Date.now());
      return;
    }
    const receiver = this.receivers.get(job.notification.receiver);
    if (!receiver) {
      job.attemptsMade += 1;
      this.fail(job, `receiver "${job.notification.receiver}" is not configured`);
      return;
    }
    const outcome = await attemptDelivery(job.notification, receiver, this.options.timeoutMs);
    if (outcome.kind === 'delivered') {
      this.live.delete(job.notification.id);
      this.delivered.set(job.notification.id, Date.now());
      return;
    }
    job.lastError = outcome.error;
    if (outcome.kind === 'defer') {
      const delay = deferDelayMs(outcome.retryAfterMs, job.deferrals, this.options);
      if (delay !== null) {
        job.deferrals += 1;
        return this.next(job, delay);
      }
    }
    job.attemptsMade += 1;
    if (outcome.kind === 'fail' || job.attemptsMade >= this.options.attempts) return this.fail(job, outcome.error);
    this.next(job, retryDelayMs(job.attemptsMade, this.options));
  }

  private next(job: Job, delayMs: number): void {
    // A close() during the attempt: the notification stays undelivered, as
    // it would when the process ends (in-process mode keeps nothing).
    if (this.closing) return;
    this.schedule(job, delayMs);
  }

  private fail(job: Job, error: string): void {
    this.live.delete(job.notification.id);
    const failure = failedDelivery(job.notification, job.attemptsMade, error, Date.now());
    this.failedJobs.set(job.notification.id, { job, failure });
    while (this.failedJobs.size > this.maxFailed) this.failedJobs.delete(this.failedJobs.keys().next().value as string);
    this.config.onFailed?.(failure);
  }

  private forgetOldDeliveries(): void {
    const horizon = Date.now() - this.dedupeMs;
    for (const [id, at] of this.delivered) {
      if (at >= horizon && this.delivered.size <= MAX_DELIVERED_IDS) break;
      this.delivered.delete(id);
    }
  }
}
