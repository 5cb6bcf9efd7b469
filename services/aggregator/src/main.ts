/** One aggregator replica: `npm start -w services/aggregator`. */
import { hostname } from 'node:os';
import { pulseKeys } from '@pulse/protocol';
import {
  closeRedis,
  connectRedis,
  createLogger,
  exitOnFatal,
  loadConfigOrExit,
  onShutdown,
  RedisEventSource,
  RedisLeaderLease,
  RedisSnapshotPublisher,
} from '@pulse/runtime';
import { createAggregator } from './aggregator.js';
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

const aggregator = createAggregator({
  settings: aggregatorSettings(config),
  source,
  lease,
  publisher,
  logger,
  droppedEvents: () => source.droppedEvents,
});

const server = createHealthServer({ status: aggregator.status, storeReachable: () => commands.status === 'ready' });
server.on('error', (err) => {
  logger.fatal({ err, host: config.HOST, port: config.PORT }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  logger.info({ port: config.PORT, host: config.HOST, consumer }, 'aggregator listening (health and metrics)');
});
// The fail-fast connection refuses commands until it is ready: start reading once it is.
commands.once('ready', () => aggregator.start());

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  await aggregator.close();
  server.close();
  await source.close();
  await closeRedis(commands).catch(() => undefined);
});
