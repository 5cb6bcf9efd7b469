import { describe, expect, it } from 'vitest';
import type { SnapshotData } from '@pulse/protocol';
import { endpointRows, headline, modelRow } from './summary.js';

const stats = (p50: number, p99: number) => ({ avg: p50, min: 1, max: p99, p50, p90: p99 - 1, p99 });

const data: SnapshotData = {
  throughput: {
    requests_per_sec: { '/a': 3, '/b': 5 },
    responses_per_sec: { '/a': 2, '/b': 5 },
    tokens_per_sec: { '/a': 30, '/b': 0 },
    total_requests_per_sec: 8,
    total_responses_per_sec: 7,
    total_tokens_per_sec: 30,
  },
  latency: { '/a': stats(100, 400), '/b': stats(20, 90) },
  cache: {
    hit_rate: 40,
    token_reuse_rate: 25,
    avg_prefix_length: 64,
    total_lookups: 10,
    cache_hits: 4,
    by_endpoint: { '/a': { hit_rate: 40, token_reuse_rate: 25, avg_prefix_length: 64, total_lookups: 10, cache_hits: 4 } },
  },
  queue: { queue_depth: 6, active_streams: 2 },
  streaming: { active_streams: 2, completed_streams: 9, failed_streams: 1, ttft: stats(50, 200) },
  error: { errors_per_sec: { '/a': 0.5, '/b': 0 }, total_errors_per_sec: 0.5 },
};

describe('summary', () => {
  it('the headline shows the worst endpoint p99 and the totals', () => {
    expect(headline(data)).toEqual({
      requestsPerSec: 8,
      tokensPerSec: 30,
      worstP99: 400,
      ttftP50: 50,
      hitRate: 40,
      errorsPerSec: 0.5,
      activeStreams: 2,
      queueDepth: 6,
    });
  });

  it('figures of metric types not in view stay undefined', () => {
    expect(headline({ latency: data.latency })).toEqual({ worstP99: 400 });
  });

  it('endpoint rows come busiest first, with what each map holds', () => {
    const rows = endpointRows(data);
    expect(rows.map((r) => r.endpoint)).toEqual(['/b', '/a']);
    expect(rows[1]).toEqual({ endpoint: '/a', requestsPerSec: 3, responsesPerSec: 2, tokensPerSec: 30, errorsPerSec: 0.5, p50: 100, p90: 399, p99: 400, hitRate: 40 });
    expect(rows[0]!.hitRate).toBeUndefined();
  });

  it('a model row reads the totals of a view filtered to that model', () => {
    expect(modelRow('gpt-4', data)).toEqual({ model: 'gpt-4', requestsPerSec: 8, tokensPerSec: 30, errorsPerSec: 0.5, ttftP50: 50, activeStreams: 2, queueDepth: 6 });
  });
});
