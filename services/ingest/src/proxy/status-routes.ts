/**
 * The proxy's own endpoints, served on the ingest port (the proxy port
 * forwards every path): readiness for a load balancer in front of the proxy,
 * status as JSON, and self-metrics for Prometheus. Readiness ignores the
 * event store on purpose: without Redis the proxy still serves traffic.
 * Status and metrics name the upstreams: with read tokens configured they
 * take one, as every other route that carries figures does.
 */
import { Router, type RequestHandler } from 'express';
import type { Proxy, ProxyStatus } from './proxy.js';

export function proxyRoutes(proxy: Proxy, readers: RequestHandler): Router {
  const router = Router();
  router.get('/proxy/readyz', (_req, res) => {
    const ready = proxy.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  router.get('/proxy/status', readers, (_req, res) => {
    res.json(proxy.status());
  });
  router.get('/metrics', readers, (_req, res) => {
    res.type('text/plain; version=0.0.4').send(prometheusText(proxy.status()));
  });
  return router;
}

function prometheusText(s: ProxyStatus): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [labels: string, value: number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const perUpstream = (value: (u: ProxyStatus['upstreams'][number]) => number): [string, number][] =>
    s.upstreams.map((u) => [`{upstream=${JSON.stringify(u.url)}}`, value(u)]);
  metric('pulse_proxy_events_appended_total', 'counter', 'Observed events accepted by the event store.', [['', s.events.appended]]);
  metric('pulse_proxy_events_dropped_total', 'counter', 'Observed events lost: queue full or store down.', [['', s.events.dropped]]);
  metric('pulse_proxy_events_queued', 'gauge', 'Observed events waiting for the next append.', [['', s.events.queued]]);
  metric('pulse_proxy_upstream_healthy', 'gauge', '1 while the upstream is in rotation.', perUpstream((u) => (u.healthy ? 1 : 0)));
  metric('pulse_proxy_upstream_in_flight', 'gauge', 'Requests on the upstream now.', perUpstream((u) => u.inFlight));
  metric('pulse_proxy_upstream_requests_total', 'counter', 'Requests sent to the upstream.', perUpstream((u) => u.requests));
  return lines.join('\n') + '\n';
}
