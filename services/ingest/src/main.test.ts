/**
 * The ingest process as `npm start -w services/ingest` runs it (the built
 * main.js under node): config errors, /readyz following Redis, and a SIGTERM
 * that lets in-flight requests finish before exiting 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, pulseKeys } from '@pulse/protocol';
import { startTestRedis, testClient, uniquePrefix, type KillableTestRedis } from '@pulse/test-support/redis';
import { freePort } from '@pulse/test-support/redis-server';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Ingest {
  child: ChildProcess;
  port: number;
  prefix: string;
  stderr(): string;
  exit: Promise<number | null>;
}

let redis: KillableTestRedis;
let reader: ReturnType<typeof testClient>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b services/ingest; npm test does it)`);
  redis = await startTestRedis({ killable: true });
  reader = testClient(redis.url);
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  reader?.disconnect();
  await redis?.stop();
});

async function spawnIngest(env: Record<string, string> = {}): Promise<Ingest> {
  const port = await freePort();
  const prefix = uniquePrefix();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      PULSE_KEY_PREFIX: prefix,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, port, prefix, stderr: () => stderr, exit };
}

async function status(port: number, path: string): Promise<number | string> {
  try {
    return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
  } catch (err) {
    return String((err as { cause?: { code?: string } }).cause?.code ?? err);
  }
}

const event = (i: number) => ({ type: 'node.gauge', ts: 1_700_000_000, node: 'n1', queue_depth: i });

describe('ingest main', () => {
  it('exits 2 with one line naming a bad variable', async () => {
    const ingest = await spawnIngest({ PORT: 'eighty' });
    expect(await ingest.exit).toBe(2);
    expect(ingest.stderr().trim().split('\n')).toHaveLength(1);
    expect(ingest.stderr()).toMatch(/PORT/);
  });

  it('is ready only while Redis answers, and healthy throughout', async () => {
    const { port } = await spawnIngest();
    await expect.poll(() => status(port, '/readyz'), { timeout: 5000 }).toBe(200);

    await redis.kill();
    await expect.poll(() => status(port, '/readyz'), { timeout: 5000 }).toBe(503);
    expect(await status(port, '/healthz')).toBe(200);

    await redis.restart();
    await expect.poll(() => status(port, '/readyz'), { timeout: 5000 }).toBe(200);
  });

  it('on SIGTERM stops accepting, finishes in-flight requests into Redis, and exits 0', async () => {
    const ingest = await spawnIngest();
    await expect.poll(() => status(ingest.port, '/readyz'), { timeout: 5000 }).toBe(200);

    // Requests whose headers the server has taken (100-continue proves it) but whose bodies are unfinished.
    const inFlight = await Promise.all([0, 1, 2].map((i) => openPost(ingest.port, i)));
    for (const { req } of inFlight) req.write('[');

    ingest.child.kill('SIGTERM');
    await expect.poll(() => status(ingest.port, '/healthz'), { timeout: 5000 }).toBe('ECONNREFUSED');

    for (const [i, { req }] of inFlight.entries()) req.end(`${JSON.stringify(event(i))}]`);
    const replies = await Promise.all(inFlight.map(({ response }) => response));
    expect(replies.map((r) => r.statusCode)).toEqual([202, 202, 202]);

    // Keep-alive connections must not hold the exit back until their idle timeout (5 s).
    const answered = Date.now();
    expect(await ingest.exit).toBe(0);
    expect(Date.now() - answered).toBeLessThan(2000);
    const entries = await reader.xrange(pulseKeys(ingest.prefix).events, '-', '+');
    const depths = entries.flatMap(([, fields]) => decodeBatch(fields[1]).events.map((e) => (e as { queue_depth: number }).queue_depth));
    expect(depths.sort()).toEqual([0, 1, 2]);
  });
});

/** A chunked POST whose headers the server has acknowledged with 100 Continue. */
async function openPost(port: number, i: number): Promise<{ req: ClientRequest; response: Promise<IncomingMessage> }> {
  const req = request({
    port,
    host: '127.0.0.1',
    method: 'POST',
    path: '/v1/events',
    headers: { 'content-type': 'application/json', expect: '100-continue', 'idempotency-key': `drain-${i}` },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res);
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  await once(req, 'continue');
  return { req, response };
}
