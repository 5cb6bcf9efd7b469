import { describe, expect, it } from 'vitest';
import type { ViewData } from '@pulse/protocol';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { nodeRows } from './node-rows.js';

const stats = (p99: number) => ({ avg: p99 / 2, min: 1, max: p99, p50: p99 / 2, p90: p99, p95: p99, p99, p999: p99 });
const node = (p99: number | undefined, errorsPerSec = 0) => ({
  requests_per_sec: 10,
  responses_per_sec: 10,
  tokens_per_sec: 100,
  errors_per_sec: errorsPerSec,
  ...(p99 === undefined ? {} : { latency: stats(p99) }),
  queue_depth: 1,
  active_streams: 0,
  last_seen: 1000,
});

describe('nodeRows', () => {
  it('reads each node’s figures, slowest p99 first', () => {
    expect(nodeRows(SAMPLE_DATA)).toEqual([
      { node: 'fakeai-2', requestsPerSec: 3, responsesPerSec: 3, errorsPerSec: 0.5, errorRatePct: (100 * 0.5) / 3, p99: 900, ttftP99: undefined, queueDepth: 2, lastSeen: 1764200000.2, outlier: ['latency', 'errors'] },
      { node: 'fakeai-1', requestsPerSec: 5, responsesPerSec: 4, errorsPerSec: 0, errorRatePct: 0, p99: 150, ttftP99: 90, queueDepth: 4, lastSeen: 1764200000.5, outlier: [] },
    ]);
  });

  it('marks outliers by the shared rule, and ranks nodes without a p99 last', () => {
    const data: ViewData = { nodes: { a: node(100), b: node(undefined), c: node(110, 3), d: node(500), e: node(120) } };
    const rows = nodeRows(data);
    expect(rows.map((r) => r.node)).toEqual(['d', 'e', 'c', 'a', 'b']);
    expect(rows.map((r) => r.outlier)).toEqual([['latency'], [], ['errors'], [], []]);
  });

  it('a node without ends has no error rate; an unknown last-seen stays unknown', () => {
    const data: ViewData = { nodes: { idle: { ...node(undefined), responses_per_sec: 0, last_seen: 0 } } };
    expect(nodeRows(data)[0]).toMatchObject({ errorRatePct: undefined, lastSeen: undefined, outlier: [] });
  });

  it('gives no rows for a view without node figures (a version 1 server, or not subscribed)', () => {
    expect(nodeRows({ latency: SAMPLE_DATA.latency })).toEqual([]);
  });
});
