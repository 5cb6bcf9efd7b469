/**
 * How the gateway routes plain HTTP: its own routes first (including
 * `/metrics/labels`), then the dashboard, then the fallback (the all-in-one
 * process mounts ingest there), then a JSON 404.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dashboardHandler } from '@pulse/dashboard';
import { encodeSnapshot } from '@pulse/protocol';
import { MemorySnapshotBus, silentLogger } from '@pulse/runtime';
import { MemoryHistoryStore, parseTiers, StoreHistoryReader } from '@pulse/history';
import { parseGatewayConfig } from './config.js';
import { createGateway, type Gateway } from './gateway.js';
import type { HttpHandler } from './http-routes.js';
import { SAMPLE_CELLS, snapshot, TEST_TICK_MS } from '@pulse/test-support/gateway';

let gateway: Gateway | null = null;

afterEach(async () => {
  await gateway?.close();
  gateway = null;
});

async function start(options: { dashboard?: boolean; fallback?: HttpHandler; history?: boolean }): Promise<{ url: string; bus: MemorySnapshotBus }> {
  const bus = new MemorySnapshotBus();
  const config = parseGatewayConfig({ PULSE_TICK_MS: String(TEST_TICK_MS), PORT: '0', HOST: '127.0.0.1' });
  const tiers = parseTiers('100ms:10m,5s:6h,1m:7d', TEST_TICK_MS);
  const history = options.history ? new StoreHistoryReader({ store: new MemoryHistoryStore(), tiers, windowMs: 60_000 }) : undefined;
  gateway = createGateway({
    ...(history ? { history } : {}),
    config,
    feed: bus,
    logger: silentLogger(),
    ...(options.dashboard ? { dashboard: dashboardHandler() } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
  });
  await new Promise<void>((resolve) => gateway!.server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`, bus };
}

describe('gateway HTTP routes', () => {
  it('lists the labels of the held snapshot at /metrics/labels', async () => {
    const { url, bus } = await start({});
    expect(await (await fetch(`${url}/metrics/labels`)).json()).toMatchObject({ endpoints: [], models: [] });
    await bus.publish(encodeSnapshot(snapshot(5, SAMPLE_CELLS)));
    await vi.waitFor(() => expect(gateway!.ready()).toBe(true));
    const res = await fetch(`${url}/metrics/labels`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ timestamp: 0.5, endpoints: ['/v1/chat/completions', '/v1/embeddings'], models: ['gpt-4', 'llama'], nodes: ['n1'] });
  });

  it('answers /metrics/history from the history store: today\'s shape without parameters, 400 naming a bad one', async () => {
    const { url } = await start({ history: true });
    const res = await fetch(`${url}/metrics/history`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ step: 5, max_points: 1000, points: [] });
    const bad = await fetch(`${url}/metrics/history?since=9&until=8`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^since: /);
    const tooMany = await fetch(`${url}/metrics/history?since=${Math.floor(Date.now() / 1000) - 3600}&step=0.1`);
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: string }).error).toMatch(/^step: 360\d\d points .* more than 1000/);
    // Without a history store the route still answers, empty, and says so.
    await gateway!.close();
    const off = await start({});
    expect(await (await fetch(`${off.url}/metrics/history`)).json()).toMatchObject({ history: 'off', points: [] });
  });

  it('serves the dashboard at / before the fallback, and leaves it everything else', async () => {
    const fallback: HttpHandler = (req, res) => res.writeHead(299).end(`fallback ${req.method} ${req.url}`);
    const { url } = await start({ dashboard: true, fallback });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<title>Pulse');
    expect((await fetch(`${url}/dashboard/app/main.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await (await fetch(`${url}/v1/events`, { method: 'POST', body: '{}' })).text()).toBe('fallback POST /v1/events');
    expect((await fetch(`${url}/`, { method: 'POST' })).status).toBe(299);
    expect((await fetch(`${url}/metrics/snapshot`)).headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('answers a JSON 404 when neither the dashboard nor a fallback has the path', async () => {
    const { url } = await start({ dashboard: true });
    const res = await fetch(`${url}/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'not_found' });
  });
});
