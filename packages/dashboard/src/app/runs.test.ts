import { describe, expect, it } from 'vitest';
import type { ViewData } from '@pulse/client';
import { alignRuns, annotationsWithin, figureRows, formatDuration, formatOffset, parseAnnotations, parseRuns, runBands, runFigures } from './runs.js';

describe('runs', () => {
  it('decodes runs newest first and annotations oldest first, leaving out malformed entries', () => {
    const runs = parseRuns({
      runs: [
        { id: 'run-1', name: 'baseline', labels: { qps: '10', bad: 3 }, started_at: 100, stopped_at: 200 },
        { id: 'run-2', name: 'tuned', labels: {}, started_at: 300 },
        { id: 'run-3', started_at: 1 },
        'x',
      ],
    });
    expect(runs).toEqual([
      { id: 'run-2', name: 'tuned', labels: {}, startedAt: 300, stoppedAt: null },
      { id: 'run-1', name: 'baseline', labels: { qps: '10' }, startedAt: 100, stoppedAt: 200 },
    ]);
    expect(parseRuns(null)).toEqual([]);
    expect(parseAnnotations({ annotations: [{ id: 'a2', timestamp: 20, text: 'b', run_id: 'run-1' }, { id: 'a1', timestamp: 10, text: 'a' }, { id: 'a3', text: 'no time' }] })).toEqual([
      { id: 'a1', timestamp: 10, text: 'a', runId: null },
      { id: 'a2', timestamp: 20, text: 'b', runId: 'run-1' },
    ]);
  });

  it('bands the runs that overlap a chart’s span, clipped to it; a running one ends now', () => {
    const runs = parseRuns({
      runs: [
        { id: 'old', name: 'old', started_at: 0, stopped_at: 50 },
        { id: 'r1', name: 'a', started_at: 80, stopped_at: 120 },
        { id: 'r2', name: 'b', started_at: 150 },
      ],
    });
    expect(runBands(runs, 100, 200, 180)).toEqual([
      { id: 'r1', name: 'a', start: 100, end: 120, running: false },
      { id: 'r2', name: 'b', start: 150, end: 180, running: true },
    ]);
    const notes = parseAnnotations({ annotations: [{ id: 'a', timestamp: 99, text: 'x' }, { id: 'b', timestamp: 100, text: 'y' }] });
    expect(annotationsWithin(notes, 100, 200).map((a) => a.id)).toEqual(['b']);
  });

  it('aligns two runs at their starts: offsets merged, a series per run and name, gaps where a run has no point', () => {
    const aligned = alignRuns([
      { label: 'A', start: 1000, points: [[999, { x: 9 }], [1000, { x: 1 }], [1005, { x: 2 }], [1010, { x: 3, y: 7 }]] },
      { label: 'B', start: 5002.5, points: [[5002.5, { x: 10 }], [5007.5, { x: 20 }], [5010, { x: 30 }]] },
    ]);
    expect(aligned.offsets).toEqual([0, 5, 7.5, 10]);
    expect(aligned.names).toEqual(['A · x', 'A · y', 'B · x']);
    expect(aligned.series).toEqual([
      [1, 2, null, 3],
      [null, null, null, 7],
      [10, 20, 30, null],
    ]);
  });

  it('reads a run’s figures from its summary: the worst endpoint’s percentiles, error rate and SLO attainment as ratios', () => {
    const summary: ViewData = {
      throughput: { requests_per_sec: {}, responses_per_sec: {}, tokens_per_sec: {}, total_requests_per_sec: 20, total_responses_per_sec: 20, total_tokens_per_sec: 200 },
      latency: { '/a': { avg: 150, min: 0, max: 600, p50: 150, p90: 600, p95: 600, p99: 600, p999: 600 }, '/b': { avg: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1, p999: 1 } },
      error: { errors_per_sec: {}, total_errors_per_sec: 2, by_status: {}, by_type: {} },
      slo: { fast: { attainment_pct: 60, good_per_sec: 12, valid_per_sec: 20, by_endpoint: {} }, idle: { attainment_pct: 0, good_per_sec: 0, valid_per_sec: 0, by_endpoint: {} } },
    };
    const f = runFigures(summary, 65, 13);
    expect(f).toMatchObject({ points: 13, seconds: 65, requestsPerSec: 20, tokensPerSec: 200, latencyP50: 150, latencyP99: 600, errorRatePct: 10, slo: { fast: 60 } });
    expect(f.slo).not.toHaveProperty('idle'); // nothing valid: no attainment to show
    expect(f.ttftP50).toBeUndefined();
    const rows = figureRows([f, runFigures(null, 5, 0)]);
    expect(rows.map((r) => r.key)).toEqual(['duration', 'points', 'throughput', 'tokens', 'latency-p50', 'latency-p99', 'ttft-p50', 'ttft-p99', 'itl-p50', 'itl-p99', 'error-rate', 'slo:fast']);
    expect(rows.find((r) => r.key === 'duration')!.values).toEqual(['1 min 5 s', '5 s']);
    expect(rows.find((r) => r.key === 'points')!.values).toEqual(['13', '0']);
    expect(rows.find((r) => r.key === 'throughput')!.values[1]).toBe('—');
    expect(rows.find((r) => r.key === 'slo:fast')!.values[1]).toBe('—');
  });

  it('formats durations and offsets', () => {
    expect([formatDuration(42), formatDuration(185), formatDuration(7800)]).toEqual(['42 s', '3 min 5 s', '2 h 10 min']);
    expect([formatOffset(0), formatOffset(65), formatOffset(3725)]).toEqual(['+0:00', '+1:05', '+1:02:05']);
  });
});
