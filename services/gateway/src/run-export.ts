/**
 * A run's figures as a file (docs/PROTOCOL.md "Runs"): the history points
 * over the run, as CSV (one row per point, one column per figure) or as JSON
 * lines (one `{"timestamp", "data"}` per point, `data` exactly as history
 * gave it). The CSV's figures are the alert rules' (docs/PROTOCOL.md §8),
 * read by the same code, so a column means what the rule figure of its name
 * means: latency percentiles over several endpoints are the largest
 * endpoint's, error rate is errors over responses, a figure the window has
 * nothing for is an empty cell.
 */
import { BASE_FIGURES, figureReader, SLO_FIGURE_PREFIX, type BaseFigure, type Figure } from '@pulse/alerts';
import type { HistoryPoint } from '@pulse/history';
import type { MetricType, SnapshotData } from '@pulse/protocol';

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
};

/** The metric type a CSV column's figure comes from: with `metric_type` filters, only their columns. */
export function figureType(figure: BaseFigure): MetricType {
  if (figure.startsWith('latency_')) return 'latency';
  if (figure.startsWith('ttft_') || figure.startsWith('itl_')) return 'streaming';
  switch (figure) {
    case 'errors_per_sec':
    case 'error_rate_pct':
      return 'error';
    case 'queue_depth':
    case 'active_streams':
      return 'queue';
    case 'cache_hit_rate_pct':
      return 'cache';
    default:
      return 'throughput';
  }
}

/** The CSV's columns before the figures: seconds since the epoch, and the same time in RFC 3339 for spreadsheets. */
export const TIME_COLUMNS = ['timestamp', 'time'] as const;

/**
 * The CSV's figure columns for points of every metric type, of which `types`
 * are wanted: the base figures of those types, then one
 * `slo_attainment_pct:<slo>` per SLO any point has (by name) when `slo` is.
 */
export function csvFigures(points: readonly HistoryPoint[], types: ReadonlySet<MetricType>): Figure[] {
  const figures: Figure[] = BASE_FIGURES.filter((f) => types.has(figureType(f)));
  if (types.has('slo')) {
    const slos = new Set<string>();
    for (const p of points) for (const name of Object.keys(p.data.slo ?? {})) slos.add(name);
    figures.push(...[...slos].sort().map((name): Figure => `${SLO_FIGURE_PREFIX}${name}`));
  }
  return figures;
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A number as JavaScript writes it (the shortest text that reads back to the same double); empty when there is none. */
function cell(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : String(value);
}

/**
 * CSV of `points`, which carry every metric type (figures read several: the
 * throughput, queue and nodes say whether a view is empty). Lines end in
 * CRLF, as RFC 4180 has them.
 */
export function toCsv(points: readonly HistoryPoint[], types: ReadonlySet<MetricType>): string {
  const figures = csvFigures(points, types);
  const readers = figures.map((f) => figureReader(f));
  const lines = [[...TIME_COLUMNS, ...figures].map(field).join(',')];
  for (const p of points) {
    const data = p.data as SnapshotData;
    lines.push([String(p.timestamp), new Date(p.timestamp * 1000).toISOString(), ...readers.map((read) => cell(read(data)))].join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** JSON lines: one `{"timestamp", "data"}` per point, oldest first. */
export function toJsonl(points: readonly HistoryPoint[]): string {
  return points.map((p) => `${JSON.stringify({ timestamp: p.timestamp, data: p.data })}\n`).join('');
}

/**
 * Reads a CSV written by toCsv back: each row's timestamp and figures (an
 * empty cell is absent). For tests and for scripts that compare runs.
 */
export function parseCsv(text: string): { columns: string[]; rows: { timestamp: number; figures: Record<string, number> }[] } {
  const records = csvRecords(text);
  const [columns = [], ...body] = records;
  return {
    columns,
    rows: body.map((r) => {
      const figures: Record<string, number> = {};
      columns.forEach((c, i) => {
        if (i < TIME_COLUMNS.length || r[i] === undefined || r[i] === '') return;
        figures[c] = Number(r[i]);
      });
      return { timestamp: Number(r[0]), figures };
    }),
  };
}

function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let value = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        value += '"';
        i++;
      } else if (c === '"') quoted = false;
      else value += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(value);
      value = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(value);
      records.push(record);
      record = [];
      value = '';
    } else value += c;
  }
  if (value !== '' || record.length > 0) records.push([...record, value]);
  return records;
}
