/**
 * Two runs compared, in the page's view (its filters): each run's points
 * from `GET /metrics/history` at one step for both (the longer run's,
 * ≤ MAX_CHART_POINTS points), drawn on every chart aligned at the runs'
 * starts; and each run's figures over its whole span from `GET
 * /v1/runs/{id}/summary` (merged histograms, not means of points), in a table
 * side by side. The charts go back to live figures when the comparison ends.
 */
import { byId, element } from './dom.js';
import type { Chart } from './chart.js';
import type { FilterState } from './filters.js';
import { fetchHistory, fetchRunSummary, type HistoryPoint } from './rest.js';
import { alignRuns, figureRows, runEnd, runFigures, type Run } from './runs.js';
import { chooseStep } from './time-range.js';

export class Comparison {
  private pair: readonly [Run, Run] | null = null;
  /** Bumped by every show and end: an answer for an older one is dropped. */
  private generation = 0;

  constructor(
    private readonly streamUrl: string,
    private readonly token: string | undefined,
    private readonly charts: readonly Chart[],
  ) {
    byId('compare-close').addEventListener('click', () => {
      this.hide();
      this.onEnd?.();
    });
  }

  get active(): boolean {
    return this.pair !== null;
  }

  /** Compares the two runs (null ends it); `filters` are the page's view. */
  async show(pair: readonly [Run, Run] | null, filters: FilterState): Promise<void> {
    const generation = ++this.generation;
    this.pair = pair;
    if (!pair) return this.hide();
    const section = byId('panel-compare');
    section.hidden = false;
    section.dataset.state = 'loading';
    byId('compare-title').textContent = `${pair[0].name} and ${pair[1].name}, aligned at their starts`;
    const now = Date.now() / 1000;
    const spans = pair.map((r) => ({ since: r.startedAt, until: runEnd(r, now) }));
    const step = chooseStep(Math.max(...spans.map((s) => s.until - s.since)));
    const [answers, summaries] = await Promise.all([
      Promise.all(spans.map((span) => fetchHistory(this.streamUrl, { filters, ...span, step }, this.token))),
      Promise.all(pair.map((run) => fetchRunSummary(this.streamUrl, run.id, filters, this.token))),
    ]);
    if (generation !== this.generation) return;
    if (answers.some((a) => a === null)) {
      byId('compare-note').textContent = 'history did not answer for both runs: nothing to compare';
      section.dataset.state = 'failed';
      return;
    }
    const points = answers.map((a) => a!.points);
    const missing = summaries.some((s) => s === null) ? '; history holds no figures for a run over its whole span' : '';
    byId('compare-note').textContent = `one point every ${answers[0]!.step ?? step} s; figures are each run's over its whole span${missing}`;
    for (const chart of this.charts) {
      chart.showComparison(alignRuns(pair.map((run, i) => ({ label: run.name, start: run.startedAt, points: points[i]!.map((p: HistoryPoint) => [p.timestamp, chart.spec.point(p.data)] as const) }))));
    }
    this.renderTable(
      pair,
      summaries.map((summary, i) => runFigures(summary?.data ?? null, summary ? summary.until - summary.since : spans[i]!.until - spans[i]!.since, points[i]!.length)),
    );
    section.dataset.state = 'shown';
    document.body.classList.add('comparing');
  }

  /** The view changed: the same runs, in the new view. */
  refresh(filters: FilterState): void {
    if (this.pair) void this.show(this.pair, filters);
  }

  /** Back to live figures on the charts (fewer than two runs picked). */
  private hide(): void {
    this.generation += 1;
    const wasShown = document.body.classList.contains('comparing');
    this.pair = null;
    byId('panel-compare').hidden = true;
    document.body.classList.remove('comparing');
    if (wasShown) for (const chart of this.charts) chart.showComparison(null);
  }

  /** Told when the comparison is closed from its panel (the runs panel forgets its picks). */
  onEnd: (() => void) | undefined;

  private renderTable(pair: readonly [Run, Run], figures: ReturnType<typeof runFigures>[]): void {
    const head = byId('compare-head');
    const headRow = element('tr');
    headRow.append(element('th', 'figure', { scope: 'col' }), ...pair.map((r) => element('th', r.name, { scope: 'col', 'data-id': r.id })));
    head.replaceChildren(headRow);
    byId('compare-rows').replaceChildren(
      ...figureRows(figures).map((row) => {
        const tr = element('tr', undefined, { 'data-key': row.key });
        tr.append(element('th', row.label, { scope: 'row' }), ...row.values.map((v) => element('td', v)));
        return tr;
      }),
    );
  }
}
