/** One aggregator replica: `npm start -w services/aggregator`. */
import { hostname } from 'node:os';
import { partitionKeys } from '@pulse/protocol';
import {
  checkPartitionCountOrExit,
  closeRedis,
  ConfigError,
  connectRedis,
  createLogger,
  exitOnFatal,
  loadConfigOrExit,
  onReconnect,
  onShutdown,
  RedisEventSource,
  RedisLeaderLease,
  RedisSnapshotFeed,
  RedisSnapshotPublisher,
} from '@pulse/runtime';
import { AlertEvaluator, openAlertsOrExit } from '@pulse/alerts';
import { otlpSettings, startOtlpPush } from '@pulse/otel-export';
import { HistoryRecorder, historySettingsOrExit, RedisHistoryStore } from '@pulse/history';
import { createAggregator } from './aggregator.js';
import { AlertsOnSnapshots } from './alerts.js';
import { aggregatorSettings } from './config.js';
import { createHealthServer } from './health-server.js';
import { aggregatorProcessVars, processStatus, servedPartitions, type ServedPartition } from './partitions.js';

const config = loadConfigOrExit('aggregator', aggregatorProcessVars);
let served: number[];
try {
  served = servedPartitions(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`pulse aggregator: invalid configuration: ${err.message}\n`);
  process.exit(2);
}
const logger = createLogger('aggregator', config.LOG_LEVEL);
exitOnFatal(logger);

const partitions = config.PULSE_PARTITIONS;
const allKeys = partitionKeys(config.PULSE_KEY_PREFIX, partitions);
const consumer = `${hostname()}-${process.pid}`;
// One fail-fast connection for every partition's commits, lease and publishes; a blocking reader each.
const commands = connectRedis(config.REDIS_URL, 'producer', `aggregator-${consumer}`, logger);

// Alerts: the leader of partition 0 evaluates (over every partition, alerts.ts); every replica runs a delivery worker.
const alertsRedis = config.PULSE_ALERT_RULES ? connectRedis(config.REDIS_URL, 'consumer', `aggregator-${consumer}-alerts`, logger) : null;
const alertsSetup = config.PULSE_ALERT_RULES
  ? await openAlertsOrExit('aggregator', config.PULSE_ALERT_RULES, config.PULSE_SLOS.map((s) => s.name), { commands, patient: alertsRedis!, prefix: config.PULSE_KEY_PREFIX }, true)
  : null;
const alerts =
  alertsSetup && served.includes(0)
    ? new AlertsOnSnapshots(new AlertEvaluator({ rules: alertsSetup.rules, store: alertsSetup.store, queue: alertsSetup.queue, logger }), allKeys[0]!.leaderLease, logger, {
        partitions,
        waitMs: config.PULSE_TICK_MS / 2,
      })
    : undefined;
// With partitions, partition 0's evaluation reads the others' snapshots as a gateway does.
const alertFeeds =
  alerts && partitions > 1
    ? allKeys.slice(1).map((keys) => {
        const feed = new RedisSnapshotFeed({ url: config.REDIS_URL, keys, name: `aggregator-${consumer}-alerts-p${keys.partition}`, logger });
        feed
          .start((encoded) => {
            if (alerts.partial(keys.partition, encoded) === 'gap') feed.catchUp().catch(() => undefined);
          })
          .catch((err: unknown) => logger.error({ err, partition: keys.partition }, 'snapshot feed for alerts failed to start'));
        return feed;
      })
    : [];

const settings = aggregatorSettings(config);
// History (docs/HISTORY.md): each partition's leader writes its records, under that partition's hash tag.
const historyConfig = historySettingsOrExit('aggregator', config);
const historyStore = historyConfig.tiers.length > 0 ? new RedisHistoryStore(commands, allKeys) : null;
const otlpBase = otlpSettings(config);
const replicas = served.map((partition) => {
  const keys = allKeys[partition]!;
  const blocking = connectRedis(config.REDIS_URL, 'consumer', partitions > 1 ? `aggregator-${consumer}-p${partition}` : `aggregator-${consumer}`, logger);
  const source = new RedisEventSource(blocking, commands, { keys, consumer, reclaimIdleMs: config.PULSE_RECLAIM_IDLE_MS });
  const aggregator = createAggregator({
    settings,
    source,
    lease: new RedisLeaderLease(commands, keys, config.PULSE_LEASE_MS),
    publisher: new RedisSnapshotPublisher(commands, keys),
    logger: partitions > 1 ? logger.child({ partition }) : logger,
    droppedEvents: () => source.droppedEvents,
    alerts: partition === 0 ? alerts : undefined,
    history: historyStore
      ? new HistoryRecorder({ store: historyStore, partition, tiers: historyConfig.tiers, windowMs: historyConfig.windowMs, graceMs: historyConfig.graceMs, coarsen: historyConfig.coarsen, logger })
      : undefined,
  });
  // Back from losing Redis, the stream may not be the one the window was read from: a promoted replica lacks
  // the old primary's last entries, a restarted Redis all of them. A standby rebuilds its window (a leader
  // does anyway, having failed to renew its lease meanwhile); docs/REDIS.md.
  onReconnect(blocking, () => aggregator.restart());
  // OTLP push (docs/MONITORING.md): every replica runs it, only the leader's collections hold anything. With
  // partitions, each partition's leader pushes its own cells as a resource of its own (pulse.partition).
  const otlpFor = otlpBase && partitions > 1 ? { ...otlpBase, resource: { ...otlpBase.resource, 'pulse.partition': String(partition) } } : otlpBase;
  const otlp = startOtlpPush(otlpFor, () => aggregator.exportState(), logger);
  return { partition, aggregator, source, otlp };
});
const servedPartitionsList: ServedPartition[] = replicas.map(({ partition, aggregator }) => ({ partition, aggregator }));

const server = createHealthServer({ status: processStatus(servedPartitionsList, partitions), storeReachable: () => commands.status === 'ready' });
server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  logger.info({ port: config.PORT, host: config.HOST, consumer, partitions, served }, 'aggregator listening (health and metrics)');
});
// The fail-fast connection refuses commands until it is ready: start reading once it is, and once
// PULSE_PARTITIONS is known to be the deployment's (a mismatch exits 2).
// (Loading alert rules above awaits: the connection may be ready already.)
let stopping = false;
const start = () =>
  void checkPartitionCountOrExit('aggregator', commands, allKeys[0]!, logger, () => stopping).then(() => {
    if (!stopping) for (const { aggregator } of replicas) aggregator.start();
  });
if (commands.status === 'ready') start();
else commands.once('ready', start);

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  stopping = true;
  // Last push while still leading: after close() hands the lease over, a push from here could land after the next leader's.
  await Promise.all(replicas.map(({ otlp }) => otlp?.shutdown()));
  await Promise.all(replicas.map(({ aggregator }) => aggregator.close()));
  alerts?.close();
  await Promise.all(alertFeeds.map((f) => f.close()));
  // The worker finishes the deliveries in hand; the queued ones wait in Redis for another worker.
  await alertsSetup?.queue.close();
  if (alertsRedis) await closeRedis(alertsRedis).catch(() => undefined);
  server.close();
  await Promise.all(replicas.map(({ source }) => source.close()));
  await closeRedis(commands).catch(() => undefined);
});
