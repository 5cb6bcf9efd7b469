import { describe, expect, it } from 'vitest';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { endpointRows, headline, modelRow } from './summary.js';

const data = SAMPLE_DATA;
describe('summary', () => {
  it('the headline shows the worst endpoint p99 and the totals', () => {
    expect(headline(data)).toEqual({
      requestsPerSec: 8,
      tokensPerSec: 30,
      worstP99: 400,
      ttftP50: 50,
      itlP99: 30,
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
