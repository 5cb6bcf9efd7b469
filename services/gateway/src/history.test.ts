import { describe, expect, it } from 'vitest';
import { METRIC_TYPES } from '@pulse/protocol';
import { HistoryParamError, parseHistoryParams, SPAN_SECONDS, STEP_SECONDS } from './history.js';

const parse = (q: string) => parseHistoryParams(new URLSearchParams(q), 10_000);
const refusal = (q: string): string => {
  try {
    parse(q);
  } catch (err) {
    if (err instanceof HistoryParamError) return err.param;
    throw err;
  }
  throw new Error(`accepted ${q}`);
};

describe('GET /metrics/history parameters', () => {
  it('without any: the last 5 minutes of the unfiltered view, every 5 s, every type (what the route always answered)', () => {
    expect(parse('')).toEqual({
      since: 10_000 - SPAN_SECONDS,
      until: 10_000,
      step: STEP_SECONDS,
      filter: { endpoints: new Set(), models: new Set(), nodes: new Set() },
      types: METRIC_TYPES,
    });
    // A read token in the query is the access policy's, not a history parameter.
    expect(parse('token=abc').step).toBe(STEP_SECONDS);
  });

  it('takes repeatable filters and types, comma-separated types, and leaves the step to the store once a range is given', () => {
    const q = parse('since=9000&until=9500.5&endpoint=/a&endpoint=/b&model=m&node=n1&node=n2&metric_type=latency,error&metric_type=queue');
    expect(q).toEqual({
      since: 9000,
      until: 9500.5,
      filter: { endpoints: new Set(['/a', '/b']), models: new Set(['m']), nodes: new Set(['n1', 'n2']) },
      types: ['latency', 'queue', 'error'],
    });
    expect(parse('since=9000&step=60').step).toBe(60);
    expect(parse('metric_type=all&metric_type=latency').types).toEqual(METRIC_TYPES);
  });

  it('refuses bad values, naming the parameter', () => {
    expect(refusal('since=yesterday')).toBe('since');
    expect(refusal('since=-5')).toBe('since');
    expect(refusal('until=1e3')).toBe('until');
    expect(refusal('since=9000&since=9001')).toBe('since');
    expect(refusal('since=9000&until=8000')).toBe('since');
    expect(refusal('step=0')).toBe('step');
    expect(refusal('step=abc')).toBe('step');
    expect(refusal('metric_type=latency,nope')).toBe('metric_type');
    expect(refusal(Array.from({ length: 300 }, (_, i) => `node=n${i}`).join('&'))).toBe('node');
  });
});
