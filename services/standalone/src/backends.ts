/**
 * The storage behind the all-in-one process: the in-process event log and bus
 * by default, or Redis when REDIS_URL is set — the same interfaces the split
 * services use, so the process behaves the same on either. With
 * PULSE_PARTITIONS > 1, one log, source, lease and bus per partition: the
 * process runs every partition's aggregator, and its gateway merges them.
 */
import { hostname } from 'node:os';
import { partitionKeys } from '@pulse/protocol';
import {
  closeRedis,
  connectRedis,
  eventRetentionMs,
  MemoryConsumerGroup,
  MemoryEventLog,
  MemoryEventSource,
  MemoryLeaderLease,
  MemorySnapshotBus,
  openRedisEventLog,
  PartitionedEventLog,
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

/** What one partition's aggregator reads from and publishes to, and where the gateway reads it. */
export interface PartitionBackend {
  readonly source: EventSource;
  readonly lease: LeaderLease;
  readonly publisher: SnapshotPublisher;
  readonly feed: SnapshotFeed;
}

export interface Backend {
  readonly kind: 'memory' | 'redis';
  /** Where ingest appends: routed to the partitions by node. */
  readonly log: EventLog;
  /** One per partition, in order. */
  readonly partitions: readonly PartitionBackend[];
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
  PULSE_PARTITIONS?: number;
}

export function createBackend(config: BackendConfig, logger: Logger): Backend {
  return config.REDIS_URL ? redisBackend(config.REDIS_URL, config, logger) : memoryBackend(config);
}

function memoryBackend(config: BackendConfig): Backend {
  const n = config.PULSE_PARTITIONS ?? 1;
  const logs = Array.from({ length: n }, () => new MemoryEventLog(eventRetentionMs(config.PULSE_WINDOW_SECONDS)));
  // Every partition's window counts from one creation time.
  const createdAt = Date.now();
  const partitions = logs.map((log) => {
    const bus = new MemorySnapshotBus();
    return {
      source: new MemoryEventSource(log, { group: new MemoryConsumerGroup(createdAt) }),
      lease: new MemoryLeaderLease(),
      publisher: bus,
      feed: bus,
    };
  });
  return {
    kind: 'memory',
    log: n === 1 ? logs[0]! : new PartitionedEventLog(logs),
    partitions,
    ready: async () => undefined,
    close: async () => undefined,
  };
}

function redisBackend(url: string, config: BackendConfig, logger: Logger): Backend {
  const all = partitionKeys(config.PULSE_KEY_PREFIX, config.PULSE_PARTITIONS ?? 1);
  const name = `pulse-${hostname()}-${process.pid}`;
  const commands = connectRedis(url, 'producer', name, logger);
  const sources: RedisEventSource[] = [];
  const partitions = all.map((keys) => {
    const suffix = all.length > 1 ? `-p${keys.partition}` : '';
    const source = new RedisEventSource(connectRedis(url, 'consumer', `${name}${suffix}`, logger), commands, {
      keys,
      consumer: name,
      reclaimIdleMs: config.PULSE_RECLAIM_IDLE_MS,
    });
    sources.push(source);
    return {
      source,
      lease: new RedisLeaderLease(commands, keys, config.PULSE_LEASE_MS),
      publisher: new RedisSnapshotPublisher(commands, keys),
      feed: new RedisSnapshotFeed({ url, keys, name: `${name}${suffix}`, logger }),
    };
  });
  return {
    kind: 'redis',
    log: openRedisEventLog({ ...config, REDIS_URL: url }, `${name}-ingest`, logger),
    partitions,
    ready: () => (commands.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => commands.once('ready', () => resolve()))),
    close: async () => {
      await Promise.all(sources.map((s) => s.close()));
      await closeRedis(commands);
    },
  };
}
