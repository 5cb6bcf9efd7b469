/**
 * The storage behind the all-in-one process: the in-process event log and bus
 * by default, or Redis when REDIS_URL is set — the same interfaces the split
 * services use, so the process behaves the same on either.
 */
import { hostname } from 'node:os';
import { pulseKeys } from '@pulse/protocol';
import {
  closeRedis,
  connectRedis,
  eventRetentionMs,
  MemoryEventLog,
  MemoryEventSource,
  MemoryLeaderLease,
  MemorySnapshotBus,
  openRedisEventLog,
  RedisEventSource,
  RedisLeaderLease,
  RedisSnapshotFeed,
  RedisSnapshotPublisher,
  type EventLog,
  type EventSource,
  type LeaderLease,
  type Logger,
  type SnapshotFeed,
  type SnapshotPublisher,
} from '@pulse/runtime';

export interface Backend {
  readonly kind: 'memory' | 'redis';
  readonly log: EventLog;
  readonly source: EventSource;
  readonly lease: LeaderLease;
  readonly publisher: SnapshotPublisher;
  readonly feed: SnapshotFeed;
  /** Resolves once the store takes commands (fail-fast connections refuse them before). */
  ready(): Promise<void>;
  /** Closes what the roles did not close themselves. */
  close(): Promise<void>;
}

interface BackendConfig {
  REDIS_URL?: string | undefined;
  PULSE_KEY_PREFIX: string;
  PULSE_WINDOW_SECONDS: number;
  PULSE_LEASE_MS: number;
  PULSE_RECLAIM_IDLE_MS: number;
  PULSE_INGEST_MIN_REPLICAS?: number;
}

export function createBackend(config: BackendConfig, logger: Logger): Backend {
  return config.REDIS_URL ? redisBackend(config.REDIS_URL, config, logger) : memoryBackend(config);
}

function memoryBackend(config: BackendConfig): Backend {
  const log = new MemoryEventLog(eventRetentionMs(config.PULSE_WINDOW_SECONDS));
  const bus = new MemorySnapshotBus();
  return {
    kind: 'memory',
    log,
    source: new MemoryEventSource(log),
    lease: new MemoryLeaderLease(),
    publisher: bus,
    feed: bus,
    ready: async () => undefined,
    close: async () => undefined,
  };
}

function redisBackend(url: string, config: BackendConfig, logger: Logger): Backend {
  const keys = pulseKeys(config.PULSE_KEY_PREFIX);
  const name = `pulse-${hostname()}-${process.pid}`;
  const commands = connectRedis(url, 'producer', name, logger);
  const source = new RedisEventSource(connectRedis(url, 'consumer', name, logger), commands, {
    keys,
    consumer: name,
    reclaimIdleMs: config.PULSE_RECLAIM_IDLE_MS,
  });
  return {
    kind: 'redis',
    log: openRedisEventLog({ ...config, REDIS_URL: url }, `${name}-ingest`, logger),
    source,
    lease: new RedisLeaderLease(commands, keys, config.PULSE_LEASE_MS),
    publisher: new RedisSnapshotPublisher(commands, keys),
    feed: new RedisSnapshotFeed({ url, keys, name, logger }),
    ready: () => (commands.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => commands.once('ready', () => resolve()))),
    close: async () => {
      await source.close();
      await closeRedis(commands);
    },
  };
}
