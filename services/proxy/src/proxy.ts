/**
 * The proxy: an HTTP server that forwards every request to one of the
 * OpenAI-compatible upstreams and writes the request.start / request.end
 * events it observes of the recorded routes (routes.ts) to the event log.
 * No `listen` here: main.ts (or a test) owns the port.
 */
import http from 'node:http';
import type { EventLog, Logger } from '@pulse/runtime';
import { EventBatcher, type BatcherSettings, type BatcherStats } from './event-batcher.js';
import { createForwarder } from './forwarder.js';
import { startHealthChecks, type HealthCheckSettings } from './health-checks.js';
import { ProxyFailure } from './openai-error.js';
import { recordedRoutes } from './routes.js';
import { UpstreamPool, type UpstreamStatus } from './upstream-pool.js';

/** Period of the proxy's node.gauge heartbeat: well under the 30 s node-silence rule. */
export const HEARTBEAT_MS = 10_000;

export interface ProxySettings {
  /** Base URLs, at least one. */
  readonly upstreams: readonly string[];
  /** Paths whose POST requests are recorded; every other request is only forwarded. */
  readonly routes: readonly string[];
  /** `node` of every event written. */
  readonly node: string;
  readonly health: HealthCheckSettings;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly events: BatcherSettings;
  /** Period of the node.gauge heartbeat (HEARTBEAT_MS in production). */
  readonly heartbeatMs: number;
}

export interface ProxyDeps {
  readonly settings: ProxySettings;
  readonly log: EventLog;
  readonly logger: Logger;
}

export interface ProxyStatus {
  readonly node: string;
  readonly ready: boolean;
  /** Requests between arrival and end, over all upstreams, recorded or not. */
  readonly active: number;
  readonly upstreams: readonly UpstreamStatus[];
  readonly events: BatcherStats;
}

export interface Proxy {
  /** The proxy's HTTP server, not yet listening. */
  readonly server: http.Server;
  /** Ready to serve: not closing, and an upstream is healthy. Independent of the event store. */
  ready(): boolean;
  status(): ProxyStatus;
  /**
   * Stops accepting, lets active requests finish for up to `graceMs`, ends the
   * rest (recorded as `proxy_shutdown`), then appends the queued events.
   */
  close(graceMs: number): Promise<void>;
}

export function createProxy({ settings, log, logger }: ProxyDeps): Proxy {
  const proxyLogger = logger.child({ component: 'proxy' });
  const pool = new UpstreamPool(settings.upstreams, settings, proxyLogger);
  const batcher = new EventBatcher(log, settings.events, proxyLogger);
  const forwarder = createForwarder({
    pool,
    node: settings.node,
    records: recordedRoutes(settings.routes),
    emit: (event) => batcher.push(event),
  });
  const health = startHealthChecks(pool, settings.health);
  const server = http.createServer(forwarder.handle);
  // A node silent for 30 s drops out of queue depth and active streams (docs/PROTOCOL.md §4):
  // a heartbeat gauge keeps streams longer than that counted while they last. It counts
  // the recorded requests only, as the starts and ends it stands in for do.
  const heartbeat = setInterval(
    () => batcher.push({ type: 'node.gauge', ts: Date.now() / 1000, node: settings.node, queue_depth: forwarder.recording }),
    settings.heartbeatMs,
  );
  heartbeat.unref();
  let closing: Promise<void> | null = null;

  const ready = () => closing === null && pool.anyHealthy();

  return {
    server,
    ready,
    status: () => ({ node: settings.node, ready: ready(), active: forwarder.active, upstreams: pool.status(), events: batcher.stats() }),
    close: (graceMs) => {
      closing ??= (async () => {
        health.stop();
        clearInterval(heartbeat);
        await drain(server, graceMs, () => forwarder.abortAll(ProxyFailure.SHUTDOWN));
        await batcher.close();
        await pool.close();
      })();
      return closing;
    },
  };
}

/**
 * Resolves once every connection is closed. `server.close()` closes only the
 * connections idle at that moment, so idle ones are swept until none is left;
 * at the grace deadline the active requests are ended and every connection
 * with them.
 */
function drain(server: http.Server, graceMs: number, endActive: () => void): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      endActive();
      server.closeAllConnections();
    }, graceMs);
    // An error here only says the server was not listening: nothing to drain.
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
  });
}
