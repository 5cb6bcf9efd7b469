/** Alert evaluation per snapshot (issue 14): 1,000 rules × 20 groups on a 1,000-cell snapshot; detection latency and webhook throughput. */
import type { AlertEvalResult } from '../alert-eval.js';
import type { AlertLatencyResult } from '../alert-latency.js';
import type { Quantiles } from '../timing.js';
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

/** Detection latency and webhook throughput on the split services (bench/src/alert-latency.ts). */
export function alertLatencySection(r: AlertLatencyResult): string[] {
  const q = (x: Quantiles) => `${n(x.p50)} / ${n(x.p90)} / ${n(x.p99)} / ${n(x.max)}`;
  const t = r.throughput;
  return [
    '## Alert detection latency and webhook throughput',
    '',
    `Real processes: redis-server, ingest, one aggregator (the evaluator and a BullMQ delivery worker) at a ${n(r.tickMs)} ms tick and a`,
    `${n(r.windowSeconds)} s window, a webhook receiver on 127.0.0.1. ${n(r.rules)} rules \`requests_per_sec > 2·i\` (\`for: 1s\`, grouped by node)`,
    `while the traffic of ${n(r.nodes)} nodes ramps through ingest, so groups cross their thresholds a few per snapshot (at most`,
    `${n(r.maxPerSnapshot)} on one). Detection latency: the firing notification's arrival at the receiver − its alert's \`startsAt\`, the time`,
    'of the snapshot on which it fired (the one that crossed once `for` had passed). The stages come from each BullMQ job\'s timestamps.',
    '',
    ...table(
      ['ms (p50 / p90 / p99 / max)', `${n(r.fired)} alerts`],
      [
        ['snapshot → webhook request', q(r.detectionMs)],
        ['snapshot → job in BullMQ (evaluation, fenced commit, outbox handover)', q(r.stagesMs.toQueue)],
        ['job added → taken by the worker', q(r.stagesMs.toWorker)],
        ['taken → request at the receiver (resolution check, HTTP)', q(r.stagesMs.toReceiver)],
      ],
    ),
    '',
    `Throughput: ${n(t.notifications)} notifications enqueued at once (in ${n(t.enqueueMs)} ms) into the same queue and delivered by the`,
    `aggregator's worker (concurrency ${n(t.workerConcurrency)}) to a receiver answering 200 at once: all in ${n(t.deliveredMs)} ms,`,
    `**${n(t.perSec)} notifications/s**.`,
    '',
  ];
}
