import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@pulse/runtime';
import { ingestConfigShape, proxySettings } from './config.js';

const parse = (env: Record<string, string>) => parseConfig(ingestConfigShape, env);

describe('ingest config: proxy mode', () => {
  it('is off without upstreams', () => {
    expect(proxySettings(parse({}))).toBeNull();
    expect(proxySettings(parse({ PULSE_PROXY_UPSTREAMS: ' , ' }))).toBeNull();
  });

  it('has documented defaults once upstreams are listed', () => {
    const config = parse({ PULSE_PROXY_UPSTREAMS: 'http://a:8000' });
    expect(config.PULSE_PROXY_PORT).toBe(8090);
    expect(proxySettings(config)).toEqual({
      upstreams: ['http://a:8000'],
      node: hostname().slice(0, 128),
      health: { path: '/health', intervalMs: 2000, timeoutMs: 1000 },
      connectTimeoutMs: 2000,
      idleTimeoutMs: 300_000,
      events: { flushMs: 100, batchEvents: 500, maxQueued: 20_000 },
      heartbeatMs: 10_000,
    });
  });

  it('takes a comma-separated list: trimmed, without trailing slashes, base paths kept', () => {
    const config = parse({ PULSE_PROXY_UPSTREAMS: ' http://a:8000/ , https://b.example/openai/v1/,http://[::1]:9000', PULSE_NODE_ID: 'edge-1' });
    expect(proxySettings(config)).toMatchObject({
      upstreams: ['http://a:8000', 'https://b.example/openai/v1', 'http://[::1]:9000'],
      node: 'edge-1',
    });
  });

  it.each([
    ['ftp://a', 'not an http(s) base URL'],
    ['a:8000', 'not an http(s) base URL'],
    ['http://a:8000?x=1', 'not an http(s) base URL'],
    ['http://user:pw@a:8000', 'not an http(s) base URL'],
    ['http://a:8000,http://a:8000/', 'listed twice'],
  ])('refuses %s, naming the variable', (value, why) => {
    expect(() => parse({ PULSE_PROXY_UPSTREAMS: value })).toThrow(ConfigError);
    expect(() => parse({ PULSE_PROXY_UPSTREAMS: value })).toThrow(`PULSE_PROXY_UPSTREAMS: ${why}`);
  });

  it('names every bad proxy variable at once', () => {
    const bad = () => parse({ PULSE_PROXY_PORT: '70000', PULSE_PROXY_HEALTH_PATH: 'health', PULSE_NODE_ID: 'x'.repeat(129) });
    for (const name of ['PULSE_PROXY_PORT', 'PULSE_PROXY_HEALTH_PATH', 'PULSE_NODE_ID']) expect(bad).toThrow(name);
  });
});
