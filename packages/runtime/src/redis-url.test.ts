import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseConfig, redisUrlVar } from './config.js';
import { parseRedisUrl } from './redis-url.js';

describe('parseRedisUrl (CONTRACT §10)', () => {
  it('reads each topology', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(parseRedisUrl('rediss://user:pw@redis.example:6380/2')).toMatchObject({ kind: 'standalone' });
    expect(parseRedisUrl('redis+sentinel://s1:26379,s2:26379,10.0.0.3:26380/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '10.0.0.3', port: 26380 },
      ],
      name: 'mymaster',
    });
    expect(parseRedisUrl('redis+sentinel://:p%40ss@s1:26379/m')).toEqual({ kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }], name: 'm', password: 'p@ss' });
    expect(parseRedisUrl('redis+cluster://u:pw@a:7000,[::1]:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      username: 'u',
      password: 'pw',
    });
  });

  it.each([
    ['http://x', /must be redis:\/\//],
    ['redis+sentinel://s1:26379', /master name/],
    ['redis+sentinel://s1:26379,s2/m', /host:port/],
    ['redis+cluster://a:7000,b:99999', /host:port/],
    ['redis+cluster://a:7000/0', /no path/],
    ['redis://', /not a valid|no host/],
  ])('refuses %s', (url, why) => {
    expect(() => parseRedisUrl(url)).toThrow(why);
  });

  it('a bad REDIS_URL is a config error naming the variable, never showing the URL (it may hold a password)', () => {
    const parse = () => parseConfig({ REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379') }, { REDIS_URL: 'redis+cluster://u:secret@a' });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/^REDIS_URL: every host must be host:port/);
    expect(parse).not.toThrow(/secret/);
    expect(parseConfig({ REDIS_URL: redisUrlVar.optional(), X: z.string().optional() }, {}).REDIS_URL).toBeUndefined();
  });
});
