/**
 * `pulse watch` against a Pulse with read tokens (docs/SECURITY.md): the
 * token comes from PULSE_TOKEN and goes in an Authorization header.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'cli-read-token-0123456789';
let pulse: ServiceProcess;

standalonePerFile({ PULSE_READ_TOKENS: TOKEN }, (p) => (pulse = p));

describe('pulse watch with PULSE_TOKEN', () => {
  it('reads the stream of a Pulse that wants a read token', async () => {
    const child = spawn(process.execPath, ['node_modules/.bin/pulse', 'watch', `127.0.0.1:${pulse.port}`, '--json', '--interval', '0.2', '--count', '1'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PULSE_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['historical_data', 'subscribed', 'metrics_update']);
  });
});
