/**
 * `pulse watch` as a user runs it: the `pulse` bin from the repo root against
 * a running Pulse, in JSON and table mode, stopped by --count or Ctrl-C;
 * and the in-place refresh on a terminal.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';
import { parseCommand, type WatchCommand } from './args.js';
import { watch, type Output } from './watch.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let pulse: ServiceProcess;
let stream: string;

beforeAll(async () => {
  pulse = await startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn' });
  stream = `ws://127.0.0.1:${pulse.port}/metrics/stream`;
  const ts = Date.now() / 1000;
  const events = [];
  for (const [i, endpoint] of ['/v1/chat/completions', '/v1/embeddings', '/v1/\x1b[2Jevil'].entries()) {
    const base = { ts, node: 'cli-test', request_id: `c${i}`, endpoint, model: 'gpt-4' };
    events.push({ type: 'request.start', ...base }, { type: 'request.end', ...base, status: 200, latency_ms: 40, completion_tokens: 8 });
  }
  // A second node, slower and failing, for --node and the node table.
  const other = { ts, node: 'cli-other', request_id: 'o1', endpoint: '/v1/chat/completions', model: 'gpt-4' };
  events.push({ type: 'request.start', ...other }, { type: 'request.end', ...other, status: 503, latency_ms: 900 });
  const res = await fetch(`${pulse.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}, 30_000);

afterAll(async () => {
  await pulse?.stop();
});

/** Runs the `pulse` bin the way `npx pulse …` does from the repo root. */
async function pulseCli(args: string[], opts: { interruptAfter?: (out: string) => boolean } = {}) {
  const child = spawn(process.execPath, ['node_modules/.bin/pulse', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (opts.interruptAfter?.(stdout)) child.kill('SIGINT');
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('pulse watch', () => {
  it('--json prints every message as one JSON line, filtered as asked, and stops after --count', async () => {
    const { code, stdout } = await pulseCli(['watch', stream, '--json', '--metric', 'throughput', '--endpoint', '/v1/embeddings', '--interval', '0.2', '--count', '2']);
    expect(code).toBe(0);
    const messages = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(messages.map((m) => m.type)).toEqual(['historical_data', 'subscribed', 'metrics_update', 'metrics_update']);
    expect(messages[1].filters).toEqual({ endpoints: ['/v1/embeddings'], models: [], nodes: [], metric_types: ['throughput'], interval: 0.2 });
    expect(Object.keys(messages[3].data)).toEqual(['throughput']);
    expect(Object.keys(messages[3].data.throughput.requests_per_sec)).toEqual(['/v1/embeddings']);
  });

  it('prints a table per update when piped, with names made safe for the terminal', async () => {
    const { code, stdout } = await pulseCli(['watch', `127.0.0.1:${pulse.port}`, '--interval', '0.2', '--count', '1']);
    expect(code).toBe(0);
    expect(stdout).toContain('live');
    expect(stdout).toMatch(/ENDPOINT\s+req\/s/);
    expect(stdout).toMatch(/\/v1\/chat\/completions\s+\d/);
    expect(stdout).toContain('/v1/?[2Jevil');
    expect(stdout).not.toContain('\x1b');
    expect(stdout).toMatch(/errors by status\s+503 /);
    // Slowest first, and it stands out: 900 ms against the other node's 40.
    expect(stdout).toMatch(/NODE\s+p99[^\n]*\n\s+cli-other\s+900 ms\s+100\.0 %[^\n]*▲ p99, errors\n\s+cli-test\s+40(\.\d)? ms/);
  });

  it('--node narrows every figure to that node, and the server confirms it', async () => {
    const { code, stdout } = await pulseCli(['watch', stream, '--json', '--node', 'cli-other', '--interval', '0.2', '--count', '1']);
    expect(code).toBe(0);
    const messages = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(messages[1].filters).toMatchObject({ nodes: ['cli-other'] });
    const { data } = messages[2];
    expect(Object.keys(data.nodes)).toEqual(['cli-other']);
    expect(Object.keys(data.throughput.requests_per_sec)).toEqual(['/v1/chat/completions']);
    expect(data.error.by_status).toHaveProperty('503');
  });

  it('exits quietly when its reader closes the pipe (| head)', async () => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', `node node_modules/.bin/pulse watch ${stream} --json --interval 0.1 | head -c 10`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('stops cleanly on Ctrl-C', async () => {
    const { code } = await pulseCli(['watch', stream, '--interval', '0.2'], { interruptAfter: (out) => out.includes('ENDPOINT') });
    expect(code).toBe(0);
  });

  it('exits 2 with the usage on a bad command line, and when the server rejects the filters', async () => {
    const bad = await pulseCli(['watch', stream, '--metric', 'speed']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--metric: unknown type speed');
    expect(bad.stderr).toContain('usage: pulse watch');
    const rejected = await pulseCli(['watch', stream, '--model', 'x'.repeat(300)]);
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toMatch(/rejected the request: models?: longer than 256/);
  });

  it('redraws in place on a terminal', async () => {
    const writes: string[] = [];
    const tty: Output = { isTTY: true, write: (t) => writes.push(t) };
    const quiet: Output = { write: () => undefined };
    const command = parseCommand(['watch', stream, '--interval', '0.2', '--count', '2']) as WatchCommand;
    expect(await watch(command, tty, quiet)).toBe(0);
    const frames = writes.filter((w) => w.includes('ENDPOINT'));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.every((f) => f.startsWith('\x1b[H\x1b[2J'))).toBe(true);
  });
});
