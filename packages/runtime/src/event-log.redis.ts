/**
 * Producer side of the event log on a Redis stream. One round trip per
 * append: a Lua script checks the idempotency key, XADDs the batch and stores
 * the reply, atomically. The consumer side (consumer group) lives with the
 * aggregator.
 */
import { createHash } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import { encodeBatch, ENTRY_FIELD, ErrorCode, PulseError, pulseKeys, type PulseEvent, type PulseKeys } from '@pulse/protocol';
import { eventRetentionMs, type AppendResult, type EventLog, type StoredReply } from './event-log.js';
import type { Logger } from './logger.js';
import { closeRedis, connectRedis } from './redis.js';

// KEYS[1] stream, KEYS[2] idempotency key (absent without one).
// ARGV: entry field, encoded batch ('' = nothing to append), retention ms,
//       reply to store, its TTL in seconds.
// TIME before a write is fine since Redis 5 (effects replication), and keeps
// the trim horizon on one clock however skewed the ingest nodes are.
// MINID with `~` trims whole stream nodes only: cheap, and never too much.
const APPEND_LUA = `
if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {'replay', seen} end
end
local id = ''
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
  if minid < 0 then minid = 0 end
  id = redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%d', minid), '*', ARGV[1], ARGV[2])
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

export interface RedisEventLogOptions {
  readonly keys: PulseKeys;
  /** Entries older than this (by Redis time) may be trimmed; writers pass eventRetentionMs(window). */
  readonly retentionMs: number;
}

/** The variables (docs/PROTOCOL.md §2) that say where a deployment's event log is and how long it keeps entries. */
export interface EventLogConfig {
  readonly REDIS_URL: string;
  readonly PULSE_KEY_PREFIX: string;
  readonly PULSE_WINDOW_SECONDS: number;
}

/**
 * The event log as a service writes to it: its own fail-fast connection,
 * named `pulse:<name>:producer`, the deployment's keys and retention. Ingest,
 * the proxy and the all-in-one process on Redis all open it this way.
 */
export function openRedisEventLog(config: EventLogConfig, name: string, logger: Logger): RedisEventLog {
  return new RedisEventLog(connectRedis(config.REDIS_URL, 'producer', name, logger), {
    keys: pulseKeys(config.PULSE_KEY_PREFIX),
    retentionMs: eventRetentionMs(config.PULSE_WINDOW_SECONDS),
  });
}

export class RedisEventLog implements EventLog {
  /**
   * @param redis a fail-fast connection (`connectRedis(url, 'producer', …)`),
   *   owned from now on: `close()` closes it.
   */
  constructor(
    private readonly redis: Redis,
    private readonly options: RedisEventLogOptions,
  ) {
    // An offline queue or no command timeout would turn an outage into a hang instead of a 503.
    const { enableOfflineQueue, commandTimeout } = redis.options;
    const failsFast = enableOfflineQueue === false && commandTimeout !== undefined && commandTimeout <= MAX_COMMAND_TIMEOUT_MS;
    if (!failsFast) {
      throw new Error(
        `RedisEventLog needs a fail-fast connection (enableOfflineQueue: false, commandTimeout ≤ ${MAX_COMMAND_TIMEOUT_MS} ms)`,
      );
    }
    if (!Number.isInteger(options.retentionMs) || options.retentionMs <= 0) {
      throw new RangeError(`retentionMs must be a positive integer, got ${options.retentionMs}`);
    }
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
    ];
    let result: unknown;
    try {
      result = await this.run(scriptKeys, args);
    } catch (err) {
      throw asStoreError(err);
    }
    return parseResult(result);
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

  /** EVALSHA, falling back to EVAL once after a restart or SCRIPT FLUSH emptied the cache. */
  private async run(scriptKeys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(APPEND_SHA, scriptKeys.length, ...scriptKeys, ...args);
    } catch (err) {
      // NOSCRIPT means the script did not run, so running it now cannot append twice.
      if (!(err instanceof ReplyError) || !String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(APPEND_LUA, scriptKeys.length, ...scriptKeys, ...args);
    }
  }
}

function asStoreError(err: unknown): unknown {
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
