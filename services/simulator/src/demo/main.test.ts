/**
 * `npm run demo` (its script, as a process): Pulse comes up with the
 * simulator feeding it, the dashboard is served where the banner says, and
 * SIGTERM stops both, in order, with exit 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '@pulse/test-support/redis-server';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

describe('npm run demo', () => {
  it('serves the dashboard with simulated traffic, and stops cleanly', async () => {
    const port = await freePort();
    const demo = spawn(process.execPath, ['services/simulator/dist/demo/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toContain(`dashboard  http://127.0.0.1:${port}/`);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      await expect
        .poll(async () => ((await (await fetch(`http://127.0.0.1:${port}/metrics/snapshot`)).json()) as any).data.throughput.total_requests_per_sec, { timeout: 15_000 })
        .toBeGreaterThan(0);
    } finally {
      demo.kill('SIGTERM');
    }
    const [code] = (await once(demo, 'exit')) as [number | null];
    expect(code, out).toBe(0);
    expect(out).not.toMatch(/dropped/);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 60_000);
});
