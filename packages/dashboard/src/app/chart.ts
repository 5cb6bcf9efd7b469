/**
 * One time-series chart: a SeriesHistory drawn with uPlot. uPlot wants its
 * series fixed, so a chart whose series change (an endpoint appears) is
 * rebuilt; otherwise new data is only handed over. Series labels come from
 * producers; uPlot writes them with textContent. Periods when an alert fired
 * are shaded under the lines (setBands).
 */
import uPlot from 'uplot';
import type { ViewData } from '@pulse/client';
import { formatNumber, formatTime } from '@pulse/client';
import type { ChartSpec } from './chart-specs.js';
import { SeriesHistory } from './series.js';
import { visibleSpans, type FiringBand } from './alerts.js';

const PALETTE = ['#4f8cff', '#ff9f43', '#2ecc71', '#e8596a', '#b07cff', '#22c3b5', '#f4c542', '#ff7ac6'];
const HEIGHT = 170;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
/** Firing periods: --bad, faint enough for the lines over it to stay readable. */
const BAND_FILL = 'rgba(232, 89, 106, 0.22)';
const AXIS = { stroke: '#8b95a5', grid: { stroke: '#273040', width: 1 }, ticks: { stroke: '#273040', width: 1 } };

export class Chart {
  private readonly history: SeriesHistory;
  private plot: uPlot | null = null;
  private drawn = '';
  private bands: readonly FiringBand[] = [];

  constructor(
    readonly spec: ChartSpec,
    private readonly container: HTMLElement,
    spanSeconds: number,
  ) {
    this.history = new SeriesHistory(spanSeconds);
  }

  add(time: number, data: ViewData): void {
    this.history.push(time, this.spec.point(data));
    this.render();
  }

  /** Draws figures from before the first point shown (the gateway's recent history). */
  backfill(points: readonly { timestamp: number; data: ViewData }[]): void {
    this.history.backfill(points.map((p) => [p.timestamp, this.spec.point(p.data)] as const));
    this.render();
  }

  /** The firing periods to shade from now on (the alerts panel's, after each poll). */
  setBands(bands: readonly FiringBand[]): void {
    this.bands = bands;
    this.plot?.redraw(false, false);
    this.markBands();
  }

  clear(): void {
    this.history.clear();
    this.render();
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  private render(): void {
    const names = this.history.names;
    const data: uPlot.AlignedData = [this.history.times, ...names.map((n) => this.history.series(n))];
    const key = names.join('\n');
    if (this.plot && key === this.drawn) this.plot.setData(data);
    else this.rebuild(names, data);
    this.drawn = key;
    // Unless the pointer is on the chart, its legend shows the latest values.
    const plot = this.plot!;
    if ((plot.cursor.left ?? -1) < 0 && this.history.times.length > 0) plot.setLegend({ idx: this.history.times.length - 1 });
    // For people and tests alike: how many points the chart holds, and since when (epoch seconds).
    this.container.dataset.points = String(this.history.times.length);
    this.container.dataset.since = String(this.history.times[0] ?? '');
    this.markBands();
  }

  /** For people and tests alike: how many firing periods the chart shades now, and how many of them still run. */
  private markBands(): void {
    this.container.dataset.bands = String(this.spans(this.bands).length);
    this.container.dataset.firing = String(this.spans(this.bands.filter((b) => b.end === null)).length);
  }

  /** The parts of `bands` within the time the chart holds. */
  private spans(bands: readonly FiringBand[]): [number, number][] {
    const times = this.history.times;
    return times.length < 2 ? [] : visibleSpans(bands, times[0]!, times[times.length - 1]!);
  }

  /** Shades the firing periods over the plot's full height; uPlot calls it after clearing, so the grid and lines come on top. */
  private drawBands(u: uPlot): void {
    const { ctx, bbox } = u;
    const { min, max } = u.scales.x!;
    if (min === undefined || max === undefined) return;
    ctx.save();
    ctx.fillStyle = BAND_FILL;
    for (const [from, to] of visibleSpans(this.bands, min, max)) {
      const left = u.valToPos(from, 'x', true);
      const right = u.valToPos(to, 'x', true);
      ctx.fillRect(left, bbox.top, Math.max(1, right - left), bbox.height);
    }
    ctx.restore();
  }

  private rebuild(names: string[], data: uPlot.AlignedData): void {
    this.plot?.destroy();
    const unit = this.spec.unit;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [
          { value: (_u: uPlot, t: number | null) => (t === null ? '—' : formatTime(t)) },
          ...names.map((label, i) => ({
            label,
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            // p50 lines dashed, so a latency chart reads as pairs per endpoint.
            ...(label.endsWith(' p50') ? { dash: [4, 3] } : {}),
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${formatNumber(v)} ${unit}`),
          })),
        ],
        axes: [
          // Whole seconds and up: the figures change once per tick, finer ticks only repeat labels.
          { ...AXIS, incrs: TIME_STEPS, values: (_u, ticks) => ticks.map((t) => formatTime(t)) },
          { ...AXIS, size: 56, values: (_u, ticks) => ticks.map((t) => formatNumber(t)) },
        ],
        legend: { live: true },
        hooks: { drawClear: [(u: uPlot) => this.drawBands(u)] },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.container,
    );
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }
}
