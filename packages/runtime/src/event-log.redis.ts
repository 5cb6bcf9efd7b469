/**
 * Producer side of the event log on a Redis stream. One round trip per
 * append: a Lua script checks the idempotency key, XADDs the batch and stores
 * the reply, atomically. The consumer side (consumer group) lives with the
 * aggregator.
 */
import { createHash } from 'node:crypto';
import { ReplyError } from 'ioredis';
import { encodeBatch, ENTRY_FIELD, ErrorCode, partitionKeys, PREV_FIELD, PulseError, type PulseEvent, type PulseKeys } from '@pulse/protocol';
import { eventRetentionMs, type AppendResult, type EventLog, type StoredReply } from './event-log.js';
import { PartitionedEventLog } from './event-log.partitioned.js';
import type { Logger } from './logger.js';
import { closeRedis, connectRedis, failsFast, type RedisConnection } from './redis.js';

// KEYS[1] stream, KEYS[2] idempotency key (absent without one).
// ARGV: entry field, encoded batch ('' = nothing to append), retention ms,
//       reply to store, its TTL in seconds, '1' when the reply waits for replicas.
// TIME before a write is fine since Redis 5 (effects replication), and keeps
// the trim horizon on one clock however skewed the ingest nodes are.
// MINID with `~` trims whole stream nodes only: cheap, and never too much.
// Each entry names its predecessor (PREV_FIELD), so readers see a rolled-back log.
const APPEND_LUA = `
if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then
    -- A replay is acknowledged only once replicas hold the original append, which may have been
    -- answered 503 (WAIT fell short). Rewriting the key makes this connection's WAIT cover it:
    -- the replication stream is ordered, so a replica that has this write has every earlier one.
    if ARGV[6] == '1' then redis.call('SET', KEYS[2], seen, 'KEEPTTL') end
    return {'replay', seen}
  end
end
local id = ''
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
  if minid < 0 then minid = 0 end
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  local prev = last and last[1] or '0-0'
  id = redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%d', minid), '*', ARGV[1], ARGV[2], '${PREV_FIELD}', prev)
end
if KEYS[2] then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
end
return {'appended', id}
`;
const APPEND_SHA = createHash('sha1').update(APPEND_LUA).digest('hex');

/** Reply errors that mean "the store cannot take writes right now", not "the request is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

/** The longest a fail-fast connection may wait on a command, to keep the ≤ 2 s promise. */
const MAX_COMMAND_TIMEOUT_MS = 1800;

/**
 * How long an append waits for PULSE_INGEST_MIN_REPLICAS replicas to confirm
 * it: below the producer's command timeout (1.5 s), so a replica that lags
 * yields a clean 503 + Retry-After rather than a timeout, within the 2 s promise.
 */
export const REPLICA_WAIT_MS = 1000;

export interface RedisEventLogOptions {
  readonly keys: PulseKeys;
  /** Entries older than this (by Redis time) may be trimmed; writers pass eventRetentionMs(window). */
  readonly retentionMs: number;
  /**
   * Replicas that must hold an append before it resolves (`WAIT`), else it
   * rejects as STORE_UNAVAILABLE (a 503): PULSE_INGEST_MIN_REPLICAS. Default 0.
   */
  readonly minReplicas?: number;
}

/** The variables (docs/PROTOCOL.md §2) that say where a deployment's event log is and how long it keeps entries. */
export interface EventLogConfig {
  readonly REDIS_URL: string;
  readonly PULSE_KEY_PREFIX: string;
  readonly PULSE_WINDOW_SECONDS: number;
  /** Ingest only (CONTRACT §10): replicas that must confirm an append before it is acknowledged. */
  readonly PULSE_INGEST_MIN_REPLICAS?: number;
  /** Partitions of the stream (CONTRACT §10); default 1. */
  readonly PULSE_PARTITIONS?: number;
}

/**
 * The event log as a service writes to it: its own fail-fast connection,
 * named `pulse:<name>:producer`, the deployment's keys and retention. Ingest,
 * the proxy and the all-in-one process on Redis all open it this way. With
 * PULSE_PARTITIONS > 1, one log per partition on that connection, each event
 * routed by its node (event-log.partitioned.ts).
 */
export function openRedisEventLog(config: EventLogConfig, name: string, logger: Logger): EventLog {
  const connection = connectRedis(config.REDIS_URL, 'producer', name, logger);
  const logs = partitionKeys(config.PULSE_KEY_PREFIX, config.PULSE_PARTITIONS ?? 1).map(
    (keys) =>
      new RedisEventLog(connection, {
        keys,
        retentionMs: eventRetentionMs(config.PULSE_WINDOW_SECONDS),
        minReplicas: config.PULSE_INGEST_MIN_REPLICAS ?? 0,
      }),
  );
  return logs.length === 1 ? logs[0]! : new PartitionedEventLog(logs, () => closeRedis(connection));
}

export class RedisEventLog implements EventLog {
  /**
   * @param redis a fail-fast connection (`connectRedis(url, 'producer', …)`),
   *   owned from now on: `close()` closes it.
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisEventLogOptions,
  ) {
    // An offline queue or no command timeout would turn an outage into a hang instead of a 503.
    if (!failsFast(redis, MAX_COMMAND_TIMEOUT_MS)) {
      throw new Error(
        `RedisEventLog needs a fail-fast connection (enableOfflineQueue: false, commandTimeout ≤ ${MAX_COMMAND_TIMEOUT_MS} ms)`,
      );
    }
    if (!Number.isInteger(options.retentionMs) || options.retentionMs <= 0) {
      throw new RangeError(`retentionMs must be a positive integer, got ${options.retentionMs}`);
    }
    const minReplicas = options.minReplicas ?? 0;
    if (!Number.isInteger(minReplicas) || minReplicas < 0) throw new RangeError(`minReplicas must be an integer ≥ 0, got ${minReplicas}`);
  }

  async append(
    events: readonly PulseEvent[],
    idempotency?: { key: string; reply: StoredReply; ttlSeconds: number },
    encoded?: Buffer,
  ): Promise<AppendResult> {
    if (events.length === 0 && !idempotency) return { id: null, replay: null };
    const { keys, retentionMs } = this.options;
    const scriptKeys = idempotency ? [keys.events, keys.idempotency(idempotency.key)] : [keys.events];
    const args: (string | Buffer)[] = [
      ENTRY_FIELD,
      events.length > 0 ? (encoded ?? encodeBatch(events)) : '',
      String(retentionMs),
      idempotency ? JSON.stringify(idempotency.reply) : '',
      idempotency ? String(Math.max(1, Math.ceil(idempotency.ttlSeconds))) : '',
      this.minReplicas > 0 ? '1' : '',
    ];
    let result: unknown;
    try {
      result = await this.run(scriptKeys, args);
    } catch (err) {
      throw asStoreError(err);
    }
    return parseResult(result);
  }

  private get minReplicas(): number {
    return this.options.minReplicas ?? 0;
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }

  /** EVALSHA, falling back to EVAL once after a restart or SCRIPT FLUSH emptied the cache; with minReplicas, EVAL and WAIT. */
  private async run(scriptKeys: string[], args: (string | Buffer)[]): Promise<unknown> {
    if (this.minReplicas > 0) return this.runAndWait(scriptKeys, args);
    try {
      return await this.redis.evalsha(APPEND_SHA, scriptKeys.length, ...scriptKeys, ...args);
    } catch (err) {
      // NOSCRIPT means the script did not run, so running it now cannot append twice.
      if (!(err instanceof ReplyError) || !String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(APPEND_LUA, scriptKeys.length, ...scriptKeys, ...args);
    }
  }

  /**
   * The script and its `WAIT` in one pipeline: one round trip, and on a
   * Cluster the same node (a pipeline goes to its keys' node; WAIT has none),
   * which is what WAIT needs — it counts the replicas holding this
   * connection's last write. EVAL, not EVALSHA: a NOSCRIPT (a promoted
   * replica's cache is empty) would cost the WAIT's whole timeout before the
   * retry, and the script's text is small beside a batch.
   */
  private async runAndWait(scriptKeys: string[], args: (string | Buffer)[]): Promise<unknown> {
    const replies = await this.redis
      .pipeline()
      .eval(APPEND_LUA, scriptKeys.length, ...scriptKeys, ...args)
      .call('WAIT', this.minReplicas, REPLICA_WAIT_MS)
      .exec();
    const [[scriptErr, result], [waitErr, confirmed]] = replies as [[Error | null, unknown], [Error | null, unknown]];
    if (scriptErr) throw scriptErr;
    if (waitErr) throw waitErr;
    if (typeof confirmed !== 'number' || confirmed < this.minReplicas) throw new ReplicasBehindError(Number(confirmed), this.minReplicas);
    return result;
  }
}

/**
 * Fewer replicas than required confirmed an append in time. The entry stays
 * on the primary (a script cannot be undone) and may still be counted; the
 * producer is told 503, and its retry with the same Idempotency-Key replays
 * the stored reply once the replicas hold it, so it is counted once.
 */
export class ReplicasBehindError extends Error {
  override readonly name = 'ReplicasBehindError';
  constructor(
    readonly confirmed: number,
    readonly required: number,
  ) {
    super(`${confirmed} of ${required} required replicas confirmed the write within ${REPLICA_WAIT_MS} ms`);
  }
}

function asStoreError(err: unknown): unknown {
  if (err instanceof ReplicasBehindError) return new PulseError(ErrorCode.STORE_UNAVAILABLE, 'event store replicas behind, retry later', { cause: err });
  if (err instanceof ReplyError && !TRANSIENT_REPLY.test(String((err as Error).message))) {
    return err; // a bug or a misconfigured Redis (WRONGTYPE, …): a 500, not a retryable 503
  }
  return new PulseError(ErrorCode.STORE_UNAVAILABLE, 'event store unavailable, retry later', { cause: err });
}

function parseResult(result: unknown): AppendResult {
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'string') {
    const [kind, value] = result as [unknown, string];
    if (kind === 'appended') return { id: value === '' ? null : value, replay: null };
    if (kind === 'replay') return { id: null, replay: parseStoredReply(value) };
  }
  throw new Error(`unexpected reply from the append script: ${JSON.stringify(result)?.slice(0, 200)}`);
}

function parseStoredReply(raw: string): StoredReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  const reply = parsed as Partial<StoredReply> | null;
  if (reply && Number.isInteger(reply.status) && typeof reply.body === 'string') {
    return { status: reply.status!, body: reply.body };
  }
  throw new Error('stored idempotent reply is not {status, body}');
}
