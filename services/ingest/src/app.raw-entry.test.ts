/**
 * A JSON array of valid events is stored as the request's own bytes (no
 * re-encoding); anything else is stored re-encoded. Either way the
 * aggregator decodes exactly the accepted events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, ENTRY_FIELD } from '@pulse/protocol';
import { startTestRedis, testClient, type TestRedis } from '@pulse/test-support/redis';
import { startIngest, type TestIngest } from '@pulse/test-support/ingest';

const start = { type: 'request.start', ts: 1_700_000_000.5, node: 'fake-1', request_id: 'r1', endpoint: '/v1/chat/completions', model: 'gpt-4' };
const end = { ...start, type: 'request.end', status: 200, latency_ms: 120.5, vendor_field: 'dropped by validation' };

let redis: TestRedis;
let reader: ReturnType<typeof testClient>;
let ingest: TestIngest;

beforeAll(async () => {
  redis = await startTestRedis();
  reader = testClient(redis.url);
  ingest = await startIngest({ redisUrl: redis.url });
});
afterAll(async () => {
  await ingest?.close();
  reader?.disconnect();
  await redis?.stop();
});

async function lastEntry(): Promise<string> {
  const entries = await reader.xrevrange(ingest.keys.events, '+', '-', 'COUNT', 1);
  const [, fields] = entries[0]!;
  expect(fields[0]).toBe(ENTRY_FIELD);
  return fields[1]!;
}

describe('stream entry of a JSON request', () => {
  it('is the body itself when it is an array of valid events', async () => {
    const body = JSON.stringify([start, end]);
    expect((await ingest.post(body)).status).toBe(202);
    const entry = await lastEntry();
    expect(entry).toBe(body);
    expect(decodeBatch(entry).events).toEqual([
      { ...start, stream: false },
      { ...start, type: 'request.end', status: 200, latency_ms: 120.5 },
    ]);
  });

  it('is re-encoded when an event was rejected, or the body is not a bare array', async () => {
    for (const body of [JSON.stringify([start, { ...end, latency_ms: -1 }]), JSON.stringify({ events: [start] }), ` ${JSON.stringify([start])}`]) {
      expect((await ingest.post(body)).status).toBe(202);
      const entry = await lastEntry();
      expect(entry).toBe(JSON.stringify([{ ...start, stream: false }]));
    }
  });

  it('is re-encoded when the body is mostly fields validation drops', async () => {
    const body = JSON.stringify([{ ...start, padding: 'x'.repeat(2000) }]);
    expect((await ingest.post(body)).status).toBe(202);
    expect(await lastEntry()).toBe(JSON.stringify([{ ...start, stream: false }]));
  });
});
