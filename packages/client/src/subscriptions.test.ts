import { describe, expect, it } from 'vitest';
import { MAX_PENDING_REQUESTS, SubscriptionLedger, toSubscribeFilters, type EffectiveFilters } from './subscriptions.js';

const echo = (filters: Partial<EffectiveFilters>) => ({
  type: 'subscribed' as const,
  timestamp: 1,
  filters: { endpoints: [], models: [], nodes: [], metric_types: ['all'], interval: 1, ...filters },
});

describe('SubscriptionLedger', () => {
  it('replays nothing for a client that never subscribed', () => {
    expect(new SubscriptionLedger().replay()).toEqual([]);
  });

  it('replays the confirmed filters as one subscribe', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { model: 'gpt-4' } });
    ledger.request({ type: 'subscribe', filters: { metric_type: 'latency', interval: 2 } });
    ledger.settle(echo({ models: ['gpt-4'] }));
    ledger.settle(echo({ models: ['gpt-4'], nodes: [], metric_types: ['latency'], interval: 2 }));
    expect(ledger.filters?.metric_types).toEqual(['latency']);
    expect(ledger.replay()).toEqual([{ type: 'subscribe', filters: { models: ['gpt-4'], metric_types: ['latency'], interval: 2 } }]);
  });

  it('replays requests the lost connection never answered, after the confirmed state', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { endpoint: '/a' } });
    ledger.settle(echo({ endpoints: ['/a'] }));
    ledger.request({ type: 'unsubscribe' });
    ledger.request({ type: 'subscribe', filters: { model: 'm' } });
    expect(ledger.replay()).toEqual([
      { type: 'subscribe', filters: { endpoints: ['/a'], interval: 1 } },
      { type: 'unsubscribe' },
      { type: 'subscribe', filters: { model: 'm' } },
    ]);
  });

  it('puts since on the last subscribe of a replay, and only there (docs/PROTOCOL.md §5.11)', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { endpoint: '/a' } });
    ledger.settle(echo({ endpoints: ['/a'] }));
    ledger.request({ type: 'subscribe', filters: { model: 'm' } });
    expect(ledger.replay(1764200013.5)).toEqual([
      { type: 'subscribe', filters: { endpoints: ['/a'], interval: 1 } },
      { type: 'subscribe', filters: { model: 'm' }, since: 1764200013.5 },
    ]);
    // Lost again before any answer: the old since is dropped, the new one goes on the last.
    expect(ledger.replay(1764200020)).toEqual([
      { type: 'subscribe', filters: { endpoints: ['/a'], interval: 1 } },
      { type: 'subscribe', filters: { model: 'm' }, since: 1764200020 },
    ]);
    expect(ledger.replay()).toEqual([
      { type: 'subscribe', filters: { endpoints: ['/a'], interval: 1 } },
      { type: 'subscribe', filters: { model: 'm' } },
    ]);
  });

  it('adds a subscribe carrying since when the replay ends with an unsubscribe or is empty; it is pending like the others', () => {
    const ledger = new SubscriptionLedger();
    expect(ledger.replay(5)).toEqual([{ type: 'subscribe', filters: {}, since: 5 }]);
    ledger.settle(echo({}));
    ledger.request({ type: 'unsubscribe' });
    expect(ledger.replay(6)).toEqual([
      { type: 'subscribe', filters: { interval: 1 } },
      { type: 'unsubscribe' },
      { type: 'subscribe', filters: {}, since: 6 },
    ]);
    ledger.settle(echo({}));
    ledger.settle({ type: 'unsubscribed', timestamp: 2 });
    ledger.settle(echo({}));
    // The added subscribe was confirmed: the defaults, spelled out.
    expect(ledger.replay()).toEqual([{ type: 'subscribe', filters: { interval: 1 } }]);
  });

  it('holds at most MAX_PENDING_REQUESTS unanswered requests, across replays too', () => {
    const ledger = new SubscriptionLedger();
    for (let i = 0; i < MAX_PENDING_REQUESTS; i++) ledger.request({ type: 'subscribe', filters: { endpoint: `/e${i}` } });
    expect(() => ledger.request({ type: 'subscribe', filters: { model: 'one-too-many' } })).toThrow(RangeError);
    expect(ledger.replay()).toHaveLength(MAX_PENDING_REQUESTS);
    expect(() => ledger.request({ type: 'unsubscribe' })).toThrow(RangeError);
    // Answers make room again.
    ledger.settle(echo({ endpoints: ['/e0'] }));
    ledger.request({ type: 'unsubscribe' });
    expect(ledger.replay()).toHaveLength(MAX_PENDING_REQUESTS + 1);
  });

  it('forgets a subscribe the server rejected', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { interval: -1 } });
    ledger.settle({ type: 'error', timestamp: 1, message: 'interval: ...', code: 'invalid_subscription' });
    expect(ledger.replay()).toEqual([]);
  });

  it('an unsubscribe resets what is confirmed', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { model: 'm' } });
    ledger.settle(echo({ models: ['m'] }));
    ledger.request({ type: 'unsubscribe' });
    ledger.settle({ type: 'unsubscribed', timestamp: 1 });
    expect(ledger.filters).toBeNull();
    expect(ledger.replay()).toEqual([]);
  });

  it('ignores replies it is not waiting for (pong, another error)', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { model: 'm' } });
    ledger.settle({ type: 'pong', timestamp: 1 });
    ledger.settle({ type: 'error', timestamp: 1, message: 'Invalid JSON', code: 'invalid_message' });
    expect(ledger.replay()).toEqual([{ type: 'subscribe', filters: { model: 'm' } }]);
  });

  it('replayed requests are pending on the new connection', () => {
    const ledger = new SubscriptionLedger();
    ledger.request({ type: 'subscribe', filters: { model: 'm' } });
    ledger.settle(echo({ models: ['m'] }));
    ledger.replay();
    // The new connection drops too before answering: the same state comes back.
    expect(ledger.replay()).toEqual([{ type: 'subscribe', filters: { models: ['m'], interval: 1 } }]);
  });
});

describe('toSubscribeFilters', () => {
  it('leaves out defaults', () => {
    expect(toSubscribeFilters({ endpoints: [], models: [], nodes: [], metric_types: ['all'], interval: 0.5 })).toEqual({ interval: 0.5 });
  });
});
