/**
 * One figure of every kind, as a message's `data` carries them: two
 * endpoints, cache on one, errors on one, streams in flight. Shared by the
 * tests of what reads `data` (the client's summaries, the dashboard's charts).
 */
import type { SnapshotData } from '@pulse/protocol';

const stats = (p50: number, p99: number) => ({ avg: p50, min: 1, max: p99, p50, p90: p99 - 1, p99 });

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
  streaming: { active_streams: 2, completed_streams: 9, failed_streams: 1, ttft: stats(50, 200) },
  error: { errors_per_sec: { '/a': 0.5, '/b': 0 }, total_errors_per_sec: 0.5 },
};
