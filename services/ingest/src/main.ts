/**
 * One ingest node: reads the environment once, appends to Redis, listens.
 * On SIGTERM: /readyz turns 503, no new connections, in-flight requests
 * finish (so every event answered 202 is in Redis), Redis closes, exit 0.
 */
import { createServer, type Server } from 'node:http';
import { checkPartitionsInBackground, createLogger, exitOnFatal, loadConfigOrExit, onShutdown, openRedisEventLog } from '@pulse/runtime';
import { createIngestApp } from './app.js';
import { ingestConfigShape } from './config.js';
import { probeReadiness } from './readiness.js';

const config = loadConfigOrExit('ingest', ingestConfigShape);
const logger = createLogger('ingest', config.LOG_LEVEL);
exitOnFatal(logger);

const log = openRedisEventLog(config, 'ingest', logger);
const store = probeReadiness(() => log.ping());
// Events are routed by PULSE_PARTITIONS: not ready until it is checked against the deployment's; a mismatch exits 2.
const partitionCheck = checkPartitionsInBackground('ingest', config, 'ingest', logger);
let stopping = false;

const app = createIngestApp({ config, log, logger, isReady: () => !stopping && store.ready && partitionCheck.checked });
const server = createServer(app);
server.on('error', (err) => {
  logger.fatal({ err }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  logger.info({ address: server.address() }, 'ingest listening');
});

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  stopping = true;
  store.stop();
  partitionCheck.stop();
  await drain(server);
  await log.close();
});

/**
 * Stops accepting connections and resolves once every open one is closed.
 * `server.close()` closes only the connections idle at that moment; a
 * keep-alive connection that finishes its request later would stay open until
 * its timeout, so idle ones are swept until none is left.
 */
function drain(http: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const sweep = setInterval(() => http.closeIdleConnections(), 50);
    http.close((err) => {
      clearInterval(sweep);
      if (err) reject(err);
      else resolve();
    });
  });
}
