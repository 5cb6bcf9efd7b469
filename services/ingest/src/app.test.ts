/**
 * POST /v1/events through a real socket into a real Redis (docs/PROTOCOL.md §3).
 * Every 202 is checked against the stream right after it: the reply must not
 * come before Redis has the events.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { decodeBatch, ENTRY_FIELD, type PulseEvent } from '@pulse/protocol';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { startIngest, type TestIngest } from '@pulse/test-support/ingest';
import { freePort } from '@pulse/test-support/redis-server';

const start = (i: number) => ({
  type: 'request.start',
  ts: 1_700_000_000 + i / 1000,
  node: 'fake-1',
  request_id: `r${i}`,
  endpoint: '/v1/chat/completions',
  model: 'gpt-4',
  stream: true,
});
const end = (i: number, extra: Record<string, unknown> = {}) => ({
  ...start(i),
  type: 'request.end',
  status: 200,
  latency_ms: 120.5,
  completion_tokens: 42,
  ...extra,
});

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
let ingest: TestIngest;
const servers: TestIngest[] = [];

async function ingestWith(env: Record<string, string> = {}, redisUrl = redis.url): Promise<TestIngest> {
  const server = await startIngest({ redisUrl, env, waitForRedis: redisUrl === redis.url });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  ingest = await ingestWith();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  reader?.disconnect();
  await redis?.stop();
});

/** Every batch in the stream of `server`, oldest first. */
async function stored(server: TestIngest): Promise<PulseEvent[][]> {
  const entries = await reader.xrange(server.keys.events, '-', '+');
  return entries.map(([, fields]) => {
    expect(fields[0]).toBe(ENTRY_FIELD);
    const { events, dropped } = decodeBatch(fields[1]);
    expect(dropped).toBe(0);
    return events;
  });
}

async function expectJson(res: Response, status: number): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

describe('POST /v1/events, JSON bodies', () => {
  it('accepts one event object and has it in Redis when it answers 202', async () => {
    const server = await ingestWith();
    const res = await server.post(JSON.stringify(end(1)));
    expect(await expectJson(res, 202)).toEqual({ accepted: 1, rejected: [] });
    const batches = await stored(server);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject([{ type: 'request.end', request_id: 'r1', latency_ms: 120.5 }]);
  });

  it('accepts an array as one stream entry, in order', async () => {
    const server = await ingestWith();
    const events = [start(1), end(1), start(2), { type: 'node.gauge', ts: 1_700_000_001, node: 'fake-1', queue_depth: 3 }];
    const res = await server.post(JSON.stringify(events));
    expect(await expectJson(res, 202)).toEqual({ accepted: 4, rejected: [] });
    const batches = await stored(server);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((e) => e.type)).toEqual(['request.start', 'request.end', 'request.start', 'node.gauge']);
  });

  it('accepts {"events": [...]} and content-type parameters', async () => {
    const server = await ingestWith();
    const res = await server.post(JSON.stringify({ events: [start(1), end(1)] }), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(await expectJson(res, 202)).toEqual({ accepted: 2, rejected: [] });
    expect(await stored(server)).toHaveLength(1);
  });

  it('rejects invalid events one by one, naming the field, and accepts the rest', async () => {
    const server = await ingestWith();
    const events = [start(1), end(1, { latency_ms: 'slow' }), end(2), { type: 'request.middle' }, 'nope'];
    const body = await expectJson(await server.post(JSON.stringify(events)), 202);
    expect(body.accepted).toBe(2);
    const rejected = body.rejected as { index: number; error: string }[];
    expect(rejected.map((r) => r.index)).toEqual([1, 3, 4]);
    expect(rejected[0]!.error).toMatch(/^latency_ms: /);
    expect(rejected[1]!.error).toMatch(/^type: /);
    expect(rejected[2]!.error).toMatch(/object/);
    expect((await stored(server))[0]!.map((e) => (e as { request_id: string }).request_id)).toEqual(['r1', 'r2']);
  });

  it('answers 400 with the same shape when no event is valid, and writes nothing', async () => {
    const server = await ingestWith();
    const body = await expectJson(await server.post(JSON.stringify([end(1, { status: 'ok' }), {}])), 400);
    expect(body).toMatchObject({ accepted: 0, code: 'invalid_event' });
    expect(body.rejected).toEqual([
      { index: 0, error: expect.stringMatching(/^status: /) },
      { index: 1, error: expect.stringMatching(/^type: /) },
    ]);
    expect(await reader.exists(server.keys.events)).toBe(0);
  });

  it('answers 400 for an empty array, an empty body, and {"events": not-an-array}', async () => {
    for (const text of ['[]', '', '{"events": 5}']) {
      const body = await expectJson(await ingest.post(text), 400);
      expect(body).toMatchObject({ accepted: 0, rejected: [] });
      expect(typeof body.error).toBe('string');
    }
  });

  it('answers malformed JSON with a JSON 400, not an HTML page', async () => {
    const body = await expectJson(await ingest.post('{"type": "request.start",'), 400);
    expect(body).toMatchObject({ accepted: 0, rejected: [], code: 'invalid_body' });
  });
});

describe('POST /v1/events, NDJSON bodies', () => {
  it('takes one event per line, skipping blank lines and CRLF endings', async () => {
    const server = await ingestWith();
    const text = [start(1), end(1), start(2)].map((e) => JSON.stringify(e)).join('\r\n\n  \n') + '\n';
    const res = await server.post(text, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    expect(await expectJson(res, 202)).toEqual({ accepted: 3, rejected: [] });
    const batches = await stored(server);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((e) => e.type)).toEqual(['request.start', 'request.end', 'request.start']);
  });

  it('rejects a line that is not JSON by its event index, saying which line', async () => {
    const text = `${JSON.stringify(start(1))}\n\n{not json\n${JSON.stringify(end(1, { latency_ms: -1 }))}\n${JSON.stringify(end(2))}`;
    const body = await expectJson(await ingest.post(text, { 'content-type': 'application/x-ndjson' }), 202);
    expect(body).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, error: expect.stringMatching(/^line 3: not valid JSON/) },
        { index: 2, error: expect.stringMatching(/^latency_ms: /) },
      ],
    });
  });

  it('answers 400 for a body of blank lines', async () => {
    const body = await expectJson(await ingest.post('\n \n', { 'content-type': 'application/x-ndjson' }), 400);
    expect(body).toMatchObject({ accepted: 0, rejected: [] });
  });
});

describe('POST /v1/events, limits and media types', () => {
  it('answers 415 for another content type, or none, as JSON', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/xml' }, {}] as Record<string, string>[]) {
      const body = await expectJson(await ingest.post(new TextEncoder().encode('[]'), headers), 415);
      expect(body.code).toBe('unsupported_media_type');
    }
  });

  it('answers 415 for a JSON body in a charset other than UTF', async () => {
    const res = await ingest.post('[]', { 'content-type': 'application/json; charset=latin1' });
    expect((await expectJson(res, 415)).code).toBe('unsupported_media_type');
  });

  it('answers 413 for a body over the size limit, declared or chunked, and writes nothing', async () => {
    const server = await ingestWith({ PULSE_MAX_BODY_BYTES: '2048' });
    const big = JSON.stringify(Array.from({ length: 40 }, (_, i) => end(i)));
    expect(big.length).toBeGreaterThan(2048);
    expect((await expectJson(await server.post(big), 413)).code).toBe('body_too_large');

    const chunks = [big.slice(0, 1500), big.slice(1500)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const chunked = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/x-ndjson' },
      duplex: 'half',
    } as RequestInit);
    expect((await expectJson(chunked, 413)).code).toBe('body_too_large');
    expect(await reader.exists(server.keys.events)).toBe(0);
  });

  it('answers 413 naming the limit for more events than a batch may hold, JSON or NDJSON', async () => {
    const server = await ingestWith({ PULSE_MAX_EVENTS_PER_BATCH: '3' });
    const four = [start(1), start(2), start(3), start(4)];
    const json = await expectJson(await server.post(JSON.stringify(four)), 413);
    expect(json.error).toMatch(/more than 3 events/);
    const ndjson = await server.post(four.map((e) => JSON.stringify(e)).join('\n'), {
      'content-type': 'application/x-ndjson',
    });
    expect((await expectJson(ndjson, 413)).error).toMatch(/more than 3 events/);
    expect(await reader.exists(server.keys.events)).toBe(0);

    expect((await expectJson(await server.post(JSON.stringify(four.slice(1))), 202)).accepted).toBe(3);
  });
});

describe('Idempotency-Key', () => {
  it('answers a retry with the first status and body, counting the events once', async () => {
    const server = await ingestWith();
    const headers = { 'content-type': 'application/json', 'idempotency-key': 'batch-0001' };
    const first = await server.post(JSON.stringify([start(1), end(1, { latency_ms: 'x' })]), headers);
    expect(first.status).toBe(202);
    const firstBody = await first.text();

    // Same key, different body: the key identifies the request, so the first answer stands.
    const retry = await server.post(JSON.stringify([start(1), start(2), start(3)]), headers);
    expect(retry.status).toBe(202);
    expect(await retry.text()).toBe(firstBody);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await reader.xlen(server.keys.events)).toBe(1);

    const other = await server.post(JSON.stringify([start(2)]), { ...headers, 'idempotency-key': 'batch-0002' });
    expect(other.status).toBe(202);
    expect(await reader.xlen(server.keys.events)).toBe(2);
  });

  it('appends once when retries with one key race each other', async () => {
    const server = await ingestWith();
    const headers = { 'content-type': 'application/json', 'idempotency-key': 'racing' };
    const replies = await Promise.all(Array.from({ length: 8 }, () => server.post(JSON.stringify([start(1)]), headers)));
    const bodies = await Promise.all(replies.map((r) => r.text()));
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(202));
    expect(new Set(bodies).size).toBe(1);
    expect(replies.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(await reader.xlen(server.keys.events)).toBe(1);
  });

  it('answers 400 for a key that is too long or empty, and writes nothing', async () => {
    const server = await ingestWith();
    for (const key of ['k'.repeat(201), '']) {
      const res = await server.post(JSON.stringify(start(1)), { 'content-type': 'application/json', 'idempotency-key': key });
      expect((await expectJson(res, 400)).error).toMatch(/Idempotency-Key/);
    }
    expect(await reader.exists(server.keys.events)).toBe(0);
    const longest = await server.post(JSON.stringify(start(1)), {
      'content-type': 'application/json',
      'idempotency-key': `${'k'.repeat(190)} ~!{}:*`,
    });
    expect(longest.status).toBe(202);
  });
});

describe('when Redis does not answer', () => {
  it('answers 503 with Retry-After within 2 s, accepting nothing', async () => {
    const server = await ingestWith({}, `redis://127.0.0.1:${await freePort()}`);
    const started = Date.now();
    const res = await server.post(JSON.stringify([start(1)]));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await expectJson(res, 503)).toEqual({ error: expect.any(String), code: 'store_unavailable' });
  });
});

describe('other routes and errors', () => {
  it('answers 404 JSON for any other path or method, without X-Powered-By', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/v1/events'], ['POST', '/v1/event']] as const) {
      const res = await fetch(`${ingest.url}${path}`, { method });
      expect((await expectJson(res, 404)).code).toBe('not_found');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('answers /healthz and /readyz', async () => {
    expect(await expectJson(await fetch(`${ingest.url}/healthz`), 200)).toEqual({ status: 'ok' });
    expect(await expectJson(await fetch(`${ingest.url}/readyz`), 200)).toEqual({ status: 'ready' });
  });

  it('turns an unexpected store error into a logged 500 that leaves out the body and credentials', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const server = await startIngest({ redisUrl: redis.url, logger });
    servers.push(server);
    // A key of the wrong type makes XADD fail inside Redis: a bug, not an outage.
    await reader.set(server.keys.events, 'not a stream');
    const res = await server.post(JSON.stringify([start(1)]), {
      'content-type': 'application/json',
      authorization: 'Bearer secret-token',
    });
    expect(await expectJson(res, 500)).toEqual({ error: 'internal error', code: 'internal' });
    const logged = lines.join('');
    expect(logged).toMatch(/WRONGTYPE/);
    expect(logged).not.toMatch(/secret-token|fake-1|request\.start/);
  });
});
