/**
 * The aggregator's HTTP face: health, readiness and self-metrics only.
 * Ready means Redis answers and this replica either leads or stands by
 * healthily; `/status` says which. Internal: no token (docs/SECURITY.md).
 */
import http from 'node:http';
import { PROMETHEUS_CONTENT_TYPE, registerScraped, SelfMetrics, type ScrapedMetric } from '@pulse/runtime';
import type { AggregatorStatus } from './aggregator.js';

export interface HealthDeps {
  status(): AggregatorStatus;
  storeReachable(): boolean;
  /** The process's self-metrics; the aggregator's own are added to it. Default: a registry of its own. */
  metrics?: SelfMetrics;
}

export function createHealthServer(deps: HealthDeps): http.Server {
  const metrics = deps.metrics ?? new SelfMetrics();
  registerAggregatorMetrics(metrics, deps.status);
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    switch (path) {
      case '/healthz':
        return json(200, { status: 'ok' });
      case '/readyz':
        return deps.storeReachable()
          ? json(200, { status: 'ready', role: deps.status().role })
          : json(503, { status: 'not ready', reason: 'redis unreachable' });
      case '/status':
        return json(200, deps.status());
      case '/metrics':
        return void metrics.exposition().then(
          (text) => {
            res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
            res.end(text);
          },
          (err: unknown) => json(500, { error: `could not collect metrics: ${String(err)}` }),
        );
      default:
        return json(404, { error: 'not found' });
    }
  });
}

/** The replica's role and what its window holds, in either role: a standby's memory shows here too. */
export function registerAggregatorMetrics(metrics: SelfMetrics, status: () => AggregatorStatus): void {
  const scraped: ScrapedMetric[] = [
    { name: 'pulse_aggregator_leader', type: 'gauge', help: '1 while this replica is the active aggregator.', read: () => (status().role === 'leader' ? 1 : 0) },
    { name: 'pulse_aggregator_cells', type: 'gauge', help: 'Endpoint×model cells in the window.', read: () => status().cells },
    { name: 'pulse_aggregator_buckets', type: 'gauge', help: 'Time buckets in the window: at most window ÷ tick + 1.', read: () => status().buckets },
    { name: 'pulse_aggregator_nodes', type: 'gauge', help: 'Producing nodes heard from in the last 30 s.', read: () => status().nodes },
    { name: 'pulse_aggregator_in_flight', type: 'gauge', help: 'Requests started and not yet ended.', read: () => status().inFlight },
    {
      name: 'pulse_aggregator_recorded_entries',
      type: 'gauge',
      help: 'Log entries whose totals a standby keeps for a takeover (the last window + tick).',
      read: () => status().recordedEntries,
    },
    { name: 'pulse_aggregator_events_applied', type: 'gauge', help: 'Events applied to the window since this replica (re)built it.', read: () => status().eventsApplied },
    {
      name: 'pulse_aggregator_labels_folded_total',
      type: 'counter',
      help: 'Events whose endpoint or model was folded into __other__ by the cardinality guard.',
      read: () => status().labelsFolded,
    },
    {
      name: 'pulse_aggregator_lag_ms',
      type: 'gauge',
      help: 'Newest applied entry to the last snapshot, ms (0 until this replica has published one).',
      read: () => status().lagMs ?? 0,
    },
  ];
  for (const metric of scraped) registerScraped(metrics.registry, metric);
}
