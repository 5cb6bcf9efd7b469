/**
 * One screen of `pulse watch`: where it is connected and how, the view the
 * server confirmed, the headline figures and a row per endpoint. Pure.
 */
import { endpointCells, endpointRows, formatMs, formatNumber, formatPercent, formatTime, headline, type ConnectionStatus, type EffectiveFilters, type ViewData } from '@pulse/client';
import { DEFAULT_INTERVAL_SECONDS } from '@pulse/protocol';
import { safeName, textTable } from './text-table.js';

export interface WatchState {
  url: string;
  status: ConnectionStatus;
  /** The filters the server confirmed; null for the defaults. */
  filters: EffectiveFilters | null;
  /** The latest figures and their snapshot's time, once there are any. */
  view?: { timestamp: number; data: ViewData };
}

export function renderFrame(state: WatchState): string {
  const lines = [`Pulse  ${state.url}  ${statusText(state.status)}${state.view ? `  ${formatTime(state.view.timestamp)}` : ''}`, `view   ${describeFilters(state.filters)}`, ''];
  if (!state.view) return [...lines, '  waiting for data…', ''].join('\n');
  const { data } = state.view;
  const h = headline(data);
  lines.push(
    ...textTable(
      ['req/s', 'tokens/s', 'errors/s', 'p99 (worst endpoint)', 'TTFT p50', 'cache hit', 'active streams', 'queue depth'],
      [[formatNumber(h.requestsPerSec), formatNumber(h.tokensPerSec), formatNumber(h.errorsPerSec), formatMs(h.worstP99), formatMs(h.ttftP50), formatPercent(h.hitRate), formatNumber(h.activeStreams), formatNumber(h.queueDepth)]],
    ),
    '',
  );
  const rows = endpointRows(data);
  if (rows.length === 0) return [...lines, '  no requests in the window', ''].join('\n');
  lines.push(
    ...textTable(
      ['ENDPOINT', 'req/s', 'resp/s', 'tokens/s', 'errors/s', 'p50', 'p90', 'p99', 'cache hit'],
      rows.map((r) => [safeName(r.endpoint), ...endpointCells(r)]),
    ),
    '',
  );
  return lines.join('\n');
}

function statusText(status: ConnectionStatus): string {
  switch (status.state) {
    case 'open':
      return 'live';
    case 'connecting':
      return 'connecting…';
    case 'reconnecting':
      return `reconnecting in ${((status.delayMs ?? 0) / 1000).toFixed(1)} s (${status.error ?? `closed ${status.code ?? ''}`.trim()})`;
    case 'closed':
      return `closed (${status.code ?? ''}${status.reason ? ` ${status.reason}` : ''})`;
  }
}

function describeFilters(f: EffectiveFilters | null): string {
  if (!f) return `endpoints all · models all · metrics all · every ${DEFAULT_INTERVAL_SECONDS} s`;
  const list = (xs: readonly string[]) => (xs.length > 0 ? xs.map(safeName).join(', ') : 'all');
  return `endpoints ${list(f.endpoints)} · models ${list(f.models)} · metrics ${f.metric_types.join(', ')} · every ${f.interval} s`;
}
