/**
 * One figure of every kind, as a message's `data` carries them: two
 * endpoints, cache on one, errors on one, streams in flight. Shared by the
 * tests of what reads `data` (the client's summaries, the dashboard's charts).
 */
import type { SnapshotData } from '@pulse/protocol';

const stats = (p50: number, p99: number) => ({ avg: p50, min: 1, max: p99, p50, p90: p99 - 1, p95: p99 - 0.5, p99, p999: p99 });

export const SAMPLE_DATA: SnapshotData = {
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
  streaming: { active_streams: 2, completed_streams: 9, failed_streams: 1, ttft: stats(50, 200), itl: stats(12, 30) },
  error: { errors_per_sec: { '/a': 0.5, '/b': 0 }, total_errors_per_sec: 0.5, by_status: { '500': 0.4, '503': 0.1 }, by_type: { timeout: 0.1 } },
  slo: {
    interactive: {
      attainment_pct: 80,
      good_per_sec: 5.6,
      valid_per_sec: 7,
      by_endpoint: { '/a': { attainment_pct: 50, good_per_sec: 1, valid_per_sec: 2 }, '/b': { attainment_pct: 92, good_per_sec: 4.6, valid_per_sec: 5 } },
    },
  },
  nodes: {
    'fakeai-1': { requests_per_sec: 5, responses_per_sec: 4, tokens_per_sec: 20, errors_per_sec: 0, latency: stats(40, 150), ttft: stats(30, 90), queue_depth: 4, active_streams: 1, last_seen: 1764200000.5 },
    'fakeai-2': { requests_per_sec: 3, responses_per_sec: 3, tokens_per_sec: 10, errors_per_sec: 0.5, latency: stats(300, 900), queue_depth: 2, active_streams: 1, last_seen: 1764200000.2 },
  },
};
