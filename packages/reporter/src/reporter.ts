/**
 * The reporter a Node producer embeds. `report()` never blocks and never
 * throws: events go to a bounded buffer and are POSTed in batches, one batch
 * at a time so a request's start reaches ingest before its end. A batch is
 * retried with backoff (full jitter, at least the server's Retry-After) under
 * one Idempotency-Key, so a retry after a lost reply is not counted twice.
 * When the buffer is full, new events are dropped and counted. `close()`
 * flushes what is left within a deadline.
 */
import { randomUUID } from 'node:crypto';
import { backoffDelay, type PulseEventInput } from '@pulse/protocol';
import { sendBatch, type SendOutcome } from './send-batch.js';

/**
 * An event as a producer writes it (docs/PROTOCOL.md §3); ingest validates it.
 * A `request.end` carries `status` and `latency_ms`, and what the LLM figures
 * read: `ttft_ms` and `completion_tokens` (a stream's inter-token latency is
 * (latency − TTFT) ÷ (tokens − 1)), `error` (its type) when it failed. It may
 * leave out `stream`: it then is what its start said.
 */
export type ReporterEvent = PulseEventInput;

export interface ReporterOptions {
  /** Ingest's base URL (`http://host:8000`); events go to `<url>/v1/events`. */
  url: string;
  /** Events per POST. Default 500. */
  maxBatchEvents?: number;
  /** A partial batch waits at most this long, ms. Default 200. */
  flushIntervalMs?: number;
  /** Events held (waiting and in flight) before new ones are dropped. Default 10000. */
  maxBufferedEvents?: number;
  /** Ceiling of the first retry delay, ms. Default 200. */
  initialDelayMs?: number;
  /** Largest retry delay ceiling, ms. Default 10000. */
  maxDelayMs?: number;
  /** One POST may take this long, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Write token of an ingest with authentication on (docs/SECURITY.md), sent as `Authorization: Bearer`. Default none. */
  token?: string;
  /** Told about what could not be delivered: rejected events, batches given up. Default: nothing. */
  onError?: (error: ReporterError) => void;
  fetch?: typeof fetch;
  random?: () => number;
}

export interface ReporterError {
  kind: 'rejected' | 'failed' | 'dropped';
  message: string;
  events: number;
}

export interface ReporterStats {
  /** Accepted by ingest. */
  sent: number;
  /** Refused by ingest as invalid (per event, or whole batches answered 4xx). */
  rejected: number;
  /** Never sent: the buffer was full, or close() ran out of time. */
  dropped: number;
  /** POSTs that were repeated. */
  retries: number;
  /** Waiting or in flight now. */
  buffered: number;
}

export class Reporter {
  private readonly opts: Required<Omit<ReporterOptions, 'onError' | 'token'>> & Pick<ReporterOptions, 'onError' | 'token'>;
  private readonly endpoint: string;
  private readonly waiting: ReporterEvent[] = [];
  private inFlight = 0;
  private readonly counts = { sent: 0, rejected: 0, dropped: 0, retries: 0 };
  private pumping: Promise<void> | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Set by close(): retries stop at this time (ms, Date.now()). */
  private deadline = Infinity;
  private closing: Promise<ReporterStats> | null = null;
  private wake: (() => void) | null = null;

  constructor(options: ReporterOptions) {
    this.opts = {
      maxBatchEvents: 500,
      flushIntervalMs: 200,
      maxBufferedEvents: 10_000,
      initialDelayMs: 200,
      maxDelayMs: 10_000,
      requestTimeoutMs: 10_000,
      fetch: globalThis.fetch,
      random: Math.random,
      ...options,
    };
    this.endpoint = new URL('/v1/events', options.url).toString();
    this.timer = setInterval(() => this.pump(), this.opts.flushIntervalMs);
    // The reporter alone must not keep a producer alive; close() is what flushes at the end.
    this.timer.unref?.();
  }

  /** Queues one event; false when it was dropped (buffer full, or closed). */
  report(event: ReporterEvent): boolean {
    if (this.closing || this.waiting.length + this.inFlight >= this.opts.maxBufferedEvents) {
      this.counts.dropped += 1;
      return false;
    }
    this.waiting.push(event);
    if (this.waiting.length >= this.opts.maxBatchEvents) this.pump();
    return true;
  }

  stats(): ReporterStats {
    return { ...this.counts, buffered: this.waiting.length + this.inFlight };
  }

  /** Resolves once everything reported so far was delivered or given up. */
  async flush(): Promise<void> {
    while (this.waiting.length > 0 || this.pumping) await this.pump();
  }

  /**
   * Stops taking events and delivers what is held, retrying until `timeoutMs`
   * from now; what is still undelivered then is counted as dropped. Idempotent.
   */
  close(timeoutMs = 5000): Promise<ReporterStats> {
    return (this.closing ??= (async () => {
      clearInterval(this.timer);
      this.deadline = Date.now() + timeoutMs;
      this.wake?.();
      await this.flush();
      return this.stats();
    })());
  }

  private pump(): Promise<void> {
    return (this.pumping ??= this.drain().finally(() => (this.pumping = null)));
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.opts.maxBatchEvents);
      this.inFlight = batch.length;
      try {
        await this.deliver(batch);
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private async deliver(batch: ReporterEvent[]): Promise<void> {
    const body = JSON.stringify(batch);
    const key = randomUUID();
    const { fetch, requestTimeoutMs, initialDelayMs, maxDelayMs, random } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const outcome: SendOutcome = await sendBatch(this.endpoint, body, key, { fetch, timeoutMs: requestTimeoutMs, token: this.opts.token });
      if (outcome.kind === 'done') {
        this.counts.sent += outcome.accepted;
        this.counts.rejected += outcome.rejected.length;
        if (outcome.rejected.length > 0) {
          const first = outcome.rejected[0]!;
          this.notify('rejected', `ingest rejected ${outcome.rejected.length} event(s), e.g. #${first.index}: ${first.error}`, outcome.rejected.length);
        }
        return;
      }
      if (outcome.kind === 'fail') {
        this.counts.rejected += batch.length;
        this.notify('failed', `batch given up: ${outcome.reason}`, batch.length);
        return;
      }
      const delay = Math.max(backoffDelay(attempt, { initialDelayMs, maxDelayMs }, random), outcome.retryAfterMs ?? 0);
      if (Date.now() + delay > this.deadline) {
        this.counts.dropped += batch.length;
        this.notify('dropped', `batch dropped at shutdown after ${attempt + 1} attempt(s): ${outcome.reason}`, batch.length);
        return;
      }
      this.counts.retries += 1;
      await this.sleep(delay);
    }
  }

  /** A retry pause that close() cuts short, so the last attempt happens before the deadline. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private notify(kind: ReporterError['kind'], message: string, events: number): void {
    this.opts.onError?.({ kind, message, events });
  }
}
