/**
 * Alert evaluation cost (issue 14's budget: 1,000 rules × 20 group values
 * against a 1,000-cell snapshot within 10 ms per tick), in one process: the
 * evaluator as the leading aggregator runs it, views built by the gateways'
 * view code from a replica of a full 1,000-cell window, the in-memory state
 * store and queue (the Redis store's round trip is not CPU of this process
 * and happens only when something changed).
 *
 * Two mixes of rules, each with `group_by: [endpoint]` over 20 endpoints:
 * - shared: every rule unfiltered, so the 20 groups share 20 views;
 * - filtered: half the rules filtered to one of the 50 models, so up to
 *   1,020 distinct views are built per evaluation.
 * Measured steady (no alert changes state) and with every alert pending
 * (a threshold every group crosses: 20,000 state writes per evaluation).
 */
import { AlertEvaluator, BASE_FIGURES, MemoryAlertStateStore, MemoryNotificationQueue, parseAlertRules, type ViewFilter } from '@pulse/alerts';
import { buildReplicaView, SnapshotReplica, type CellFilter } from '@pulse/metrics';
import { decodeSnapshot, encodeSnapshot } from '@pulse/protocol';
import { filledWindow } from './snapshot-views.js';
import { percentile, round } from './timing.js';

const TICK_MS = 500;
const RULES = 1000;

export interface AlertEvalRun {
  mix: 'shared' | 'filtered';
  state: 'steady' | 'all pending';
  rules: number;
  groups: number;
  distinctViews: number;
  evaluateMs: { p50: number; p99: number };
}

export interface AlertEvalResult {
  cells: number;
  runs: AlertEvalRun[];
}

function rulesJson(mix: AlertEvalRun['mix'], models: string[], crossed: boolean): string {
  const figures = BASE_FIGURES.filter((f) => f !== 'queue_depth' && f !== 'active_streams');
  const rules = Array.from({ length: RULES }, (_, i) => ({
    name: `Rule${i}`,
    figure: figures[i % figures.length],
    // Every figure is ≥ 0: `> -1` holds for every group (all pending), `> 1e12` for none.
    op: '>',
    value: crossed ? -1 : 1e12,
    for: '1h',
    group_by: ['endpoint'],
    ...(mix === 'filtered' && i % 2 === 1 ? { filters: { model: models[i % models.length] } } : {}),
  }));
  return JSON.stringify({ receivers: [], rules });
}

function cellFilter(f: ViewFilter): CellFilter {
  return { endpoints: new Set(f.endpoints ?? []), models: new Set(f.models ?? []), nodes: new Set(f.nodes ?? []) };
}

async function measureRun(replica: SnapshotReplica, now: number, models: string[], mix: AlertEvalRun['mix'], state: AlertEvalRun['state']): Promise<AlertEvalRun> {
  const rules = parseAlertRules(rulesJson(mix, models, state === 'all pending'), 'json');
  const evaluator = new AlertEvaluator({ rules, store: new MemoryAlertStateStore(), queue: new MemoryNotificationQueue({ receivers: [] }) });
  const snapshot = replica.snapshot!;
  const labels = {
    endpoints: [...replica.aggregates.byEndpoint.keys()],
    models: [...new Set(snapshot.cells.map((c) => c.model))],
    nodes: [...replica.aggregates.byNode.keys()],
  };
  let built = 0;
  const view = (f: ViewFilter) => {
    built++;
    return buildReplicaView(replica, cellFilter(f)).lazyData;
  };
  const times: number[] = [];
  let distinctViews = 0;
  const fence = { key: 'bench', epoch: 1 };
  for (let i = 0; i < 40; i++) {
    built = 0;
    // Each tick the state machine sees a later time, as it would live.
    const nowMs = now + i * TICK_MS;
    const t0 = process.hrtime.bigint();
    const result = await evaluator.evaluate({ nowMs, view, labels, fence });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (result.status !== 'evaluated') throw new Error(`evaluation ${result.status}: ${String(result.error)}`);
    // The first evaluations warm the compiler up (and, all pending, write every alert's first state).
    if (i >= 10) times.push(ms);
    distinctViews = built;
  }
  times.sort((a, b) => a - b);
  const groups = (await evaluator.listAlerts()).length;
  return {
    mix,
    state,
    rules: RULES,
    groups: state === 'all pending' ? groups : RULES * labels.endpoints.length,
    distinctViews,
    evaluateMs: { p50: round(percentile(times, 0.5)), p99: round(percentile(times, 0.99)) },
  };
}

export async function benchAlertEvaluation(): Promise<AlertEvalResult> {
  const cells = 1000;
  const now = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  const { window, models } = filledWindow(cells, now);
  window.advance(now);
  const replica = new SnapshotReplica();
  replica.load(decodeSnapshot(encodeSnapshot(window.snapshot(now, 1, 1, 0))));
  const runs: AlertEvalRun[] = [];
  for (const mix of ['shared', 'filtered'] as const) {
    for (const state of ['steady', 'all pending'] as const) runs.push(await measureRun(replica, now, models, mix, state));
  }
  return { cells, runs };
}
