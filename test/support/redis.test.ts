import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { findTestRedis, startTestRedis, testClient, uniquePrefix, type KillableTestRedis, type TestRedis } from './redis.js';
import { pingPort } from './redis-server.js';

describe('the test Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.stop());
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('gives a Redis 7 that answers and keeps what is written', async () => {
    const client = testClient(redis.url);
    try {
      expect(await client.ping()).toBe('PONG');
      const key = `{${uniquePrefix()}}:probe`;
      await client.set(key, 'v');
      expect(await client.get(key)).toBe('v');
      const info = await client.info('server');
      expect(Number(/redis_version:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(7);
    } finally {
      client.disconnect();
    }
  });

  it('hands every file the run’s Redis, each with a prefix of its own, and leaves it running on stop', async () => {
    const other = await startTestRedis();
    expect(other.url).toBe(redis.url);
    expect(other.prefix).not.toBe(redis.prefix);
    await other.stop();
    const client = testClient(redis.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('finds REDIS_URL first when it is set', async () => {
    vi.stubEnv('REDIS_URL', redis.url);
    const fromEnv = await findTestRedis();
    expect(fromEnv.source).toBe('REDIS_URL');
    expect(fromEnv.url).toBe(redis.url);
    await fromEnv.stop();
    // Stopping an env-provided Redis must leave it running for everyone else.
    const client = testClient(redis.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('fails at once, saying what to install, when there is no Redis at all', async () => {
    vi.stubEnv('REDIS_URL', '');
    vi.stubEnv('PATH', '');
    vi.stubEnv('DOCKER_HOST', 'unix:///nonexistent/docker.sock');
    const started = Date.now();
    await expect(findTestRedis()).rejects.toThrow(/install redis-server.*REDIS_URL|REDIS_URL.*install redis-server/s);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('makes a different prefix every call, valid as PULSE_KEY_PREFIX', () => {
    const prefixes = new Set(Array.from({ length: 100 }, () => uniquePrefix()));
    expect(prefixes.size).toBe(100);
    for (const p of prefixes) expect(p).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
  });
});

describe('startTestRedis({ killable: true })', () => {
  let redis: KillableTestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ killable: true });
  });
  afterAll(() => redis.stop());

  it('is a redis-server child that can be killed and restarted on the same port', async () => {
    expect(redis.source).toBe('redis-server');
    const port = Number(new URL(redis.url).port);
    expect(await pingPort(port, 500)).toBe(true);

    await redis.kill();
    expect(await pingPort(port, 500)).toBe(false);

    await redis.restart();
    expect(await pingPort(port, 500)).toBe(true);
  });

  it('stop() twice is harmless and leaves nothing listening', async () => {
    const other = await startTestRedis({ killable: true });
    const port = Number(new URL(other.url).port);
    await other.stop();
    await other.stop();
    expect(await pingPort(port, 500)).toBe(false);
  });
});
