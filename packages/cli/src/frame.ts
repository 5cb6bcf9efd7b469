/**
 * One screen of `pulse watch`: where it is connected and how, the view the
 * server confirmed, the headline figures, SLO attainment and errors by
 * status (one line each), a row per endpoint and a row per node, slowest
 * first with the outliers marked. Pure.
 */
import {
  endpointCells,
  endpointRows,
  formatMs,
  formatNumber,
  formatPercent,
  formatTime,
  headline,
  nodeCells,
  nodeRows,
  OUTLIER_RULE,
  sloRows,
  sloVerdict,
  statusRows,
  type ConnectionStatus,
  type EffectiveFilters,
  type SloTargets,
  type ViewData,
} from '@pulse/client';
import { DEFAULT_INTERVAL_SECONDS } from '@pulse/protocol';
import { safeName, textTable } from './text-table.js';

export interface WatchState {
  url: string;
  status: ConnectionStatus;
  /** The filters the server confirmed; null for the defaults. */
  filters: EffectiveFilters | null;
  sloTargets: SloTargets;
  /** The latest figures and their snapshot's time, once there are any. */
  view?: { timestamp: number; data: ViewData };
}

export function renderFrame(state: WatchState): string {
  const lines = [`Pulse  ${state.url}  ${statusText(state.status)}${state.view ? `  ${formatTime(state.view.timestamp)}` : ''}`, `view   ${describeFilters(state.filters)}`, ''];
  if (!state.view) return [...lines, '  waiting for data…', ''].join('\n');
  const { timestamp, data } = state.view;
  const h = headline(data);
  lines.push(
    ...textTable(
      ['req/s', 'tokens/s', 'errors/s', 'p99 (worst endpoint)', 'TTFT p50', 'ITL p99', 'cache hit', 'active streams', 'queue depth'],
      [[formatNumber(h.requestsPerSec), formatNumber(h.tokensPerSec), formatNumber(h.errorsPerSec), formatMs(h.worstP99), formatMs(h.ttftP50), formatMs(h.itlP99), formatPercent(h.hitRate), formatNumber(h.activeStreams), formatNumber(h.queueDepth)]],
    ),
    '',
  );
  // A server without these figures (FakeAI itself), or a view without their type, has no line.
  const summaries = [
    ['SLO', sloRows(data, state.sloTargets).map((s) => `${safeName(s.name)} ${formatPercent(s.attainmentPct)} (target ${formatPercent(s.targetPct)}: ${sloVerdict(s.met)})`)],
    ['errors by status', statusRows(data).map((r) => `${safeName(r.status)} ${formatNumber(r.errorsPerSec)}/s (${formatPercent(r.sharePct)})`)],
  ] as const;
  const shown = summaries.filter(([, parts]) => parts.length > 0);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  for (const [label, parts] of shown) lines.push(`  ${label.padEnd(width)}  ${parts.join(' · ')}`);
  if (shown.length > 0) lines.push('');

  const rows = endpointRows(data);
  if (rows.length === 0) lines.push('  no requests in the window', '');
  else {
    lines.push(
      ...textTable(
        ['ENDPOINT', 'req/s', 'resp/s', 'tokens/s', 'errors/s', 'p50', 'p90', 'p99', 'cache hit'],
        rows.map((r) => [safeName(r.endpoint), ...endpointCells(r)]),
      ),
      '',
    );
  }
  const nodes = nodeRows(data);
  if (nodes.length > 0) {
    lines.push(
      ...textTable(
        ['NODE', 'p99', 'error rate', 'req/s', 'TTFT p99', 'queue', 'last seen', 'outlier'],
        nodes.map((r) => [safeName(r.node), ...nodeCells(r, timestamp)]),
      ),
    );
    if (nodes.some((r) => r.outlier.length > 0)) lines.push(`  ${OUTLIER_RULE}`);
    lines.push('');
  }
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
  if (!f) return `endpoints all · models all · nodes all · metrics all · every ${DEFAULT_INTERVAL_SECONDS} s`;
  const list = (xs: readonly string[] | undefined) => (xs && xs.length > 0 ? xs.map(safeName).join(', ') : 'all');
  // A server without the node dimension (FakeAI itself) echoes no nodes.
  return `endpoints ${list(f.endpoints)} · models ${list(f.models)} · nodes ${list(f.nodes)} · metrics ${f.metric_types.join(', ')} · every ${f.interval} s`;
}
