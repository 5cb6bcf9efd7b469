/**
 * `npm start -w services/gateway`: config once, the Redis snapshot feed,
 * listen on HOST:PORT; SIGTERM drains within the shutdown deadline.
 */
import { hostname } from 'node:os';
import { dashboardHandler } from '@pulse/dashboard';
import { pulseKeys } from '@pulse/protocol';
import { openAlertsOrExit } from '@pulse/alerts';
import { closeRedis, connectRedis, createLogger, exitOnFatal, loadConfigOrExit, onShutdown, RedisSnapshotFeed } from '@pulse/runtime';
import { gatewayConfigShape } from './config.js';
import { createGateway } from './gateway.js';

const config = loadConfigOrExit('gateway', gatewayConfigShape);
const logger = createLogger('gateway', config.LOG_LEVEL);
exitOnFatal(logger);

const feed = new RedisSnapshotFeed({
  url: config.REDIS_URL,
  keys: pulseKeys(config.PULSE_KEY_PREFIX),
  name: `gateway-${hostname()}-${process.pid}`,
  logger,
});
// Alerts: the gateway reads the state the leading aggregator keeps and lists and replays deliveries; it evaluates nothing.
const name = `gateway-${hostname()}-${process.pid}`;
const alertsRedis = config.PULSE_ALERT_RULES
  ? { commands: connectRedis(config.REDIS_URL, 'producer', `${name}-alerts`, logger), patient: connectRedis(config.REDIS_URL, 'consumer', `${name}-alerts`, logger), prefix: config.PULSE_KEY_PREFIX }
  : null;
const alerts = config.PULSE_ALERT_RULES
  ? await openAlertsOrExit('gateway', config.PULSE_ALERT_RULES, config.PULSE_SLOS.map((s) => s.name), alertsRedis, false)
  : null;
const gateway = createGateway({ config, feed, logger, dashboard: dashboardHandler(), alerts: alerts ? { source: alerts.store, queue: alerts.queue } : undefined });

gateway.server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
gateway.server.listen(config.PORT, config.HOST, () => {
  logger.info({ host: config.HOST, port: config.PORT, tickMs: config.PULSE_TICK_MS }, 'gateway listening');
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  await gateway.close();
  await alerts?.queue.close();
  for (const r of alertsRedis ? [alertsRedis.commands, alertsRedis.patient] : []) await closeRedis(r).catch(() => undefined);
});
