import { describe, expect, it } from 'vitest';
import { ConfigError } from '@pulse/runtime';
import { parseGatewayConfig } from './config.js';

describe('gateway config', () => {
  it('has the documented defaults', () => {
    expect(parseGatewayConfig({})).toMatchObject({
      PORT: 8000,
      HOST: '0.0.0.0',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PULSE_TICK_MS: 500,
      PULSE_GATEWAY_MAX_CONNECTIONS: 10_000,
      PULSE_GATEWAY_MAX_BUFFERED_BYTES: 1_048_576,
      PULSE_GATEWAY_HEARTBEAT_MS: 30_000,
      PULSE_GATEWAY_MAX_PAYLOAD_KB: 64,
      PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: 50,
    });
  });

  it('has the documented security defaults: open, with limits', () => {
    expect(parseGatewayConfig({})).toMatchObject({
      PULSE_READ_TOKENS: [],
      PULSE_ALLOWED_ORIGINS: [],
      PULSE_MAX_STRING_LENGTH: 256,
      PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: 100,
      PULSE_GATEWAY_TRUSTED_PROXY_HOPS: 0,
      PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: 10_000,
      PULSE_GATEWAY_MAX_LABELS_PER_SUBSCRIBE: 100,
      PULSE_GATEWAY_MAX_LABELS_PER_CLIENT: 256,
    });
  });

  it('names every bad variable at once', () => {
    const parse = () => parseGatewayConfig({ PORT: 'eighty', REDIS_URL: 'http://x', PULSE_GATEWAY_MAX_CONNECTIONS: '0', PULSE_PROMETHEUS_COMPAT: 'sglang' });
    expect(parse).toThrow(ConfigError);
    try {
      parse();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      for (const name of ['PORT', 'REDIS_URL', 'PULSE_GATEWAY_MAX_CONNECTIONS', 'PULSE_PROMETHEUS_COMPAT']) expect(problems).toContain(name);
    }
  });
});
