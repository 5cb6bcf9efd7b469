/**
 * The proxy as deployed: the fake upstream and the proxy as `node`
 * processes, configured by environment only. Config errors, its own endpoints
 * on the admin port, and a SIGTERM in the middle of a stream: readiness turns
 * 503, the stream finishes, its events are flushed to Redis, exit 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pulseKeys, type RequestEnd } from '@pulse/protocol';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { storedEvents } from '@pulse/test-support/proxy';

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
let fake: ServiceProcess;
const started: ServiceProcess[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  fake = await startService('fake-openai', { FAKE_OPENAI_LATENCY_MS: '0', FAKE_OPENAI_TTFT_MS: '0', FAKE_OPENAI_TOKENS_PER_SEC: '20', FAKE_OPENAI_ERROR_RATE: '0' });
  started.push(fake);
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop('SIGKILL')));
  reader?.disconnect();
  await redis?.stop();
});

async function proxyNode(env: Record<string, string>, waitReady = true): Promise<ServiceProcess & { prefix: string }> {
  const prefix = uniquePrefix('proxy');
  const proxy = await startService('proxy', { REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, PULSE_PROXY_UPSTREAMS: fake.url, PULSE_NODE_ID: 'edge-1', ...env }, { waitReady });
  started.push(proxy);
  return Object.assign(proxy, { prefix });
}

const chatStream = (url: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 20 }), // ~1 s at 20 tokens/s
  });

describe('the proxy as a process', () => {
  it.each([
    [`${'http://ok:1'},ftp://nope`, /PULSE_PROXY_UPSTREAMS: not an http\(s\) base URL without query or credentials: ftp:\/\/nope/],
    ['', /PULSE_PROXY_UPSTREAMS: lists no upstream/],
  ])('exits 2 with one line naming a bad upstream list (%j)', async (upstreams, message) => {
    const proxy = await proxyNode({ PULSE_PROXY_UPSTREAMS: upstreams }, false);
    expect(await proxy.exited).toBe(2);
    expect(proxy.output().trim().split('\n')).toHaveLength(1);
    expect(proxy.output()).toMatch(message);
  });

  it('serves its endpoints on the admin port, and on SIGTERM turns unready, lets a running stream finish and flushes its events', async () => {
    const proxy = await proxyNode({});
    expect(proxy.adminUrl).not.toBe(proxy.url);
    expect((await fetch(`${proxy.adminUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${proxy.adminUrl}/readyz`)).json()).toEqual({ status: 'ready' });
    const status = await (await fetch(`${proxy.adminUrl}/status`)).json();
    expect(status).toMatchObject({ node: 'edge-1', ready: true, active: 0, upstreams: [{ url: fake.url, healthy: true }], events: { dropped: 0 } });
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^pulse_proxy_events_dropped_total 0$/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(metrics).toMatch(/^pulse_rejections_total\{reason="unauthorized"\} 0$/m);
    expect((await fetch(`${proxy.adminUrl}/v1/chat/completions`, { method: 'POST' })).status).toBe(404); // the admin port forwards nothing

    const res = await chatStream(proxy.url);
    const body = res.body!.getReader();
    let text = new TextDecoder().decode((await body.read()).value);
    proxy.child.kill('SIGTERM');
    await expect.poll(async () => (await fetch(`${proxy.adminUrl}/readyz`)).status, { timeout: 1000, interval: 50 }).toBe(503);
    for (let part = await body.read(); !part.done; part = await body.read()) text += new TextDecoder().decode(part.value);
    expect(text.match(/"content":/g)).toHaveLength(21); // the role chunk and 20 tokens
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(await proxy.exited).toBe(0);

    const events = await storedEvents(reader, pulseKeys(proxy.prefix));
    expect(events.map((e) => e.type)).toEqual(['request.start', 'request.end']);
    expect(events[1] as RequestEnd).toMatchObject({ node: 'edge-1', model: 'gpt-4', stream: true, status: 200, completion_tokens: 20, tokens_estimated: true });
    expect((events[1] as RequestEnd).error).toBeUndefined();
  });

  it('with read tokens configured, its status and metrics take one; its probes stay open', async () => {
    const token = 'proxy-read-token-0123456789';
    const proxy = await proxyNode({ PULSE_READ_TOKENS: token });
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`${proxy.adminUrl}${path}`)).status, path).toBe(200);
    for (const path of ['/status', '/metrics']) {
      const refused = await fetch(`${proxy.adminUrl}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('www-authenticate'), path).toBe('Bearer realm="pulse"');
      expect(await refused.json()).toMatchObject({ code: 'unauthorized' });
      const wrong = await fetch(`${proxy.adminUrl}${path}`, { headers: { authorization: 'Bearer not-the-read-token-0123' } });
      expect(wrong.status, path).toBe(401);
      const allowed = await fetch(`${proxy.adminUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status, path).toBe(200);
    }
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(metrics).toMatch(/^pulse_rejections_total\{reason="unauthorized"\} 4$/m);
    // Proxied traffic is the caller's business with the upstream: no Pulse token asked.
    expect((await fetch(`${proxy.url}/v1/models`)).status).toBe(200);
  });
});
