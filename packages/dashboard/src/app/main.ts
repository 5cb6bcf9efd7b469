/**
 * The dashboard page: one client for the figures, filtered as the controls
 * say; cards, charts, the SLO panel and the endpoint, node and error-status
 * tables from its messages; the model table from ModelViews; the connection
 * pill from the client's status; the alerts panels and the charts' firing
 * bands from AlertsPanel.
 *
 * The charts never start empty: on load, on every (re)connect and on every
 * change of view or time range, the view's history over the range (the same
 * filters as the subscription) is drawn under the live points. The range
 * picker and a drag across a chart pick the span (time-range.ts); runs and
 * annotations are drawn on the charts, and two runs picked in the runs panel
 * are compared on them (RunsPanel, Comparison).
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
import { Comparison } from './compare.js';
import { byId, element, setOptions } from './dom.js';
import { CHARTS } from './chart-specs.js';
import { addressQuery, DEFAULT_FILTERS, fromQuery, toSubscribe, type FilterState } from './filters.js';
import { fetchHistory, fetchLabels, NODE_AND_MODEL_SECONDS } from './rest.js';
import { ModelViews } from './model-views.js';
import { RunsPanel } from './runs-panel.js';
import { annotationsWithin, runBands, type Annotation, type Run } from './runs.js';
import { describeStatus } from './status.js';
import { renderSlos } from './slo-panel.js';
import { renderEndpoints, renderModels, renderNodes, renderStatuses } from './tables.js';
import { chooseStep, describeRange, followsNow, rangeAddress, rangeFromQuery, rangeId, RANGES, spanOf, windowOf, zoomTo, type TimeRange } from './time-range.js';

const LABELS_EVERY_MS = 5000;
/** How long alert bands are kept: the longest range. */
const ALERT_SPAN_SECONDS = RANGES[RANGES.length - 1]!.seconds;

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
/** The time the charts show. */
let range: TimeRange = rangeFromQuery(location.search);
const charts = buildCharts();
const alerts = new AlertsPanel(url, token, charts, ALERT_SPAN_SECONDS);
const comparison = new Comparison(url, token, charts);
let marks: { runs: readonly Run[]; notes: readonly Annotation[] } = { runs: [], notes: [] };
const runsPanel = new RunsPanel({
  streamUrl: url,
  token,
  span: () => windowOf(range, Date.now() / 1000),
  onMarks: (runs, notes) => {
    marks = { runs, notes };
    showMarks();
  },
  onPick: (pair) => void comparison.show(pair, filters),
});
comparison.onEnd = () => runsPanel.clearPicks();
/** Bumped by every history request: an answer for an older view or range is dropped. */
let historyGeneration = 0;
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
    const span = spanOf(range);
    return new Chart(spec, plot, { spanSeconds: span, stepSeconds: chooseStep(span), onZoom: (from, to) => zoom(from, to) });
  });
}

/** A drag across a chart: that span, fixed, from history at a finer step. */
function zoom(from: number, to: number): void {
  const next = zoomTo(from, to);
  if (next) setRange(next);
}

function setRange(next: TimeRange): void {
  range = next;
  history.replaceState(null, '', `${location.pathname}${rangeAddress(range, location.search)}`);
  showRange();
  const span = spanOf(range);
  for (const chart of charts) {
    chart.setRange(span, chooseStep(span));
    chart.clear();
  }
  void loadHistory();
  runsPanel.refresh();
  showMarks();
}

function showRange(): void {
  const id = rangeId(range);
  for (const button of document.querySelectorAll<HTMLButtonElement>('#range button[data-range]')) {
    button.setAttribute('aria-pressed', String(button.dataset.range === id));
  }
  byId('range-note').textContent = describeRange(range, formatTime);
  byId('charts').dataset.range = id ?? 'zoom';
}

function buildRangeButtons(): void {
  const group = byId('range-buttons');
  for (const option of RANGES) {
    const button = element('button', option.label, { type: 'button', 'data-range': option.id, 'aria-pressed': 'false' });
    button.addEventListener('click', () => setRange({ kind: 'last', seconds: option.seconds }));
    group.append(button);
  }
}

/**
 * The view's history over the range, drawn under the points held: on load,
 * on every (re)connect and every change of view or range. The charts say how
 * it went (`data-history` on #charts) for people and tests alike.
 */
async function loadHistory(): Promise<void> {
  const generation = ++historyGeneration;
  const grid = byId('charts');
  grid.dataset.history = 'loading';
  const span = windowOf(range, Date.now() / 1000);
  const step = chooseStep(span.until - span.since);
  const answer = await fetchHistory(url, { filters, ...span, step }, token);
  if (generation !== historyGeneration) return; // the view or range changed meanwhile: not theirs
  if (!answer) {
    grid.dataset.history = 'failed';
    byId('history-note').textContent = 'history did not answer: live points only';
    return;
  }
  for (const chart of charts) chart.backfill(answer.points);
  grid.dataset.history = 'loaded';
  grid.dataset.historyPoints = String(answer.points.length);
  grid.dataset.historyStep = String(answer.step ?? '');
  const kept = answer.narrowedSince === undefined ? '' : `; a view by node and model is kept ${Math.round(NODE_AND_MODEL_SECONDS / 60)} min, so from ${new Date(answer.narrowedSince * 1000).toLocaleTimeString()} on`;
  grid.dataset.historySince = String(answer.narrowedSince ?? span.since);
  byId('history-note').textContent =
    (answer.points.length > 0 ? `history: ${answer.points.length} points, one every ${answer.step ?? step} s` : 'history: nothing recorded in this range yet') + kept;
}

/** The runs and annotations within the range, on every chart. */
function showMarks(): void {
  const now = Date.now() / 1000;
  const { since, until } = windowOf(range, now);
  const bands = runBands(marks.runs, since, until, now);
  const notes = annotationsWithin(marks.notes, since, until);
  for (const chart of charts) chart.setMarks(bands, notes);
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
  void loadHistory();
  comparison.refresh(state);
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

/** The server's time of the figures last shown: a stream that resumes after a silence (a stalled connection) has a gap to fill. */
let lastShown: number | null = null;

function showData(timestamp: number, data: ViewData): void {
  shownAt = performance.now();
  if (lastShown !== null && timestamp - lastShown > Math.max(5, 3 * filters.interval)) void loadHistory();
  lastShown = timestamp;
  showCards(headline(data), data);
  for (const chart of charts) {
    // A zoomed span in the past stays as history drew it.
    if (followsNow(range)) chart.add(timestamp, data);
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
      // The charts' history comes from GET /metrics/history, for any view (loadHistory).
      if (isDefaultView()) showData(message.timestamp, message.data);
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
  if (status.state === 'open') {
    alerts.connected();
    runsPanel.connected();
    // Every (re)connect: what the page missed, from history, under the live points to come.
    lastShown = null;
    void loadHistory();
  }
});
client.onMessage(onMessage);

showControls(filters);
buildRangeButtons();
showRange();
for (const control of [controls.endpoint, controls.model, controls.node, controls.interval, ...controls.types]) {
  control.addEventListener('change', () => applyFilters(readControls()));
}
byId('stream-url').textContent = url;
byId('slo-target').textContent = slo.caption;
byId('outlier-rule').textContent = OUTLIER_RULE;
if (toSubscribe(filters) !== null) applyFilters(filters);
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
setInterval(markStale, 1000);
// Running runs' bands grow with time.
setInterval(showMarks, 5000);
setInterval(() => void refreshLabels(), LABELS_EVERY_MS);
void refreshLabels();
