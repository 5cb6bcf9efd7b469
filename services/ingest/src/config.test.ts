import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@pulse/runtime';
import { ingestConfigShape } from './config.js';

describe('ingest config', () => {
  it('has the contract defaults', () => {
    const config = parseConfig(ingestConfigShape, {});
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PULSE_MAX_BODY_BYTES: 5 * 1024 * 1024,
      PULSE_MAX_EVENTS_PER_BATCH: 10_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable at once', () => {
    const parse = () => parseConfig(ingestConfigShape, { PORT: '70000', REDIS_URL: 'http://x', PULSE_MAX_BODY_BYTES: 'big' });
    expect(parse).toThrow(ConfigError);
    for (const name of ['PORT', 'REDIS_URL', 'PULSE_MAX_BODY_BYTES']) expect(parse).toThrow(name);
  });
});
