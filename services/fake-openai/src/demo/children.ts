/**
 * The demo's child processes: Pulse services and fake upstreams as `node`
 * processes (the way their start scripts run them), and a throwaway
 * redis-server when no REDIS_URL is given. Each is awaited until it answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
}

/** Starts `services/<service>/dist/main.js` with only `env`; its warnings and errors show in the demo's terminal. */
export function startNode(name: string, service: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [`services/${service}/dist/main.js`], {
    cwd: ROOT,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return { name, process: child };
}

/** A redis-server from PATH on a free port, persisting nothing. Rejects when there is none. */
export async function startRedis(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(join(tmpdir(), 'pulse-demo-'))], {
    stdio: 'ignore',
  });
  const failed = once(child, 'error').then(([err]) => {
    throw new Error(`cannot start redis-server (${(err as Error).message}): install it or set REDIS_URL`);
  });
  const ready = (async () => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline && !(await answers(port))) await new Promise((r) => setTimeout(r, 50));
  })();
  await Promise.race([ready, failed]);
  return { child: { name: 'redis', process: child }, url: `redis://127.0.0.1:${port}` };
}

/** Resolves once GET `url` answers 200; rejects when the child exits first or time runs out. */
export async function waitReady(child: Child, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited with code ${child.process.exitCode}`);
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not ready at ${url} after ${READY_TIMEOUT_MS} ms`);
}

/** SIGTERM, then waits for the exit. */
export async function stop(child: Child): Promise<void> {
  const p = child.process;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = once(p, 'exit');
  p.kill('SIGTERM');
  await exited;
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
