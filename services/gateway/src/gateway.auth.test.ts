/**
 * Who may read (docs/SECURITY.md): read tokens on the WebSocket upgrade (a
 * header, or `?token=` for browsers) and on /metrics/* REST; the Origin
 * allowlist with CORS to match; refusals before any WebSocket exists; no
 * token in any log line.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { createLogger, MemorySnapshotBus } from '@pulse/runtime';
import { getJson, startGateway, TestClient, type RunningGateway } from '@pulse/test-support/gateway';

const OLD = 'read-old-0123456789';
const NEW = 'read-new-0123456789';
const TOKENS = { PULSE_READ_TOKENS: `${OLD},${NEW}` };
const DASHBOARD = 'https://dash.example.com';

let gw: RunningGateway | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await gw?.close();
  gw = undefined;
});

async function start(env: Record<string, string>, logger?: Parameters<typeof startGateway>[2]): Promise<RunningGateway> {
  gw = await startGateway(new MemorySnapshotBus(), env, logger);
  return gw;
}

interface Upgrade {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Tries an upgrade; 101 when a WebSocket opened (then closed at once). */
function upgrade(url: string, options?: ClientOptions): Promise<Upgrade> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, headers: {}, body: '' });
    });
    ws.on('error', () => {});
  });
}

async function connect(url: string, options?: ClientOptions): Promise<TestClient> {
  const c = await TestClient.connect(url, options);
  clients.push(c);
  return c;
}

describe('read tokens on the WebSocket upgrade', () => {
  it('refuses an upgrade without a token with 401 and a challenge, opening no WebSocket', async () => {
    const { ws } = await start(TOKENS);
    const res = await upgrade(ws);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pulse"');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'unauthorized', error: expect.stringMatching(/token is required/) });
  });

  it('refuses a wrong token, by header or query, with invalid_token', async () => {
    const { ws } = await start(TOKENS);
    for (const res of [await upgrade(`${ws}?token=${OLD}x`), await upgrade(ws, { headers: { authorization: `Bearer ${OLD.slice(1)}` } })]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      expect(res.body).not.toContain(OLD.slice(1));
    }
  });

  it('accepts every configured token, as a header or as the token query parameter', async () => {
    const { ws } = await start(TOKENS);
    const byHeader = await connect(ws, { headers: { authorization: `Bearer ${OLD}` } });
    const byQuery = await connect(`${ws}?token=${encodeURIComponent(NEW)}`);
    for (const c of [byHeader, byQuery]) {
      expect((await c.next('historical_data')).message.data).toHaveProperty('throughput');
      expect((await c.request({ type: 'ping' }, 'pong')).type).toBe('pong');
    }
  });

  it('is open without tokens', async () => {
    const { ws } = await start({});
    expect((await upgrade(ws)).status).toBe(101);
  });
});

describe('read tokens on REST', () => {
  it('guards every /metrics/* route and leaves the probes open', async () => {
    const { http } = await start(TOKENS);
    for (const path of ['/metrics/snapshot', '/metrics/labels', '/metrics/history', '/metrics/limits']) {
      const refused = await fetch(`${http}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="pulse"');
      expect(((await refused.json()) as any).code).toBe('unauthorized');
      expect((await fetch(`${http}${path}`, { headers: { authorization: `Bearer ${NEW}` } })).status, path).toBe(200);
      expect((await fetch(`${http}${path}?token=${OLD}`)).status, path).toBe(200);
    }
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    expect((await fetch(`${http}/readyz`)).status).toBe(503); // open, and honest: no snapshot yet
  });

  it('counts refusals in the self-metrics', async () => {
    const { http, ws } = await start(TOKENS);
    await upgrade(ws);
    await fetch(`${http}/metrics/snapshot`);
    const text = await (await fetch(`${http}/metrics/limits`, { headers: { authorization: `Bearer ${OLD}` } })).text();
    expect(text).toContain('pulse_rejections_total{reason="unauthorized"} 2');
  });
});

describe('origin allowlist', () => {
  it('refuses a foreign Origin with 403 and allows a listed one, the gateway’s own, or none', async () => {
    const { ws, http } = await start({ PULSE_ALLOWED_ORIGINS: DASHBOARD });
    const foreign = await upgrade(ws, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).code).toBe('forbidden_origin');
    expect((await upgrade(ws, { origin: DASHBOARD })).status).toBe(101);
    expect((await upgrade(ws, { origin: http })).status).toBe(101);
    expect((await upgrade(ws)).status).toBe(101);
  });

  it('checks the origin before the token, so a foreign page learns nothing about tokens', async () => {
    const { ws } = await start({ ...TOKENS, PULSE_ALLOWED_ORIGINS: DASHBOARD });
    expect((await upgrade(`${ws}?token=${OLD}`, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await upgrade(`${ws}?token=${OLD}`, { origin: DASHBOARD })).status).toBe(101);
  });

  it('answers CORS on REST to match: the listed origin echoed, a foreign one refused, preflights too', async () => {
    const { http } = await start({ ...TOKENS, PULSE_ALLOWED_ORIGINS: DASHBOARD });
    const auth = { authorization: `Bearer ${OLD}` };
    const ok = await getJson(`${http}/metrics/snapshot`, { headers: { ...auth, origin: DASHBOARD } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(ok.headers.get('vary')).toBe('Origin');
    const foreign = await getJson(`${http}/metrics/snapshot`, { headers: { ...auth, origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(`${http}/metrics/labels`, {
      method: 'OPTIONS',
      headers: { origin: DASHBOARD, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(Object.fromEntries(preflight.headers)).toMatchObject({
      'access-control-allow-origin': DASHBOARD,
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': 'Authorization',
    });
    expect((await fetch(`${http}/metrics/labels`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })).status).toBe(403);
  });

  it('allows any origin without an allowlist: Access-Control-Allow-Origin *', async () => {
    const { http } = await start({});
    const res = await fetch(`${http}/metrics/snapshot`, { headers: { origin: 'https://anywhere.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('logs', () => {
  it('hold no token, presented right or wrong, by header or query', async () => {
    const lines: string[] = [];
    const logger = createLogger('gateway', 'trace', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    const { ws, http } = await start(TOKENS, logger);
    const wrong = 'wrong-token-0123456789';
    const c = await connect(`${ws}?token=${OLD}`);
    c.send('not json');
    await c.next('error');
    await c.close();
    await upgrade(`${ws}?token=${wrong}`);
    await upgrade(ws, { headers: { authorization: `Bearer ${wrong}` } });
    await upgrade(`${http}/elsewhere?token=${OLD}`.replace('http', 'ws'));
    await fetch(`${http}/metrics/snapshot?token=${wrong}`);
    await fetch(`${http}/nowhere?token=${OLD}`);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toContain(OLD);
      expect(line).not.toContain(wrong);
    }
  });
});
