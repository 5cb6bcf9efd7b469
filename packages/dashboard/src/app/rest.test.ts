import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTERS } from './filters.js';
import { gatewayUrl, historyAnswer, historyQuery } from './rest.js';

describe('history requests', () => {
  it('asks for the page’s view: the same filters as its subscription, over the span, at the step', () => {
    const q = new URLSearchParams(
      historyQuery({ filters: { endpoint: '/v1/embeddings', model: 'a b&c', node: 'n1', types: ['latency', 'error'] }, since: 1000.4, until: 1300.2, step: 0.5 }),
    );
    expect(Object.fromEntries(q)).toEqual({ since: '1000.4', until: '1300.2', step: '0.5', endpoint: '/v1/embeddings', model: 'a b&c', node: 'n1', metric_type: 'latency,error' });
  });

  it('the unfiltered view names no filter, and no step lets history pick', () => {
    // Every type but the node table, which no chart draws.
    expect(historyQuery({ filters: DEFAULT_FILTERS, since: 10, until: 20 })).toBe('since=10&until=20&metric_type=throughput%2Clatency%2Ccache%2Cqueue%2Cstreaming%2Cerror%2Cslo');
  });

  it('reads points oldest first, leaving out malformed ones, and the step used', () => {
    const answer = historyAnswer({
      step: 5,
      points: [{ timestamp: 20, data: {} }, { timestamp: 10, data: { queue: {} } }, { timestamp: 'x', data: {} }, { timestamp: 30 }, null],
    });
    expect(answer).toEqual({ step: 5, points: [{ timestamp: 10, data: { queue: {} } }, { timestamp: 20, data: {} }] });
    expect(historyAnswer({ points: 'no' })).toEqual({ step: null, points: [] });
  });

  it('maps routes onto the gateway behind the stream', () => {
    expect(gatewayUrl('wss://h:9/pulse/metrics/stream', '/v1/runs/run-1/stop')).toBe('https://h:9/pulse/v1/runs/run-1/stop');
    expect(gatewayUrl('ws://h/metrics/stream', '/v1/annotations?since=1&until=2')).toBe('http://h/v1/annotations?since=1&until=2');
  });
});
