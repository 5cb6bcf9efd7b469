/**
 * Acceptance with authentication on (docs/SECURITY.md), as deployed — the
 * split services as processes against one Redis, and `npm start`'s
 * all-in-one process: the pipeline scenario passes with tokens, and the very
 * same scenario fails without them (or with a wrong one, or with the other
 * side's), at its first step that needs one. No process logs a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { TestClient } from '@pulse/test-support/ws-client';

const WRITE = 'e2e-write-token-0123456789';
const READ_OLD = 'e2e-read-old-0123456789';
const READ_NEW = 'e2e-read-new-0123456789';
const AUTH_ENV = { PULSE_WRITE_TOKENS: WRITE, PULSE_READ_TOKENS: `${READ_OLD},${READ_NEW}`, LOG_LEVEL: 'debug' };

interface Deployment {
  ingest: string;
  gateway: string;
  processes: ServiceProcess[];
}

interface Credentials {
  write?: string;
  read?: string;
}

let run = 0;

/**
 * The acceptance path of test/e2e/pipeline.test.ts with credentials: a
 * client connects and subscribes, events are posted, the client's update and
 * the REST snapshot carry exact figures. Throws at the first refusal.
 */
async function scenario(d: Deployment, { write, read }: Credentials): Promise<void> {
  const model = `auth-model-${++run}`;
  const query = read === undefined ? '' : `?token=${encodeURIComponent(read)}`;
  const client = await TestClient.connect(`${d.gateway.replace('http', 'ws')}/metrics/stream${query}`);
  try {
    await client.next((m) => m.type === 'historical_data', 5000, 0);
    client.send({ type: 'subscribe', filters: { model, interval: 0.2 } });
    await client.nextOfType('subscribed');

    const now = Date.now() / 1000;
    const events = [1, 2, 3].flatMap((i) => {
      const base = { ts: now, node: 'fakeai-1', request_id: `${model}-${i}`, endpoint: '/v1/chat/completions', model, stream: true };
      return [{ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 100 * i, completion_tokens: 10 }];
    });
    const res = await fetch(`${d.ingest}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(write === undefined ? {} : { authorization: `Bearer ${write}` }) },
      body: JSON.stringify(events),
    });
    if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}`);

    const update = await client.next((m) => m.type === 'metrics_update' && (m.data as any)?.streaming?.completed_streams === 3, 10_000);
    expect((update.msg.data as any).latency['/v1/chat/completions']).toMatchObject({ min: 100, max: 300, avg: 200 });

    const snapshot = await fetch(`${d.gateway}/metrics/snapshot`, { headers: read === undefined ? {} : { authorization: `Bearer ${read}` } });
    if (snapshot.status !== 200) throw new Error(`GET /metrics/snapshot answered ${snapshot.status}`);
    expect(((await snapshot.json()) as any).data.streaming.completed_streams).toBeGreaterThanOrEqual(3);
  } finally {
    client.close();
  }
}

function behavesLikeASecuredDeployment(deployment: () => Deployment): void {
  it('passes the acceptance scenario with tokens, with either read token', async () => {
    await scenario(deployment(), { write: WRITE, read: READ_OLD });
    await scenario(deployment(), { write: WRITE, read: READ_NEW });
  });

  it('fails the same scenario without tokens: 401 before the WebSocket opens', async () => {
    await expect(scenario(deployment(), {})).rejects.toThrow(/401/);
  });

  it('fails it with a wrong read token, or the write token used to read', async () => {
    await expect(scenario(deployment(), { write: WRITE, read: `${READ_OLD}x` })).rejects.toThrow(/401/);
    await expect(scenario(deployment(), { write: WRITE, read: WRITE })).rejects.toThrow(/401/);
  });

  it('fails it without the write token, or with a read token used to write', async () => {
    await expect(scenario(deployment(), { read: READ_OLD })).rejects.toThrow(/POST \/v1\/events answered 401/);
    await expect(scenario(deployment(), { write: READ_OLD, read: READ_OLD })).rejects.toThrow(/POST \/v1\/events answered 401/);
  });

  it('logs no token in any process', () => {
    for (const p of deployment().processes) {
      for (const token of [WRITE, READ_OLD, READ_NEW]) expect(p.output(), p.name).not.toContain(token);
    }
  });
}

describe('split services with authentication on', () => {
  let redis: TestRedis;
  const d: Deployment = { ingest: '', gateway: '', processes: [] };

  beforeAll(async () => {
    redis = await startTestRedis();
    const env = { REDIS_URL: redis.url, PULSE_KEY_PREFIX: uniquePrefix('e2e-auth'), PULSE_TICK_MS: '100' };
    const [ingest, aggregator] = await Promise.all([startService('ingest', { ...env, ...AUTH_ENV }), startService('aggregator', env)]);
    const gateway = await startService('gateway', { ...env, ...AUTH_ENV });
    Object.assign(d, { ingest: ingest.url, gateway: gateway.url, processes: [ingest, aggregator, gateway] });
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all(d.processes.map((p) => p.stop('SIGTERM')));
    await redis?.stop();
    expect(codes).toEqual(d.processes.map(() => 0));
  });

  behavesLikeASecuredDeployment(() => d);
});

describe('npm start (all in one) with authentication on', () => {
  const d: Deployment = { ingest: '', gateway: '', processes: [] };

  beforeAll(async () => {
    const pulse = await startService('standalone', { ...AUTH_ENV, PULSE_TICK_MS: '100' });
    Object.assign(d, { ingest: pulse.url, gateway: pulse.url, processes: [pulse] });
  }, 60_000);

  afterAll(async () => {
    expect(await d.processes[0]?.stop('SIGTERM')).toBe(0);
  });

  behavesLikeASecuredDeployment(() => d);
});
