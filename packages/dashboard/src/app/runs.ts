/**
 * Runs and annotations (docs/PROTOCOL.md §11) as the page shows them, as
 * values: the replies of `GET /v1/runs` and `GET /v1/annotations` decoded
 * defensively (a malformed entry is left out, never a crash), the runs'
 * bands within a chart's span, two runs' points aligned at their starts for
 * the comparison charts, and each run's figures for the table beside them.
 * Pure: runs-panel.ts does the fetching and the DOM.
 */
import { formatMs, formatNumber, formatPercent, type ViewData } from '@pulse/client';
import type { Point } from './series.js';

export interface Run {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Epoch seconds. */
  readonly startedAt: number;
  /** Null while it runs. */
  readonly stoppedAt: number | null;
}

export interface Annotation {
  readonly id: string;
  /** Epoch seconds. */
  readonly timestamp: number;
  readonly text: string;
  readonly runId: string | null;
}

/** A run's span as a chart draws it: `end` is now for a run still going. */
export interface RunBand {
  readonly id: string;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly running: boolean;
}

/** `{"runs": [...]}` → the well-formed runs, newest first; anything else → none. */
export function parseRuns(body: unknown): Run[] {
  return listOf(body, 'runs')
    .flatMap((r): Run[] => {
      if (typeof r.id !== 'string' || typeof r.name !== 'string' || !isTime(r.started_at)) return [];
      const stoppedAt = isTime(r.stopped_at) ? r.stopped_at : null;
      return [{ id: r.id, name: r.name, labels: labelsOf(r.labels), startedAt: r.started_at, stoppedAt }];
    })
    .sort((a, b) => b.startedAt - a.startedAt);
}

/** `{"annotations": [...]}` → the well-formed annotations, oldest first; anything else → none. */
export function parseAnnotations(body: unknown): Annotation[] {
  return listOf(body, 'annotations')
    .flatMap((a): Annotation[] => {
      if (typeof a.id !== 'string' || typeof a.text !== 'string' || !isTime(a.timestamp)) return [];
      return [{ id: a.id, timestamp: a.timestamp, text: a.text, runId: typeof a.run_id === 'string' ? a.run_id : null }];
    })
    .sort((a, b) => a.timestamp - b.timestamp);
}

/** A run's end: when it stopped, else now. */
export function runEnd(run: Run, now: number): number {
  return run.stoppedAt ?? Math.max(now, run.startedAt);
}

/** The runs that overlap [since, until], as bands clipped to it, oldest first. */
export function runBands(runs: readonly Run[], since: number, until: number, now: number): RunBand[] {
  return runs
    .filter((r) => r.startedAt <= until && runEnd(r, now) >= since)
    .map((r) => ({ id: r.id, name: r.name, start: Math.max(r.startedAt, since), end: Math.min(runEnd(r, now), until), running: r.stoppedAt === null }))
    .sort((a, b) => a.start - b.start);
}

/** The annotations within [since, until]. */
export function annotationsWithin(annotations: readonly Annotation[], since: number, until: number): Annotation[] {
  return annotations.filter((a) => a.timestamp >= since && a.timestamp <= until);
}

/** One run's points for a comparison chart: epoch seconds, and the chart's point at each. */
export interface RunSeries {
  /** Prefixes each of its series' names. */
  readonly label: string;
  /** Epoch seconds: time 0 of the aligned axis. */
  readonly start: number;
  readonly points: readonly (readonly [time: number, point: Point])[];
}

/** Runs on one axis of seconds since each one's start (uPlot's layout: shared x, a series per run and name, gaps as null). */
export interface Aligned {
  readonly offsets: number[];
  readonly names: string[];
  readonly series: (number | null)[][];
}

/**
 * Aligns runs at their starts: each point at (its time − its run's start),
 * offsets of all runs merged (to the millisecond), each run's series named
 * `<label> · <name>` and null at the others' offsets. Points before a run's
 * start are left out.
 */
export function alignRuns(runs: readonly RunSeries[]): Aligned {
  const round = (s: number) => Math.round(s * 1000) / 1000;
  const offsets = [...new Set(runs.flatMap((r) => r.points.map(([t]) => round(t - r.start)).filter((o) => o >= 0)))].sort((a, b) => a - b);
  const index = new Map(offsets.map((o, i) => [o, i]));
  const names: string[] = [];
  const series: (number | null)[][] = [];
  for (const run of runs) {
    const columns = new Map<string, (number | null)[]>();
    for (const [time, point] of run.points) {
      const at = index.get(round(time - run.start));
      if (at === undefined) continue;
      for (const [name, value] of Object.entries(point)) {
        let column = columns.get(name);
        if (!column) columns.set(name, (column = offsets.map(() => null)));
        column[at] = typeof value === 'number' && Number.isFinite(value) ? value : null;
      }
    }
    for (const [name, column] of columns) {
      names.push(`${run.label} · ${name}`);
      series.push(column);
    }
  }
  return { offsets, names, series };
}

/** A run's figures: the view over its whole span (the summary route), beside how many chart points it has. */
export interface RunFigures {
  readonly points: number;
  readonly seconds: number;
  readonly requestsPerSec?: number;
  readonly tokensPerSec?: number;
  /** The largest endpoint's percentile (an upper bound over several endpoints, as the CSV export's). */
  readonly latencyP50?: number;
  readonly latencyP99?: number;
  readonly ttftP50?: number;
  readonly ttftP99?: number;
  readonly itlP50?: number;
  readonly itlP99?: number;
  /** 100 × errors/s ÷ responses/s. */
  readonly errorRatePct?: number;
  /** Per SLO, 100 × good/s ÷ valid/s. */
  readonly slo: Readonly<Record<string, number>>;
}

/**
 * The figures of a run of `seconds` from its summary — percentiles of the
 * run's merged histograms, rates over its span (not means of the charts'
 * points, whose windows overlap and reach past the run) — or none.
 */
export function runFigures(summary: ViewData | null, seconds: number, points: number): RunFigures {
  if (!summary) return { points, seconds, slo: {} };
  const finite = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const worst = (key: 'p50' | 'p99') => {
    const values = Object.values(summary.latency ?? {}).map((s) => s[key]).filter(Number.isFinite);
    return values.length > 0 ? Math.max(...values) : undefined;
  };
  const responses = summary.throughput?.total_responses_per_sec ?? 0;
  const errors = summary.error?.total_errors_per_sec;
  const slo: Record<string, number> = {};
  for (const [name, s] of Object.entries(summary.slo ?? {})) if (s.valid_per_sec > 0) slo[name] = (100 * s.good_per_sec) / s.valid_per_sec;
  return {
    points,
    seconds,
    requestsPerSec: finite(summary.throughput?.total_requests_per_sec),
    tokensPerSec: finite(summary.throughput?.total_tokens_per_sec),
    latencyP50: worst('p50'),
    latencyP99: worst('p99'),
    ttftP50: finite(summary.streaming?.ttft?.p50),
    ttftP99: finite(summary.streaming?.ttft?.p99),
    itlP50: finite(summary.streaming?.itl?.p50),
    itlP99: finite(summary.streaming?.itl?.p99),
    ...(errors !== undefined && responses > 0 && { errorRatePct: (100 * errors) / responses }),
    slo,
  };
}

/** One row of the comparison table: what, then each run's figure as shown. */
export interface FigureRow {
  readonly key: string;
  readonly label: string;
  readonly values: string[];
}

/** The comparison table: one row per figure, one column per run, SLOs by name after the others. */
export function figureRows(figures: readonly RunFigures[]): FigureRow[] {
  const row = (key: string, label: string, show: (f: RunFigures) => string): FigureRow => ({ key, label, values: figures.map(show) });
  const rate = (v: number | undefined) => (v === undefined ? '—' : formatNumber(v));
  const rows = [
    row('duration', 'duration', (f) => formatDuration(f.seconds)),
    row('points', 'points', (f) => String(f.points)),
    row('throughput', 'throughput (req/s)', (f) => rate(f.requestsPerSec)),
    row('tokens', 'tokens/s', (f) => rate(f.tokensPerSec)),
    row('latency-p50', 'latency p50', (f) => formatMs(f.latencyP50)),
    row('latency-p99', 'latency p99', (f) => formatMs(f.latencyP99)),
    row('ttft-p50', 'TTFT p50', (f) => formatMs(f.ttftP50)),
    row('ttft-p99', 'TTFT p99', (f) => formatMs(f.ttftP99)),
    row('itl-p50', 'ITL p50', (f) => formatMs(f.itlP50)),
    row('itl-p99', 'ITL p99', (f) => formatMs(f.itlP99)),
    row('error-rate', 'error rate', (f) => formatPercent(f.errorRatePct)),
  ];
  const slos = [...new Set(figures.flatMap((f) => Object.keys(f.slo)))].sort();
  for (const name of slos) rows.push(row(`slo:${name}`, `SLO ${name}`, (f) => formatPercent(Object.hasOwn(f.slo, name) ? f.slo[name] : undefined)));
  return rows;
}

/** `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** `+1:05` for an offset from a run's start (seconds); `+1:02:05` past an hour. */
export function formatOffset(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  return s >= 3600 ? `+${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `+${Math.floor(s / 60)}:${two(s % 60)}`;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function listOf(body: unknown, key: string): Record<string, unknown>[] {
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  return Array.isArray(list) ? list.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null) : [];
}

function labelsOf(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
