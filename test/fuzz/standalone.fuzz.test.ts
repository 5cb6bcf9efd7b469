/**
 * Fuzzing the all-in-one process (`npm start`, as a real `node` process,
 * authentication on): hostile ingest requests and hostile WebSocket frames
 * at once, while well-formed traffic goes to one endpoint and model of its
 * own. The process must answer everything as documented, never exit, keep
 * its resident memory bounded, and its figures for the well-formed traffic
 * must be exact: totals, cache counts, latency min/max/avg.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { TestClient } from '@pulse/test-support/ws-client';
import { alongside, FUZZ_SECONDS, fuzzFor, MB, residentBytes } from './budget.js';
import { frameSequence } from './hostile.js';
import { expectIngestReply, hostileRequest, postHostile } from './ingest-requests.js';
import { playFrames } from './ws-frames.js';

const WRITE = 'fuzz-write-token-0123456789';
const READ = 'fuzz-read-token-0123456789';
const GOOD_ENDPOINT = `/fuzz-good/${process.pid}`;
const GOOD_MODEL = `fuzz-good-model-${process.pid}`;

let pulse: ServiceProcess;
const auth = { authorization: `Bearer ${READ}` };

beforeAll(async () => {
  pulse = await startService('standalone', {
    PULSE_WRITE_TOKENS: WRITE,
    PULSE_READ_TOKENS: READ,
    PULSE_TICK_MS: '100',
    // Longer than the test: every well-formed event stays in the window that is checked.
    PULSE_WINDOW_SECONDS: '600',
    LOG_LEVEL: 'warn',
  });
}, 60_000);

afterAll(async () => {
  expect(await pulse?.stop('SIGTERM')).toBe(0);
});

/** What the well-formed traffic must add up to. */
const expected = { requests: 0, completed: 0, failed: 0, lookups: 0, hits: 0, latencySum: 0, latencyMin: Infinity, latencyMax: -Infinity };

/** Four streaming requests per batch, integer latencies (sums stay exact), one in four failing, half hitting the cache. */
async function postWellFormed(batch: number): Promise<void> {
  const ts = Date.now() / 1000;
  const events = [0, 1, 2, 3].flatMap((i) => {
    const base = { ts, node: 'fuzz-good-node', request_id: `good-${batch}-${i}`, endpoint: GOOD_ENDPOINT, model: GOOD_MODEL, stream: true };
    const latency = 1 + ((batch * 4 + i) % 997);
    return [
      { type: 'request.start', ...base },
      { type: 'request.end', ...base, status: i === 3 ? 500 : 200, latency_ms: latency, prompt_tokens: 10, completion_tokens: 5, cache: { hit: i % 2 === 0, cached_tokens: i % 2 === 0 ? 4 : 0, prefix_length: 4 } },
    ];
  });
  const res = await fetch(`${pulse.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE}` },
    body: JSON.stringify(events),
  });
  expect(await res.json()).toEqual({ accepted: 8, rejected: [] });
  for (const e of events) {
    if (e.type !== 'request.end') continue;
    const end = e as { status: number; latency_ms: number; cache: { hit: boolean } };
    expected.requests++;
    if (end.status >= 400) expected.failed++;
    else expected.completed++;
    expected.lookups++;
    if (end.cache.hit) expected.hits++;
    expected.latencySum += end.latency_ms;
    expected.latencyMin = Math.min(expected.latencyMin, end.latency_ms);
    expected.latencyMax = Math.max(expected.latencyMax, end.latency_ms);
  }
}

async function snapshotData(): Promise<any> {
  return ((await (await fetch(`${pulse.url}/metrics/snapshot`, { headers: auth })).json()) as any).data;
}

describe('fuzzing the all-in-one process', () => {
  it('answers hostile requests and frames as documented, stays up and bounded, and keeps exact figures', async () => {
    const ws = `ws://127.0.0.1:${pulse.port}/metrics/stream`;
    // Warm-up, then the resident size the growth is measured from.
    for (let i = 0; i < 20; i++) await postWellFormed(1_000_000 + i);
    const rssBefore = await residentBytes(pulse.child.pid!);
    const good = alongside(postWellFormed);

    const mixed = fc.asyncProperty(fc.array(hostileRequest(WRITE, READ), { maxLength: 8 }), frameSequence, async (posts, frames) => {
      await Promise.all([
        ...posts.map(async (r) => expectIngestReply(await postHostile(pulse.url, r))),
        playFrames(ws, READ, frames),
      ]);
    });
    try {
      await fuzzFor('all-in-one process, ingest requests and frames at once', mixed, FUZZ_SECONDS);
    } finally {
      await good.stop();
    }

    expect(pulse.child.exitCode, pulse.output().slice(-2000)).toBeNull();
    // The aggregator has caught up once the lookups are all counted; then every figure must be exact.
    await expect.poll(async () => (await snapshotData()).cache.by_endpoint[GOOD_ENDPOINT]?.total_lookups, { timeout: 10_000 }).toBe(expected.lookups);
    const data = await snapshotData();
    expect(data.cache.by_endpoint[GOOD_ENDPOINT]).toMatchObject({ total_lookups: expected.lookups, cache_hits: expected.hits });
    expect(data.latency[GOOD_ENDPOINT]).toMatchObject({
      min: expected.latencyMin,
      max: expected.latencyMax,
      avg: expected.latencySum / expected.requests,
    });

    const client = await TestClient.connect(`${ws}?token=${READ}`);
    try {
      client.send({ type: 'subscribe', filters: { model: GOOD_MODEL, metric_types: ['streaming'], interval: 0.1 } });
      await client.nextOfType('subscribed');
      const update = await client.nextOfType('metrics_update');
      expect((update.msg.data as any).streaming).toMatchObject({ completed_streams: expected.completed, failed_streams: expected.failed, active_streams: 0 });
    } finally {
      client.close();
    }

    const rssAfter = await residentBytes(pulse.child.pid!);
    if (rssBefore !== null && rssAfter !== null) {
      console.log(`fuzz all-in-one process: resident ${(rssBefore / MB).toFixed(0)} MB before, ${(rssAfter / MB).toFixed(0)} MB after`);
      expect(rssAfter - rssBefore).toBeLessThan(256 * MB);
    }
    for (const token of [WRITE, READ]) expect(pulse.output()).not.toContain(token);
  }, FUZZ_SECONDS * 2000 + 60_000);
});
