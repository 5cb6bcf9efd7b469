/**
 * One proxy (docs/PROXY.md): reads the environment once, forwards callers'
 * requests on PORT to the upstreams, writes the events it observes of the
 * recorded routes to the event log, and serves its own endpoints on
 * PULSE_PROXY_ADMIN_PORT.
 * On SIGTERM: /readyz turns 503 and the proxy stops accepting; running
 * requests finish until the shutdown deadline less a flush reserve, the rest
 * are ended (`proxy_shutdown`); queued events are appended; Redis closes;
 * exit 0.
 */
import type { Server } from 'node:http';
import { checkPartitionsInBackground, createLogger, exitOnFatal, loadConfigOrExit, onShutdown, openRedisEventLog } from '@pulse/runtime';
import { createAdminServer } from './admin-server.js';
import { proxyConfigShape, proxySettings } from './config.js';
import { createProxy } from './proxy.js';

const config = loadConfigOrExit('proxy', proxyConfigShape);
const logger = createLogger('proxy', config.LOG_LEVEL);
exitOnFatal(logger);

const log = openRedisEventLog(config, 'proxy', logger);
// Every writer of the log routes by the deployment's PULSE_PARTITIONS: a mismatch stops the proxy (exit 2).
const partitionCheck = checkPartitionsInBackground('proxy', config, 'proxy', logger);
const proxy = createProxy({ settings: proxySettings(config), log, logger });
const admin = createAdminServer({ proxy, readTokens: config.PULSE_READ_TOKENS });

listen(proxy.server, config.PORT, 'proxy', { upstreams: config.PULSE_PROXY_UPSTREAMS, routes: config.PULSE_PROXY_ROUTES });
listen(admin, config.PULSE_PROXY_ADMIN_PORT, 'admin endpoints');

/** Kept from the shutdown deadline for the last append of events, which fails within 2 s. */
const FLUSH_RESERVE_MS = 2000;

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  // The admin port stays open meanwhile, so probes read 503 rather than a refused connection.
  partitionCheck.stop();
  await proxy.close(Math.max(0, config.PULSE_SHUTDOWN_TIMEOUT_MS - FLUSH_RESERVE_MS));
  await log.close();
  admin.closeAllConnections();
  await new Promise((resolve) => admin.close(resolve));
});

function listen(server: Server, port: number, what: string, details: Record<string, unknown> = {}): void {
  server.on('error', (err) => {
    logger.fatal({ err, host: config.HOST, port }, `${what}: cannot listen`);
    process.exit(1);
  });
  server.listen(port, config.HOST, () => logger.info({ address: server.address(), ...details }, `${what} listening`));
}
