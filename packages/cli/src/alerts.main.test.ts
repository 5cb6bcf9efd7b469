/**
 * `pulse alerts` as a user runs it: the `pulse` bin from the repo root
 * against `npm start` with PULSE_ALERT_RULES and read tokens, as a process,
 * with a real webhook receiver that refuses every notification (400: failed
 * at once, not retried) — so there is a firing alert, a pending one and
 * failed deliveries to list and replay. Then a Pulse without rules, and one
 * that is not there.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPulseWithRefusedAlerts } from '@pulse/test-support/alert-standalone';
import type { TestReceiver } from '@pulse/test-support/http-receiver';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';
import { freePort } from '@pulse/test-support/redis-server';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'cli-alerts-token-0123456789';
const EVIL = '/v1/\x1b[2Jevil';

/** Runs the `pulse` bin the way `npx pulse …` does from the repo root, with PULSE_TOKEN when given. */
async function pulseCli(args: string[], token?: string) {
  const env = { PATH: process.env.PATH ?? '', ...(token ? { PULSE_TOKEN: token } : {}) };
  const child = spawn(process.execPath, ['node_modules/.bin/pulse', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return res.json();
}

describe('pulse alerts against a Pulse with alert rules', () => {
  let hook: TestReceiver;
  let pulse: ServiceProcess;

  beforeAll(async () => {
    ({ pulse, hook } = await startPulseWithRefusedAlerts({ PULSE_READ_TOKENS: TOKEN }));
    const ts = Date.now() / 1000;
    // The default 60 s window keeps the alerts up for the whole file.
    const events = ['/v1/chat/completions', EVIL].flatMap((endpoint, i) => {
      const base = { ts, node: 'cli-alerts', request_id: `a${i}`, endpoint, model: 'gpt-4o' };
      return [{ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 30 }];
    });
    const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(res.status).toBe(202);
    // Both Busy alerts fired, and both of their notifications were refused.
    await vi.waitFor(async () => expect((await getJson(`${pulse.url}/v1/alerts/deliveries?state=failed`)).deliveries).toHaveLength(2), { timeout: 15_000, interval: 100 });
  }, 30_000);

  afterAll(async () => {
    await pulse?.stop();
    await hook?.close();
  });

  it('prints the active alerts and the failed deliveries as tables, names made safe for the terminal', async () => {
    const { code, stdout, stderr } = await pulseCli(['alerts', `127.0.0.1:${pulse.port}`], TOKEN);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Pulse  http://127.0.0.1:${pulse.port}`);
    expect(stdout).toContain('3 active alerts: 2 firing, 1 pending');
    expect(stdout).toMatch(/\n {2}Busy +firing +\d\d:\d\d:\d\d \(.+ ago\) +\d[\d.]* +endpoint=\/v1\/\?\[2Jevil, severity=page\n/);
    expect(stdout).toMatch(/\n {2}Busy +firing +.+endpoint=\/v1\/chat\/completions, severity=page\n/);
    expect(stdout).toMatch(/\n {2}Slow +pending +\d\d:\d\d:\d\d/);
    expect(stdout).toContain('2 failed deliveries');
    const { deliveries } = await getJson(`${pulse.url}/v1/alerts/deliveries?state=failed`);
    for (const d of deliveries) {
      expect(stdout).toMatch(new RegExp(`\\n {2}${d.id} +refusing +firing +1 +\\d\\d:\\d\\d:\\d\\d \\(.+ ago\\) +Busy +endpoint=.+, severity=page +HTTP 400 Bad Request: refused\\n`));
    }
    expect(stdout).not.toContain('\x1b');
  });

  it('--json prints one line with the lists exactly as Pulse gave them', async () => {
    const { code, stdout } = await pulseCli(['alerts', `ws://127.0.0.1:${pulse.port}/metrics/stream`, '--json'], TOKEN);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const printed = JSON.parse(lines[0]!);
    expect(printed.deliveries).toEqual((await getJson(`${pulse.url}/v1/alerts/deliveries?state=failed`)).deliveries);
    // Alert values move with the window: compare what does not.
    const shape = (alerts: any[]) => alerts.map(({ name, labels, state, active_at }) => ({ name, labels, state, active_at }));
    expect(shape(printed.alerts)).toEqual(shape((await getJson(`${pulse.url}/v1/alerts`)).alerts));
    expect(shape(printed.alerts).map((a) => `${a.name} ${a.state}`)).toEqual(['Busy firing', 'Busy firing', 'Slow pending']);
  });

  it('alerts retry sends a failed delivery to its receiver again, and says when there is no such delivery', async () => {
    const { deliveries } = await getJson(`${pulse.url}/v1/alerts/deliveries?state=failed`);
    const id: string = deliveries[0].id;
    expect(hook.requestsFor(id)).toHaveLength(1);
    const retried = await pulseCli(['alerts', 'retry', `127.0.0.1:${pulse.port}`, id], TOKEN);
    expect(retried).toEqual({ code: 0, stdout: `delivery ${id} queued again\n`, stderr: '' });
    // The same notification, with the same Idempotency-Key, reached the receiver a second time.
    await vi.waitFor(() => expect(hook.requestsFor(id)).toHaveLength(2), { timeout: 10_000, interval: 100 });

    const unknown = await pulseCli(['alerts', 'retry', `127.0.0.1:${pulse.port}`, 'no-such-id'], TOKEN);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('pulse: POST /v1/alerts/deliveries/no-such-id/retry answered 404: no failed delivery with id "no-such-id"\n');
  });

  it('exits 1 saying a token is needed when PULSE_TOKEN is not set', async () => {
    const { code, stdout, stderr } = await pulseCli(['alerts', `127.0.0.1:${pulse.port}`]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^pulse: http:\/\/127\.0\.0\.1:\d+ wants a read token: set PULSE_TOKEN \(a token is required/);
  });

  it('exits 2 with the usage on a bad command line', async () => {
    const { code, stderr } = await pulseCli(['alerts', `127.0.0.1:${pulse.port}`, '--model', 'gpt-4o'], TOKEN);
    expect(code).toBe(2);
    expect(stderr).toContain('--model is an option of watch, not alerts');
    expect(stderr).toContain('pulse alerts retry <url> <id>');
  });
});

describe('pulse alerts against a Pulse without alert rules', () => {
  let pulse: ServiceProcess;
  standalonePerFile({}, (p) => (pulse = p));

  it('exits 1 saying how to turn alerts on', async () => {
    const { code, stdout, stderr } = await pulseCli(['alerts', `127.0.0.1:${pulse.port}`]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`pulse: http://127.0.0.1:${pulse.port} has no alerts: start Pulse with PULSE_ALERT_RULES (docs/PROTOCOL.md §8)\n`);
  });

  it('exits 1 when nothing listens there', async () => {
    const port = await freePort();
    const { code, stderr } = await pulseCli(['alerts', `127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^pulse: cannot reach http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  });
});
