/**
 * Starts Pulse services as real `node` processes, the way their start scripts
 * do, for end-to-end and fault tests: a free port each, readiness awaited on
 * /readyz, output kept for the failure message, and signals sent directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './redis-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceName = 'ingest' | 'proxy' | 'aggregator' | 'gateway' | 'standalone' | 'simulator' | 'fake-openai';

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly port: number;
  readonly url: string;
  /**
   * Where the service's own endpoints are (/healthz, /readyz, /metrics): `url`,
   * but for the proxy, whose PORT forwards every path, its admin port.
   */
  readonly adminUrl: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  /** Sends a signal; resolves with the exit code once the process ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * An all-in-one Pulse (`npm start`) with a 100 ms tick for a test file's
 * tests (or a describe's): handed to `use` once ready, stopped after the last
 * test. `env` adds to its environment.
 */
export function standalonePerFile(env: Record<string, string>, use: (pulse: ServiceProcess) => void): void {
  let pulse: ServiceProcess | undefined;
  beforeAll(async () => {
    pulse = await startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn', ...env });
    use(pulse);
  }, 30_000);
  afterAll(async () => {
    await pulse?.stop();
  });
}

/** Starts `services/<name>/dist/main.js` (built by `npm test`'s pretest). */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  opts: { waitReady?: boolean; timeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const adminPort = name === 'proxy' ? Number(env.PULSE_PROXY_ADMIN_PORT || (await freePort())) : null;
  const admin = adminPort === null ? {} : { PULSE_PROXY_ADMIN_PORT: String(adminPort) };
  const child = spawn(process.execPath, [`services/${name}/dist/main.js`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: String(port), ...admin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const proc: ServiceProcess = {
    name,
    port,
    url,
    adminUrl: adminPort === null ? url : `http://127.0.0.1:${adminPort}`,
    child,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (opts.waitReady !== false) await waitReady(proc, opts.timeoutMs ?? 15_000);
  return proc;
}

/** Polls /readyz until 200; fails with the process output if it exits or times out. */
export async function waitReady(proc: ServiceProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited with ${proc.child.exitCode}:\n${proc.output()}`);
    try {
      const res = await fetch(`${proc.adminUrl}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs} ms:\n${proc.output()}`);
}
