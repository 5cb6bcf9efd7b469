import { describe, expect, it } from 'vitest';
import { addressQuery, DEFAULT_FILTERS, fromQuery, toQuery, toSubscribe } from './filters.js';

describe('filters', () => {
  it('the defaults need no subscribe', () => {
    expect(toSubscribe(DEFAULT_FILTERS)).toBeNull();
    expect(toQuery(DEFAULT_FILTERS)).toBe('');
  });

  it('maps each control onto its subscribe key', () => {
    expect(toSubscribe({ endpoint: '/v1/embeddings', model: 'gpt-4', node: 'fakeai-2', types: ['latency', 'error'], interval: 2 })).toEqual({
      endpoint: '/v1/embeddings',
      model: 'gpt-4',
      node: 'fakeai-2',
      metric_types: ['latency', 'error'],
      interval: 2,
    });
  });

  it('round-trips through the query string', () => {
    const state = { endpoint: '/v1/chat/completions', model: 'a b&c', node: 'fakeai-1', types: ['throughput', 'cache'] as const, interval: 5 };
    expect(fromQuery(toQuery({ ...state, types: [...state.types] }))).toEqual(state);
  });

  it('a node alone is a filter, and lives in the query string', () => {
    const state = { ...DEFAULT_FILTERS, node: 'fakeai-sim-2' };
    expect(toSubscribe(state)).toEqual({ node: 'fakeai-sim-2' });
    expect(toQuery(state)).toBe('node=fakeai-sim-2');
    expect(fromQuery('node=fakeai-sim-2&slo_target=95')).toEqual(state);
  });

  it('ignores what it does not know', () => {
    expect(fromQuery('types=bogus,latency&interval=3&x=1')).toEqual({ ...DEFAULT_FILTERS, types: ['latency'] });
  });

  it('a filter change keeps the page’s own parameters in the address, and drops the old filters', () => {
    const search = '?endpoint=%2Fold&ws=ws%3A%2F%2Fother%3A8000%2Fmetrics%2Fstream&token=t0k&slo_target=interactive%3A99.9';
    expect(addressQuery({ ...DEFAULT_FILTERS, node: 'n1' }, search)).toBe('?node=n1&ws=ws%3A%2F%2Fother%3A8000%2Fmetrics%2Fstream&token=t0k&slo_target=interactive%3A99.9');
    expect(addressQuery(DEFAULT_FILTERS, '?endpoint=%2Fold')).toBe('');
  });
});
