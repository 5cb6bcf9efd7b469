/**
 * @pulse/client for browsers (and any runtime with a global WebSocket). In
 * Node 20 import '@pulse/client/node', which uses `ws`.
 */
import { PulseClient, type PulseClientOptions } from './client.js';
import { browserTransport } from './transport.browser.js';

export { PulseClient, type ConnectionState, type ConnectionStatus, type PulseClientOptions } from './client.js';
export { MessageStream } from './message-stream.js';
export { endpointRows, headline, modelRow, type EndpointRow, type Headline, type ModelRow } from './summary.js';
export { endpointCells, formatMs, formatNumber, formatPercent, formatTime, NO_DATA } from './format.js';
export { toSubscribeFilters, type EffectiveFilters, type SubscribeFilters } from './subscriptions.js';
export { type Transport, type TransportFactory, type TransportHandlers } from './transport.js';
export { browserTransport } from './transport.browser.js';
export type { MetricType, ServerMessage, SnapshotData, ViewData } from '@pulse/protocol';

/** Connects to `url` (`ws://host:port/metrics/stream`) over the global WebSocket. */
export function connect(url: string, options: Partial<PulseClientOptions> = {}): PulseClient {
  return new PulseClient(url, { transport: browserTransport, ...options });
}
