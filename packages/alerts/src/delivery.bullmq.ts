/**
 * Delivery through BullMQ on the deployment's Redis, for a cluster: one job
 * per notification, the job id being the notification id, so a second
 * enqueue of the same notification (a new leader draining an outbox the old
 * one had already handed over) finds the job and adds nothing. Jobs live in
 * Redis: a notification survives the death of the process that enqueued it
 * or was delivering it (BullMQ's stalled-job check hands it to another
 * worker), and a Redis restart with its data.
 *
 * The policy of delivery.ts, mapped onto BullMQ:
 * - retry with backoff: the job's `attempts` and a custom backoff strategy
 *   (exponential, with jitter: retryDelayMs);
 * - failed at once: UnrecoverableError;
 * - 429: `job.moveToDelayed(now + Retry-After, token)` then DelayedError —
 *   BullMQ moves the job back to delayed with `skipAttempt`, so attemptsMade
 *   does not grow (the deferrals are counted in the job's data);
 * - failed jobs are kept (`removeOnFail: false`), listed by `failed()`, and
 *   `retry(id)` re-runs one with its attempts reset;
 * - delivered jobs are kept `keepDeliveredMs` (24 h) so the job id still
 *   deduplicates an enqueue that comes late;
 * - a firing notification whose resolution is already a job is dropped
 *   (Notification.resolvedBy): delivered late it would reopen the alert;
 * - a dead worker's job: its lock (LOCK_MS, renewed while the attempt runs)
 *   lapses and the next stalled check (STALLED_CHECK_MS) hands it to a live
 *   worker — within ~15 s instead of BullMQ's default ~60 s.
 *
 * Keys: `{<prefix>}:bull:alert-notifications:…` (keys.ts), in the same hash
 * slot as the alert state.
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import {
  deferDelayMs,
  deliveryOptions,
  failedDelivery,
  retryDelayMs,
  type DeliveryOptions,
  type FailedDelivery,
  type NotificationQueue,
} from './delivery.js';
import { attemptDelivery } from './http-delivery.js';
import type { AlertKeys } from './keys.js';
import type { Notification } from './notification.js';
import type { Receiver } from './rules.js';

/** What a job carries: the notification, and the 429s it waited out (they spend no attempt). */
interface JobData {
  notification: Notification;
  deferrals: number;
}

/** The name of the custom backoff strategy in job options. */
const BACKOFF = 'pulse-full-jitter';

/** How long a worker's hold on a job lasts unless renewed (BullMQ renews it every half of this while the attempt runs). */
const LOCK_MS = 10_000;
/** How often workers look for jobs whose lock lapsed. */
const STALLED_CHECK_MS = 5_000;

/** The part of a pino logger this file uses. */
export interface DeliveryLogger {
  warn(obj: object, msg: string): void;
}

export interface BullmqQueueOptions {
  /**
   * A patient connection (maxRetriesPerRequest: null; @pulse/runtime's
   * 'consumer' role), as BullMQ's worker requires; the worker duplicates it
   * for its blocking reads. Not closed by close(): the caller owns it.
   */
  readonly connection: Redis | Cluster;
  readonly keys: AlertKeys;
  /** Looked up when delivering, so an edited URL or token applies to retries and replays. */
  readonly receivers: readonly Receiver[];
  readonly delivery?: Partial<DeliveryOptions>;
  /** Run a worker in this process. Default true; false for a process that only enqueues, lists and retries. */
  readonly worker?: boolean;
  /** Deliveries at once per worker. Default 4. */
  readonly concurrency?: number;
  /** Delivered jobs are kept this long, ms, so their ids still deduplicate. Default 24 h. */
  readonly keepDeliveredMs?: number;
  readonly logger?: DeliveryLogger;
}

export class BullmqNotificationQueue implements NotificationQueue {
  private readonly options: DeliveryOptions;
  private readonly receivers: ReadonlyMap<string, Receiver>;
  private readonly queue: Queue<JobData>;
  private readonly worker: Worker<JobData> | null;
  private closing: Promise<void> | null = null;
  private readonly log: DeliveryLogger;

  constructor(config: BullmqQueueOptions) {
    this.options = deliveryOptions(config.delivery);
    this.receivers = new Map(config.receivers.map((r) => [r.name, r]));
    const log = (this.log = config.logger ?? { warn: () => {} });
    const base = { connection: config.connection, prefix: config.keys.bullPrefix };

    this.queue = new Queue<JobData>(config.keys.queueName, {
      ...base,
      defaultJobOptions: {
        attempts: this.options.attempts,
        backoff: { type: BACKOFF },
        removeOnComplete: { age: Math.ceil((config.keepDeliveredMs ?? 24 * 3_600_000) / 1000) },
        removeOnFail: false,
      },
    });
    // An EventEmitter without an 'error' listener throws: a Redis blip must only be logged.
    this.queue.on('error', (err) => log.warn({ err }, 'alert notification queue error'));

    this.worker =
      config.worker === false
        ? null
        : new Worker<JobData>(config.keys.queueName, (job, token) => this.deliver(job, token), {
            ...base,
            concurrency: config.concurrency ?? 4,
            lockDuration: LOCK_MS,
            stalledInterval: STALLED_CHECK_MS,
            settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade, this.options) },
          });
    this.worker?.on('error', (err) => log.warn({ err }, 'alert notification worker error'));
    this.worker?.on('failed', (job, err) => {
      if (job && (job.finishedOn || err instanceof UnrecoverableError)) {
        log.warn({ notification: job.id, receiver: job.data.notification.receiver, error: err.message }, 'alert notification failed');
      }
    });
  }

  async enqueue(notification: Notification): Promise<void> {
    // An existing job with this id (in any state) makes add() a no-op.
    await this.queue.add(notification.body.status, { notification, deferrals: 0 }, { jobId: notification.id });
  }

  async failed(limit = 1000): Promise<FailedDelivery[]> {
    const jobs = await this.queue.getFailed(0, Math.max(0, limit - 1));
    return jobs
      .filter((job): job is Job<JobData> => job !== undefined && job.data?.notification !== undefined)
      .map((job) => failedDelivery(job.data.notification, job.attemptsMade, job.failedReason ?? '', job.finishedOn ?? job.timestamp));
  }

  async retry(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || (await job.getState()) !== 'failed') return false;
    await job.updateData({ ...job.data, deferrals: 0 });
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  close(): Promise<void> {
    // The worker first: it finishes the deliveries under way (each bounded by timeoutMs).
    this.closing ??= (async () => {
      await this.worker?.close();
      await this.queue.close();
    })();
    return this.closing;
  }

  /** One attempt; what it throws tells BullMQ what happens next (see the file's comment). */
  private async deliver(job: Job<JobData>, token: string | undefined): Promise<number> {
    const { notification } = job.data;
    if (notification.resolvedBy && (await this.queue.getJob(notification.resolvedBy))) {
      this.log.warn({ notification: notification.id, resolution: notification.resolvedBy }, 'firing notification dropped: its resolution is already queued');
      return 0;
    }
    const receiver = this.receivers.get(notification.receiver);
    if (!receiver) throw new UnrecoverableError(`receiver "${notification.receiver}" is not configured`);
    const outcome = await attemptDelivery(notification, receiver, this.options.timeoutMs);
    switch (outcome.kind) {
      case 'delivered':
        return outcome.status;
      case 'fail':
        throw new UnrecoverableError(outcome.error);
      case 'retry':
        throw new Error(outcome.error);
      case 'defer': {
        const deferrals = job.data.deferrals ?? 0;
        const delay = deferDelayMs(outcome.retryAfterMs, deferrals, this.options);
        if (delay === null) throw new Error(`${outcome.error} (${deferrals} Retry-After waits already)`);
        await job.updateData({ ...job.data, deferrals: deferrals + 1 });
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError(outcome.error);
      }
    }
  }
}
