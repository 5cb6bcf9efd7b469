import { describe, expect, it } from 'vitest';
import type { SnapshotData } from '@pulse/protocol';
import { renderFrame } from './frame.js';
import { safeName, textTable } from './text-table.js';

const stats = { avg: 100, min: 10, max: 900, p50: 90, p90: 400, p95: 600, p99: 850, p999: 890 };
const data: SnapshotData = {
  throughput: { requests_per_sec: { '/v1/chat': 12.5 }, responses_per_sec: { '/v1/chat': 12 }, tokens_per_sec: { '/v1/chat': 1500 }, total_requests_per_sec: 12.5, total_responses_per_sec: 12, total_tokens_per_sec: 1500 },
  latency: { '/v1/chat': stats },
  cache: { hit_rate: 35, token_reuse_rate: 20, avg_prefix_length: 64, total_lookups: 100, cache_hits: 35, by_endpoint: {} },
  queue: { queue_depth: 7, active_streams: 3 },
  streaming: { active_streams: 3, completed_streams: 50, failed_streams: 1, ttft: stats },
  error: { errors_per_sec: { '/v1/chat': 0.25 }, total_errors_per_sec: 0.25, by_status: { '500': 0.25 }, by_type: {} },
  slo: {},
  nodes: {},
};

describe('renderFrame', () => {
  it('shows the connection, the confirmed view, the headline and a row per endpoint', () => {
    const frame = renderFrame({
      url: 'ws://h/metrics/stream',
      status: { state: 'open', attempt: 0 },
      filters: { endpoints: [], models: ['gpt-4'], nodes: [], metric_types: ['all'], interval: 2 },
      view: { timestamp: 1_700_000_000, data },
    });
    expect(frame).toContain('ws://h/metrics/stream  live');
    expect(frame).toContain('models gpt-4 · metrics all · every 2 s');
    expect(frame).toMatch(/12\.5\s+1,500\s+0\.25\s+850 ms\s+90 ms\s+35\.0 %\s+3\s+7/);
    expect(frame).toMatch(/\/v1\/chat\s+12\.5\s+12\s+1,500\s+0\.25\s+90 ms\s+400 ms\s+850 ms\s+—/);
  });

  it('says when it is waiting, and how a reconnect goes', () => {
    const frame = renderFrame({ url: 'ws://h', status: { state: 'reconnecting', attempt: 2, delayMs: 1500, error: 'connect ECONNREFUSED' }, filters: null });
    expect(frame).toContain('reconnecting in 1.5 s (connect ECONNREFUSED)');
    expect(frame).toContain('waiting for data');
  });
});

describe('text tables', () => {
  it('pads columns, names left and figures right', () => {
    expect(textTable(['NAME', 'n'], [['a', '1'], ['long', '100']], '')).toEqual(['NAME    n', 'a       1', 'long  100']);
  });

  it('neutralizes control characters in producer names and cuts long ones', () => {
    expect(safeName('/v1/\x1b[2Jevil\x07')).toBe('/v1/?[2Jevil?');
    expect(safeName('x'.repeat(100))).toHaveLength(48);
  });
});
