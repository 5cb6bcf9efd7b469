/**
 * Fuzzing the proxy (issue 8): random requests — methods, paths (the
 * inference routes, near misses of them, anything else), header sets with
 * hop-by-hop headers, repeats and odd case, bodies of every size sent whole or
 * chunked, JSON that does and does not name a model — against an upstream
 * that records what reached it and answers with a random status, framing and
 * size, event streams included; some callers hang up half-way. For every
 * completed exchange the caller must get the upstream's status and bytes, the
 * upstream the caller's method, target, end-to-end headers and body; every
 * POST to an inference route must leave exactly one valid start and end in
 * the stream, and every other request none; the proxy must keep serving and
 * stay bounded.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { RequestEnd } from '@pulse/protocol';
import { INFERENCE_ROUTES } from '@pulse/proxy';
import { bodyDigest, startProxy, storedEvents, type TestProxy } from '@pulse/test-support/proxy';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { FUZZ_SECONDS, fuzzFor, liveHeapBytes, MB } from './budget.js';

/** A request body as fast-check prints it: JSON text, or bytes made from a length and a seed. */
type Body = { json: string } | { bytes: number; seed: number };

/** The bytes of a body. */
function bytesOf(body: Body): Buffer {
  if ('json' in body) return Buffer.from(body.json);
  const out = Buffer.alloc(body.bytes);
  let x = body.seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

interface Reply {
  status: number;
  framing: 'length' | 'chunked' | 'sse';
  size: number;
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body: Body | null;
  /** Sent in pieces without a Content-Length (chunked), or whole with one. */
  chunked: boolean;
  reply: Reply;
  /** The caller hangs up once the reply has started, before reading it. */
  hangUp: boolean;
}

/** What the upstream saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: string[];
  size: number;
  sha: string;
}

const HOP_BY_HOP = ['Connection', 'Keep-Alive', 'TE', 'Trailer', 'Upgrade', 'Proxy-Authorization', 'Proxy-Connection'];
/** Sent by the fuzzer: all but Trailer, which Node's client refuses outside a chunked body. */
const SENT_HOP_BY_HOP = HOP_BY_HOP.filter((h) => h !== 'Trailer');

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/).filter((t) => !t.toLowerCase().startsWith('fuzz'));
const headerValue = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const header = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(token.map((t) => `X-${t}`), headerValue) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SENT_HOP_BY_HOP), fc.constantFrom('close', 'keep-alive', 'x-named', 'h2c', 'trailers')) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('X-Named'), headerValue) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Authorization', 'Accept', 'User-Agent', 'OpenAI-Organization'), headerValue) },
);
const jsonBody = fc
  .record({ model: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), stream: fc.option(fc.boolean(), { nil: undefined }), messages: fc.jsonValue() }, { requiredKeys: [] })
  .map((o): Body => ({ json: JSON.stringify(o) }));
const bytes = (min: number, max: number) => fc.record({ bytes: fc.integer({ min, max }), seed: fc.integer() });
const body: fc.Arbitrary<Body | null> = fc.oneof(fc.constant(null), jsonBody, bytes(0, 2000), bytes(60_000, 300_000));
const reply: fc.Arbitrary<Reply> = fc.record({
  status: fc.constantFrom(200, 201, 204, 400, 404, 429, 500, 503),
  framing: fc.constantFrom('length', 'chunked', 'sse'),
  size: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 100_000, max: 400_000 })),
});
/** The inference routes, near misses of them, and anything else; with a query or without. */
const path = fc
  .oneof(
    fc.constantFrom(...INFERENCE_ROUTES),
    fc.constantFrom(...INFERENCE_ROUTES).chain((r) => fc.constantFrom(`${r}/`, `${r}/x`, r.toUpperCase(), r.slice(0, -1))),
    fc.webPath().map((p) => encodeURI(`/v1${p}`)),
  )
  .chain((p) => fc.constantFrom(p, `${p}?q=1`));
const method = fc.oneof(fc.constant('POST'), fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'));
const request: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method,
    path,
    headers: fc.array(header, { maxLength: 12 }),
    body,
    chunked: fc.boolean(),
    reply,
    hangUp: fc.boolean().map((b) => b && Math.random() < 0.2),
  })
  .map((r) => ({ ...r, body: r.method === 'GET' || r.method === 'HEAD' ? null : r.body }));

/** The upstream's reply body for a spec: the same bytes every time, so the caller's copy can be checked. */
function replyBytes({ status, size }: Reply, method: string): Buffer {
  if (status === 204 || method === 'HEAD') return Buffer.alloc(0);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = 0x61 + ((i * 7 + size) % 26);
  return out;
}

/** What the proxy must record, said independently of its code: a POST to an inference route, query aside. */
const recorded = (r: FuzzRequest) => r.method === 'POST' && INFERENCE_ROUTES.includes(r.path.split('?', 1)[0]!);

const sseEvent = (i: number) => `data: {"choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n`;

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
let upstream: http.Server;
let proxy: TestProxy;
const seen = new Map<string, Seen>();

function record(req: IncomingMessage, res: ServerResponse): void {
  void bodyDigest(req).then(({ size, sha256 }) => {
    const id = req.headers['x-fuzz-id'];
    if (typeof id === 'string') seen.set(id, { method: req.method!, url: req.url!, headers: req.rawHeaders, size, sha: sha256 });
    const spec = JSON.parse(String(req.headers['x-fuzz-reply'] ?? '{"status":200,"framing":"length","size":2}')) as Reply;
    answer(req, res, spec);
  });
}

function answer(req: IncomingMessage, res: ServerResponse, spec: Reply): void {
  const bytes = replyBytes(spec, req.method!);
  if (spec.framing === 'sse' && spec.status === 200) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 5; i++) res.write(sseEvent(i));
    res.end('data: [DONE]\n\n');
    return;
  }
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', 'x-upstream': 'Fuzz' };
  if (spec.framing === 'length' || spec.status === 204) headers['content-length'] = bytes.length;
  res.writeHead(spec.status, headers);
  if (spec.framing === 'chunked' && bytes.length > 0) {
    const cut = bytes.length >> 1;
    res.write(bytes.subarray(0, cut));
    res.end(bytes.subarray(cut));
  } else {
    res.end(bytes);
  }
}

function expectedBody(r: FuzzRequest): Buffer {
  if (r.reply.framing === 'sse' && r.reply.status === 200) {
    return Buffer.from(r.method === 'HEAD' ? '' : Array.from({ length: 5 }, (_, i) => sseEvent(i)).join('') + 'data: [DONE]\n\n');
  }
  return replyBytes(r.reply, r.method);
}

/** The headers the upstream should see: the caller's, less hop-by-hop ones, those Connection names, and Expect. */
function endToEnd(headers: [string, string][]): string[] {
  const named = new Set(headers.filter(([n]) => n.toLowerCase() === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase())));
  const drop = new Set([...HOP_BY_HOP.map((h) => h.toLowerCase()), 'transfer-encoding', 'expect', 'host', 'content-length', ...named]);
  return headers.filter(([n]) => !drop.has(n.toLowerCase())).flat();
}

interface Outcome {
  status: number;
  body: Buffer;
}

/** Sends `r` to the proxy; null when the caller hung up on purpose. */
function send(r: FuzzRequest, id: string): Promise<Outcome | null> {
  const body = r.body && bytesOf(r.body);
  return new Promise((resolve, reject) => {
    const headers = [['Host', 'fuzz.example'], ...r.headers, ['X-Fuzz-Id', id], ['X-Fuzz-Reply', JSON.stringify(r.reply)]];
    // Said outright: Node's client frames a DELETE or OPTIONS body only when told to.
    if (body) headers.push(r.chunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(body.length)]);
    if (r.body && 'json' in r.body) headers.push(['Content-Type', 'application/json']);
    // The path as is: a URL string would be normalised by the client before the proxy saw it.
    const { hostname, port } = new URL(proxy.url);
    const req = http.request({ hostname, port, path: r.path, method: r.method, headers: headers.flat(), agent: false }, (res) => {
      if (r.hangUp) {
        req.destroy();
        return resolve(null);
      }
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && r.chunked) {
      req.write(body.subarray(0, body.length >> 1));
      req.write(body.subarray(body.length >> 1));
    } else if (body) {
      req.write(body);
    }
    req.end();
  });
}

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  upstream = http.createServer(record);
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  proxy = await startProxy({ redisUrl: redis.url, upstreams: [url], settings: { events: { flushMs: 20, batchEvents: 500, maxQueued: 1_000_000 } } });
});
afterAll(async () => {
  await proxy?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  reader?.disconnect();
  await redis?.stop();
});

describe('fuzzing the proxy', () => {
  it('forwards every request and reply intact, records each inference request once and nothing else, and stays bounded', async () => {
    let sent = 0;
    let toRecord = 0;
    let completed = 0;
    const heapBefore = liveHeapBytes();
    const property = fc.asyncProperty(request, async (r) => {
      const id = `f${sent++}`;
      if (recorded(r)) toRecord++;
      const outcome = await send(r, id);
      if (outcome === null) return; // hung up: only its events are checked, below
      completed++;
      expect(outcome.status).toBe(r.reply.status);
      expect(outcome.body.equals(expectedBody(r)), `${r.method} ${r.path}: body of ${outcome.body.length} bytes`).toBe(true);
      const got = seen.get(id)!;
      expect(got).toBeDefined();
      expect({ method: got.method, url: got.url }).toEqual({ method: r.method, url: r.path });
      const sentBody = r.body ? bytesOf(r.body) : Buffer.alloc(0);
      expect({ size: got.size, sha: got.sha }).toEqual({ size: sentBody.length, sha: createHash('sha256').update(sentBody).digest('hex') });
      const hostAt = got.headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'host');
      expect(got.headers[hostAt + 1]).toBe('fuzz.example');
      const forwarded = got.headers.filter((_, i) => {
        const name = got.headers[i - (i % 2)]!.toLowerCase();
        return !['host', 'connection', 'content-length', 'transfer-encoding', 'x-fuzz-id', 'x-fuzz-reply', 'content-type'].includes(name);
      });
      expect(forwarded).toEqual(endToEnd(r.headers).filter((_, i, all) => all[i - (i % 2)]!.toLowerCase() !== 'content-type'));
    });
    const report = await fuzzFor('proxy, one request per case', property, FUZZ_SECONDS);

    // Every inference request, hung up on or not, leaves one start and one valid end; the others nothing.
    let ends: RequestEnd[] = [];
    await expect
      .poll(async () => (ends = (await storedEvents(reader, proxy.keys)).filter((e): e is RequestEnd => e.type === 'request.end')).length, { timeout: 10_000 })
      .toBe(toRecord);
    const starts = (await storedEvents(reader, proxy.keys)).filter((e) => e.type === 'request.start').length;
    expect(starts).toBe(toRecord);
    expect(new Set(ends.map((e) => e.request_id)).size).toBe(toRecord);
    expect(ends.filter((e) => !INFERENCE_ROUTES.includes(e.endpoint))).toEqual([]);
    const hungUp = ends.filter((e) => e.error === 'client_disconnected').length;
    console.log(`fuzz proxy: ${sent} requests, ${toRecord} to record, ${completed} completed, ${hungUp} recorded ones ended by a caller hanging up`);
    expect(toRecord).toBeGreaterThan(0);
    expect(toRecord).toBeLessThan(sent);
    expect(completed).toBeGreaterThan(sent / 2);

    // Still serving, nothing left in flight (a request whose caller hung up last may take a moment to be closed), and the heap bounded.
    await vi.waitFor(() => expect(proxy.proxy.status()).toMatchObject({ ready: true, active: 0 }), { timeout: 5000, interval: 50 });
    const growth = liveHeapBytes() - heapBefore;
    expect(growth, `live heap grew ${(growth / MB).toFixed(1)} MB`).toBeLessThan(64 * MB);
    expect(report.cases).toBeGreaterThan(0);
  }, FUZZ_SECONDS * 1000 + 60_000);
});
