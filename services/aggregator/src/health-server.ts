/**
 * The aggregator's HTTP face: health, readiness and self-metrics only.
 * Ready means Redis answers and this replica either leads or stands by
 * healthily; `/status` says which.
 */
import http from 'node:http';
import type { AggregatorStatus } from './aggregator.js';

export interface HealthDeps {
  status(): AggregatorStatus;
  storeReachable(): boolean;
}

export function createHealthServer(deps: HealthDeps): http.Server {
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
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        return res.end(prometheusText(deps.status()));
      default:
        return json(404, { error: 'not found' });
    }
  });
}

function prometheusText(s: AggregatorStatus): string {
  const lines = [
    '# HELP pulse_aggregator_leader 1 while this replica is the active aggregator.',
    '# TYPE pulse_aggregator_leader gauge',
    `pulse_aggregator_leader ${s.role === 'leader' ? 1 : 0}`,
    '# HELP pulse_aggregator_cells Endpoint×model cells in the window.',
    '# TYPE pulse_aggregator_cells gauge',
    `pulse_aggregator_cells ${s.cells}`,
    '# HELP pulse_aggregator_in_flight Requests started and not yet ended.',
    '# TYPE pulse_aggregator_in_flight gauge',
    `pulse_aggregator_in_flight ${s.inFlight}`,
    '# HELP pulse_aggregator_labels_folded_total Events whose endpoint or model was folded into __other__ by the cardinality guard.',
    '# TYPE pulse_aggregator_labels_folded_total counter',
    `pulse_aggregator_labels_folded_total ${s.labelsFolded}`,
  ];
  if (s.lagMs !== null) {
    lines.push('# HELP pulse_aggregator_lag_ms Newest applied entry to last snapshot.', '# TYPE pulse_aggregator_lag_ms gauge', `pulse_aggregator_lag_ms ${s.lagMs}`);
  }
  return lines.join('\n') + '\n';
}
