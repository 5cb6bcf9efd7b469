/**
 * Redis connections, one per role, each named so `CLIENT LIST` tells who is
 * who:
 * - producer: fails fast. No offline queue and a command timeout, so an
 *   outage turns into a quick 503 instead of a hang;
 * - consumer: patient. Waits through outages, for blocking reads and loops;
 * - subscriber: pub/sub only; resubscribes by itself after a reconnect.
 * All reconnect forever with jittered, capped backoff.
 *
 * One REDIS_URL names the topology (docs/REDIS.md, CONTRACT §10): `redis://`
 * and `rediss://` a single server, `redis+sentinel://h:p,h:p/<master>` a
 * Sentinel-managed primary, `redis+cluster://h:p,h:p` a Redis Cluster. The
 * options of each are chosen below, per role, and documented in docs/REDIS.md.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';
import { parseRedisUrl, type RedisTopology } from './redis-url.js';

export * from './redis-url.js';

export type RedisRole = 'producer' | 'consumer' | 'subscriber';

export { Cluster, Redis };

/**
 * A connection of any topology. Everything Pulse sends works on both: every
 * script and transaction passes its keys as KEYS, all in the `{prefix}` slot,
 * so a Cluster routes each to the one node that holds them.
 */
export type RedisConnection = Redis | Cluster;

/** Exponential backoff with full jitter: 50 ms doubling up to 1 s. */
export function reconnectDelay(attempt: number): number {
  const cap = Math.min(1000, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

/** The producer's bound on one command: with the WAIT inside it, an ingest reply still comes within 2 s. */
export const PRODUCER_COMMAND_TIMEOUT_MS = 1500;

/**
 * The consumer's blocking reads (XREAD / XREADGROUP … BLOCK, BullMQ's) answer
 * empty, client-side, once they are this long past their own BLOCK
 * (`blockingTimeoutGrace`), or after `blockingTimeout` for one queued offline
 * or without a BLOCK. Without it a read queued on a Cluster node that died
 * waited forever: the pool drops the node while it is reconnecting, and its
 * queue is never flushed. That froze a standby's read loop, so it held the
 * lease it won and never led (test/faults/redis-cluster.test.ts, "a write its
 * replica never got": no snapshot for 20 s in 2 of 13 runs under load).
 */
const CONSUMER_BLOCKING = { blockingTimeout: 5000, blockingTimeoutGrace: 2000 };

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS, connectTimeout: 1500 },
  consumer: { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 3000, ...CONSUMER_BLOCKING },
  subscriber: { enableOfflineQueue: true, maxRetriesPerRequest: null, connectTimeout: 3000 },
};

/**
 * A write answered READONLY went to a node that is a replica now (a demoted
 * primary): reconnect, which asks the sentinels for the primary again. A
 * command refused READONLY did not run, so the patient roles resend it (2);
 * the producer fails it (1) and its caller answers 503 — its reply must not
 * wait for a reconnect.
 */
function reconnectOnReadonly(role: RedisRole): (err: Error) => boolean | 1 | 2 {
  return (err) => (err.message.startsWith('READONLY') ? (role === 'producer' ? 1 : 2) : false);
}

/** A Redis (standalone or through Sentinel) or a Cluster, as `url` says, with the options of `role`. */
export function connectRedis(url: string | RedisTopology, role: RedisRole, name: string, logger: Logger): RedisConnection {
  const topology = typeof url === 'string' ? parseRedisUrl(url) : url;
  const connectionName = `pulse:${name}:${role}`;
  const redis = openConnection(topology, role, connectionName);
  watchConnection(redis, logger.child({ redis: role }));
  return redis;
}

function openConnection(topology: RedisTopology, role: RedisRole, connectionName: string): RedisConnection {
  const common: RedisOptions = {
    ...ROLE_OPTIONS[role],
    connectionName,
    // Pulse scripts use Redis 7 commands; a wrong server should be loud, not subtle.
    enableReadyCheck: true,
    reconnectOnError: reconnectOnReadonly(role),
  };
  switch (topology.kind) {
    case 'standalone':
      return new Redis(topology.url, { ...common, retryStrategy: reconnectDelay });
    case 'sentinel':
      return new Redis({ ...common, ...sentinelOptions(topology), retryStrategy: reconnectDelay });
    case 'cluster':
      return new Cluster([...topology.nodes], clusterOptions(topology, role, common));
  }
}

/**
 * Sentinel: ioredis asks the sentinels for the primary on every (re)connect
 * and checks its ROLE, so a client never stays on a node that is not the
 * primary any more.
 */
function sentinelOptions(topology: Extract<RedisTopology, { kind: 'sentinel' }>): RedisOptions {
  return {
    sentinels: topology.sentinels.map((n) => ({ host: n.host, port: n.port })),
    name: topology.name,
    role: 'master',
    ...(topology.username !== undefined && { username: topology.username }),
    ...(topology.password !== undefined && { password: topology.password }),
    // No sentinel answering is an outage like any other: keep asking, with the same backoff (ioredis's default gives up).
    sentinelRetryStrategy: reconnectDelay,
    // A sentinel that hangs must not hold a reconnect: try the next one.
    sentinelCommandTimeout: 1000,
    // Subscribe to +switch-master on the sentinels: a promotion drops the connections to the old
    // primary at once, even when that primary is still alive (a partition), instead of on its first error.
    failoverDetector: true,
    // Learn the sentinels the URL did not list (the set may have grown since the URL was written).
    updateSentinels: true,
  };
}

/**
 * Cluster: writes go to primaries only (`scaleReads: 'master'`): the leader's
 * reads must see its own commits, and a gateway's catch-up the keyframe the
 * patches follow. During a failover a command to the lost slot fails over to
 * the replica once it is promoted: ioredis retries it every
 * `retryDelayOnFailover` and refreshes the slot map on MOVED / CLUSTERDOWN.
 */
function clusterOptions(topology: Extract<RedisTopology, { kind: 'cluster' }>, role: RedisRole, common: RedisOptions): ClusterOptions {
  // The offline queue is the Cluster's (per node it would only hide a node's absence from the Cluster's retries).
  const { enableOfflineQueue, ...perNode } = common;
  return {
    scaleReads: 'master',
    enableOfflineQueue,
    enableReadyCheck: true,
    clusterRetryStrategy: reconnectDelay,
    // A dropped node connection comes back by itself; without this a node is reached again only after a MOVED.
    clusterNodeRetryStrategy: reconnectDelay,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    // The fail-fast producer gives up after ~1.5 s either way (commandTimeout); the patient roles ride out a promotion (~1–2 s at cluster-node-timeout 1 s, ~15 s at Redis's default).
    maxRedirections: role === 'producer' ? 8 : 64,
    slotsRefreshTimeout: 1000,
    slotsRefreshInterval: 2000,
    // Pulse publishes on one channel in one slot: classic PUBLISH is broadcast by the cluster (docs/REDIS.md says why not sharded).
    shardedSubscribers: false,
    redisOptions: {
      ...perNode,
      ...(topology.username !== undefined && { username: topology.username }),
      ...(topology.password !== undefined && { password: topology.password }),
    },
  };
}

function watchConnection(redis: RedisConnection, log: Logger): void {
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
  if (redis instanceof Cluster) {
    redis.on('node error', (err: Error, node: string) => log.debug({ err, node }, 'redis cluster node error'));
    redis.on('-node', (node: Redis) => log.info({ node: `${node.options.host}:${node.options.port}` }, 'redis cluster node left'));
  }
}

/**
 * Calls `fn` each time `redis` is back after losing its server: a 'ready'
 * after a 'close' (one server, or through Sentinel: then possibly another
 * server, a promoted replica), or a node leaving a Cluster (a failover moves
 * a slot to the promoted replica without the Cluster object reconnecting).
 */
export function onReconnect(redis: RedisConnection, fn: () => void): void {
  if (redis instanceof Cluster) {
    redis.on('-node', fn);
    return;
  }
  let lost = false;
  redis.on('close', () => (lost = true));
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    fn();
  });
}

/** The options a connection was opened with that say whether it fails fast (RedisEventLog, RedisLeaderLease need that). */
export function failsFast(redis: RedisConnection, maxCommandTimeoutMs: number): boolean {
  const { enableOfflineQueue, commandTimeout } = redis instanceof Cluster ? { enableOfflineQueue: redis.options.enableOfflineQueue, commandTimeout: redis.options.redisOptions?.commandTimeout } : redis.options;
  return enableOfflineQueue === false && commandTimeout !== undefined && commandTimeout <= maxCommandTimeoutMs;
}

/**
 * Closes a connection: QUIT when connected (waiting at most `ms`), else at
 * once — a QUIT queued behind a reconnect would wait for a Redis that may not
 * come back.
 */
export async function closeRedis(redis: RedisConnection, ms = 1000): Promise<void> {
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
