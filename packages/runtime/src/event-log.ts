/**
 * The event log: where ingest appends batches of validated events and the
 * active aggregator consumes them. Two implementations share this contract
 * (one suite tests both): `event-log.redis.ts` (a Redis stream read through a
 * consumer group) and `event-log.memory.ts` (in-process, for `npm start`
 * without Redis and for unit tests).
 */
import type { PulseEvent } from '@pulse/protocol';

/** Slack beyond two windows so an aggregator that lags a little still finds its entries. */
const RETENTION_MARGIN_MS = 30_000;

/**
 * How long every writer of the log (ingest, the proxy, the all-in-one
 * process) keeps entries: two windows, because a new aggregator leader
 * rebuilds a full window from the log, plus a margin.
 */
export function eventRetentionMs(windowSeconds: number): number {
  return 2 * windowSeconds * 1000 + RETENTION_MARGIN_MS;
}

/** One appended batch. `id` is the stream id `<ms>-<seq>`: ms is the store's clock at append. */
export interface LogEntry {
  readonly id: string;
  readonly events: readonly PulseEvent[];
  /** The entry before it in the stream when it was appended (PREV_FIELD); absent where the log does not record it. */
  readonly prev?: string;
}

/** The reply ingest stores for an `Idempotency-Key`, replayed verbatim on a retry. */
export interface StoredReply {
  readonly status: number;
  readonly body: string;
}

export interface AppendResult {
  /** The entry id, or null when nothing was appended (empty batch, or a replay). */
  readonly id: string | null;
  /** Set when the idempotency key was seen before: the first reply, to send again. */
  readonly replay: StoredReply | null;
}

/** Producer side, used by ingest and the proxy. */
export interface EventLog {
  /**
   * Appends `events` as one entry. Resolves only once the store has accepted
   * it; rejects with PulseError(STORE_UNAVAILABLE) fast (≤ 2 s) when the store
   * is unreachable, having written nothing.
   *
   * With `idempotency`, the append and the stored reply are written together
   * atomically; if the key was already stored, nothing is appended and the
   * stored reply is returned in `replay`.
   *
   * `encoded`, when the caller holds it already, is the entry's payload as
   * stored: a UTF-8 JSON array whose elements validate to exactly `events`
   * (ingest: the request body). A store that keeps encoded entries writes it
   * instead of encoding `events` again; readers validate entries anyway.
   */
  append(
    events: readonly PulseEvent[],
    idempotency?: { key: string; reply: StoredReply; ttlSeconds: number },
    encoded?: Buffer,
  ): Promise<AppendResult>;
  /** True while the store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
