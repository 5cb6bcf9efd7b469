/**
 * docs/PROTOCOL.md §2 from the outside: every service validates its environment at
 * start and exits non-zero with one line naming the bad variable; the
 * aggregator answers its health endpoints; `npm start` runs all three roles in
 * one process with no Redis at all, and passes its exit code on.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@pulse/test-support/redis-server';
import { startService, waitReady, type ServiceName, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';
import { TestClient } from '@pulse/test-support/ws-client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe.each(['ingest', 'aggregator', 'gateway', 'standalone'] as ServiceName[])('%s configuration', (name) => {
  it('exits 2 with one line naming each bad variable', async () => {
    const proc = await startService(name, { PULSE_TICK_MS: 'soon', PULSE_WINDOW_SECONDS: '-5' }, { waitReady: false });
    expect(await proc.exited).toBe(2);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PULSE_TICK_MS/);
    expect(lines[0]).toMatch(/PULSE_WINDOW_SECONDS/);
  });
});

describe('aggregator process', () => {
  let redis: TestRedis;
  let agg: ServiceProcess;
  beforeAll(async () => {
    redis = await startTestRedis();
    agg = await startService('aggregator', { REDIS_URL: redis.url, PULSE_KEY_PREFIX: uniquePrefix('agg-proc'), PULSE_TICK_MS: '100' });
  });
  afterAll(async () => {
    await agg?.stop();
    await redis?.stop();
  });

  it('answers healthz, readyz, status and metrics; leads when alone; exits 0 on SIGTERM', async () => {
    expect((await fetch(`${agg.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${agg.url}/readyz`)).status).toBe(200);
    await expect.poll(async () => ((await (await fetch(`${agg.url}/status`)).json()) as any).role, { timeout: 5000 }).toBe('leader');
    expect(await (await fetch(`${agg.url}/metrics`)).text()).toMatch(/^pulse_aggregator_leader 1$/m);
    expect(await agg.stop('SIGTERM')).toBe(0);
  });
});

describe('npm start (all in one, no Redis)', () => {
  it('ingests, aggregates and streams on one port, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const exited = once(child, 'exit');
    const url = `http://127.0.0.1:${port}`;
    const proc = { name: 'standalone', port, url, adminUrl: url, child, output: () => out } as unknown as ServiceProcess;
    try {
      await waitReady(proc, 60_000);
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/metrics/stream`);
      await client.next((m) => m.type === 'historical_data', 5000, 0);
      client.send({ type: 'subscribe', filters: { metric_type: 'latency', interval: 0.5 } });
      await client.nextOfType('subscribed');

      const ts = Date.now() / 1000;
      const ndjson = [
        { type: 'request.start', ts, node: 'n1', request_id: 'a', endpoint: '/v1/completions', model: 'm' },
        { type: 'request.end', ts, node: 'n1', request_id: 'a', endpoint: '/v1/completions', model: 'm', status: 200, latency_ms: 42 },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n');
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson });
      expect(res.status).toBe(202);

      const update = await client.next((m) => m.type === 'metrics_update' && (m.data as any).latency?.['/v1/completions'] !== undefined, 5000);
      expect(Object.keys(update.msg.data as object)).toEqual(['latency']);
      expect((update.msg.data as any).latency['/v1/completions']).toMatchObject({ avg: 42, min: 42, max: 42, p50: 42 });
      client.close();
    } finally {
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code, out).toBe(0);
    }
  }, 90_000);
});
