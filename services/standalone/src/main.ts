/**
 * `npm start`: ingest, aggregator and gateway in one process on one port
 * (docs/PROTOCOL.md §2). POST /v1/events goes to ingest; everything else (the
 * WebSocket stream, REST, health) to the gateway.
 */
import { aggregatorSettings, AlertsOnSnapshots, createAggregator, registerAggregatorMetrics } from '@pulse/aggregator';
import { AlertEvaluator, openAlertsOrExit } from '@pulse/alerts';
import { otlpSettings, startOtlpPush } from '@pulse/otel-export';
import { dashboardHandler } from '@pulse/dashboard';
import { createGateway } from '@pulse/gateway';
import { createIngestApp } from '@pulse/ingest';
import { closeRedis, connectRedis, createLogger, exitOnFatal, GATEWAY_LIMITS, INGEST_LIMITS, LimitCounters, loadConfigOrExit, onShutdown, SelfMetrics } from '@pulse/runtime';
import { pulseKeys } from '@pulse/protocol';
import { createBackend } from './backends.js';
import { standaloneVars } from './config.js';

const config = loadConfigOrExit('pulse', standaloneVars);
const logger = createLogger('pulse', config.LOG_LEVEL);
exitOnFatal(logger);

const backend = createBackend(config, logger);
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

const aggregator = createAggregator({
  settings: aggregatorSettings(config),
  source: backend.source,
  lease: backend.lease,
  publisher: backend.publisher,
  logger,
  alerts: evaluator ? new AlertsOnSnapshots(evaluator, pulseKeys(config.PULSE_KEY_PREFIX).leaderLease, logger) : undefined,
});
// OTLP push of the figures (docs/MONITORING.md), while this process leads (always, without REDIS_URL).
const otlp = startOtlpPush(otlpSettings(config), () => aggregator.exportState(), logger);
// One registry of self-metrics and one set of refusal counters for the three roles: the gateway
// serves them at /metrics and /metrics/limits.
const metrics = new SelfMetrics();
registerAggregatorMetrics(metrics, aggregator.status);
const counters = new LimitCounters([...GATEWAY_LIMITS, ...INGEST_LIMITS], metrics);
const ingest = createIngestApp({ config, log: backend.log, logger, isReady: () => !stopping, metrics, counters });
const gateway = createGateway({
  config: { ...config, REDIS_URL: config.REDIS_URL ?? '' },
  feed: backend.feed,
  logger,
  fallback: ingest,
  dashboard: dashboardHandler(),
  metrics,
  counters,
  alerts: alerts ? { source: alerts.store, queue: alerts.queue } : undefined,
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
  void backend.ready().then(() => aggregator.start());
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  stopping = true;
  await gateway.close();
  await otlp?.shutdown();
  await aggregator.close();
  await alerts?.queue.close();
  for (const r of alertsRedis ? [alertsRedis.commands, alertsRedis.patient] : []) await closeRedis(r).catch(() => undefined);
  await backend.log.close();
  await backend.close();
});
