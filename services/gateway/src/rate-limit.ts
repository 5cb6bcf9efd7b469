/**
 * Per-client message rate limit: a token bucket of `ratePerSec` tokens a
 * second, holding at most as many (one second of burst). A message without a
 * token is dropped; the client is told once per second, and a client that
 * keeps flooding — more drops within a second than the rate itself, i.e.
 * sending at over twice the limit — is to be disconnected.
 */

export type RateVerdict =
  /** Handle the message. */
  | 'accept'
  /** Drop it and tell the client (first drop of this second). */
  | 'reject'
  /** Drop it silently: the client was told this second already. */
  | 'drop'
  /** Drop it and close the connection. */
  | 'flood';

export class MessageRateLimiter {
  private tokens: number;
  private refilledAt: number;
  private dropWindowStart = -Infinity;
  private drops = 0;

  constructor(
    private readonly ratePerSec: number,
    nowMs: number,
  ) {
    this.tokens = ratePerSec;
    this.refilledAt = nowMs;
  }

  take(nowMs: number): RateVerdict {
    const elapsed = Math.max(0, nowMs - this.refilledAt);
    this.tokens = Math.min(this.ratePerSec, this.tokens + (elapsed * this.ratePerSec) / 1000);
    this.refilledAt = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'accept';
    }
    if (nowMs - this.dropWindowStart >= 1000) {
      this.dropWindowStart = nowMs;
      this.drops = 0;
    }
    this.drops++;
    if (this.drops > this.ratePerSec) return 'flood';
    return this.drops === 1 ? 'reject' : 'drop';
  }
}
