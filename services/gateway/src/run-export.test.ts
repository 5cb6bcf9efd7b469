/**
 * A run's export as files: CSV and JSON lines of history points made from
 * real views (buildView of a MetricsWindow's snapshots, as the gateway
 * builds them), read back to the same figures.
 */
import { describe, expect, it } from 'vitest';
import { BASE_FIGURES, figureOf, type Figure } from '@pulse/alerts';
import type { HistoryPoint } from '@pulse/history';
import { buildView } from '@pulse/metrics';
import { METRIC_TYPES, type SnapshotData } from '@pulse/protocol';
import { realPoints } from '@pulse/test-support/runs';
import { csvFigures, parseCsv, TIME_COLUMNS, toCsv, toJsonl } from './run-export.js';

const ALL = new Set(METRIC_TYPES);

describe('CSV export', () => {
  const points = realPoints(6);

  it('has a header of the time columns, every base figure, then one attainment column per SLO', () => {
    const { columns } = parseCsv(toCsv(points, ALL));
    expect(columns).toEqual([...TIME_COLUMNS, ...BASE_FIGURES, 'slo_attainment_pct:batch', 'slo_attainment_pct:interactive']);
    for (const required of ['requests_per_sec', 'tokens_per_sec', 'errors_per_sec', 'error_rate_pct', 'latency_p50_ms', 'latency_p99_ms', 'ttft_p50_ms', 'ttft_p99_ms', 'itl_p50_ms', 'itl_p99_ms']) {
      expect(columns).toContain(required);
    }
  });

  it('reads back to the figures of every point, exactly', () => {
    const text = toCsv(points, ALL);
    expect(text.endsWith('\r\n')).toBe(true);
    const { columns, rows } = parseCsv(text);
    expect(rows.map((r) => r.timestamp)).toEqual(points.map((p) => p.timestamp));
    rows.forEach((row, i) => {
      const data = points[i]!.data as SnapshotData;
      const want: Record<string, number> = {};
      for (const c of columns.slice(TIME_COLUMNS.length)) {
        const v = figureOf(data, c as Figure);
        if (v !== undefined) want[c] = v;
      }
      expect(row.figures).toEqual(want);
      // Something in every column a busy view has, and the figures are what the view says.
      expect(row.figures.requests_per_sec).toBe(data.throughput.total_requests_per_sec);
      expect(row.figures.ttft_p99_ms).toBe(data.streaming.ttft!.p99);
      expect(row.figures.itl_p50_ms).toBe(data.streaming.itl!.p50);
      expect(row.figures['slo_attainment_pct:interactive']).toBe(data.slo.interactive!.attainment_pct);
      expect(row.figures.latency_p99_ms).toBe(Math.max(...Object.values(data.latency).map((s) => s.p99)));
    });
    expect(rows.some((r) => r.figures.error_rate_pct! > 0)).toBe(true);
  });

  it('gives the time as RFC 3339 beside the seconds', () => {
    const [, first] = toCsv(points, ALL).split('\r\n');
    expect(first!.split(',').slice(0, 2)).toEqual([String(points[0]!.timestamp), new Date(points[0]!.timestamp * 1000).toISOString()]);
  });

  it('keeps only the columns of the metric types asked for', () => {
    expect(csvFigures(points, new Set(['streaming']))).toEqual(BASE_FIGURES.filter((f) => f.startsWith('ttft_') || f.startsWith('itl_')));
    expect(csvFigures(points, new Set(['slo', 'error']))).toEqual(['errors_per_sec', 'error_rate_pct', 'slo_attainment_pct:batch', 'slo_attainment_pct:interactive']);
  });

  it('leaves a figure with nothing in the window empty, and has a header without points', () => {
    const quiet: HistoryPoint = { timestamp: 1_765_000_100, data: JSON.parse(JSON.stringify(buildView(null).data)) as SnapshotData };
    const { rows } = parseCsv(toCsv([quiet], ALL));
    expect(rows).toEqual([{ timestamp: 1_765_000_100, figures: {} }]);
    expect(parseCsv(toCsv([], ALL)).rows).toEqual([]);
  });
});

describe('JSON lines export', () => {
  it('has one {timestamp, data} per point, the data as history gave it', () => {
    const points = realPoints(4);
    const text = toJsonl(points);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(points.map((p) => ({ timestamp: p.timestamp, data: p.data })));
    expect(toJsonl([])).toBe('');
  });
});
