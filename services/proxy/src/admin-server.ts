/**
 * The proxy's own endpoints, on a port of their own (PULSE_PROXY_ADMIN_PORT):
 * the proxy port forwards every path, so none of them can live there.
 *
 * - `GET /healthz`: the process is alive.
 * - `GET /readyz`: an upstream is healthy and the proxy is not stopping.
 *   Ignores the event store on purpose: without Redis the proxy still serves
 *   traffic, so a probe must not take it out of rotation.
 * - `GET /status`: node, readiness, active requests, upstreams, event counters.
 * - `GET /metrics`: the process's self-metrics with the proxy's figures.
 *
 * Status and metrics name the upstreams: with read tokens configured they take
 * one (`Authorization: Bearer`, as Prometheus sends it), as every other route
 * that carries figures does; refusals count in `pulse_rejections_total`. The
 * probes stay open.
 */
import type http from 'node:http';
import { ErrorCode } from '@pulse/protocol';
import {
  bearerChallenge,
  bearerToken,
  LimitCounters,
  opsServer,
  probeRoutes,
  registerScraped,
  SelfMetrics,
  sendError,
  sendJson,
  TokenSet,
  type OpsRoute,
  type Registry,
  type ScrapedMetric,
} from '@pulse/runtime';
import type { Proxy } from './proxy.js';
import type { UpstreamStatus } from './upstream-pool.js';

export interface AdminDeps {
  readonly proxy: Proxy;
  /** PULSE_READ_TOKENS: empty leaves status and metrics open. */
  readonly readTokens: readonly string[];
  /** The process's self-metrics; the proxy's are added to it. Default: a registry of its own. */
  readonly metrics?: SelfMetrics;
}

export function createAdminServer({ proxy, readTokens, metrics = new SelfMetrics() }: AdminDeps): http.Server {
  registerProxyMetrics(proxy, metrics.registry);
  const counters = new LimitCounters(['unauthorized'], metrics);
  const readers = new TokenSet(readTokens);
  const guard = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (!readers.required) return false;
    const presented = bearerToken(req.headers.authorization);
    if (readers.accepts(presented)) return false;
    counters.hit('unauthorized');
    // The message never repeats what was presented: it may be a real token sent to the wrong place.
    const message = presented === undefined ? 'a bearer token is required' : 'the bearer token is not valid';
    sendError(res, ErrorCode.UNAUTHORIZED, message, { 'WWW-Authenticate': bearerChallenge(presented !== undefined) });
    return true;
  };
  const probes = probeRoutes(() => (proxy.ready() ? null : 'no healthy upstream, or stopping'), metrics);
  const routes: Record<string, OpsRoute> = {
    '/healthz': probes['/healthz']!,
    '/readyz': probes['/readyz']!,
    '/status': { guard, answer: (_req, res) => sendJson(res, 200, proxy.status()) },
    '/metrics': { ...probes['/metrics']!, guard },
  };
  return opsServer(routes);
}

/** The proxy's figures among the process's self-metrics (GET /metrics), read from its status at scrape time. */
function registerProxyMetrics(proxy: Proxy, registry: Registry): void {
  const events = () => proxy.status().events;
  const perUpstream = (value: (u: UpstreamStatus) => number) => () =>
    proxy.status().upstreams.map((u) => [{ upstream: u.url }, value(u)] as const);
  const scraped: ScrapedMetric[] = [
    { name: 'pulse_proxy_events_appended_total', type: 'counter', help: 'Observed events accepted by the event store.', read: () => events().appended },
    { name: 'pulse_proxy_events_dropped_total', type: 'counter', help: 'Observed events lost: queue full or store down.', read: () => events().dropped },
    { name: 'pulse_proxy_events_queued', type: 'gauge', help: 'Observed events waiting for the next append.', read: () => events().queued },
    { name: 'pulse_proxy_upstream_healthy', type: 'gauge', help: '1 while the upstream is in rotation.', labelNames: ['upstream'], read: perUpstream((u) => (u.healthy ? 1 : 0)) },
    { name: 'pulse_proxy_upstream_in_flight', type: 'gauge', help: 'Requests on the upstream now.', labelNames: ['upstream'], read: perUpstream((u) => u.inFlight) },
    { name: 'pulse_proxy_upstream_requests_total', type: 'counter', help: 'Requests sent to the upstream.', labelNames: ['upstream'], read: perUpstream((u) => u.requests) },
  ];
  for (const metric of scraped) registerScraped(registry, metric);
}
