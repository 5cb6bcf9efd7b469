/**
 * One time-series chart: a SeriesHistory drawn with uPlot. uPlot wants its
 * series fixed, so a chart whose series change (an endpoint appears) is
 * rebuilt; otherwise new data is only handed over. Series labels come from
 * producers; uPlot writes them with textContent. Under the lines: periods
 * when an alert fired (red) and runs (blue, named at the top); over them,
 * annotations (a dashed line and its text). Dragging across the plot zooms
 * the page to that span (onZoom).
 *
 * Comparing two runs, the chart draws them instead, on an axis of time since
 * each run's start (showComparison); its live history carries on meanwhile,
 * and is drawn again when the comparison ends.
 */
import uPlot from 'uplot';
import type { ViewData } from '@pulse/client';
import { formatNumber, formatTime } from '@pulse/client';
import type { ChartSpec } from './chart-specs.js';
import { SeriesHistory } from './series.js';
import { visibleSpans, type FiringBand } from './alerts.js';
import { formatOffset, type Aligned, type Annotation, type RunBand } from './runs.js';

const PALETTE = ['#4f8cff', '#ff9f43', '#2ecc71', '#e8596a', '#b07cff', '#22c3b5', '#f4c542', '#ff7ac6'];
/** Comparing runs: the first run's series in blues and greens, the second's in oranges and pinks. */
const RUN_PALETTES = [
  ['#4f8cff', '#22c3b5', '#8fb8ff', '#2ecc71', '#b07cff'],
  ['#ff9f43', '#f4c542', '#ff7ac6', '#e8596a', '#ffc48a'],
];
const HEIGHT = 170;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400];
/** Firing periods: --bad, faint enough for the lines over it to stay readable. */
const BAND_FILL = 'rgba(232, 89, 106, 0.22)';
/** Runs: --accent, fainter than alerts (a run is no problem). */
const RUN_FILL = 'rgba(79, 140, 255, 0.12)';
const RUN_EDGE = 'rgba(79, 140, 255, 0.7)';
const NOTE_STROKE = '#f4c542';
const AXIS = { stroke: '#8b95a5', grid: { stroke: '#273040', width: 1 }, ticks: { stroke: '#273040', width: 1 } };
/** Lines of annotation text stacked up from the plot's bottom before they overlap. */
const MAX_NOTE_LINES = 4;
/** A drag narrower than this (CSS px) is a click. */
const MIN_DRAG_PX = 6;

export interface ChartOptions {
  /** Seconds of history held, and about one point per step. */
  spanSeconds: number;
  stepSeconds: number;
  /** A drag across the plot, in epoch seconds. */
  onZoom?: (from: number, to: number) => void;
}

export class Chart {
  private readonly history: SeriesHistory;
  private plot: uPlot | null = null;
  private drawn = '';
  private bands: readonly FiringBand[] = [];
  private runs: readonly RunBand[] = [];
  private notes: readonly Annotation[] = [];
  private comparison: Aligned | null = null;

  constructor(
    readonly spec: ChartSpec,
    private readonly container: HTMLElement,
    private readonly options: ChartOptions,
  ) {
    this.history = new SeriesHistory(options.spanSeconds, options.stepSeconds);
  }

  add(time: number, data: ViewData): void {
    this.history.push(time, this.spec.point(data));
    this.render();
  }

  /** Draws history under the points held (see SeriesHistory.backfill). */
  backfill(points: readonly { timestamp: number; data: ViewData }[]): void {
    this.history.backfill(points.map((p) => [p.timestamp, this.spec.point(p.data)] as const));
    this.render();
  }

  /** A new range: its span and step apply from the next backfill (the page clears and backfills). */
  setRange(spanSeconds: number, stepSeconds: number): void {
    this.history.setSpan(spanSeconds, stepSeconds);
  }

  /** The firing periods to shade from now on (the alerts panel's, after each poll). */
  setBands(bands: readonly FiringBand[]): void {
    this.bands = bands;
    this.redraw();
  }

  /** The runs and annotations to draw from now on (the runs panel's, after each poll). */
  setMarks(runs: readonly RunBand[], notes: readonly Annotation[]): void {
    this.runs = runs;
    this.notes = notes;
    this.redraw();
  }

  /** Draws runs aligned at their starts instead of the live history; null goes back to it. */
  showComparison(aligned: Aligned | null): void {
    this.comparison = aligned;
    this.drawn = '';
    this.render();
  }

  clear(): void {
    this.history.clear();
    this.render();
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  private redraw(): void {
    if (!this.comparison) this.plot?.redraw(false, false);
    this.markBands();
  }

  private render(): void {
    if (this.comparison) return this.renderComparison(this.comparison);
    const names = this.history.names;
    const data: uPlot.AlignedData = [this.history.times, ...names.map((n) => this.history.series(n))];
    const key = `live\n${names.join('\n')}`;
    if (this.plot && key === this.drawn) this.plot.setData(data);
    else this.rebuild(names, data, false);
    this.drawn = key;
    // Unless the pointer is on the chart, its legend shows the latest values (after uPlot's first draw, which resets it).
    const plot = this.plot!;
    const showLatest = () => {
      if (this.plot === plot && !this.comparison && (plot.cursor.left ?? -1) < 0 && this.history.times.length > 0) plot.setLegend({ idx: this.history.times.length - 1 });
    };
    showLatest();
    requestAnimationFrame(showLatest);
    // For people and tests alike: how many points the chart holds, and since when (epoch seconds).
    this.container.dataset.mode = 'live';
    this.container.dataset.points = String(this.history.times.length);
    this.container.dataset.since = String(this.history.times[0] ?? '');
    this.container.dataset.until = String(this.history.times[this.history.times.length - 1] ?? '');
    this.container.dataset.maxGap = String(this.history.maxGap());
    this.markBands();
  }

  private renderComparison(aligned: Aligned): void {
    const key = `compare\n${aligned.names.join('\n')}`;
    const data: uPlot.AlignedData = [aligned.offsets, ...aligned.series];
    if (this.plot && key === this.drawn) this.plot.setData(data);
    else this.rebuild(aligned.names, data, true);
    this.drawn = key;
    this.container.dataset.mode = 'compare';
    this.container.dataset.points = String(aligned.offsets.length);
    this.container.dataset.series = String(aligned.names.length);
    // Seconds from the runs' starts to the last point drawn.
    this.container.dataset.offset = String(aligned.offsets[aligned.offsets.length - 1] ?? '');
    this.markBands();
  }

  /** For people and tests alike: how many firing periods, runs and annotations the chart shows now. */
  private markBands(): void {
    const live = !this.comparison;
    this.container.dataset.bands = String(live ? this.spans(this.bands).length : 0);
    this.container.dataset.firing = String(live ? this.spans(this.bands.filter((b) => b.end === null)).length : 0);
    const [from, to] = this.heldSpan();
    this.container.dataset.runs = String(live ? this.runs.filter((r) => r.end >= from && r.start <= to).length : 0);
    this.container.dataset.annotations = String(live ? this.notes.filter((n) => n.timestamp >= from && n.timestamp <= to).length : 0);
  }

  /** The time the chart holds: its first point to its last (none with fewer than two). */
  private heldSpan(): [number, number] {
    const times = this.history.times;
    return times.length < 2 ? [Infinity, -Infinity] : [times[0]!, times[times.length - 1]!];
  }

  /** The parts of `bands` within the time the chart holds. */
  private spans(bands: readonly FiringBand[]): [number, number][] {
    const [from, to] = this.heldSpan();
    return from > to ? [] : visibleSpans(bands, from, to);
  }

  /** Shades firing periods and runs over the plot's full height; uPlot calls it after clearing, so the grid and lines come on top. */
  private drawUnder(u: uPlot): void {
    if (this.comparison) return;
    const { ctx, bbox } = u;
    const { min, max } = u.scales.x!;
    if (min === undefined || max === undefined) return;
    ctx.save();
    const shade = (from: number, to: number, fill: string) => {
      const left = u.valToPos(from, 'x', true);
      const right = u.valToPos(to, 'x', true);
      ctx.fillStyle = fill;
      ctx.fillRect(left, bbox.top, Math.max(1, right - left), bbox.height);
      return [left, right] as const;
    };
    for (const [from, to] of visibleSpans(this.bands, min, max)) shade(from, to, BAND_FILL);
    ctx.strokeStyle = RUN_EDGE;
    ctx.lineWidth = 1;
    for (const run of this.runs) {
      const from = Math.max(run.start, min);
      const to = Math.min(run.end, max);
      if (to <= from) continue;
      const [left, right] = shade(from, to, RUN_FILL);
      ctx.beginPath();
      const edges = [...(run.start >= min ? [left] : []), ...(!run.running && run.end <= max ? [right] : [])];
      for (const x of edges) {
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
      }
      ctx.stroke();
    }
    ctx.restore();
  }

  /** Names the runs at the top of their bands and draws each annotation as a dashed line with its text, over the lines. */
  private drawOver(u: uPlot): void {
    if (this.comparison) return;
    const { ctx, bbox } = u;
    const { min, max } = u.scales.x!;
    if (min === undefined || max === undefined) return;
    const px = devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * px}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    for (const run of this.runs) {
      const from = Math.max(run.start, min);
      if (Math.min(run.end, max) <= from) continue;
      ctx.fillStyle = RUN_EDGE;
      ctx.fillText(run.running ? `${run.name} (running)` : run.name, u.valToPos(from, 'x', true) + 4 * px, bbox.top + 3 * px, Math.max(20, u.valToPos(Math.min(run.end, max), 'x', true) - u.valToPos(from, 'x', true) - 6 * px));
    }
    ctx.strokeStyle = NOTE_STROKE;
    ctx.fillStyle = NOTE_STROKE;
    ctx.setLineDash([3 * px, 3 * px]);
    ctx.textBaseline = 'bottom';
    /** Per line of text up from the bottom, where its last label ends: a label goes on the lowest line it does not overlap. */
    const lineEnds: number[] = [];
    for (const note of this.notes) {
      if (note.timestamp < min || note.timestamp > max) continue;
      const x = u.valToPos(note.timestamp, 'x', true);
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      const text = note.text.length > 40 ? `${note.text.slice(0, 39)}…` : note.text;
      const width = ctx.measureText(text).width;
      // Right of the line, unless that runs off the plot.
      const at = x + 4 * px + width > bbox.left + bbox.width ? x - 4 * px - width : x + 4 * px;
      let line = lineEnds.findIndex((end) => end < at);
      if (line < 0) line = Math.min(lineEnds.length, MAX_NOTE_LINES - 1);
      lineEnds[line] = at + width + 4 * px;
      ctx.fillText(text, at, bbox.top + bbox.height - 3 * px - line * 13 * px);
    }
    ctx.restore();
  }

  /** A drag across the plot (uPlot's selection, which does not zoom by itself here): hands the span over and clears it. */
  private selected(u: uPlot): void {
    const { left, width } = u.select;
    if (width >= MIN_DRAG_PX && !this.comparison) this.options.onZoom?.(u.posToVal(left, 'x'), u.posToVal(left + width, 'x'));
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  }

  private rebuild(names: string[], data: uPlot.AlignedData, comparing: boolean): void {
    this.plot?.destroy();
    const unit = this.spec.unit;
    const runNames = comparing ? [...new Set(names.map((n) => n.split(' · ')[0]!))] : [];
    const colour = (label: string, i: number) => {
      if (!comparing) return PALETTE[i % PALETTE.length]!;
      const run = Math.max(0, runNames.indexOf(label.split(' · ')[0]!));
      const palette = RUN_PALETTES[run % RUN_PALETTES.length]!;
      const within = names.slice(0, i).filter((n) => n.split(' · ')[0] === label.split(' · ')[0]).length;
      return palette[within % palette.length]!;
    };
    const atX = comparing ? (x: number) => formatOffset(x) : (x: number) => formatTime(x);
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        scales: { x: { time: !comparing }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [
          { value: (_u: uPlot, t: number | null) => (t === null ? '—' : atX(t)) },
          ...names.map((label, i) => ({
            label,
            stroke: colour(label, i),
            width: 1.5,
            // Two runs' points rarely fall at the same offsets: draw across the other run's.
            spanGaps: comparing,
            // p50 lines dashed, so a latency chart reads as pairs per endpoint.
            ...(label.endsWith(' p50') ? { dash: [4, 3] } : {}),
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${formatNumber(v)} ${unit}`),
          })),
        ],
        axes: [
          // Whole seconds and up: the figures change once per tick, finer ticks only repeat labels.
          { ...AXIS, incrs: TIME_STEPS, space: 72, values: (_u, ticks) => ticks.map((t) => atX(t)) },
          { ...AXIS, size: 56, values: (_u, ticks) => ticks.map((t) => formatNumber(t)) },
        ],
        legend: { live: true },
        hooks: {
          drawClear: [(u: uPlot) => this.drawUnder(u)],
          draw: [(u: uPlot) => this.drawOver(u)],
          setSelect: [(u: uPlot) => this.selected(u)],
        },
        cursor: { drag: { x: !comparing, y: false, setScale: false } },
      },
      data,
      this.container,
    );
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }
}
