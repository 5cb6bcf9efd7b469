/** Distinct views beside one shared view (issue 19), per client count, from one run. */
import type { ViewsResult } from '../scenarios/views.js';
import { machineLoad, n, pct, table } from './format.js';

export function viewsSection(r: ViewsResult): string[] {
  const rows = r.runs.map((run) => {
    const f = run.figures;
    return [
      `**${n(run.clients)}** ${run.kind}`,
      pct(f.serverCpuPct),
      `${n(f.intervalMs.p50)} / ${n(f.intervalMs.p99)} / ${n(f.intervalMs.max)}`,
      `${n(100 * (1 - f.missing / Math.max(1, f.snapshots * run.clients)), 1)} %`,
      n(run.views),
      n(run.slowed),
      n(f.messagesPerSec),
    ];
  });
  return [
    '## Distinct views: every client its own filter',
    '',
    `One gateway, clients at interval ${r.tickMs / 1000} s on a ${r.tickMs} ms tick, the feeder sending ${n(r.feedPerSec)} events/s over ${r.cells}.`,
    'Shared: every client on the unfiltered view. Distinct: each client a view of its own — a random subset of endpoints, of endpoints',
    'and models, or of endpoints and nodes, and a random subset of metric types (bench/src/scenarios/views.ts). Measured over',
    `${r.measureSeconds} s after a warm-up. Updates delivered: received ÷ (clients × snapshots in the window); a view the budget`,
    '(PULSE_GATEWAY_VIEW_BUDGET_MS) slowed sends its clients every 2nd–8th snapshot, so they get fewer.',
    '',
    ...table(['clients, views', 'gateway CPU', 'interval p50 / p99 / max ms', 'updates delivered', 'distinct views', 'slowed', 'msgs/s'], rows),
    '',
    `Over each window: ${r.runs.map((run) => `${n(run.clients)} ${run.kind}, ${machineLoad(run.cpu)}`).join('; ')}.`,
    '',
  ];
}
