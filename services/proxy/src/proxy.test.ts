/**
 * The proxy through real sockets, in front of the fake OpenAI upstream,
 * writing to a real Redis: what the caller gets, and the exact events read
 * back from the stream (they must validate, pair up and carry the figures
 * the upstream reported or the proxy observed).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PulseEvent, RequestEnd, RequestStart } from '@pulse/protocol';
import { createFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '@pulse/fake-openai';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { startProxy, storedEvents, TEST_NODE, type TestProxy } from '@pulse/test-support/proxy';

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  reader?.disconnect();
  await redis?.stop();
});

async function fakeUpstream(options: FakeOpenAIOptions = {}): Promise<{ fake: FakeOpenAI; url: string }> {
  const fake = createFakeOpenAI(options);
  const url = await fake.listen();
  cleanups.push(() => fake.close());
  return { fake, url };
}

async function proxyTo(...upstreams: string[]): Promise<TestProxy> {
  const proxy = await startProxy({ redisUrl: redis.url, upstreams });
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A reply's JSON, walked freely by the assertions. */
const json = async (res: Response): Promise<any> => res.json();

const post = (url: string, body: unknown, path = '/v1/chat/completions') =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The start and end of the one request in the stream, once both are there. */
async function exchange(proxy: TestProxy): Promise<{ start: RequestStart; end: RequestEnd }> {
  let events: PulseEvent[] = [];
  await expect.poll(async () => (events = await storedEvents(reader, proxy.keys)).length).toBe(2);
  const [start, end] = events as [RequestStart, RequestEnd];
  expect(start.type).toBe('request.start');
  expect(end.type).toBe('request.end');
  expect(end.request_id).toBe(start.request_id);
  expect(end.ts).toBeGreaterThanOrEqual(start.ts);
  expect(Math.abs(start.ts * 1000 - Date.now())).toBeLessThan(10_000);
  // The end's timestamp is the start's plus the latency, on one clock.
  expect((end.ts - start.ts) * 1000).toBeCloseTo(end.latency_ms, 0);
  return { start, end };
}

const messages = [{ role: 'user', content: 'x'.repeat(40) }]; // 10 prompt tokens for the fake
const labels = { node: TEST_NODE, request_id: expect.any(String), endpoint: '/v1/chat/completions', model: 'gpt-4' };

describe('proxy: requests and their events', () => {
  it('non-streaming: the body as the upstream sent it, and an end with its usage and cache figures', async () => {
    const { url } = await fakeUpstream({ latencyMs: 40, cacheHitRate: 1, cachedShare: 0.5 });
    const proxy = await proxyTo(url);
    const res = await post(proxy.url, { model: 'gpt-4', messages, max_tokens: 5 }, '/v1/chat/completions?trace=1');
    expect(res.status).toBe(200);
    expect((await json(res)).usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 5 } });

    const { start, end } = await exchange(proxy);
    expect(start).toEqual({ type: 'request.start', ts: expect.any(Number), ...labels, stream: false });
    expect(end).toEqual({
      type: 'request.end',
      ts: expect.any(Number),
      ...labels,
      stream: false,
      status: 200,
      latency_ms: expect.any(Number),
      prompt_tokens: 10,
      completion_tokens: 5,
      cache: { hit: true, cached_tokens: 5, prefix_length: 5 },
    });
    expect(end.latency_ms).toBeGreaterThanOrEqual(40);
    expect(end.latency_ms).toBeLessThan(2000);
  });

  it('streaming with include_usage: TTFT at the first content chunk, usage from the last chunk', async () => {
    const { url } = await fakeUpstream({ ttftMs: 120, tokensPerSecond: 10 });
    const proxy = await proxyTo(url);
    const res = await post(proxy.url, { model: 'gpt-4', messages, stream: true, max_tokens: 4, stream_options: { include_usage: true } });
    const text = await res.text();
    expect(text.match(/"content":"[a-z]+ "/g)).toHaveLength(4);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);

    const { start, end } = await exchange(proxy);
    expect(start).toEqual({ type: 'request.start', ts: expect.any(Number), ...labels, stream: true });
    expect(end).toEqual({
      type: 'request.end',
      ts: expect.any(Number),
      ...labels,
      stream: true,
      status: 200,
      latency_ms: expect.any(Number),
      ttft_ms: expect.any(Number),
      prompt_tokens: 10,
      completion_tokens: 4,
      cache: { hit: false, cached_tokens: 0, prefix_length: 0 },
    });
    // The role chunk comes at once; TTFT waits for content, and three more tokens follow at 10/s.
    expect(end.ttft_ms).toBeGreaterThanOrEqual(120);
    expect(end.latency_ms).toBeGreaterThanOrEqual(420);
    expect(end.ttft_ms).toBeLessThan(end.latency_ms - 150);
  });

  it('streaming without usage: completion tokens counted from content chunks, marked estimated', async () => {
    const { url } = await fakeUpstream();
    const proxy = await proxyTo(url);
    await (await post(proxy.url, { model: 'gpt-4', messages, stream: true, max_tokens: 7 }, '/v1/completions')).text();
    const { end } = await exchange(proxy);
    expect(end).toMatchObject({ endpoint: '/v1/completions', stream: true, status: 200, completion_tokens: 7, tokens_estimated: true });
    expect(end.prompt_tokens).toBeUndefined();
    expect(end.cache).toBeUndefined();
  });

  it('a 5 MB body streams through, and `model` is found after it', async () => {
    const { url } = await fakeUpstream();
    const proxy = await proxyTo(url);
    const content = 'y'.repeat(5 * 1024 * 1024);
    // `model` last: the proxy must read past 5 MB to find it, without holding them.
    const body = `{"messages":[{"role":"user","content":"${content}"}],"stream":false,"model":"late-model"}`;
    const res = await fetch(proxy.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect((await json(res)).usage.prompt_tokens).toBe(content.length / 4);
    const { start, end } = await exchange(proxy);
    expect(start.model).toBe('late-model');
    expect(end).toMatchObject({ model: 'late-model', status: 200, prompt_tokens: content.length / 4 });
  });

  it('embeddings are recorded; a body without `model` is "unknown"', async () => {
    const { url } = await fakeUpstream();
    const proxy = await proxyTo(url);
    expect((await post(proxy.url, { model: 'embed-1', input: 'abcdefgh' }, '/v1/embeddings')).status).toBe(200);
    expect((await post(proxy.url, { input: 'abcd' }, '/v1/embeddings')).status).toBe(200);
    let events: PulseEvent[] = [];
    await expect.poll(async () => (events = await storedEvents(reader, proxy.keys)).length).toBe(4);
    const ends = events.filter((e): e is RequestEnd => e.type === 'request.end');
    expect(ends.map((e) => [e.endpoint, e.model, e.status, e.prompt_tokens])).toEqual([
      ['/v1/embeddings', 'embed-1', 200, 2],
      ['/v1/embeddings', 'unknown', 200, 1],
    ]);
  });

  it('forwards every other request untouched and records none of it: model lists, typos, scanners, sub-paths', async () => {
    const { fake, url } = await fakeUpstream();
    const proxy = await proxyTo(url);
    const others: [method: string, path: string][] = [
      ['GET', '/v1/models'],
      ['GET', '/v1/chat/completions'],
      ['POST', '/v1/chat/completion'],
      ['POST', '/v1/chat/completions/'],
      ['POST', '/v1/responses/resp_1/cancel'],
      ['GET', '/wp-login.php?redirect=1'],
    ];
    for (const [method, path] of others) {
      const init = { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? JSON.stringify({ model: 'gpt-4', messages }) : undefined };
      const [proxied, direct] = await Promise.all([fetch(proxy.url + path, init), fetch(url + path, init)]);
      expect(proxied.status, `${method} ${path}`).toBe(direct.status);
      expect(await proxied.text(), `${method} ${path}`).toBe(await direct.text());
    }
    // One recorded request after them: once its events are in, nothing else will come.
    expect((await post(proxy.url, { model: 'gpt-4', messages, max_tokens: 2 })).status).toBe(200);
    const { start, end } = await exchange(proxy);
    expect([start.endpoint, end.endpoint]).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
    expect(proxy.proxy.status().upstreams[0]!.requests).toBe(others.length + 1);
    expect(fake.stats().requests).toBe(1);
  });

  it('records the configured routes instead (PULSE_PROXY_ROUTES), and only POSTs to them', async () => {
    const { url } = await fakeUpstream();
    const proxy = await startProxy({ redisUrl: redis.url, upstreams: [url], settings: { routes: ['/v1/completions', '/v1/models'] } });
    cleanups.push(() => proxy.close());
    expect((await post(proxy.url, { model: 'gpt-4', messages, max_tokens: 2 })).status).toBe(200);
    expect((await fetch(proxy.url + '/v1/models')).status).toBe(200);
    expect((await post(proxy.url, { model: 'gpt-4', prompt: 'x', max_tokens: 2 }, '/v1/completions?n=1')).status).toBe(200);
    const { start, end } = await exchange(proxy);
    expect([start.endpoint, end.endpoint, end.status]).toEqual(['/v1/completions', '/v1/completions', 200]);
  });

  it('an upstream 500 reaches the caller as sent, and the end records its error type', async () => {
    const { url } = await fakeUpstream({ errorRate: 1 });
    const proxy = await proxyTo(url);
    const res = await post(proxy.url, { model: 'gpt-4', messages });
    expect(res.status).toBe(500);
    expect(await json(res)).toEqual({
      error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null },
    });
    const { end } = await exchange(proxy);
    expect(end).toMatchObject({ status: 500, error: 'server_error' });
  });

  it('a caller that hangs up mid-stream: the upstream stops generating, the end says client_disconnected', async () => {
    const { fake, url } = await fakeUpstream({ tokensPerSecond: 20 });
    const proxy = await proxyTo(url);
    const controller = new AbortController();
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4', messages, stream: true, max_tokens: 1000 }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"content":"l')) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();

    await expect.poll(() => fake.stats().cancelled).toBe(1);
    const { end } = await exchange(proxy);
    expect(end).toMatchObject({ stream: true, status: 200, error: 'client_disconnected', tokens_estimated: true });
    expect(end.completion_tokens).toBeGreaterThanOrEqual(1);
    expect(end.completion_tokens).toBeLessThan(1000);
    expect(end.ttft_ms).toBeDefined();
    expect(proxy.proxy.status().active).toBe(0);
    expect(proxy.proxy.status().upstreams[0]!.inFlight).toBe(0);
  });

  it('sends a node.gauge heartbeat of its recorded requests in flight, so streams longer than the silence rule stay counted', async () => {
    const { url } = await fakeUpstream({ tokensPerSecond: 10 });
    const proxy = await startProxy({ redisUrl: redis.url, upstreams: [url], settings: { heartbeatMs: 50, routes: ['/v1/completions'] } });
    cleanups.push(() => proxy.close());
    const gauges = async () => (await storedEvents(reader, proxy.keys)).filter((e) => e.type === 'node.gauge');
    await expect.poll(async () => (await gauges()).length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect((await gauges())[0]).toMatchObject({ node: TEST_NODE, queue_depth: 0 });

    // Two streams of ~1 s in flight; only the one on a recorded route counts in the gauge.
    const streams = [
      post(proxy.url, { model: 'gpt-4', messages, stream: true, max_tokens: 10 }).then((r) => r.text()),
      post(proxy.url, { model: 'gpt-4', prompt: 'x', stream: true, max_tokens: 10 }, '/v1/completions').then((r) => r.text()),
    ];
    await expect.poll(() => proxy.proxy.status().active).toBe(2);
    await expect.poll(async () => (await gauges()).at(-1), { timeout: 5000 }).toMatchObject({ queue_depth: 1 });
    await Promise.all(streams);
  });
});
