import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@pulse/runtime';
import { proxyConfigShape, proxySettings } from './config.js';

const UPSTREAM = { PULSE_PROXY_UPSTREAMS: 'http://a:8000' };
const parse = (env: Record<string, string>) => parseConfig(proxyConfigShape, env);

describe('proxy config', () => {
  it('has documented defaults once an upstream is listed', () => {
    const config = parse(UPSTREAM);
    expect(config).toMatchObject({ PORT: 8090, PULSE_PROXY_ADMIN_PORT: 9190, HOST: '0.0.0.0', REDIS_URL: 'redis://127.0.0.1:6379', PULSE_READ_TOKENS: [] });
    expect(Object.isFrozen(config)).toBe(true);
    expect(proxySettings(config)).toEqual({
      upstreams: ['http://a:8000'],
      routes: ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses'],
      node: hostname().slice(0, 128),
      health: { path: '/health', intervalMs: 2000, timeoutMs: 1000 },
      connectTimeoutMs: 2000,
      idleTimeoutMs: 300_000,
      events: { flushMs: 100, batchEvents: 500, maxQueued: 20_000 },
      heartbeatMs: 10_000,
    });
  });

  it.each<Record<string, string>>([{}, { PULSE_PROXY_UPSTREAMS: ' , ' }])('refuses to start without an upstream: %j', (env) => {
    expect(() => parse(env)).toThrow(ConfigError);
    expect(() => parse(env)).toThrow('PULSE_PROXY_UPSTREAMS: lists no upstream');
  });

  it('takes a comma-separated upstream list: trimmed, without trailing slashes, base paths kept', () => {
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
  ])('refuses the upstream list %s, naming the variable', (value, why) => {
    expect(() => parse({ PULSE_PROXY_UPSTREAMS: value })).toThrow(ConfigError);
    expect(() => parse({ PULSE_PROXY_UPSTREAMS: value })).toThrow(`PULSE_PROXY_UPSTREAMS: ${why}`);
  });

  it('takes the recorded routes as a comma-separated list of paths; blank means the default', () => {
    expect(parse({ ...UPSTREAM, PULSE_PROXY_ROUTES: ' /v1/chat/completions , /generate,/v1/audio/transcriptions' }).PULSE_PROXY_ROUTES).toEqual([
      '/v1/chat/completions',
      '/generate',
      '/v1/audio/transcriptions',
    ]);
    expect(parse({ ...UPSTREAM, PULSE_PROXY_ROUTES: '  ' }).PULSE_PROXY_ROUTES).toEqual(parse(UPSTREAM).PULSE_PROXY_ROUTES);
  });

  it.each([
    ['v1/chat/completions', 'not a path'],
    ['/v1/chat/completions?x=1', 'not a path'],
    ['/v1/chat completions', 'not a path'],
    ['/v1/embeddings,/v1/embeddings', 'listed twice'],
    [`/${'x'.repeat(256)}`, 'longer than the 256 characters of an endpoint'],
    [',', 'holds no path'],
  ])('refuses the route list %s, naming the variable', (value, why) => {
    expect(() => parse({ ...UPSTREAM, PULSE_PROXY_ROUTES: value })).toThrow(`PULSE_PROXY_ROUTES: ${why}`);
  });

  it('names every bad variable at once', () => {
    const bad = () =>
      parse({ ...UPSTREAM, PORT: '70000', PULSE_PROXY_ADMIN_PORT: 'ops', PULSE_PROXY_HEALTH_PATH: 'health', PULSE_NODE_ID: 'x'.repeat(129), PULSE_READ_TOKENS: 'short' });
    for (const name of ['PORT', 'PULSE_PROXY_ADMIN_PORT', 'PULSE_PROXY_HEALTH_PATH', 'PULSE_NODE_ID', 'PULSE_READ_TOKENS']) expect(bad).toThrow(name);
  });
});
