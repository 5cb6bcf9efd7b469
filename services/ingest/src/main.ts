/**
 * One ingest node: reads the environment once, appends to Redis, listens.
 * With PULSE_PROXY_UPSTREAMS it also runs the proxy (docs/PROXY.md) on
 * PULSE_PROXY_PORT, writing what it observes to the same event log.
 * On SIGTERM: /readyz turns 503, no new connections, in-flight requests
 * finish (so every event answered 202 is in Redis; proxied requests get the
 * deadline less a flush reserve), queued proxy events are flushed, Redis
 * closes, exit 0.
 */
import { createServer, type Server } from 'node:http';
import { pulseKeys } from '@pulse/protocol';
import { connectRedis, createLogger, exitOnFatal, loadConfigOrExit, onShutdown, RedisEventLog } from '@pulse/runtime';
import { createIngestApp } from './app.js';
import { eventRetentionMs, ingestConfigShape, proxySettings } from './config.js';
import { createProxy } from './proxy/proxy.js';
import { probeReadiness } from './readiness.js';

const config = loadConfigOrExit('ingest', ingestConfigShape);
const logger = createLogger('ingest', config.LOG_LEVEL);
exitOnFatal(logger);

const log = new RedisEventLog(connectRedis(config.REDIS_URL, 'producer', 'ingest', logger), {
  keys: pulseKeys(config.PULSE_KEY_PREFIX),
  retentionMs: eventRetentionMs(config.PULSE_WINDOW_SECONDS),
});
const store = probeReadiness(() => log.ping());
let stopping = false;

const proxyConfig = proxySettings(config);
const proxy = proxyConfig && createProxy({ settings: proxyConfig, log, logger });
const app = createIngestApp({ config, log, logger, isReady: () => !stopping && store.ready, proxy });
const server = createServer(app);
server.on('error', (err) => {
  logger.fatal({ err }, 'cannot listen');
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  logger.info({ address: server.address() }, 'ingest listening');
});
if (proxy) {
  proxy.server.on('error', (err) => {
    logger.fatal({ err }, 'proxy cannot listen');
    process.exit(1);
  });
  proxy.server.listen(config.PULSE_PROXY_PORT, config.HOST, () => {
    logger.info({ address: proxy.server.address(), upstreams: config.PULSE_PROXY_UPSTREAMS }, 'proxy listening');
  });
}

/** Kept from the shutdown deadline for the last append of proxy events, which fails within 2 s. */
const FLUSH_RESERVE_MS = 2000;

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  stopping = true;
  store.stop();
  const grace = Math.max(0, config.PULSE_SHUTDOWN_TIMEOUT_MS - FLUSH_RESERVE_MS);
  await Promise.all([drain(server), proxy?.close(grace)]);
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
