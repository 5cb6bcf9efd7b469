/**
 * `pulse run …` and `pulse annotate` as a user runs them: the `pulse` bin
 * from the repo root, as a process, against a real gateway — `npm start` on
 * the test Redis with write and read tokens — then a second Pulse on the
 * same Redis and key prefix (another gateway of the deployment) that lists
 * the same runs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standalonePerFile, startService, type ServiceProcess } from '@pulse/test-support/processes';
import { startTestRedis, uniquePrefix, type TestRedis } from '@pulse/test-support/redis';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRITE = 'cli-runs-write-0123456789';
const READ = 'cli-runs-read-0123456789';

let redis: TestRedis;
let pulse: ServiceProcess;
let other: ServiceProcess;
beforeAll(async () => {
  redis = await startTestRedis();
  const env = { REDIS_URL: redis.url, PULSE_KEY_PREFIX: uniquePrefix('cli-runs'), PULSE_WRITE_TOKENS: WRITE, PULSE_READ_TOKENS: READ, PULSE_TICK_MS: '100', PULSE_HISTORY_TIERS: '0.1s:10m,1s:1h', PULSE_HISTORY_GRACE_MS: '200', LOG_LEVEL: 'warn' };
  [pulse, other] = await Promise.all([startService('standalone', env), startService('standalone', env)]);
}, 30_000);
afterAll(async () => {
  await Promise.all([pulse?.stop(), other?.stop()]);
  await redis?.stop();
});

/** Runs the `pulse` bin the way `npx pulse …` does, with `env` (tokens) on top of PATH. */
async function pulseCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['node_modules/.bin/pulse', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

const tokens = { PULSE_TOKEN: READ, PULSE_WRITE_TOKEN: WRITE };

describe('pulse run and pulse annotate', () => {
  it('starts, annotates, lists and stops a run, the same on both gateways', async () => {
    const start = await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`, 'baseline', '--label', 'model=gpt-4', '--label', 'qps=50'], tokens);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    const id = start.stdout.trim();
    expect(id).toMatch(/^run-\d+$/);

    const note = await pulseCli(['annotate', `127.0.0.1:${other.port}`, 'scaled to 4 nodes', '--run', id, '--json'], tokens);
    expect(note.code).toBe(0);
    expect(JSON.parse(note.stdout)).toMatchObject({ text: 'scaled to 4 nodes', run_id: id });

    const listed = await pulseCli(['run', 'list', `127.0.0.1:${other.port}`], tokens);
    expect(listed.code).toBe(0);
    const [header, row] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+STARTED\s+LENGTH\s+STATE\s+LABELS$/);
    expect(row).toMatch(new RegExp(`^${id}\\s+baseline\\s+.*running\\s+model=gpt-4, qps=50$`));

    const stop = await pulseCli(['run', 'stop', `http://127.0.0.1:${other.port}`, id], tokens);
    expect([stop.code, stop.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^stopped ${id} \\(baseline\\) after \\d+ s\\n$`))]);
    const again = await pulseCli(['run', 'stop', `127.0.0.1:${pulse.port}`, id], tokens);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^pulse: POST /v1/runs/${id}/stop answered 409: run ${id} was stopped already, at `));

    const json = await pulseCli(['run', 'list', `127.0.0.1:${pulse.port}`, '--json'], tokens);
    const { runs } = JSON.parse(json.stdout) as { runs: { id: string; labels: Record<string, string>; stopped_at?: number }[] };
    expect(runs[0]).toMatchObject({ id, labels: { model: 'gpt-4', qps: '50' }, stopped_at: expect.any(Number) });
  });

  it('exports a run recorded from real traffic, as the route gives it, from either gateway', async () => {
    const id = (await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`, 'traffic'], tokens)).stdout.trim();
    for (let i = 0; i < 10; i++) {
      const ts = Date.now() / 1000;
      const events = [
        { type: 'request.start', ts, node: 'n1', request_id: `x${i}`, endpoint: '/v1/chat/completions', model: 'm', stream: true },
        { type: 'request.end', ts, node: 'n1', request_id: `x${i}`, endpoint: '/v1/chat/completions', model: 'm', stream: true, status: 200, latency_ms: 100 + i, ttft_ms: 20, completion_tokens: 5 },
      ];
      const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${WRITE}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
      expect(res.status).toBe(202);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await pulseCli(['run', 'stop', `127.0.0.1:${pulse.port}`, id], tokens)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 800));

    const jsonl = await pulseCli(['run', 'export', `127.0.0.1:${other.port}`, id, '--format', 'jsonl', '--step', '0.1', '--metric', 'latency'], tokens);
    expect([jsonl.code, jsonl.stderr]).toEqual([0, '']);
    const route = await (await fetch(`${pulse.url}/v1/runs/${id}/export?format=jsonl&step=0.1&metric_type=latency`, { headers: { authorization: `Bearer ${READ}` } })).text();
    expect(jsonl.stdout).toBe(route);
    const points = jsonl.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { timestamp: number; data: { latency: Record<string, { max: number }> } });
    expect(points.length).toBeGreaterThan(5);
    expect(Math.max(...points.map((p) => p.data.latency['/v1/chat/completions']?.max ?? 0))).toBe(109);

    const csv = await pulseCli(['run', 'export', `127.0.0.1:${pulse.port}`, id, '--step', '1s'], tokens);
    const [header, ...rows] = csv.stdout.trimEnd().split('\r\n');
    expect(header!.split(',').slice(0, 3)).toEqual(['timestamp', 'time', 'requests_per_sec']);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('says which token to set when one is missing or wrong', async () => {
    const noWrite = await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`, 'x'], { PULSE_TOKEN: READ });
    expect([noWrite.code, noWrite.stderr]).toEqual([1, expect.stringContaining('wants a write token: set PULSE_WRITE_TOKEN')]);
    const noRead = await pulseCli(['run', 'list', `127.0.0.1:${pulse.port}`], { PULSE_WRITE_TOKEN: WRITE });
    expect([noRead.code, noRead.stderr]).toEqual([1, expect.stringContaining('wants a read token: set PULSE_TOKEN')]);
    // PULSE_TOKEN alone is sent for writes too: one token for a Pulse whose write and read tokens are the same.
    const single = await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`, 'x'], { PULSE_TOKEN: WRITE });
    expect(single.code).toBe(0);
  });

  it('reports a bad name, an unknown run and an unreachable Pulse with exit 1, a usage error with exit 2', async () => {
    const long = await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`, 'n'.repeat(200)], tokens);
    expect([long.code, long.stderr]).toEqual([1, 'pulse: POST /v1/runs answered 400: name: longer than 128 characters\n']);
    const unknown = await pulseCli(['run', 'export', `127.0.0.1:${pulse.port}`, 'run-999999'], tokens);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'pulse: GET /v1/runs/run-999999/export answered 404: no run run-999999\n']);
    const gone = await pulseCli(['run', 'list', '127.0.0.1:1'], tokens);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^pulse: cannot reach http:\/\/127\.0\.0\.1:1/);
    const usage = await pulseCli(['run', 'start', `127.0.0.1:${pulse.port}`]);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/^pulse: missing <name>\n\nusage: /)]);
  });
});

describe('pulse run against npm start without Redis', () => {
  let memory: ServiceProcess;
  standalonePerFile({ PULSE_HISTORY_TIERS: '0.1s:10m' }, (p) => (memory = p));

  it('keeps runs and annotations in the process', async () => {
    const id = (await pulseCli(['run', 'start', `127.0.0.1:${memory.port}`, 'in memory', '--label', 'store=memory'])).stdout.trim();
    expect(id).toMatch(/^run-\d+$/);
    expect((await pulseCli(['annotate', `127.0.0.1:${memory.port}`, 'noted', '--run', id])).code).toBe(0);
    expect((await pulseCli(['run', 'stop', `127.0.0.1:${memory.port}`, id])).code).toBe(0);
    const { runs } = JSON.parse((await pulseCli(['run', 'list', `127.0.0.1:${memory.port}`, '--json'])).stdout) as { runs: { id: string; name: string; stopped_at?: number }[] };
    expect(runs).toEqual([expect.objectContaining({ id, name: 'in memory', labels: { store: 'memory' }, stopped_at: expect.any(Number) })]);
    const notes = (await (await fetch(`${memory.url}/v1/annotations?run_id=${id}`)).json()) as { annotations: { text: string }[] };
    expect(notes.annotations.map((a) => a.text)).toEqual(['noted']);
    const csv = await pulseCli(['run', 'export', `127.0.0.1:${memory.port}`, id]);
    expect([csv.code, csv.stdout.split('\r\n')[0]!.split(',')[0]]).toEqual([0, 'timestamp']);
  });
});
