/**
 * The dashboard page: one client for the figures, filtered as the controls
 * say; cards, charts, the SLO panel and the endpoint, node and error-status
 * tables from its messages; the model table from ModelViews; the connection
 * pill from the client's status; the alerts panels and the charts' firing
 * bands from AlertsPanel.
 */
import {
  connect,
  DEFAULT_SLO_TARGETS,
  endpointRows,
  formatMs,
  formatNumber,
  formatPercent,
  formatTime,
  headline,
  nodeRows,
  OUTLIER_RULE,
  parseSloTargets,
  sloRows,
  statusRows,
  type EffectiveFilters,
  type Headline,
  type ServerMessage,
  type SloTargets,
  type ViewData,
} from '@pulse/client';
import { METRIC_TYPES, isMetricType } from '@pulse/protocol/snapshot-data';
import { AlertsPanel } from './alerts-panel.js';
import { Chart } from './chart.js';
import { byId, element, setOptions } from './dom.js';
import { CHARTS } from './chart-specs.js';
import { addressQuery, DEFAULT_FILTERS, fromQuery, toSubscribe, type FilterState } from './filters.js';
import { fetchHistory, fetchLabels } from './rest.js';
import { ModelViews } from './model-views.js';
import { describeStatus } from './status.js';
import { renderSlos } from './slo-panel.js';
import { renderEndpoints, renderModels, renderNodes, renderStatuses } from './tables.js';

/** How much history the charts keep. */
const CHART_SPAN_SECONDS = 5 * 60;
const LABELS_EVERY_MS = 5000;

/** The stream of the gateway that served the page, unless `?ws=` names another. */
function streamUrl(): string {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) return override;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/metrics/stream`;
}

const url = streamUrl();
/**
 * A read token, for a Pulse with authentication on (docs/SECURITY.md): the
 * page's own `?token=`, passed to every connection and to the REST requests
 * (labels, history, alerts).
 */
const token = new URLSearchParams(location.search).get('token') ?? undefined;
/** What share of requests each SLO should meet (`?slo_target=`): the server knows the bounds, not the goal. */
const slo = readSloTargets();
const client = connect(url, { pingIntervalMs: 10_000, token });
const charts = buildCharts();
const alerts = new AlertsPanel(url, token, charts, CHART_SPAN_SECONDS);
const models = new ModelViews(url, () => renderModels(byId<HTMLTableSectionElement>('models'), models.rows(), models.hidden), token);
let filters: FilterState = fromQuery(location.search);
/** performance.now() when the figures on screen arrived (the local clock: the server's may be skewed). */
let shownAt: number | null = null;
/** Replies still due for the last filter change; updates before them were built with the old filters. */
let awaitingReplies = 0;

/** Models in Pulse's window, as the gateway last listed them. */
let modelsInWindow: string[] = [];

const controls = {
  endpoint: byId<HTMLSelectElement>('f-endpoint'),
  model: byId<HTMLSelectElement>('f-model'),
  node: byId<HTMLSelectElement>('f-node'),
  interval: byId<HTMLSelectElement>('f-interval'),
  types: buildTypeBoxes(),
};

/** The targets of `?slo_target=` (README, Dashboard) and the SLO panel's caption saying them; a bad one is ignored, and the caption says why. */
function readSloTargets(): { targets: SloTargets; caption: string } {
  try {
    const targets = parseSloTargets(new URLSearchParams(location.search).get('slo_target'));
    const named = [...targets.byName].map(([name, pct]) => `${name} ${pct} %`);
    return { targets, caption: `target ${[`${targets.all} %`, ...named].join(', ')} (?slo_target=)` };
  } catch (err) {
    return { targets: DEFAULT_SLO_TARGETS, caption: `target ${DEFAULT_SLO_TARGETS.all} %; ?slo_target= ignored: ${(err as Error).message}` };
  }
}

/** One checkbox per metric type of the protocol, so the page cannot fall behind it. */
function buildTypeBoxes(): HTMLInputElement[] {
  const group = byId('f-types');
  return METRIC_TYPES.map((type) => {
    const box = element('input', undefined, { type: 'checkbox', value: type, name: 'type' });
    const label = element('label');
    label.append(box, ` ${type}`);
    group.append(label);
    return box;
  });
}

function buildCharts(): Chart[] {
  const grid = byId('charts');
  return CHARTS.map((spec) => {
    const panel = element('section', undefined, { class: 'panel', id: `chart-${spec.id}` });
    const plot = element('div', undefined, { class: 'plot', 'data-points': '0' });
    panel.append(element('h2', spec.title), element('span', spec.unit, { class: 'unit' }), plot);
    grid.append(panel);
    return new Chart(spec, plot, CHART_SPAN_SECONDS);
  });
}

function showControls(state: FilterState): void {
  // Until the gateway lists its labels, the pickers offer what the address asked for.
  setOptions(controls.endpoint, state.endpoint ? [state.endpoint] : []);
  setOptions(controls.model, state.model ? [state.model] : []);
  setOptions(controls.node, state.node ? [state.node] : []);
  controls.endpoint.value = state.endpoint;
  controls.model.value = state.model;
  controls.node.value = state.node;
  controls.interval.value = String(state.interval);
  for (const box of controls.types) box.checked = isMetricType(box.value) && state.types.includes(box.value);
}

function readControls(): FilterState {
  const types = controls.types.filter((b) => b.checked).map((b) => b.value).filter(isMetricType);
  return {
    endpoint: controls.endpoint.value,
    model: controls.model.value,
    node: controls.node.value,
    // Unticking every type means no filter on types, not an empty page.
    types: types.length > 0 ? types : DEFAULT_FILTERS.types,
    interval: Number(controls.interval.value),
  };
}

/** Sends the filters: reset, then one subscribe with everything (a subscribe only adds). */
function applyFilters(state: FilterState): void {
  filters = state;
  history.replaceState(null, '', `${location.pathname}${addressQuery(state, location.search)}`);
  client.unsubscribe();
  awaitingReplies = 1;
  const subscribe = toSubscribe(state);
  if (subscribe) {
    client.subscribe(subscribe);
    awaitingReplies = 2;
  }
  for (const chart of charts) chart.clear();
  models.sync(modelsInWindow, state);
}

function showCards(cards: Headline, data: ViewData): void {
  const set = (id: string, text: string, type: string) => {
    const card = byId(id);
    card.querySelector('.value')!.textContent = text;
    card.classList.toggle('off', !(type in data));
  };
  set('card-requests', formatNumber(cards.requestsPerSec), 'throughput');
  set('card-tokens', formatNumber(cards.tokensPerSec), 'throughput');
  set('card-p99', formatMs(cards.worstP99), 'latency');
  set('card-ttft', formatMs(cards.ttftP50), 'streaming');
  set('card-itl', formatMs(cards.itlP99), 'streaming');
  set('card-hit', formatPercent(cards.hitRate), 'cache');
  set('card-errors', formatNumber(cards.errorsPerSec), 'error');
  set('card-streams', formatNumber(cards.activeStreams), 'queue');
  set('card-queue', formatNumber(cards.queueDepth), 'queue');
}

function showData(timestamp: number, data: ViewData): void {
  shownAt = performance.now();
  showCards(headline(data), data);
  for (const chart of charts) {
    chart.add(timestamp, data);
    // A chart whose metric type is not subscribed says so instead of looking empty.
    byId(`chart-${chart.spec.id}`).classList.toggle('off', !(chart.spec.type in data));
  }
  renderEndpoints(byId<HTMLTableSectionElement>('endpoints'), endpointRows(data));
  renderSlos(byId<HTMLTableSectionElement>('slos'), sloRows(data, slo.targets), 'slo' in data);
  renderStatuses(byId<HTMLTableSectionElement>('statuses'), statusRows(data), 'error' in data);
  renderNodes(byId<HTMLTableSectionElement>('nodes'), nodeRows(data), timestamp, 'nodes' in data);
  byId('updated').textContent = `updated ${formatTime(timestamp)}`;
}

function onMessage(message: ServerMessage): void {
  switch (message.type) {
    case 'historical_data':
      // It is unfiltered: right for the default view only; a filtered one waits for its first update.
      if (isDefaultView()) {
        showData(message.timestamp, message.data);
        void backfillCharts();
      }
      return;
    case 'metrics_update':
      if (awaitingReplies === 0) showData(message.timestamp, message.data);
      return;
    case 'subscribed':
    case 'unsubscribed':
      awaitingReplies = Math.max(0, awaitingReplies - 1);
      showEffective(message.type === 'subscribed' ? message.filters : null);
      byId('notice').textContent = '';
      return;
    case 'error':
      awaitingReplies = Math.max(0, awaitingReplies - 1);
      byId('notice').textContent = `Pulse said: ${message.message}`;
      return;
    case 'pong':
      return;
  }
}

function isDefaultView(): boolean {
  return toSubscribe(filters) === null && awaitingReplies === 0;
}

/** On each (re)connect in the default view: the gateway's recent unfiltered figures, so charts start full. */
async function backfillCharts(): Promise<void> {
  const points = await fetchHistory(url, token);
  if (!isDefaultView()) return; // the filters changed meanwhile: the history is not theirs
  for (const chart of charts) chart.backfill(points);
}

function showEffective(effective: EffectiveFilters | null): void {
  const e = effective ?? { endpoints: [], models: [], metric_types: ['all'], interval: DEFAULT_FILTERS.interval };
  const parts = [
    `endpoints: ${e.endpoints.length ? e.endpoints.join(', ') : 'all'}`,
    `models: ${e.models.length ? e.models.join(', ') : 'all'}`,
    // Absent from a server without the node dimension (FakeAI itself).
    `nodes: ${e.nodes?.length ? e.nodes.join(', ') : 'all'}`,
    `metrics: ${e.metric_types.join(', ')}`,
    `every ${e.interval} s`,
  ];
  byId('f-effective').textContent = `Server view — ${parts.join(' · ')}`;
}

async function refreshLabels(): Promise<void> {
  const labels = await fetchLabels(url, token);
  setOptions(controls.endpoint, labels.endpoints);
  setOptions(controls.model, labels.models);
  setOptions(controls.node, labels.nodes);
  modelsInWindow = labels.models;
  models.sync(modelsInWindow, filters);
}

/** Connected but no update for several intervals: the figures on screen are old, and the pill says so. */
function markStale(): void {
  const ageSeconds = shownAt === null ? 0 : (performance.now() - shownAt) / 1000;
  byId('status').dataset.stale = String(client.status.state === 'open' && ageSeconds > 3 * filters.interval + 2);
}

client.onStatus((status) => {
  const pill = byId('status');
  pill.textContent = describeStatus(status);
  pill.dataset.state = status.state;
  if (status.state === 'open') alerts.connected();
});
client.onMessage(onMessage);

showControls(filters);
for (const control of [controls.endpoint, controls.model, controls.node, controls.interval, ...controls.types]) {
  control.addEventListener('change', () => applyFilters(readControls()));
}
byId('stream-url').textContent = url;
byId('slo-target').textContent = slo.caption;
byId('outlier-rule').textContent = OUTLIER_RULE;
if (toSubscribe(filters) !== null) applyFilters(filters);
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
setInterval(markStale, 1000);
setInterval(() => void refreshLabels(), LABELS_EVERY_MS);
void refreshLabels();
