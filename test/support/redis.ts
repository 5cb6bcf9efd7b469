/**
 * The test Redis of docs/PROTOCOL.md §7. One Redis serves the whole run:
 * test/global-setup.ts finds it once (`findTestRedis`) and provides its URL;
 * every integration test file calls `startTestRedis()` in `beforeAll` and
 * gets that Redis with a key prefix of its own, so files run in parallel on
 * it without seeing each other (`uniquePrefix()` for more). Fault tests ask
 * for a killable redis-server of their own.
 *
 * The finder's order: REDIS_URL if set; a container when a Docker engine
 * answers; a `redis-server` on PATH started on a free port; otherwise fail at
 * once.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { dockerAnswers, startRedisContainer } from './docker.js';
import { findRedisServerBinary, RedisServerProcess } from './redis-server.js';

export type TestRedisSource = 'REDIS_URL' | 'container' | 'redis-server';

export interface TestRedis {
  readonly url: string;
  readonly source: TestRedisSource;
  /** A key prefix unique to this start, for files that need just one. */
  readonly prefix: string;
  /** Stops what the finder started (nothing for REDIS_URL). Safe to call twice. */
  stop(): Promise<void>;
  /** Present for a redis-server child: SIGKILLs it, as a crash would. */
  kill?(): Promise<void>;
  /** Present for a redis-server child: starts it again on the same port, empty (with its data when started `persistent`). */
  restart?(): Promise<void>;
}

/** What fault tests get: a server they own and may kill and bring back. */
export interface KillableTestRedis extends TestRedis {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface StartTestRedisOptions {
  /**
   * Fault tests: always a redis-server child, whatever REDIS_URL says, because
   * a shared server or a container cannot be SIGKILLed and restarted on the
   * same address by the test. Fails when redis-server is not on PATH.
   */
  killable?: boolean;
  /**
   * With `killable`: the server keeps an append-only file (`appendfsync
   * always`), so `restart()` brings it back with everything it acknowledged.
   */
  persistent?: boolean;
}

const NO_REDIS =
  'No Redis for the tests: set REDIS_URL=redis://host:port, start a Docker engine, ' +
  'or install redis-server so it is on PATH (e.g. apt-get install redis-server).';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Redis, found once by test/global-setup.ts. */
    testRedis: { url: string; source: TestRedisSource };
  }
}

/**
 * A test file's Redis: the run's, with a prefix of its own (`stop` leaves it
 * running for the other files) — or, `killable`, a redis-server of its own.
 */
export function startTestRedis(options: { killable: true; persistent?: boolean }): Promise<KillableTestRedis>;
export function startTestRedis(options?: StartTestRedisOptions): Promise<TestRedis>;
export async function startTestRedis(options: StartTestRedisOptions = {}): Promise<TestRedis> {
  if (options.killable) {
    const binary = findRedisServerBinary();
    if (!binary) throw new Error(`Fault tests need a redis-server binary on PATH to kill and restart. ${NO_REDIS}`);
    return fromProcess(await RedisServerProcess.start(binary, { appendOnly: options.persistent === true }));
  }
  const shared = inject('testRedis');
  if (!shared) throw new Error('no test Redis provided: run the tests through vitest with test/global-setup.ts (npm test)');
  return { ...shared, prefix: uniquePrefix(), stop: async () => {} };
}

/** Finds the run's Redis, in the order above; `stop` stops what it started. */
export async function findTestRedis(): Promise<TestRedis> {
  const binary = findRedisServerBinary();
  const envUrl = process.env.REDIS_URL?.trim();
  if (envUrl) return { url: envUrl, source: 'REDIS_URL', prefix: uniquePrefix(), stop: async () => {} };

  let containerError: unknown;
  if (await dockerAnswers()) {
    try {
      const container = await startRedisContainer();
      return { url: container.url, source: 'container', prefix: uniquePrefix(), stop: once(container.stop) };
    } catch (err) {
      // An engine that answers may still fail to pull (offline): fall back rather than fail.
      containerError = err;
    }
  }

  if (binary) return fromProcess(await RedisServerProcess.start(binary));
  throw new Error(containerError ? `${NO_REDIS} (Docker answered, but: ${String(containerError)})` : NO_REDIS);
}

function fromProcess(server: RedisServerProcess): KillableTestRedis {
  return {
    url: server.url,
    source: 'redis-server',
    prefix: uniquePrefix(),
    stop: once(() => server.stop()),
    kill: () => server.kill(),
    restart: () => server.restart(),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
}

let counter = 0;
const processTag = randomBytes(3).toString('hex');

/**
 * A key prefix no other test, file or run uses; pass it to `pulseKeys`. It
 * satisfies PULSE_KEY_PREFIX's rule (letters, digits, `_ . -`, ≤ 64).
 */
export function uniquePrefix(label = 't'): string {
  counter += 1;
  return `${label}-${processTag}-${Date.now().toString(36)}-${counter}`;
}

/**
 * A plain client for reading back what the code under test wrote (XRANGE,
 * GET). Errors are swallowed on purpose: fault tests take Redis away, and an
 * unhandled 'error' event would only add noise.
 */
export function testClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return client;
}
