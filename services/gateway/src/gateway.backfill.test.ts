/**
 * `since` on subscribe (docs/PROTOCOL.md §5.11) over real sockets, on a
 * gateway fed by the in-process snapshot bus and built without a history
 * store: an invalid `since` is refused naming it and changes nothing; a
 * subscribe without it gets no `history` message (FakeAI's clients never
 * send one); with it, on a gateway without history, the `history` answer is
 * empty and says why, and updates resume after it; so on a gateway whose
 * history store (a real redis-server) was killed. Filling a real gap from
 * the shared store is test/e2e/reconnect.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseTiers, RedisHistoryStore, StoreHistoryReader } from '@pulse/history';
import { partitionKeys } from '@pulse/protocol';
import { closeRedis, connectRedis, MemorySnapshotBus, silentLogger } from '@pulse/runtime';
import { startTestRedis, uniquePrefix } from '@pulse/test-support/redis';
import { SAMPLE_CELLS as CELLS, startGateway, startTicker, TestClient, type RunningGateway } from '@pulse/test-support/gateway';

let bus: MemorySnapshotBus;
let gw: RunningGateway | undefined;
const clients: TestClient[] = [];
const tickers: { stop(): void }[] = [];

afterEach(async () => {
  for (const t of tickers.splice(0)) t.stop();
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
  gw = undefined;
});

async function setup(deps: Parameters<typeof startGateway>[3] = {}): Promise<TestClient> {
  bus = new MemorySnapshotBus();
  gw = await startGateway(bus, {}, silentLogger(), deps);
  tickers.push(startTicker(bus, () => CELLS));
  const c = await TestClient.connect(gw.ws);
  clients.push(c);
  await c.next('historical_data');
  return c;
}

describe('subscribe with since', () => {
  it.each([
    ['a string', '"1764200000"', '"1764200000"'],
    ['negative', '-1', '-1'],
    ['null', 'null', 'null'],
    ['an object', '{}', 'an object'],
    ['an array', '[1]', 'an array'],
  ])('refuses a since that is %s, naming since, and changes nothing', async (_, json, shown) => {
    const c = await setup();
    await c.request({ type: 'subscribe', filters: { endpoint: '/v1/embeddings', interval: 0.1 } }, 'subscribed');
    c.send(`{"type":"subscribe","filters":{"endpoint":"/v1/chat/completions"},"since":${json}}`);
    const error = (await c.next('error')).message;
    expect(error.code).toBe('invalid_subscription');
    expect(error.message).toMatch(/^since: must be the timestamp of the last metrics_update received/);
    expect(error.message.endsWith(`got ${shown}`)).toBe(true);
    // The filter did not change: the next subscribe echoes the endpoint of before alone.
    const echo = await c.request({ type: 'subscribe' }, 'subscribed');
    expect(echo.filters.endpoints).toEqual(['/v1/embeddings']);
    expect(c.ofType('history')).toHaveLength(0);
  });

  it('sends no history message for a subscribe without since (FakeAI clients): updates as before', async () => {
    const c = await setup();
    await c.request({ type: 'subscribe', filters: { interval: 0.1 } }, 'subscribed');
    for (let i = 0; i < 5; i++) await c.next('metrics_update');
    expect(c.received.map((r) => r.message.type)).toEqual(['historical_data', 'subscribed', ...Array(c.received.length - 2).fill('metrics_update')]);
  });

  it('answers, on a gateway without history, an empty history with an error after subscribed; updates resume after it', async () => {
    const c = await setup();
    const since = Date.now() / 1000 - 20;
    c.send({ type: 'subscribe', filters: { interval: 0.1, metric_type: 'throughput' }, since });
    const subscribed = await c.next('subscribed');
    const history = await c.next('history');
    expect(history.message).toMatchObject({ type: 'history', since, step: 0.1, points: [] });
    expect(history.message.error).toMatch(/history is off on this gateway/);
    expect(Object.keys(history.message).sort()).toEqual(['error', 'points', 'since', 'step', 'timestamp', 'type']);
    const update = await c.next('metrics_update');
    expect(c.received.indexOf(subscribed)).toBeLessThan(c.received.indexOf(history));
    expect(c.received.indexOf(history)).toBeLessThan(c.received.indexOf(update));
    expect(Object.keys(update.message.data)).toEqual(['throughput']);
  });

  it('accepts since 0 and a since in the future alike (nothing to send after it but what history holds)', async () => {
    const c = await setup();
    for (const since of [0, Date.now() / 1000 + 3600]) {
      c.send({ type: 'subscribe', since });
      await c.next('subscribed');
      expect((await c.next('history')).message.since).toBe(since);
    }
  });

  it('answers an empty history with an error when the history store fails (redis-server killed), and resumes updates', async () => {
    const redis = await startTestRedis({ killable: true });
    const connection = connectRedis(redis.url, 'producer', 'backfill-test', silentLogger());
    try {
      const store = new RedisHistoryStore(connection, partitionKeys(uniquePrefix('backfill'), 1));
      const history = new StoreHistoryReader({ store, tiers: parseTiers('0.1s:10m', 100), windowMs: 10_000 });
      const c = await setup({ history });
      await redis.kill();
      c.send({ type: 'subscribe', filters: { interval: 0.1 }, since: Date.now() / 1000 - 20 });
      await c.next('subscribed');
      const answer = (await c.next('history', 10_000)).message;
      expect(answer.points).toEqual([]);
      expect(answer.error).toMatch(/^history unavailable: /);
      await c.next('metrics_update');
    } finally {
      await closeRedis(connection).catch(() => undefined);
      await redis.stop();
    }
  });
});
