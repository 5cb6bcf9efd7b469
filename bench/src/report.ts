/**
 * Renders docs/PERFORMANCE.md from the results of one bench run
 * (bench/results/latest.json), with a summary of the last soak
 * (bench/results/soak.json) when there is one.
 */
import type { MachineInfo } from './lib/machine.js';
import type { EndToEndResult } from './scenarios/end-to-end.js';
import type { FanoutResult } from './scenarios/fanout.js';
import type { FleetResult } from './fleet.js';
import type { ViewsResult } from './scenarios/views.js';
import type { AlertEvalResult } from './alert-eval.js';
import type { AlertLatencyResult } from './alert-latency.js';
import type { IngestResult } from './scenarios/ingest.js';
import type { ProxyResult } from './scenarios.js';
import type { PrometheusCostResult } from './prometheus-cost.js';
import type { PartitionsResult } from './partitions-cost.js';
import type { ClusterResult } from './cluster-cost.js';
import type { CellsResult } from './snapshot-views.js';
import type { SketchResult } from './sketch-merge.js';
import type { ValidateResult } from './validate-events.js';
import type { SoakResult } from './soak/result.js';
import { cellsSection, sketchSection, validateSection } from './report/cells.js';
import { endToEndSection } from './report/end-to-end.js';
import { fanoutSection } from './report/fanout.js';
import { fleetSection } from './report/fleet.js';
import { viewsSection } from './report/views.js';
import { alertEvalSection, alertLatencySection } from './report/alerts.js';
import { ingestSection } from './report/ingest.js';
import { soakSection } from './report/soak.js';
import { prometheusSection } from './report/prometheus.js';
import { clusterSection, partitionsSection } from './report/partitions.js';
import { targets, targetsSection } from './report/targets.js';

export interface BenchResults {
  machine: MachineInfo;
  startedAt: string;
  durationSeconds?: number;
  loadAvgAtEnd?: number[];
  sketch?: SketchResult;
  validate?: ValidateResult;
  snapshot?: CellsResult[];
  ingest?: IngestResult;
  fanout?: FanoutResult;
  'fanout-fleet'?: FanoutResult;
  fleet?: FleetResult;
  views?: ViewsResult;
  'alert-eval'?: AlertEvalResult;
  'alert-latency'?: AlertLatencyResult;
  e2e?: EndToEndResult;
  proxy?: ProxyResult;
  prometheus?: PrometheusCostResult;
  partitions?: PartitionsResult;
  cluster?: ClusterResult;
}

export function renderReport(raw: Record<string, unknown>, soak?: SoakResult): string {
  const r = { ...raw } as unknown as BenchResults;
  const m = r.machine;
  const out: string[] = [
    '# Performance',
    '',
    `Measured by \`npm run bench\` on ${m.cpus} × ${m.model}, ${m.memGiB} GiB, Node ${m.node}, ${r.startedAt}` +
      (r.durationSeconds ? ` (the run took ${Math.floor(r.durationSeconds / 60)} min ${r.durationSeconds % 60} s)` : '') +
      '.',
    `Load average before the run ${m.loadAvg?.join(' / ') ?? '–'}, after ${r.loadAvgAtEnd?.join(' / ') ?? '–'} (1 / 5 / 15 min; the bench itself adds to it).`,
    'Every figure below comes from that one run (bench/results/latest.json); every ratio compares figures measured side by side in it.',
    '',
    '## Method',
    '',
    '`npm run bench` builds, then starts what each scenario needs as separate processes: a fresh `redis-server` (no persistence),',
    "Pulse's services exactly as their start scripts run them (`node services/<name>/dist/main.js`, configuration in the environment),",
    'and load generators (bench/src/workers/) driven over IPC. The services and the load generators share this machine\'s cores, so',
    'the load generators\' CPU is reported beside every figure: they must not be the bottleneck. CPU is utime + stime of each process',
    'from /proc/<pid>/stat over the measured window (% of one core), memory is VmRSS from /proc/<pid>/status. All clocks are the',
    'same machine\'s wall clock. `BENCH_PROFILE=<dir> npm run bench` writes a V8 CPU profile of every service to <dir>.',
    '',
    ...targetsSection(targets(r)),
  ];
  const failed = Object.entries(raw).filter(([, v]) => typeof v === 'object' && v !== null && 'error' in v);
  for (const [name, v] of failed) {
    out.push(`## Scenario \`${name}\` failed in this run`, '', '```', String((v as { error: unknown }).error).split('\n').slice(0, 6).join('\n'), '```', '');
    delete (r as unknown as Record<string, unknown>)[name];
  }
  if (r.ingest) out.push(...ingestSection(r.ingest));
  if (r.partitions) out.push(...partitionsSection(r.partitions));
  if (r.cluster) out.push(...clusterSection(r.cluster));
  if (r.fanout) out.push(...fanoutSection(r.fanout));
  if (r['fanout-fleet']) out.push(...fanoutSection(r['fanout-fleet'], '## 2b. Fan-out at a fleet\'s shape (64 nodes, 2,000 requests/s)'));
  if (r.views) out.push(...viewsSection(r.views));
  if (r.e2e) out.push(...endToEndSection(r.e2e));
  if (r.prometheus) out.push(...prometheusSection(r.prometheus));
  if (r.snapshot) out.push(...cellsSection(r.snapshot));
  if (r.fleet) out.push(...fleetSection(r.fleet));
  if (r['alert-eval']) out.push(...alertEvalSection(r['alert-eval']));
  if (r['alert-latency']) out.push(...alertLatencySection(r['alert-latency']));
  if (r.sketch) out.push(...sketchSection(r.sketch));
  if (r.validate) out.push(...validateSection(r.validate));
  if (r.proxy) {
    // The proxy module renders its own section, heading included.
    if (r.proxy.markdown) out.push(r.proxy.markdown.trimEnd(), '');
    else out.push('## Ingest proxy overhead', '', '```json', JSON.stringify(r.proxy.result, null, 2), '```', '');
  }
  if (soak) out.push(...soakSection(soak));
  return out.join('\n') + '\n';
}
