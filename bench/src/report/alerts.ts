/** Alert evaluation per snapshot (issue 14): 1,000 rules × 20 groups on a 1,000-cell snapshot. */
import type { AlertEvalResult } from '../alert-eval.js';
import { n, table } from './format.js';

export function alertEvalSection(r: AlertEvalResult): string[] {
  const rows = r.runs.map((run) => [
    `${run.mix}, ${run.state}`,
    n(run.rules),
    n(run.groups),
    n(run.distinctViews),
    `${n(run.evaluateMs.p50, 1)} / ${n(run.evaluateMs.p99, 1)}`,
  ]);
  return [
    '## Alert evaluation',
    '',
    `One evaluation per snapshot on the leading aggregator, off the tick's path: every rule over every group, each group's figure read`,
    `from a view built by the gateways' view code on a replica of a ${n(r.cells)}-cell snapshot (bench/src/alert-eval.ts), in-memory`,
    'state store. Shared: every rule unfiltered and grouped by endpoint (20 views); filtered: half the rules also filtered to one of 50',
    'models (520 views). Steady: no alert changes state; all pending: every group crosses its threshold (20,000 alerts held).',
    '',
    ...table(['mix', 'rules', 'groups', 'views built', 'ms per evaluation p50 / p99'], rows),
    '',
  ];
}
