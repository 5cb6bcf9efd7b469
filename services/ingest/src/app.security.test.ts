/**
 * Ingest with authentication on (docs/SECURITY.md): write tokens on
 * POST /v1/events, read tokens on the self-metrics, limits counted, and no
 * token ever in a log line.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@pulse/runtime';
import { startMemoryIngest, type MemoryIngest } from '@pulse/test-support/memory-ingest';

const WRITE_OLD = 'write-old-0123456789';
const WRITE_NEW = 'write-new-0123456789';
const READ = 'read-token-0123456789';
const SECURED = { PULSE_WRITE_TOKENS: `${WRITE_OLD},${WRITE_NEW}`, PULSE_READ_TOKENS: READ };

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  type: 'request.start',
  ts: 1_700_000_000 + i,
  node: 'fake-1',
  request_id: `r${i}`,
  endpoint: '/v1/chat/completions',
  model: 'gpt-4',
  ...extra,
});

const running: MemoryIngest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function ingest(env: Record<string, string>, logger?: Parameters<typeof startMemoryIngest>[1]): Promise<MemoryIngest> {
  const server = await startMemoryIngest(env, logger);
  running.push(server);
  return server;
}

function post(server: MemoryIngest, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

describe('ingest with write tokens', () => {
  it('answers 401 without a token, with a challenge, and stores nothing', async () => {
    const server = await ingest(SECURED);
    const res = await post(server, JSON.stringify([event(1)]));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="pulse"');
    expect(await res.json()).toEqual({ error: 'a bearer token is required', code: 'unauthorized' });
    expect(server.stored()).toEqual([]);
  });

  it('answers 401 for a wrong token, a read token, or another scheme', async () => {
    const server = await ingest(SECURED);
    for (const authorization of [`Bearer ${WRITE_OLD}x`, `Bearer ${READ}`, `Basic ${WRITE_OLD}`]) {
      const res = await post(server, JSON.stringify([event(1)]), { authorization });
      expect(res.status, authorization).toBe(401);
      expect(((await res.json()) as any).code).toBe('unauthorized');
    }
    expect(server.stored()).toEqual([]);
    expect(server.counters.get('unauthorized')).toBe(3);
  });

  it('accepts each configured token, so a rotation needs no downtime', async () => {
    const server = await ingest(SECURED);
    for (const [i, token] of [WRITE_OLD, WRITE_NEW].entries()) {
      const res = await post(server, JSON.stringify([event(i)]), { authorization: `Bearer ${token}` });
      expect(res.status).toBe(202);
    }
    expect(server.stored()).toHaveLength(2);
  });

  it('refuses before reading the body: an oversized body without a token is a 401, not a 413', async () => {
    const server = await ingest({ ...SECURED, PULSE_MAX_BODY_BYTES: '1024' });
    const res = await post(server, 'x'.repeat(64 * 1024));
    expect(res.status).toBe(401);
    expect(server.counters.get('body_bytes')).toBe(0);
  });

  it('is open without tokens, as for local use', async () => {
    const server = await ingest({});
    expect((await post(server, JSON.stringify([event(1)]))).status).toBe(202);
  });

  it('keeps /healthz and /readyz open for probes', async () => {
    const server = await ingest(SECURED);
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`${server.url}${path}`)).status).toBe(200);
  });
});

describe('ingest limits and their self-metrics', () => {
  it('counts every refusal by limit, served with a read token at /metrics/limits', async () => {
    const server = await ingest({ ...SECURED, PULSE_MAX_BODY_BYTES: '2048', PULSE_MAX_EVENTS_PER_BATCH: '2', PULSE_MAX_STRING_LENGTH: '12' });
    const auth = { authorization: `Bearer ${WRITE_NEW}` };
    expect((await post(server, JSON.stringify([event(1)]))).status).toBe(401);
    const tooBig = await post(server, JSON.stringify([event(1, { pad: 'x'.repeat(4096) })]), auth);
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as any).code).toBe('body_too_large');
    const tooMany = await post(server, JSON.stringify([event(1), event(2), event(3)]), auth);
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toEqual({ error: 'more than 2 events in one request; split the batch', code: 'too_many_events' });
    const long = await post(server, JSON.stringify([event(1, { endpoint: '/v1/embeddings' }), event(2, { endpoint: '/v1/x' })]), auth);
    expect(long.status).toBe(202);
    expect(await long.json()).toEqual({ accepted: 1, rejected: [{ index: 0, error: 'endpoint: longer than 12 characters' }] });

    expect((await fetch(`${server.url}/metrics/limits`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics/limits`, { headers: { authorization: `Bearer ${WRITE_NEW}` } })).status).toBe(401);
    const metrics = await fetch(`${server.url}/metrics/limits`, { headers: { authorization: `Bearer ${READ}` } });
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('pulse_rejections_total{reason="unauthorized"} 3');
    expect(text).toContain('pulse_rejections_total{reason="body_bytes"} 1');
    expect(text).toContain('pulse_rejections_total{reason="events_per_batch"} 1');
    expect(text).toContain('pulse_rejections_total{reason="string_length"} 1');

    // GET /metrics: the same counters among the process's own figures, behind the same token.
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const all = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${READ}` } })).text();
    expect(all).toContain('pulse_rejections_total{reason="unauthorized"} 4');
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) expect(all).toContain(`\n${name} `);
  });
});

describe('logs', () => {
  it('hold no token, whatever is presented and whatever fails', async () => {
    const lines: string[] = [];
    const logger = createLogger('ingest', 'trace', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    const server = await ingest(SECURED, logger);
    const presented = [WRITE_OLD, `${WRITE_OLD}x`, READ, 'not-a-token-at-all-but-long'];
    for (const token of presented) {
      await post(server, JSON.stringify([event(1)]), { authorization: `Bearer ${token}` });
      await post(server, '{broken', { authorization: `Bearer ${token}` });
      await fetch(`${server.url}/metrics/limits?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
      await fetch(`${server.url}/nowhere?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
    }
    for (const token of presented) for (const line of lines) expect(line).not.toContain(token);
  });
});
