/**
 * @pulse/client for browsers (and any runtime with a global WebSocket). In
 * Node 20 import '@pulse/client/node', which uses `ws`.
 */
import { PulseClient, type PulseClientOptions } from './client.js';
import { browserTransport } from './transport.browser.js';

export { PulseClient, type ConnectionState, type ConnectionStatus, type PulseClientOptions } from './client.js';
export { MessageStream } from './message-stream.js';
export { endpointRows, headline, modelRow, type EndpointRow, type Headline, type ModelRow } from './summary.js';
export { nodeRows, type NodeRow } from './node-rows.js';
export { outlierReasons, type OutlierFigures, type OutlierReason } from './outliers.js';
export { DEFAULT_SLO_TARGETS, parseSloTargets, sloRows, type SloEndpointRow, type SloRow, type SloTargets } from './slo-rows.js';
export { statusRows, type StatusRow } from './status-rows.js';
export { endpointCells, formatAge, formatMs, formatNumber, formatPercent, formatTime, nodeCells, NO_DATA, OUTLIER_RULE, outlierText, sloVerdict } from './format.js';
export { toSubscribeFilters, type EffectiveFilters, type SubscribeFilters } from './subscriptions.js';
export { type Transport, type TransportFactory, type TransportHandlers } from './transport.js';
export { browserTransport } from './transport.browser.js';
export type { MetricType, ServerMessage, SnapshotData, ViewData } from '@pulse/protocol';

/** Connects to `url` (`ws://host:port/metrics/stream`) over the global WebSocket. */
export function connect(url: string, options: Partial<PulseClientOptions> = {}): PulseClient {
  return new PulseClient(url, { transport: browserTransport, ...options });
}
