/**
 * Delivering notifications to receivers (docs/PROTOCOL.md §8), behind one
 * interface with two implementations: `delivery.bullmq.ts` (jobs in Redis,
 * for a cluster: survives the death of any process) and
 * `delivery.memory.ts` (timers in the process, for `npm start` without
 * Redis). Both follow the policy below, so a receiver sees the same thing
 * from either.
 *
 * Policy, per attempt (http-delivery.ts classifies the outcome):
 * - 2xx: delivered;
 * - network error, timeout, 408, 5xx: retried after an exponential backoff
 *   with jitter (half of it random), until `attempts` are spent; then kept
 *   as failed;
 * - 429: retried after its `Retry-After` (or the backoff when it has none)
 *   without spending an attempt — the receiver is healthy, only busy — up to
 *   `maxDeferrals` times, after which a 429 counts as an attempt like a 503;
 * - any other status: failed at once (a 400 or 404 will not change by itself);
 * - failed notifications are kept, listed with their last error, and may be
 *   retried by id with a fresh set of attempts.
 * Every attempt of one notification carries `Idempotency-Key: <id>`.
 */
import type { AlertStatus, Notification } from './notification.js';

export interface NotificationQueue {
  /**
   * Takes a notification for delivery, at least once. Idempotent: a
   * notification whose id this queue already holds (waiting, being
   * delivered, delivered recently, or failed) is not taken again. Resolves
   * once the notification is stored (for BullMQ: in Redis).
   */
  enqueue(notification: Notification): Promise<void>;
  /** Notifications that exhausted their attempts or were refused, newest first, at most `limit`. */
  failed(limit?: number): Promise<FailedDelivery[]>;
  /** Delivers a failed notification again, with fresh attempts. False when no failed notification has this id. */
  retry(id: string): Promise<boolean>;
  /** Stops taking work, lets attempts under way finish (bounded by the request timeout), then releases resources. Idempotent. */
  close(): Promise<void>;
}

export interface FailedDelivery {
  readonly id: string;
  readonly receiver: string;
  readonly status: AlertStatus;
  readonly labels: Readonly<Record<string, string>>;
  /** Attempts spent (429s that waited for Retry-After are not attempts). */
  readonly attempts: number;
  readonly lastError: string;
  readonly createdAtMs: number;
  readonly failedAtMs: number;
}

export interface DeliveryOptions {
  /** Attempts per notification, the first included. Default 8. */
  readonly attempts: number;
  /** Ceiling of the first retry's delay, ms. Default 1000. */
  readonly initialBackoffMs: number;
  /** Largest ceiling of a retry's delay, ms. Default 300000 (5 min). */
  readonly maxBackoffMs: number;
  /** One attempt's limit, connection to last byte, ms. Default 10000. */
  readonly timeoutMs: number;
  /** A longer Retry-After is cut to this, ms. Default 3600000 (1 h). */
  readonly maxRetryAfterMs: number;
  /** 429s that do not spend an attempt, per notification. Default 50. */
  readonly maxDeferrals: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = Object.freeze({
  attempts: 8,
  initialBackoffMs: 1000,
  maxBackoffMs: 300_000,
  timeoutMs: 10_000,
  maxRetryAfterMs: 3_600_000,
  maxDeferrals: 50,
});

export function deliveryOptions(partial: Partial<DeliveryOptions> = {}): DeliveryOptions {
  const options = { ...DEFAULT_DELIVERY_OPTIONS, ...partial };
  for (const [key, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`delivery option ${key}: must be a number ≥ 0, not ${value}`);
  }
  if (options.attempts < 1) throw new Error('delivery option attempts: at least 1');
  return Object.freeze(options);
}

/**
 * The wait before the next attempt once `attemptsMade` attempts failed:
 * uniform in [c/2, c), c = min(max, initial × 2^(attemptsMade − 1)). Jitter,
 * so notifications that failed together (a receiver's outage) do not come
 * back together — but never below half the ceiling: with full jitter
 * ([0, c)) the attempts could all be spent within a second or two, and with
 * the defaults ~5 % of notifications spent all 8 within a 30 s outage. Now
 * 8 attempts span at least 63.5 s (at most 127 s).
 */
export function retryDelayMs(attemptsMade: number, options: DeliveryOptions, random: () => number = Math.random): number {
  // 2^n overflows to Infinity for large n; min() then caps it.
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/** What a failed delivery lists, from the notification and how it ended. */
export function failedDelivery(n: Notification, attempts: number, lastError: string, failedAtMs: number): FailedDelivery {
  return {
    id: n.id,
    receiver: n.receiver,
    status: n.body.status,
    labels: n.body.alerts[0].labels,
    attempts,
    lastError,
    createdAtMs: n.createdAtMs,
    failedAtMs,
  };
}

/**
 * For a 429: how long to wait before trying again without spending an
 * attempt — its Retry-After (capped), or, without one, the backoff grown by
 * the 429s so far. Null once `maxDeferrals` were used: the 429 then spends
 * an attempt like a 503, so a receiver that always says 429 cannot hold a
 * notification forever.
 */
export function deferDelayMs(retryAfterMs: number | null, deferrals: number, options: DeliveryOptions): number | null {
  if (deferrals >= options.maxDeferrals) return null;
  return retryAfterMs === null ? retryDelayMs(deferrals + 1, options) : Math.min(retryAfterMs, options.maxRetryAfterMs);
}
