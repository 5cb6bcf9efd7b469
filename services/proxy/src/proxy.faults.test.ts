/**
 * The proxy against upstreams that misbehave on purpose — hand-written
 * servers that reset, stall or dribble bytes — and against an upstream that
 * goes away and comes back: what the caller gets, what the events say, and
 * that the bytes are the upstream's, chunk by chunk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PulseEvent, RequestEnd } from '@pulse/protocol';
import { createFakeOpenAI } from '@pulse/fake-openai';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { bodyDigest, startProxy, storedEvents, type TestProxy, type TestProxyOptions } from '@pulse/test-support/proxy';

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

/** A hand-written upstream on a free port. */
async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function proxyTo(upstreams: string[], settings: TestProxyOptions['settings'] = {}): Promise<TestProxy> {
  const proxy = await startProxy({ redisUrl: redis.url, upstreams, settings });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function ends(proxy: TestProxy, count: number): Promise<RequestEnd[]> {
  let events: PulseEvent[] = [];
  await expect.poll(async () => (events = await storedEvents(reader, proxy.keys)).filter((e) => e.type === 'request.end').length).toBe(count);
  return events.filter((e): e is RequestEnd => e.type === 'request.end');
}

/** A reply's JSON, walked freely by the assertions. */
const json = async (res: Response): Promise<any> => res.json();

const chat = (proxy: TestProxy, body: object = { model: 'm', messages: [] }) =>
  fetch(proxy.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const sseHead = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
const token = (text: string) => `data: {"choices":[{"index":0,"delta":{"content":"${text}"}}]}\n\n`;

describe('proxy: upstream failures', () => {
  it('a connection reset before any response: 502 with an OpenAI error body; the upstream stays in rotation', async () => {
    const url = await upstream((req, res) => (req.url === '/health' ? res.end('ok') : req.socket.destroy()));
    const proxy = await proxyTo([url]);
    const res = await chat(proxy);
    expect(res.status).toBe(502);
    expect(await json(res)).toEqual({
      error: { message: expect.stringMatching(/^upstream unavailable: /), type: 'upstream_reset', param: null, code: 'upstream_reset' },
    });
    const [end] = await ends(proxy, 1);
    expect(end).toMatchObject({ status: 502, error: 'upstream_reset' });
    expect(proxy.proxy.status().upstreams[0]!.healthy).toBe(true);
  });

  it('a reset mid-stream: the caller sees the stream cut, the end keeps 200 with the error and the tokens so far', async () => {
    const url = await upstream((_req, res) => {
      sseHead(res);
      res.write(token('a'));
      res.write(token('b'));
      setTimeout(() => res.socket!.destroy(), 50);
    });
    const proxy = await proxyTo([url]);
    const res = await chat(proxy);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    const [end] = await ends(proxy, 1);
    expect(end).toMatchObject({ status: 200, error: 'upstream_reset', completion_tokens: 2, tokens_estimated: true });
  });

  it('no answer within the idle timeout: 504; silence mid-stream: the stream is cut', async () => {
    const silent = await upstream(() => {});
    const stalls = await upstream((_req, res) => {
      sseHead(res);
      res.write(token('a'));
    });
    const proxy = await proxyTo([silent], { idleTimeoutMs: 300 });
    const res = await chat(proxy);
    expect(res.status).toBe(504);
    expect((await json(res)).error).toMatchObject({ type: 'upstream_timeout', message: expect.stringMatching(/^upstream timed out/) });
    const end = (await ends(proxy, 1))[0]!;
    expect(end).toMatchObject({ status: 504, error: 'upstream_timeout' });
    expect(end.latency_ms).toBeGreaterThanOrEqual(300);

    const proxy2 = await proxyTo([stalls], { idleTimeoutMs: 300 });
    const cut = await chat(proxy2);
    expect(cut.status).toBe(200);
    await expect(cut.text()).rejects.toThrow();
    const [end2] = await ends(proxy2, 1);
    expect(end2).toMatchObject({ status: 200, error: 'upstream_timeout', completion_tokens: 1 });
  });

  it('an upstream that is down is ejected on the first failed connection (passive), traffic goes to the others', async () => {
    const a = createFakeOpenAI();
    const urlA = await a.listen();
    const b = createFakeOpenAI();
    const urlB = await b.listen();
    cleanups.push(() => b.close());
    let checkedA = false;
    a.server.on('request', (req: IncomingMessage, res: ServerResponse) => res.on('finish', () => (checkedA ||= req.url === '/health')));
    const proxy = await proxyTo([urlA, urlB]); // health checks only once a minute: ejection is passive here
    await expect.poll(() => checkedA).toBe(true); // the check at start passed; the next is a minute away
    await a.close();

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(proxy)).status);
    expect(statuses).toEqual([502, 200, 200, 200, 200, 200]); // A's turn came first, and only once
    expect(proxy.proxy.status().upstreams[0]).toMatchObject({ url: urlA, healthy: false, lastError: 'connection failed: ECONNREFUSED' });
    expect((await ends(proxy, 6))[0]).toMatchObject({ status: 502, error: 'upstream_connect_failed' });
    expect(b.stats().requests).toBe(5);
  });

  it('an upstream that goes down is taken out by the health check, and readmitted once it answers again', async () => {
    const a = createFakeOpenAI();
    const urlA = await a.listen();
    const b = createFakeOpenAI();
    const urlB = await b.listen();
    cleanups.push(() => b.close());
    const proxy = await proxyTo([urlA, urlB], { health: { path: '/health', intervalMs: 50, timeoutMs: 200 } });
    await a.close();
    await expect.poll(() => proxy.proxy.status().upstreams[0]!.healthy).toBe(false);
    for (let i = 0; i < 4; i++) expect((await chat(proxy)).status).toBe(200);
    expect(b.stats().requests).toBe(4);

    const again = createFakeOpenAI();
    await again.listen(Number(new URL(urlA).port));
    cleanups.push(() => again.close());
    await expect.poll(() => proxy.proxy.status().upstreams[0]).toMatchObject({ healthy: true, lastError: null });
    for (let i = 0; i < 4; i++) expect((await chat(proxy)).status).toBe(200);
    expect(again.stats().requests).toBe(2); // back in turn with B
  });

  it('with its only upstream down the proxy is not ready, and says so', async () => {
    const fake = createFakeOpenAI();
    const url = await fake.listen();
    const proxy = await proxyTo([url], { health: { path: '/health', intervalMs: 50, timeoutMs: 50 } });
    expect(proxy.proxy.ready()).toBe(true);
    await fake.close();
    await expect.poll(() => proxy.proxy.ready()).toBe(false);
    const res = await chat(proxy);
    expect(res.status).toBe(502);
    expect((await json(res)).error.type).toBe('upstream_connect_failed');
  });
});

describe('proxy: the bytes are the upstream’s', () => {
  it('each response chunk reaches the caller before the upstream sends the next, byte for byte, headers intact', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 7919) % 20_000)));
    let delivered: (() => void) | null = null;
    const url = await upstream((req, res) => {
      req.resume();
      res.writeHead(200, [['Content-Type', 'application/octet-stream'], ['X-Upstream-Case', 'Kept'], ['x-twice', '1'], ['x-twice', '2']].flat());
      void (async () => {
        for (const chunk of chunks) {
          // The next chunk only once the caller holds this one: a proxy that buffered would hang here.
          const seen = new Promise<void>((resolve) => (delivered = resolve));
          res.write(chunk);
          await seen;
        }
        res.end();
      })();
    });
    const proxy = await proxyTo([url]);
    const { status, rawHeaders, body } = await new Promise<{ status: number; rawHeaders: string[]; body: Buffer }>((resolve, reject) => {
      const req = http.request(proxy.url + '/raw', { method: 'GET' }, (res) => {
        const parts: Buffer[] = [];
        let received = 0;
        let expected = 0;
        res.on('data', (part: Buffer) => {
          parts.push(part);
          received += part.length;
          // Tell the upstream once all of its current chunk has arrived.
          while (expected < chunks.length && received >= chunks.slice(0, expected + 1).reduce((n, c) => n + c.length, 0)) {
            expected++;
            delivered?.();
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, rawHeaders: res.rawHeaders, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(body.equals(Buffer.concat(chunks))).toBe(true);
    expect(rawHeaders.slice(0, 8)).toEqual(['Content-Type', 'application/octet-stream', 'X-Upstream-Case', 'Kept', 'x-twice', '1', 'x-twice', '2']);
  });

  it('request headers reach the upstream in the caller’s order, case and repeats, without hop-by-hop ones', async () => {
    let seen: string[] = [];
    const url = await upstream((req, res) => {
      seen = req.rawHeaders;
      req.resume();
      res.end('{}');
    });
    const proxy = await proxyTo([url]);
    const status = await new Promise<number>((resolve, reject) => {
      const headers = [['Host', 'caller.example'], ['X-Caller-Case', 'Kept'], ['x-twice', '1'], ['x-twice', '2'], ['Connection', 'keep-alive, X-Hop'], ['X-Hop', 'no'], ['Accept', '*/*']];
      const req = http.request(proxy.url + '/v1/models', { method: 'GET', headers: headers.flat() }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    // undici writes Host first and adds its own Connection; the rest is the caller's, as sent.
    expect(seen.slice(0, 2)).toEqual(['host', 'caller.example']);
    expect(seen.slice(2).filter((_, i, rest) => rest[i - (i % 2)]!.toLowerCase() !== 'connection')).toEqual(
      ['X-Caller-Case', 'Kept', 'x-twice', '1', 'x-twice', '2', 'Accept', '*/*'],
    );
  });

  it('Expect: 100-continue is answered by the proxy, and the body still reaches the upstream', async () => {
    const url = await upstream((req, res) => {
      let size = 0;
      req.on('data', (part: Buffer) => (size += part.length));
      req.on('end', () => res.end(JSON.stringify({ size, expect: req.headers.expect ?? null })));
    });
    const proxy = await proxyTo([url]);
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(proxy.url + '/v1/files', { method: 'POST', headers: { expect: '100-continue', 'content-length': '5' } }, (res) => {
        let text = '';
        res.on('data', (part: Buffer) => (text += part.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('continue', () => req.end('12345'));
      req.on('error', reject);
    });
    expect(JSON.parse(reply)).toEqual({ size: 5, expect: null });
  });

  it('an upstream that refuses a 5 MB upload before reading it (401): the caller gets the 401, the half-sent connection is closed', async () => {
    let upstreamSocket: net.Socket | null = null;
    const url = await upstream((req, res) => {
      if (req.url === '/health') return res.end('ok');
      upstreamSocket = req.socket;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"no key","type":"invalid_request_error"}}');
    });
    const proxy = await proxyTo([url], { routes: ['/v1/files'] });
    const res = await fetch(proxy.url + '/v1/files', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(5 * 1024 * 1024) });
    expect(res.status).toBe(401);
    expect(await json(res)).toEqual({ error: { message: 'no key', type: 'invalid_request_error' } });
    const [end] = await ends(proxy, 1);
    expect(end).toMatchObject({ status: 401, error: 'invalid_request_error' });
    await expect.poll(() => upstreamSocket?.destroyed).toBe(true);
  });

  it('a request that cannot be forwarded as it came (two Host headers): 400, recorded, and nothing reaches the upstream', async () => {
    let reached = 0;
    const url = await upstream((req, res) => {
      if (req.url !== '/health') reached++;
      res.end('{}');
    });
    const proxy = await proxyTo([url]);
    const { port } = new URL(proxy.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.end('POST /v1/chat/completions HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    let reply = '';
    for await (const part of socket) reply += (part as Buffer).toString();
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(reached).toBe(0);
    const [end] = await ends(proxy, 1);
    expect(end).toMatchObject({ endpoint: '/v1/chat/completions', model: 'unknown', status: 400, error: 'invalid_request_error' });
    expect(proxy.proxy.status().upstreams[0]!.healthy).toBe(true);
  });

  it('a 5 MB binary upload arrives at the upstream byte for byte, with the caller’s headers', async () => {
    const upload = randomBytes(5 * 1024 * 1024);
    const url = await upstream((req, res) => {
      void bodyDigest(req).then(({ size, sha256 }) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sha256, size, auth: req.headers.authorization, path: req.url }));
      });
    });
    const proxy = await proxyTo([url], { routes: ['/v1/files'] });
    const res = await fetch(proxy.url + '/v1/files?purpose=x', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer sk-test' },
      body: upload,
    });
    expect(await json(res)).toEqual({
      sha256: createHash('sha256').update(upload).digest('hex'),
      size: upload.length,
      auth: 'Bearer sk-test',
      path: '/v1/files?purpose=x',
    });
    const [end] = await ends(proxy, 1);
    expect(end).toMatchObject({ endpoint: '/v1/files', model: 'unknown', status: 200 });
  });
});
