/** One aggregator replica: `npm start -w services/aggregator`. */
import { hostname } from 'node:os';
import { pulseKeys } from '@pulse/protocol';
import {
  closeRedis,
  connectRedis,
  createLogger,
  exitOnFatal,
  loadConfigOrExit,
  onReconnect,
  onShutdown,
  RedisEventSource,
  RedisLeaderLease,
  RedisSnapshotPublisher,
} from '@pulse/runtime';
import { AlertEvaluator, openAlertsOrExit } from '@pulse/alerts';
import { otlpSettings, startOtlpPush } from '@pulse/otel-export';
import { createAggregator } from './aggregator.js';
import { AlertsOnSnapshots } from './alerts.js';
import { aggregatorSettings, aggregatorVars } from './config.js';
import { createHealthServer } from './health-server.js';

const config = loadConfigOrExit('aggregator', aggregatorVars);
const logger = createLogger('aggregator', config.LOG_LEVEL);
exitOnFatal(logger);

const keys = pulseKeys(config.PULSE_KEY_PREFIX);
const consumer = `${hostname()}-${process.pid}`;
const blocking = connectRedis(config.REDIS_URL, 'consumer', `aggregator-${consumer}`, logger);
const commands = connectRedis(config.REDIS_URL, 'producer', `aggregator-${consumer}`, logger);
const source = new RedisEventSource(blocking, commands, { keys, consumer, reclaimIdleMs: config.PULSE_RECLAIM_IDLE_MS });
const lease = new RedisLeaderLease(commands, keys, config.PULSE_LEASE_MS);
const publisher = new RedisSnapshotPublisher(commands, keys);

// Alerts: the leader evaluates; every replica runs a delivery worker.
const alertsRedis = config.PULSE_ALERT_RULES ? connectRedis(config.REDIS_URL, 'consumer', `aggregator-${consumer}-alerts`, logger) : null;
const alertsSetup = config.PULSE_ALERT_RULES
  ? await openAlertsOrExit('aggregator', config.PULSE_ALERT_RULES, config.PULSE_SLOS.map((s) => s.name), { commands, patient: alertsRedis!, prefix: config.PULSE_KEY_PREFIX }, true)
  : null;
const alerts = alertsSetup
  ? new AlertsOnSnapshots(new AlertEvaluator({ rules: alertsSetup.rules, store: alertsSetup.store, queue: alertsSetup.queue, logger }), keys.leaderLease, logger)
  : undefined;

const aggregator = createAggregator({
  settings: aggregatorSettings(config),
  source,
  lease,
  publisher,
  logger,
  droppedEvents: () => source.droppedEvents,
  alerts,
});

// Back from losing Redis, the stream may not be the one the window was read from: a promoted replica lacks
// the old primary's last entries, a restarted Redis all of them. A standby rebuilds its window (a leader
// does anyway, having failed to renew its lease meanwhile); docs/REDIS.md.
onReconnect(blocking, () => aggregator.restart());

// OTLP push (docs/MONITORING.md): every replica runs it, only the leader's collections hold anything.
const otlp = startOtlpPush(otlpSettings(config), () => aggregator.exportState(), logger);

const server = createHealthServer({ status: aggregator.status, storeReachable: () => commands.status === 'ready' });
server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  logger.info({ port: config.PORT, host: config.HOST, consumer }, 'aggregator listening (health and metrics)');
});
// The fail-fast connection refuses commands until it is ready: start reading once it is.
// (Loading alert rules above awaits: the connection may be ready already.)
if (commands.status === 'ready') aggregator.start();
else commands.once('ready', () => aggregator.start());

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  // Last push while still leading: after close() hands the lease over, a push from here could land after the next leader's.
  await otlp?.shutdown();
  await aggregator.close();
  // The worker finishes the deliveries in hand; the queued ones wait in Redis for another worker.
  await alertsSetup?.queue.close();
  if (alertsRedis) await closeRedis(alertsRedis).catch(() => undefined);
  server.close();
  await source.close();
  await closeRedis(commands).catch(() => undefined);
});
