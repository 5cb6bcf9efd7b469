/**
 * The proxy as deployed: the fake upstream and an ingest node in proxy mode
 * as `node` processes, configured by environment only. Its own endpoints on
 * the ingest port, a config error, and a SIGTERM in the middle of a stream:
 * the stream finishes, its events are flushed to Redis, exit 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pulseKeys, type RequestEnd } from '@pulse/protocol';
import { freePort } from '../support/redis-server.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { startTestRedis, testClient, uniquePrefix, type TestRedis } from '../support/redis.js';
import { storedEvents } from '../support/proxy.js';

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

async function proxyNode(env: Record<string, string>, waitReady = true): Promise<ServiceProcess & { proxyUrl: string; prefix: string }> {
  const proxyPort = await freePort();
  const prefix = uniquePrefix('proxy');
  const ingest = await startService(
    'ingest',
    { REDIS_URL: redis.url, PULSE_KEY_PREFIX: prefix, PULSE_PROXY_UPSTREAMS: fake.url, PULSE_PROXY_PORT: String(proxyPort), PULSE_NODE_ID: 'edge-1', ...env },
    { waitReady },
  );
  started.push(ingest);
  return Object.assign(ingest, { proxyUrl: `http://127.0.0.1:${proxyPort}`, prefix });
}

describe('ingest in proxy mode, as a process', () => {
  it('exits 2 with one line naming a bad upstream list', async () => {
    const ingest = await proxyNode({ PULSE_PROXY_UPSTREAMS: `${'http://ok:1'},ftp://nope` }, false);
    expect(await ingest.exited).toBe(2);
    expect(ingest.output().trim().split('\n')).toHaveLength(1);
    expect(ingest.output()).toMatch(/PULSE_PROXY_UPSTREAMS: not an http\(s\) base URL without query or credentials: ftp:\/\/nope/);
  });

  it('serves its status on the ingest port, and on SIGTERM lets a running stream finish and flushes its events', async () => {
    const ingest = await proxyNode({});
    expect((await fetch(`${ingest.url}/proxy/readyz`)).status).toBe(200);
    const status = await (await fetch(`${ingest.url}/proxy/status`)).json();
    expect(status).toMatchObject({ node: 'edge-1', ready: true, upstreams: [{ url: fake.url, healthy: true }] });
    expect(await (await fetch(`${ingest.url}/metrics`)).text()).toMatch(/^pulse_proxy_events_dropped_total 0$/m);
    expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200); // the ingest app is still there

    const res = await fetch(`${ingest.proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 20 }), // ~1 s at 20 tokens/s
    });
    const body = res.body!.getReader();
    let text = new TextDecoder().decode((await body.read()).value);
    ingest.child.kill('SIGTERM');
    for (let part = await body.read(); !part.done; part = await body.read()) text += new TextDecoder().decode(part.value);
    expect(text.match(/"content":/g)).toHaveLength(21); // the role chunk and 20 tokens
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(await ingest.exited).toBe(0);

    const events = await storedEvents(reader, pulseKeys(ingest.prefix));
    expect(events.map((e) => e.type)).toEqual(['request.start', 'request.end']);
    expect(events[1] as RequestEnd).toMatchObject({ node: 'edge-1', model: 'gpt-4', stream: true, status: 200, completion_tokens: 20, tokens_estimated: true });
    expect((events[1] as RequestEnd).error).toBeUndefined();
  });

  it('with read tokens configured, its status and metrics take one; its readiness stays open for probes', async () => {
    const token = 'proxy-read-token-0123456789';
    const ingest = await proxyNode({ PULSE_READ_TOKENS: token });
    expect((await fetch(`${ingest.url}/proxy/readyz`)).status).toBe(200);
    for (const path of ['/proxy/status', '/metrics']) {
      const refused = await fetch(`${ingest.url}${path}`);
      expect(refused.status, path).toBe(401);
      expect(await refused.json()).toMatchObject({ code: 'unauthorized' });
      const allowed = await fetch(`${ingest.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status, path).toBe(200);
    }
    // Proxied traffic is the caller's business with the upstream: no Pulse token asked.
    expect((await fetch(`${ingest.proxyUrl}/v1/models`)).status).toBe(200);
  });
});
