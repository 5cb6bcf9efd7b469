/**
 * Redis connections, one per role, each named so `CLIENT LIST` tells who is
 * who:
 * - producer: fails fast. No offline queue and a command timeout, so an
 *   outage turns into a quick 503 instead of a hang;
 * - consumer: patient. Waits through outages, for blocking reads and loops;
 * - subscriber: pub/sub only; resubscribes by itself after a reconnect.
 * All reconnect forever with jittered, capped backoff.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export type RedisRole = 'producer' | 'consumer' | 'subscriber';

export { Redis };

/** Exponential backoff with full jitter: 50 ms doubling up to 1 s. */
export function reconnectDelay(attempt: number): number {
  const cap = Math.min(1000, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1500, connectTimeout: 1500 },
  consumer: { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 3000 },
  subscriber: { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 3000 },
};

export function connectRedis(url: string, role: RedisRole, name: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    ...ROLE_OPTIONS[role],
    connectionName: `pulse:${name}:${role}`,
    retryStrategy: reconnectDelay,
    // Pulse scripts use Redis 7 commands; a wrong server should be loud, not subtle.
    enableReadyCheck: true,
  });
  const log = logger.child({ redis: role });
  let down = false;
  redis.on('error', (err: Error) => {
    // ioredis emits an error per failed reconnect; log the first of each outage only.
    if (!down) log.warn({ err }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return redis;
}

/**
 * Closes a connection: QUIT when connected (waiting at most `ms`), else at
 * once — a QUIT queued behind a reconnect would wait for a Redis that may not
 * come back.
 */
export async function closeRedis(redis: Redis, ms = 1000): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), ms);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
