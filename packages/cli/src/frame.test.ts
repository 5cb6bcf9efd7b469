import { describe, expect, it } from 'vitest';
import { DEFAULT_SLO_TARGETS, parseSloTargets } from '@pulse/client';
import type { SnapshotData } from '@pulse/protocol';
import { renderFrame } from './frame.js';
import { safeName, textTable } from './text-table.js';

const stats = { avg: 100, min: 10, max: 900, p50: 90, p90: 400, p95: 600, p99: 850, p999: 890 };
const data: SnapshotData = {
  throughput: { requests_per_sec: { '/v1/chat': 12.5 }, responses_per_sec: { '/v1/chat': 12 }, tokens_per_sec: { '/v1/chat': 1500 }, total_requests_per_sec: 12.5, total_responses_per_sec: 12, total_tokens_per_sec: 1500 },
  latency: { '/v1/chat': stats },
  cache: { hit_rate: 35, token_reuse_rate: 20, avg_prefix_length: 64, total_lookups: 100, cache_hits: 35, by_endpoint: {} },
  queue: { queue_depth: 7, active_streams: 3 },
  streaming: { active_streams: 3, completed_streams: 50, failed_streams: 1, ttft: stats, itl: { ...stats, p99: 42 } },
  error: { errors_per_sec: { '/v1/chat': 0.25 }, total_errors_per_sec: 0.25, by_status: { '503': 0.05, '500': 0.2 }, by_type: {} },
  slo: {
    interactive: { attainment_pct: 97.5, good_per_sec: 11.7, valid_per_sec: 12, by_endpoint: {} },
    batch: { attainment_pct: 99.5, good_per_sec: 11.94, valid_per_sec: 12, by_endpoint: {} },
  },
  nodes: {
    'fakeai-1': { requests_per_sec: 6, responses_per_sec: 6, tokens_per_sec: 700, errors_per_sec: 0, latency: { ...stats, p99: 300 }, queue_depth: 3, active_streams: 1, last_seen: 1_699_999_998 },
    'fakeai-2': { requests_per_sec: 6.5, responses_per_sec: 6, tokens_per_sec: 800, errors_per_sec: 0.25, latency: { ...stats, p99: 2500 }, ttft: stats, queue_depth: 4, active_streams: 2, last_seen: 1_700_000_000 },
  },
};
const view = { timestamp: 1_700_000_000, data };

describe('renderFrame', () => {
  it('shows the connection, the confirmed view, the headline and a row per endpoint', () => {
    const frame = renderFrame({
      url: 'ws://h/metrics/stream',
      status: { state: 'open', attempt: 0 },
      filters: { endpoints: [], models: ['gpt-4'], nodes: ['fakeai-1'], metric_types: ['all'], interval: 2 },
      sloTargets: DEFAULT_SLO_TARGETS,
      view,
    });
    expect(frame).toContain('ws://h/metrics/stream  live');
    expect(frame).toContain('models gpt-4 · nodes fakeai-1 · metrics all · every 2 s');
    expect(frame).toMatch(/12\.5\s+1,500\s+0\.25\s+850 ms\s+90 ms\s+42 ms\s+35\.0 %\s+3\s+7/);
    expect(frame).toMatch(/\/v1\/chat\s+12\.5\s+12\s+1,500\s+0\.25\s+90 ms\s+400 ms\s+850 ms\s+—/);
  });

  it('gives a line to SLO attainment against the target, and one to errors by status', () => {
    const lines = renderFrame({ url: 'ws://h', status: { state: 'open', attempt: 0 }, filters: null, sloTargets: parseSloTargets('99,interactive:95'), view }).split('\n');
    expect(lines).toContain('  SLO               interactive 97.5 % (target 95.0 %: met) · batch 99.5 % (target 99.0 %: met)');
    expect(lines).toContain('  errors by status  500 0.20/s (80.0 %) · 503 0.05/s (20.0 %)');
    const strict = renderFrame({ url: 'ws://h', status: { state: 'open', attempt: 0 }, filters: null, sloTargets: parseSloTargets('99.9'), view });
    expect(strict).toContain('interactive 97.5 % (target 99.9 %: missed) · batch 99.5 % (target 99.9 %: missed)');
  });

  it('ranks nodes by p99, slowest first, and marks the outliers', () => {
    const frame = renderFrame({ url: 'ws://h', status: { state: 'open', attempt: 0 }, filters: null, sloTargets: DEFAULT_SLO_TARGETS, view });
    const table = frame.slice(frame.indexOf('NODE'));
    expect(table).toMatch(/^NODE\s+p99\s+error rate\s+req\/s\s+TTFT p99\s+queue\s+last seen\s+outlier\n/);
    expect(table).toMatch(/\n {2}fakeai-2\s+2,500 ms\s+4\.2 %\s+6\.50\s+850 ms\s+4\s+<1 s ago\s+▲ p99, errors\n/);
    expect(table).toMatch(/\n {2}fakeai-1\s+300 ms\s+0\.0 %\s+6\s+—\s+3\s+2 s ago\n/);
    expect(table).toContain('▲ outlier: p99 over 2× the other nodes');
  });

  it('leaves out what a server without version 2 figures does not send (FakeAI itself)', () => {
    const v1 = JSON.parse(JSON.stringify(data));
    for (const key of ['slo', 'nodes']) delete v1[key];
    delete v1.streaming.itl;
    delete v1.error.by_status;
    delete v1.error.by_type;
    const frame = renderFrame({
      url: 'ws://h',
      status: { state: 'open', attempt: 0 },
      filters: { endpoints: [], models: [], metric_types: ['all'], interval: 1 },
      sloTargets: DEFAULT_SLO_TARGETS,
      view: { timestamp: view.timestamp, data: v1 },
    });
    expect(frame).toContain('nodes all');
    expect(frame).not.toMatch(/SLO|errors by status|NODE/);
    expect(frame).toMatch(/ITL p99/);
  });

  it('says when it is waiting, and how a reconnect goes', () => {
    const frame = renderFrame({ url: 'ws://h', status: { state: 'reconnecting', attempt: 2, delayMs: 1500, error: 'connect ECONNREFUSED' }, filters: null, sloTargets: DEFAULT_SLO_TARGETS });
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
