/**
 * The soak's memory plot as hand-written SVG (no plotting dependency):
 * small multiples, one panel per process on its own MiB scale, minutes on
 * every x axis, the judged span (last two thirds) shaded, the judged figure
 * solid and the one reported beside it dashed, one colour per role.
 */
import type { Point } from './verdicts.js';

export interface PlotLine {
  label: string;
  points: readonly Point[];
  dashed: boolean;
}

export interface PlotPanel {
  title: string;
  /** Colour of the panel's lines and title: the role's. */
  color: string;
  lines: PlotLine[];
}

export interface PlotInput {
  title: string;
  subtitle: string;
  durationS: number;
  /** Start of the judged span, seconds. */
  judgedFromS: number;
  panels: PlotPanel[];
  /** Colour keys shown in the legend (role → colour). */
  colors: { label: string; color: string }[];
}

const COLS = 2;
const PANEL_W = 460;
const PANEL_H = 190;
/** Inside a panel: room for the title above and the axes' labels left and below. */
const PAD = { top: 26, right: 14, bottom: 34, left: 58 };
const HEADER_H = 86;
const MIB = 2 ** 20;

export function renderSvg(input: PlotInput): string {
  const rows = Math.ceil(input.panels.length / COLS);
  const width = COLS * PANEL_W;
  const height = HEADER_H + rows * PANEL_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(input.title)}</text>`,
    `<text x="12" y="40" fill="#444">${esc(input.subtitle)}</text>`,
    ...legend(input.colors),
  ];
  input.panels.forEach((p, i) => out.push(...panel(p, (i % COLS) * PANEL_W, HEADER_H + Math.floor(i / COLS) * PANEL_H, input)));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function legend(colors: PlotInput['colors']): string[] {
  const y = 62;
  const out = [
    `<line x1="12" y1="${y}" x2="40" y2="${y}" stroke="#333" stroke-width="2"/>`,
    `<text x="46" y="${y + 4}">heap used after GC (Redis: used_memory), judged</text>`,
    `<line x1="330" y1="${y}" x2="358" y2="${y}" stroke="#333" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    `<text x="364" y="${y + 4}">RSS (Redis: used_memory_rss)</text>`,
    `<rect x="560" y="${y - 7}" width="22" height="14" fill="#eef2f7"/>`,
    `<text x="588" y="${y + 4}">judged span</text>`,
  ];
  let x = 12;
  for (const c of colors) {
    out.push(`<rect x="${x}" y="${y + 12}" width="10" height="10" fill="${c.color}"/>`, `<text x="${x + 14}" y="${y + 21}">${esc(c.label)}</text>`);
    x += 24 + c.label.length * 6.2;
  }
  return out;
}

function panel(p: PlotPanel, x0: number, y0: number, input: PlotInput): string[] {
  const left = x0 + PAD.left;
  const top = y0 + PAD.top;
  const w = PANEL_W - PAD.left - PAD.right;
  const h = PANEL_H - PAD.top - PAD.bottom;
  const maxMiB = Math.max(1e-9, ...p.lines.flatMap((l) => l.points.map((pt) => pt.v / MIB)));
  const yTicks = niceTicks(maxMiB);
  const yMax = yTicks[yTicks.length - 1]!;
  const minutes = input.durationS / 60;
  const xTicks = niceTicks(minutes);
  const xMax = Math.max(minutes, 1e-9);
  const sx = (tS: number) => left + (Math.min(tS / 60, xMax) / xMax) * w;
  const sy = (mib: number) => top + h - (mib / yMax) * h;
  const out = [
    `<g>`,
    `<text x="${left}" y="${y0 + 16}" font-weight="bold" fill="${p.color}">${esc(p.title)}</text>`,
    `<rect x="${f(sx(input.judgedFromS))}" y="${top}" width="${f(sx(input.durationS) - sx(input.judgedFromS))}" height="${h}" fill="#eef2f7"/>`,
  ];
  for (const v of yTicks) {
    out.push(
      `<line x1="${left}" y1="${f(sy(v))}" x2="${left + w}" y2="${f(sy(v))}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${f(sy(v) + 4)}" text-anchor="end">${num(v)}</text>`,
    );
  }
  for (const m of xTicks.filter((m) => m <= xMax + 1e-9)) {
    out.push(`<text x="${f(left + (m / xMax) * w)}" y="${top + h + 14}" text-anchor="middle">${num(m)}</text>`);
  }
  out.push(
    `<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#666"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#666"/>`,
    `<text x="${left + w / 2}" y="${top + h + 28}" text-anchor="middle" fill="#444">minutes since load start</text>`,
    `<text transform="translate(${x0 + 14} ${top + h / 2}) rotate(-90)" text-anchor="middle" fill="#444">MiB</text>`,
  );
  for (const line of p.lines) {
    if (line.points.length === 0) continue;
    const pts = line.points.map((pt) => `${f(sx(pt.t))},${f(sy(pt.v / MIB))}`).join(' ');
    const dash = line.dashed ? ' stroke-dasharray="5 3" stroke-width="1.5"' : ' stroke-width="2"';
    out.push(`<polyline fill="none" stroke="${p.color}"${dash} points="${pts}"><title>${esc(`${p.title}: ${line.label}`)}</title></polyline>`);
  }
  out.push('</g>');
  return out;
}

/** 0 and round steps (1, 2 or 5 × 10^k) up to the first at or above `max`: three to five ticks. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 4;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= rough * (1 - 1e-12))!;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function num(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

function f(v: number): string {
  return v.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
