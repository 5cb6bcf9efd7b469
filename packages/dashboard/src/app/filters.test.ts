import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTERS, fromQuery, toQuery, toSubscribe } from './filters.js';

describe('filters', () => {
  it('the defaults need no subscribe', () => {
    expect(toSubscribe(DEFAULT_FILTERS)).toBeNull();
    expect(toQuery(DEFAULT_FILTERS)).toBe('');
  });

  it('maps each control onto its subscribe key', () => {
    expect(toSubscribe({ endpoint: '/v1/embeddings', model: 'gpt-4', types: ['latency', 'error'], interval: 2 })).toEqual({
      endpoint: '/v1/embeddings',
      model: 'gpt-4',
      metric_types: ['latency', 'error'],
      interval: 2,
    });
  });

  it('round-trips through the query string', () => {
    const state = { endpoint: '/v1/chat/completions', model: 'a b&c', types: ['throughput', 'cache'] as const, interval: 5 };
    expect(fromQuery(toQuery({ ...state, types: [...state.types] }))).toEqual(state);
  });

  it('ignores what it does not know', () => {
    expect(fromQuery('types=bogus,latency&interval=3&x=1')).toEqual({ ...DEFAULT_FILTERS, types: ['latency'] });
  });
});
