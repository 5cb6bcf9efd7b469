/**
 * examples/python against the real thing: its unit tests (the middleware's
 * run where Starlette is installed, and are skipped otherwise), and the
 * standard-library reporter run as a script against a running Pulse.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';

const EXAMPLES = fileURLToPath(new URL('../../examples/python/', import.meta.url));

function python(args: string[]) {
  const result = spawnSync('python3', args, { cwd: EXAMPLES, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`examples/python needs python3 on PATH: ${result.error.message}`);
  return result;
}

let pulse: ServiceProcess;

standalonePerFile({}, (p) => (pulse = p));

describe('examples/python', () => {
  it('passes its own tests', () => {
    const { status, stderr } = python(['-m', 'unittest', '-v', 'test_pulse_reporter', 'test_fastapi_middleware']);
    expect(status, stderr).toBe(0);
    expect(stderr).toMatch(/^OK/m);
  });

  it('the reporter script delivers its events to Pulse', async () => {
    const { status, stdout, stderr } = python(['pulse_reporter.py', pulse.url, '--requests', '30', '--node', 'py-e2e']);
    expect(status, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ sent: 61, rejected: 0, dropped: 0, retries: 0 });
    const data = async () => ((await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any).data;
    // Every tenth request is refused (429): 27 streams complete, 3 fail. The ends name no `stream`: their starts do.
    await expect.poll(async () => (await data()).streaming.completed_streams, { timeout: 5000 }).toBe(27);
    const { streaming, error } = await data();
    expect(streaming.failed_streams).toBe(3);
    expect(Object.keys(error.by_type)).toEqual(['rate_limit_exceeded']);
    // The script's tokens come 10–20 ms apart after the first.
    expect(streaming.itl.min).toBeGreaterThanOrEqual(10 * 0.99);
    expect(streaming.itl.max).toBeLessThanOrEqual(20 * 1.01);
  });
});
