/**
 * `npm start -w services/gateway`: config once, the Redis snapshot feed,
 * listen on HOST:PORT; SIGTERM drains within the shutdown deadline.
 */
// First: V8 flags take effect before anything allocates (v8-flags.ts says why).
import './v8-flags.js';
import { hostname } from 'node:os';
import { dashboardHandler } from '@pulse/dashboard';
import { partitionKeys, runsKeys } from '@pulse/protocol';
import { openAlertsOrExit } from '@pulse/alerts';
import { checkPartitionsInBackground, closeRedis, connectRedis, createLogger, exitOnFatal, loadConfigOrExit, onShutdown, RedisRunsStore, RedisSnapshotFeed } from '@pulse/runtime';
import { historySettingsOrExit, RedisHistoryStore, StoreHistoryReader } from '@pulse/history';
import { gatewayConfigShape } from './config.js';
import { createGateway } from './gateway.js';

const config = loadConfigOrExit('gateway', gatewayConfigShape);
const logger = createLogger('gateway', config.LOG_LEVEL);
exitOnFatal(logger);

const name = `gateway-${hostname()}-${process.pid}`;
// One feed per partition of the stream (PULSE_PARTITIONS): the gateway merges them.
const partitions = partitionKeys(config.PULSE_KEY_PREFIX, config.PULSE_PARTITIONS);
const feeds = partitions.map(
  (keys) => new RedisSnapshotFeed({ url: config.REDIS_URL, keys, name: partitions.length > 1 ? `${name}-p${keys.partition}` : name, logger }),
);
// Every service of the deployment must say the same PULSE_PARTITIONS: a mismatch stops this one (exit 2).
const partitionCheck = checkPartitionsInBackground('gateway', config, name, logger);
// Alerts: the gateway reads the state the leading aggregator keeps and lists and replays deliveries; it evaluates nothing.
const alertsRedis = config.PULSE_ALERT_RULES
  ? { commands: connectRedis(config.REDIS_URL, 'producer', `${name}-alerts`, logger), patient: connectRedis(config.REDIS_URL, 'consumer', `${name}-alerts`, logger), prefix: config.PULSE_KEY_PREFIX }
  : null;
const alerts = config.PULSE_ALERT_RULES
  ? await openAlertsOrExit('gateway', config.PULSE_ALERT_RULES, config.PULSE_SLOS.map((s) => s.name), alertsRedis, false)
  : null;
// Runs and annotations (/v1/runs, /v1/annotations): the deployment's, shared by every gateway.
const runsRedis = connectRedis(config.REDIS_URL, 'producer', `${name}-runs`, logger);
// History (GET /metrics/history, run exports): what every partition's leader wrote, read on a fail-fast connection.
const historyConfig = historySettingsOrExit('gateway', config);
const historyRedis = historyConfig.tiers.length > 0 ? connectRedis(config.REDIS_URL, 'producer', `${name}-history`, logger) : null;
const history = historyRedis
  ? new StoreHistoryReader({ store: new RedisHistoryStore(historyRedis, partitions), tiers: historyConfig.tiers, windowMs: historyConfig.windowMs })
  : undefined;
const runs = { store: new RedisRunsStore(runsRedis, runsKeys(config.PULSE_KEY_PREFIX)), history };
const gateway = createGateway({
  config,
  feed: feeds.length === 1 ? feeds[0]! : feeds,
  logger,
  dashboard: dashboardHandler(),
  alerts: alerts ? { source: alerts.store, queue: alerts.queue } : undefined,
  runs,
  history,
});

gateway.server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
gateway.server.listen(config.PORT, config.HOST, () => {
  logger.info({ host: config.HOST, port: config.PORT, tickMs: config.PULSE_TICK_MS }, 'gateway listening');
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  partitionCheck.stop();
  await gateway.close();
  await alerts?.queue.close();
  await closeRedis(runsRedis).catch(() => undefined);
  if (historyRedis) await closeRedis(historyRedis).catch(() => undefined);
  for (const r of alertsRedis ? [alertsRedis.commands, alertsRedis.patient] : []) await closeRedis(r).catch(() => undefined);
});
