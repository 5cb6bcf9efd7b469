/**
 * `npm start`: ingest, aggregator and gateway in one process on one port
 * (docs/PROTOCOL.md §2). POST /v1/events goes to ingest; everything else (the
 * WebSocket stream, REST, health) to the gateway.
 */
import { aggregatorSettings, AlertsOnSnapshots, createAggregator, processStatus, registerAggregatorMetrics } from '@pulse/aggregator';
import { AlertEvaluator, openAlertsOrExit } from '@pulse/alerts';
import { otlpSettings, startOtlpPush } from '@pulse/otel-export';
import { dashboardHandler } from '@pulse/dashboard';
import { createGateway } from '@pulse/gateway';
import { createIngestApp } from '@pulse/ingest';
import {
  checkPartitionCountOrExit,
  closeRedis,
  connectRedis,
  createLogger,
  exitOnFatal,
  GATEWAY_LIMITS,
  INGEST_LIMITS,
  LimitCounters,
  loadConfigOrExit,
  MemoryRunsStore,
  onShutdown,
  RedisRunsStore,
  SelfMetrics,
} from '@pulse/runtime';
import { partitionKeys, pulseKeys, runsKeys } from '@pulse/protocol';
import { HistoryRecorder, historySettingsOrExit, MemoryHistoryStore, RedisHistoryStore, StoreHistoryReader } from '@pulse/history';
import { createBackend } from './backends.js';
import { standaloneVars } from './config.js';

const config = loadConfigOrExit('pulse', standaloneVars);
const logger = createLogger('pulse', config.LOG_LEVEL);
exitOnFatal(logger);

const backend = createBackend(config, logger);
// On Redis, PULSE_PARTITIONS must be the deployment's (partitions.ts in @pulse/runtime): checked before aggregating.
const partitionStore = config.REDIS_URL ? connectRedis(config.REDIS_URL, 'producer', 'pulse-partitions', logger) : null;
let stopping = false;

// Alerts, evaluated and delivered in this process: in memory, or on Redis when REDIS_URL is set (docs/ALERTS.md).
const alertsRedis =
  config.PULSE_ALERT_RULES && config.REDIS_URL
    ? { commands: connectRedis(config.REDIS_URL, 'producer', 'pulse-alerts', logger), patient: connectRedis(config.REDIS_URL, 'consumer', 'pulse-alerts', logger), prefix: config.PULSE_KEY_PREFIX }
    : null;
const alerts = config.PULSE_ALERT_RULES
  ? await openAlertsOrExit('pulse', config.PULSE_ALERT_RULES, config.PULSE_SLOS.map((s) => s.name), alertsRedis, true)
  : null;
const evaluator = alerts ? new AlertEvaluator({ rules: alerts.rules, store: alerts.store, queue: alerts.queue, logger }) : null;

const otlpPush = otlpSettings(config);
const partitions = config.PULSE_PARTITIONS;
// With partitions, partition 0's leader evaluates the rules over every partition (alerts.ts).
const alertsOn = evaluator
  ? new AlertsOnSnapshots(evaluator, pulseKeys(config.PULSE_KEY_PREFIX).leaderLease, logger, { partitions, waitMs: config.PULSE_TICK_MS / 2 })
  : undefined;
// History (docs/HISTORY.md): in Redis when REDIS_URL is set, else in this process, written by each partition's leader.
const historyConfig = historySettingsOrExit('pulse', config);
const historyRedis = config.REDIS_URL && historyConfig.tiers.length > 0 ? connectRedis(config.REDIS_URL, 'producer', 'pulse-history', logger) : null;
const historyStore =
  historyConfig.tiers.length === 0
    ? null
    : historyRedis
      ? new RedisHistoryStore(historyRedis, partitionKeys(config.PULSE_KEY_PREFIX, partitions))
      : new MemoryHistoryStore(partitions);
const history = historyStore ? new StoreHistoryReader({ store: historyStore, tiers: historyConfig.tiers, windowMs: historyConfig.windowMs }) : undefined;
// Every partition's aggregator runs here (one, without PULSE_PARTITIONS).
const replicas = backend.partitions.map((part, partition) => {
  const aggregator = createAggregator({
    settings: aggregatorSettings(config),
    source: part.source,
    lease: part.lease,
    publisher: part.publisher,
    logger: partitions > 1 ? logger.child({ partition }) : logger,
    alerts: partition === 0 ? alertsOn : undefined,
    history: historyStore
      ? new HistoryRecorder({ store: historyStore, partition, tiers: historyConfig.tiers, windowMs: historyConfig.windowMs, graceMs: historyConfig.graceMs, coarsen: historyConfig.coarsen, logger })
      : undefined,
  });
  // OTLP push of the figures (docs/MONITORING.md), while this process leads (always, without REDIS_URL); with
  // partitions, each partition's cells as a resource of their own (pulse.partition).
  const otlpFor = otlpPush && partitions > 1 ? { ...otlpPush, resource: { ...otlpPush.resource, 'pulse.partition': String(partition) } } : otlpPush;
  const otlp = startOtlpPush(otlpFor, () => aggregator.exportState(), logger);
  return { partition, aggregator, otlp };
});
// The other partitions' snapshots, for partition 0's alert evaluation.
if (alertsOn && partitions > 1) {
  backend.partitions.slice(1).forEach((part, i) => {
    void part.feed.start((encoded) => {
      if (alertsOn.partial(i + 1, encoded) === 'gap') part.feed.catchUp().catch(() => undefined);
    });
  });
}
// One registry of self-metrics and one set of refusal counters for the three roles: the gateway
// serves them at /metrics and /metrics/limits.
const metrics = new SelfMetrics();
registerAggregatorMetrics(metrics, processStatus(replicas, partitions));
const counters = new LimitCounters([...GATEWAY_LIMITS, ...INGEST_LIMITS], metrics);
// Runs and annotations (/v1/runs, /v1/annotations): in Redis when REDIS_URL is set, else in this process.
const runsRedis = config.REDIS_URL ? connectRedis(config.REDIS_URL, 'producer', 'pulse-runs', logger) : null;
const runs = { store: runsRedis ? new RedisRunsStore(runsRedis, runsKeys(config.PULSE_KEY_PREFIX)) : new MemoryRunsStore(), history };
const ingest = createIngestApp({ config, log: backend.log, logger, isReady: () => !stopping, metrics, counters });
const gateway = createGateway({
  config: { ...config, REDIS_URL: config.REDIS_URL ?? '' },
  feed: partitions === 1 ? backend.partitions[0]!.feed : backend.partitions.map((p) => p.feed),
  logger,
  fallback: ingest,
  dashboard: dashboardHandler(),
  metrics,
  counters,
  alerts: alerts ? { source: alerts.store, queue: alerts.queue } : undefined,
  runs,
  history,
});

gateway.server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
gateway.server.listen(config.PORT, config.HOST, () => {
  const where = `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;
  logger.info(
    { host: config.HOST, port: config.PORT, store: backend.kind, tickMs: config.PULSE_TICK_MS, windowSeconds: config.PULSE_WINDOW_SECONDS },
    `Pulse listening: dashboard ${where}/, POST ${where}/v1/events, ws ${where.replace('http', 'ws')}/metrics/stream, GET ${where}/metrics/snapshot`,
  );
  void backend
    .ready()
    .then(() => (partitionStore ? checkPartitionCountOrExit('pulse', partitionStore, pulseKeys(config.PULSE_KEY_PREFIX, 0, partitions), logger) : undefined))
    .then(() => {
      if (!stopping) for (const { aggregator } of replicas) aggregator.start();
    });
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  stopping = true;
  await gateway.close();
  await Promise.all(replicas.map(({ otlp }) => otlp?.shutdown()));
  await Promise.all(replicas.map(({ aggregator }) => aggregator.close()));
  alertsOn?.close();
  await alerts?.queue.close();
  if (partitionStore) await closeRedis(partitionStore).catch(() => undefined);
  if (runsRedis) await closeRedis(runsRedis).catch(() => undefined);
  if (historyRedis) await closeRedis(historyRedis).catch(() => undefined);
  for (const r of alertsRedis ? [alertsRedis.commands, alertsRedis.patient] : []) await closeRedis(r).catch(() => undefined);
  await backend.log.close();
  await backend.close();
});
