/**
 * One way to answer: the ops-server style every small server uses, the error
 * body and status from the registry, and one readiness body.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { opsServer, probeRoutes, readinessReply, sendJson } from './http-replies.js';
import { SelfMetrics } from './self-metrics.js';

let close: (() => void) | null = null;
afterEach(() => close?.());

async function serve(ready: { reason: string | null }): Promise<string> {
  const server = opsServer({
    ...probeRoutes(() => ready.reason, new SelfMetrics(), () => ({ role: 'standby' })),
    '/status': { answer: (_req, res) => sendJson(res, 200, { fine: true }) },
    '/broken': {
      answer: async () => {
        throw new Error('boom');
      },
    },
    '/guarded': {
      guard: (_req, res) => {
        sendJson(res, 401, { error: 'no', code: 'unauthorized' });
        return true;
      },
      answer: () => {
        throw new Error('must not run');
      },
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  close = () => server.close();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
};

describe('http replies', () => {
  it('answers readiness with one body: ready, or 503 not_ready with the reason', async () => {
    const state = { reason: null as string | null };
    const url = await serve(state);
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready', role: 'standby' } });
    state.reason = 'redis unreachable';
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 503, body: { status: 'not_ready', reason: 'redis unreachable', role: 'standby' } });
    expect(readinessReply(null)).toEqual({ status: 200, body: '{"status":"ready"}' });
  });

  it('answers unknown paths 404 and other methods 405 with Allow, in the API error shape', async () => {
    const url = await serve({ reason: null });
    expect(await get(`${url}/nope`)).toMatchObject({ status: 404, body: { code: 'not_found', error: 'no route for GET /nope' } });
    const post = await get(`${url}/status`, { method: 'POST' });
    expect(post).toMatchObject({ status: 405, body: { code: 'method_not_allowed' } });
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('turns a failing route into a 500 and lets a guard answer instead of the route', async () => {
    const url = await serve({ reason: null });
    expect(await get(`${url}/broken`)).toMatchObject({ status: 500, body: { code: 'internal', error: 'could not answer /broken: Error: boom' } });
    expect(await get(`${url}/guarded`)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await get(`${url}/healthz`)).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }));
  });
});
