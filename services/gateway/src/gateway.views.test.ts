/**
 * The distinct-view ceiling (PULSE_GATEWAY_MAX_VIEWS) over real sockets: a
 * subscribe that would add a view past it gets an `error` naming the limit,
 * keeps the client's filters and counts in pulse_rejections_total; joining a
 * view already served always works, and a view frees its slot when its last
 * client leaves.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemorySnapshotBus } from '@pulse/runtime';
import { cell, startGateway, startTicker, TestClient, type RunningGateway } from '@pulse/test-support/gateway';

let gw: RunningGateway | undefined;
const clients: TestClient[] = [];
const tickers: { stop(): void }[] = [];
afterEach(async () => {
  for (const t of tickers.splice(0)) t.stop();
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
  gw = undefined;
});

async function connect(): Promise<TestClient> {
  const c = await TestClient.connect(gw!.ws);
  clients.push(c);
  return c;
}

async function counted(reason: string): Promise<number> {
  const text = await (await fetch(`${gw!.http}/metrics/limits`)).text();
  const match = new RegExp(`pulse_rejections_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  if (!match) throw new Error(`no counter for ${reason} in:\n${text}`);
  return Number(match[1]);
}

async function viewsGauge(): Promise<number> {
  const text = await (await fetch(`${gw!.http}/metrics`)).text();
  return Number(/^pulse_gateway_views (\d+)$/m.exec(text)?.[1]);
}

describe('PULSE_GATEWAY_MAX_VIEWS', () => {
  it('refuses a subscribe that would add a view past the ceiling, keeps the client on its view, and frees the slot when a view empties', async () => {
    const bus = new MemorySnapshotBus();
    gw = await startGateway(bus, { PULSE_GATEWAY_MAX_VIEWS: '2' });
    tickers.push(startTicker(bus, () => ['/a', '/b', '/c'].map((e) => cell(e, 'm', { requests: 5, responses: 5 }))));
    const [a, b, c] = [await connect(), await connect(), await connect()];
    await a.request({ type: 'subscribe', filters: { endpoint: '/a', interval: 0.1 } }, 'subscribed');
    await b.request({ type: 'subscribe', filters: { endpoint: '/b', interval: 0.1 } }, 'subscribed');
    // The unfiltered view never counts; a client may always join a view already served.
    await c.request({ type: 'subscribe', filters: { endpoint: '/a', interval: 0.1 } }, 'subscribed');
    expect(await viewsGauge()).toBe(2);

    const refused = await c.request({ type: 'subscribe', filters: { endpoint: '/c', interval: 0.1 } }, 'error');
    expect(refused.message).toMatch(/at most 2 distinct views \(PULSE_GATEWAY_MAX_VIEWS\)/);
    expect(refused.code).toBe('invalid_subscription');
    expect(await counted('distinct_views')).toBe(1);
    // Still on /a: its next updates carry /a alone.
    const before = c.ofType('metrics_update').length;
    await vi.waitFor(() => expect(c.ofType('metrics_update').length).toBeGreaterThan(before + 1), { timeout: 5000 });
    const latest = c.ofType('metrics_update').at(-1)!.message as unknown as { data: { throughput: { requests_per_sec: Record<string, number> } } };
    expect(Object.keys(latest.data.throughput.requests_per_sec)).toEqual(['/a']);

    // b leaves: /b has no client, so /c fits.
    await b.close();
    await vi.waitFor(async () => expect(await viewsGauge()).toBe(1));
    await c.request({ type: 'subscribe', filters: { endpoint: '/c', interval: 0.1 } }, 'subscribed');
    // c moving off /a left a with /a alone; an unsubscribe frees /a too.
    await a.request({ type: 'unsubscribe' }, 'unsubscribed');
    await vi.waitFor(async () => expect(await viewsGauge()).toBe(1));
  });
});
