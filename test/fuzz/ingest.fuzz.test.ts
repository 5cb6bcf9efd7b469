/**
 * Fuzzing POST /v1/events (issue 7): random and malformed bodies, headers
 * and credentials against a real ingest app (in-process, port 0, in-memory
 * event log, authentication on), single and in floods, while well-formed
 * batches are posted alongside. Every reply must be a documented one
 * (docs/PROTOCOL.md §3 and docs/SECURITY.md), the well-formed events must be stored
 * exactly, no prototype polluted, and the live heap stay bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startMemoryIngest, type MemoryIngest } from '@pulse/test-support/memory-ingest';
import { alongside, FUZZ_SECONDS, fuzzFor, liveHeapBytes, MB } from './budget.js';
import { expectIngestReply, hostileRequest, postHostile, type HostileRequest } from './ingest-requests.js';

const WRITE = 'fuzz-write-token-0123456789';
const READ = 'fuzz-read-token-0123456789';
const GOOD_NODE = `fuzz-good-${process.pid}`;

let ingest: MemoryIngest;

beforeAll(async () => {
  ingest = await startMemoryIngest({ PULSE_WRITE_TOKENS: WRITE, PULSE_READ_TOKENS: READ, PULSE_MAX_EVENTS_PER_BATCH: '1000' });
});
afterAll(async () => {
  await ingest?.close();
});

const request = hostileRequest(WRITE, READ);

/** Posts a well-formed batch under a write token; `sent` collects its events. */
async function postWellFormed(batch: number, sent: object[]): Promise<void> {
  const ts = Date.now() / 1000;
  const events = Array.from({ length: 5 }, (_, i) => ({
    type: 'request.end',
    ts,
    node: GOOD_NODE,
    request_id: `good-${batch}-${i}`,
    endpoint: '/fuzz/good',
    model: 'fuzz-good-model',
    stream: i % 2 === 0,
    status: i === 4 ? 503 : 200,
    latency_ms: batch + i / 10,
  }));
  const res = await fetch(`${ingest.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE}` },
    body: JSON.stringify(events),
  });
  expect(await res.json()).toEqual({ accepted: 5, rejected: [] });
  sent.push(...events);
}

describe('fuzzing ingest', () => {
  it('answers every hostile request with a documented reply, stores the well-formed traffic exactly, and stays bounded', async () => {
    // Warm up first, so what the heap holds after is compared with a running server, not a cold one.
    const warmUp: HostileRequest = { body: new Uint8Array([0x5b, 0x5d]), contentType: 'application/json', authorization: `Bearer ${WRITE}`, encoding: undefined, idempotencyKey: undefined };
    for (let i = 0; i < 50; i++) await (await postHostile(ingest.url, warmUp)).text();
    const heapBefore = liveHeapBytes();
    const sent: object[] = [];
    const good = alongside((batch) => postWellFormed(batch, sent));

    const single = fc.asyncProperty(request, async (r) => {
      await expectIngestReply(await postHostile(ingest.url, r));
    });
    const flood = fc.asyncProperty(fc.array(request, { minLength: 20, maxLength: 60 }), async (burst) => {
      const replies = await Promise.all(burst.map((r) => postHostile(ingest.url, r)));
      for (const res of replies) await expectIngestReply(res);
    });
    let reports;
    try {
      reports = [
        await fuzzFor('ingest, one request per case', single, FUZZ_SECONDS * 0.6),
        await fuzzFor('ingest, floods of 20–60 concurrent requests', flood, FUZZ_SECONDS * 0.4),
      ];
    } finally {
      await good.stop();
    }

    const stored = ingest.stored().filter((e) => (e as { node?: unknown }).node === GOOD_NODE);
    expect(stored).toEqual(sent);
    expect(sent.length).toBeGreaterThan(100);

    expect(Object.prototype).not.toHaveProperty('polluted');
    // What the log keeps is data, not a leak: its size (as UTF-16 JSON, about what it takes in memory) is taken off the growth.
    const growth = liveHeapBytes() - heapBefore;
    const storedBytes = JSON.stringify(ingest.stored()).length * 2;
    const report = `live heap grew ${(growth / MB).toFixed(1)} MB, about ${(storedBytes / MB).toFixed(1)} MB of it the events stored`;
    console.log(`fuzz ingest: ${report}`);
    expect(growth - storedBytes, report).toBeLessThan(64 * MB);
    expect(reports.every((r) => r.cases > 0)).toBe(true);
  }, FUZZ_SECONDS * 2000 + 60_000);
});
