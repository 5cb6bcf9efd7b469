/**
 * The `token` option against a Pulse with read tokens (docs/SECURITY.md):
 * the Node client sends it as an Authorization header, the browser client
 * as the `token` query parameter, and without it the upgrade is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type ConnectionStatus, type PulseClient } from '@pulse/client/node';
import { standalonePerFile, type ServiceProcess } from '@pulse/test-support/processes';
import { PulseClient as CoreClient } from './client.js';
import { withToken } from './transport.browser.js';
import type { TransportFactory } from './transport.js';

const TOKEN = 'client-read-token-0123456789';
let pulse: ServiceProcess;
const clients: PulseClient[] = [];

standalonePerFile({ PULSE_READ_TOKENS: TOKEN }, (p) => (pulse = p));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function open(options: { token?: string } = {}): PulseClient {
  const client = connect(`ws://127.0.0.1:${pulse.port}/metrics/stream`, { initialDelayMs: 50, maxDelayMs: 200, ...options });
  clients.push(client);
  return client;
}

describe('token option', () => {
  it('connects the Node client with a read token', async () => {
    const client = open({ token: TOKEN });
    const first = await new Promise((resolve) => client.onMessage(resolve));
    expect(first).toMatchObject({ type: 'historical_data' });
  });

  it('is refused (401, before any WebSocket) without one, and keeps retrying as after any failed attempt', async () => {
    const client = open();
    const status = await new Promise<ConnectionStatus>((resolve) => client.onStatus((s) => s.state === 'reconnecting' && resolve(s)));
    expect(status.error).toMatch(/401/);
  });

  it('is passed to the transport by the core', () => {
    const seen: (string | undefined)[] = [];
    const transport: TransportFactory = (_url, _handlers, token) => {
      seen.push(token);
      return { send: () => {}, close: () => {} };
    };
    void new CoreClient('ws://x/metrics/stream', { transport, token: TOKEN, reconnect: false, pingIntervalMs: 0 });
    expect(seen).toEqual([TOKEN]);
  });

  it('goes in the query for browsers, encoded, keeping the rest of the URL', () => {
    expect(withToken('wss://pulse.example/metrics/stream?x=1', 'a+b/c==')).toBe('wss://pulse.example/metrics/stream?x=1&token=a%2Bb%2Fc%3D%3D');
  });
});
