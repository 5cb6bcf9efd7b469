/**
 * `npm start -w services/gateway`: config once, the Redis snapshot feed,
 * listen on HOST:PORT; SIGTERM drains within the shutdown deadline.
 */
import { hostname } from 'node:os';
import { dashboardHandler } from '@pulse/dashboard';
import { pulseKeys } from '@pulse/protocol';
import { createLogger, exitOnFatal, loadConfigOrExit, onShutdown, RedisSnapshotFeed } from '@pulse/runtime';
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
const gateway = createGateway({ config, feed, logger, dashboard: dashboardHandler() });

gateway.server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
gateway.server.listen(config.PORT, config.HOST, () => {
  logger.info({ host: config.HOST, port: config.PORT, tickMs: config.PULSE_TICK_MS }, 'gateway listening');
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, () => gateway.close());
