import type { SnapshotData, Stats } from '@pulse/protocol';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { describe, expect, it } from 'vitest';
import { BASE_FIGURES, figureOf, isFigure, type Figure } from './figures.js';

/** A view with nothing in the window and nothing in flight (§4.8: every map empty, every number 0). */
function emptyData(): SnapshotData {
  return {
    throughput: { requests_per_sec: {}, responses_per_sec: {}, tokens_per_sec: {}, total_requests_per_sec: 0, total_responses_per_sec: 0, total_tokens_per_sec: 0 },
    latency: {},
    cache: { hit_rate: 0, token_reuse_rate: 0, avg_prefix_length: 0, total_lookups: 12, cache_hits: 3, by_endpoint: {} },
    queue: { queue_depth: 0, active_streams: 0 },
    streaming: { active_streams: 0, completed_streams: 4, failed_streams: 1 },
    error: { errors_per_sec: {}, total_errors_per_sec: 0, by_status: {}, by_type: {} },
    slo: { interactive: { good_per_sec: 0, valid_per_sec: 0, by_endpoint: {} } },
    nodes: {},
  };
}

const stats = (avg: number, p99: number, max: number): Stats => ({ avg, min: 1, max, p50: avg, p90: p99, p95: p99, p99, p999: max });

describe('figureOf', () => {
  it('reads every figure of a view with data (the sample of test-support)', () => {
    const d = SAMPLE_DATA;
    const expected: Partial<Record<Figure, number>> = {
      requests_per_sec: 8,
      responses_per_sec: 7,
      tokens_per_sec: 30,
      errors_per_sec: 0.5,
      error_rate_pct: (100 * 0.5) / 7,
      queue_depth: 6,
      active_streams: 2,
      cache_hit_rate_pct: 40,
      ttft_p99_ms: 200,
      ttft_avg_ms: 50,
      ttft_p999_ms: 200,
      itl_p50_ms: 12,
      itl_max_ms: 30,
      'slo_attainment_pct:interactive': 80,
    };
    for (const [figure, value] of Object.entries(expected)) expect([figure, figureOf(d, figure as Figure)]).toEqual([figure, value]);
  });

  it('has no value for anything when the view is empty, but keeps 0 for a quiet view that has data', () => {
    const empty = emptyData();
    for (const figure of BASE_FIGURES) expect([figure, figureOf(empty, figure)]).toEqual([figure, undefined]);
    expect(figureOf(empty, 'slo_attainment_pct:interactive')).toBeUndefined();
    expect(figureOf(empty, 'slo_attainment_pct:unknown')).toBeUndefined();

    // One request in flight, nothing ended: rates are a real 0, latency and error rate have no value.
    const quiet = emptyData();
    quiet.queue = { queue_depth: 1, active_streams: 0 };
    quiet.nodes = { n1: { requests_per_sec: 0, responses_per_sec: 0, tokens_per_sec: 0, errors_per_sec: 0, queue_depth: 1, active_streams: 0, last_seen: 1 } };
    expect(figureOf(quiet, 'requests_per_sec')).toBe(0);
    expect(figureOf(quiet, 'errors_per_sec')).toBe(0);
    expect(figureOf(quiet, 'queue_depth')).toBe(1);
    expect(figureOf(quiet, 'error_rate_pct')).toBeUndefined();
    expect(figureOf(quiet, 'latency_p99_ms')).toBeUndefined();
    expect(figureOf(quiet, 'cache_hit_rate_pct')).toBeUndefined();
  });

  it('error_rate_pct is 100 × errors / responses; 0 with responses and no errors', () => {
    const d = { ...emptyData(), throughput: { ...emptyData().throughput, responses_per_sec: { '/a': 4 }, total_responses_per_sec: 4 } };
    expect(figureOf({ ...d, error: { ...d.error, total_errors_per_sec: 1 } }, 'error_rate_pct')).toBe(25);
    expect(figureOf(d, 'error_rate_pct')).toBe(0);
  });

  describe('latency over several endpoints (percentiles cannot be merged from summaries)', () => {
    const base = (): SnapshotData => ({
      ...emptyData(),
      throughput: { ...emptyData().throughput, responses_per_sec: { '/a': 1, '/b': 3 }, total_responses_per_sec: 4 },
      latency: { '/a': stats(100, 400, 500), '/b': stats(20, 90, 120) },
    });

    it('one endpoint: its own figures', () => {
      const d = { ...base(), latency: { '/b': stats(20, 90, 120) } };
      expect([figureOf(d, 'latency_avg_ms'), figureOf(d, 'latency_p99_ms'), figureOf(d, 'latency_max_ms')]).toEqual([20, 90, 120]);
    });

    it("one node: the node's statistics, merged over every endpoint of the view", () => {
      const d = base();
      d.nodes = { n1: { requests_per_sec: 4, responses_per_sec: 4, tokens_per_sec: 0, errors_per_sec: 0, latency: stats(40, 380, 500), queue_depth: 0, active_streams: 0, last_seen: 1 } };
      expect([figureOf(d, 'latency_avg_ms'), figureOf(d, 'latency_p99_ms')]).toEqual([40, 380]);
    });

    it('several of both: avg weighted by responses, max exact, a percentile the largest of the endpoints (an upper bound)', () => {
      const d = base();
      expect(figureOf(d, 'latency_avg_ms')).toBe((100 * 1 + 20 * 3) / 4);
      expect(figureOf(d, 'latency_max_ms')).toBe(500);
      expect(figureOf(d, 'latency_p99_ms')).toBe(400);
    });
  });

  it('reads map keys as own properties only (a label may be "__proto__")', () => {
    const d = emptyData();
    d.slo = JSON.parse('{"__proto__": {"attainment_pct": 12, "good_per_sec": 1, "valid_per_sec": 1, "by_endpoint": {}}}');
    expect(figureOf(d, 'slo_attainment_pct:__proto__')).toBe(12);
    expect(figureOf(emptyData(), 'slo_attainment_pct:constructor')).toBeUndefined();
  });

  it('knows the figure names of the contract', () => {
    for (const name of ['ttft_p999_ms', 'itl_avg_ms', 'latency_p95_ms', 'cache_hit_rate_pct', 'slo_attainment_pct:batch-1.x']) expect(isFigure(name)).toBe(true);
    for (const name of ['ttft_p98_ms', 'latency_min_ms', 'slo_attainment_pct:', 'slo_attainment_pct:a b', 'hit_rate']) expect(isFigure(name)).toBe(false);
    expect(BASE_FIGURES).toHaveLength(29);
  });
});
