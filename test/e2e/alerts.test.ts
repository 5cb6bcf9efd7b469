/**
 * Alerts from the outside (docs/PROTOCOL.md §8): a rules file, real webhook
 * receivers on 127.0.0.1, events through ingest. `npm start` without Redis
 * evaluates and delivers in-process; the split services on Redis evaluate in
 * the leading aggregator, deliver through BullMQ, and answer the alert routes
 * on the gateway.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A webhook receiver: records every POST, answers 200 on /ok and 400 on /bad. */
async function receiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(req.url === '/bad' ? 400 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received, server };
}

function rulesFile(hook: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-alerts-'));
  const path = join(dir, 'rules.yaml');
  writeFileSync(
    path,
    [
      'receivers:',
      `  - {name: oncall, url: "${hook}/ok"}`,
      `  - {name: broken, url: "${hook}/bad"}`,
      'rules:',
      '  - name: Busy',
      '    figure: requests_per_sec',
      '    op: ">"',
      '    value: 0',
      '    group_by: [endpoint]',
      '    labels: {severity: page}',
      '    annotations: {summary: "traffic on {{endpoint}}"}',
      '    receivers: [oncall, broken]',
    ].join('\n'),
  );
  return path;
}

async function sendEvents(ingest: string, n: number): Promise<void> {
  const ts = Date.now() / 1000;
  const events = Array.from({ length: n }, (_, i) => [
    { type: 'request.start', ts, node: 'n1', request_id: `a${i}-${ts}`, endpoint: '/v1/chat/completions', model: 'gpt-4o', stream: false },
    { type: 'request.end', ts, node: 'n1', request_id: `a${i}-${ts}`, endpoint: '/v1/chat/completions', model: 'gpt-4o', status: 200, latency_ms: 120 },
  ]).flat();
  const res = await fetch(`${ingest}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
  expect(res.status).toBe(202);
}

async function expectAlertDelivered(hook: Awaited<ReturnType<typeof receiver>>, api: string): Promise<void> {
  await vi.waitFor(() => expect(hook.received.some((r) => r.path === '/ok')).toBe(true), { timeout: 15_000, interval: 100 });
  const sent = hook.received.find((r) => r.path === '/ok')!;
  expect(sent.headers['idempotency-key']).toMatch(/.+/);
  expect(sent.body).toMatchObject({ version: '4', status: 'firing', receiver: 'oncall', groupLabels: { endpoint: '/v1/chat/completions' } });
  const [alert] = sent.body.alerts as Record<string, unknown>[];
  expect(alert).toMatchObject({ status: 'firing', labels: { alertname: 'Busy', endpoint: '/v1/chat/completions', severity: 'page' } });
  const listed = (await (await fetch(`${api}/v1/alerts`)).json()) as { alerts: { name: string; state: string; labels: Record<string, string> }[] };
  expect(listed.alerts).toEqual([expect.objectContaining({ name: 'Busy', state: 'firing', labels: expect.objectContaining({ endpoint: '/v1/chat/completions' }) })]);

  // The receiver answering 400 is not retried: its notification is listed as failed, and replays on request.
  await vi.waitFor(
    async () => {
      const failed = (await (await fetch(`${api}/v1/alerts/deliveries?state=failed`)).json()) as { deliveries: { id: string }[] };
      expect(failed.deliveries).toHaveLength(1);
    },
    { timeout: 15_000, interval: 200 },
  );
  expect(hook.received.filter((r) => r.path === '/bad')).toHaveLength(1);
  const { deliveries } = (await (await fetch(`${api}/v1/alerts/deliveries?state=failed`)).json()) as { deliveries: { id: string }[] };
  const retry = await fetch(`${api}/v1/alerts/deliveries/${encodeURIComponent(deliveries[0]!.id)}/retry`, { method: 'POST' });
  expect(retry.status).toBe(202);
  await vi.waitFor(() => expect(hook.received.filter((r) => r.path === '/bad')).toHaveLength(2), { timeout: 15_000, interval: 100 });
  expect((await fetch(`${api}/v1/alerts/deliveries?state=all`)).status).toBe(400);
}

describe('alerts with npm start, no Redis', () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let pulse: ServiceProcess;
  beforeAll(async () => {
    hook = await receiver();
    pulse = await startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn', PULSE_ALERT_RULES: rulesFile(hook.url) });
  }, 30_000);
  afterAll(async () => {
    await pulse?.stop();
    hook?.server.close();
  });

  it('fires on live figures, posts the Alertmanager body, lists it, and keeps a refused delivery for replay', async () => {
    await sendEvents(pulse.url, 5);
    await expectAlertDelivered(hook, pulse.url);
  });

  it('refuses to start on a bad rules file, naming the rule and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-alerts-'));
    const path = join(dir, 'rules.json');
    writeFileSync(path, JSON.stringify({ receivers: [], rules: [{ name: 'X', figure: 'nope', op: '>', value: 1 }] }));
    const bad = await startService('standalone', { PULSE_ALERT_RULES: path }, { waitReady: false });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/rule "X": field "figure"/);
  });
});

describe('alerts on the split services, Redis and BullMQ', () => {
  let redis: TestRedis;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const procs: ServiceProcess[] = [];
  let ingest: ServiceProcess;
  let gateway: ServiceProcess;
  beforeAll(async () => {
    redis = await startTestRedis();
    hook = await receiver();
    const env = { REDIS_URL: redis.url, PULSE_KEY_PREFIX: uniquePrefix('alerts'), PULSE_TICK_MS: '100', LOG_LEVEL: 'warn', PULSE_ALERT_RULES: rulesFile(hook.url) };
    ingest = await startService('ingest', env);
    procs.push(ingest, await startService('aggregator', env));
    gateway = await startService('gateway', env);
    procs.push(gateway);
  }, 30_000);
  afterAll(async () => {
    for (const p of procs) await p.stop();
    hook?.server.close();
    await redis?.stop();
  });

  it('the leading aggregator evaluates and delivers through BullMQ; the gateway lists and replays', async () => {
    await sendEvents(ingest.url, 5);
    await expectAlertDelivered(hook, gateway.url);
  });
});
