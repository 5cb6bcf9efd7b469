/**
 * The aggregator's HTTP face: health, readiness, status and self-metrics
 * only (the ops-server style of @pulse/runtime). Ready means Redis answers;
 * the replica leads or stands by healthily, and readiness and `/status` say
 * which. Internal: no token (docs/SECURITY.md).
 */
import type http from 'node:http';
import { opsServer, probeRoutes, registerScraped, SelfMetrics, sendJson, type ScrapedMetric } from '@pulse/runtime';
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
  return opsServer({
    ...probeRoutes(
      () => (deps.storeReachable() ? null : 'redis unreachable'),
      metrics,
      () => ({ role: deps.status().role }),
    ),
    '/status': { answer: (_req, res) => sendJson(res, 200, deps.status()) },
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
    {
      name: 'pulse_aggregator_ticks_skipped_total',
      type: 'counter',
      help: 'Tick edges that passed without a tick: one ran past them, or the event loop started it late.',
      read: () => status().ticksSkipped,
    },
    { name: 'pulse_aggregator_last_tick_ms', type: 'gauge', help: 'How long the last tick took, ms (renew or win the lease, then publish or expire).', read: () => status().lastTickMs },
  ];
  for (const metric of scraped) registerScraped(metrics.registry, metric);
}
