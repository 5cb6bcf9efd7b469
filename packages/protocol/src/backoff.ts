/**
 * The retry delay every Pulse client uses (WebSocket reconnects, reporter
 * retries): exponential backoff with full jitter. Full jitter spreads the
 * clients of a restarted gateway or ingest over the whole interval instead
 * of bringing them back in synchronized waves.
 */

export interface BackoffOptions {
  /** Ceiling of the first delay, ms. */
  readonly initialDelayMs: number;
  /** Largest ceiling, ms: the exponential stops growing here. */
  readonly maxDelayMs: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): uniform in
 * [0, min(maxDelayMs, initialDelayMs × 2^attempt)). `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  // 2^attempt overflows to Infinity for large attempts; min() then caps it.
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
