/**
 * The proxy's own endpoints, served on the ingest port (the proxy port
 * forwards every path): readiness for a load balancer in front of the proxy,
 * status as JSON, and its self-metrics among the process's at /metrics. Readiness ignores the
 * event store on purpose: without Redis the proxy still serves traffic.
 * Status and metrics name the upstreams: with read tokens configured they
 * take one, as every other route that carries figures does.
 */
import { Router, type RequestHandler } from 'express';
import { registerScraped, type Registry, type ScrapedMetric } from '@pulse/runtime';
import type { Proxy } from './proxy.js';
import type { UpstreamStatus } from './upstream-pool.js';

export function proxyRoutes(proxy: Proxy, readers: RequestHandler): Router {
  const router = Router();
  router.get('/proxy/readyz', (_req, res) => {
    const ready = proxy.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  router.get('/proxy/status', readers, (_req, res) => {
    res.json(proxy.status());
  });
  return router;
}

/** The proxy's figures among the process's self-metrics (GET /metrics), read from its status at scrape time. */
export function registerProxyMetrics(proxy: Proxy, registry: Registry): void {
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
