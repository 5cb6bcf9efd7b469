/** docs/soak-memory.svg from a soak run: one panel per process, coloured by role. */
import type { SoakResult } from './result.js';
import { renderSvg, type PlotInput, type PlotLine } from './svg.js';
import type { Point } from './verdicts.js';

const COLORS = {
  ingest: '#1f77b4',
  'aggregator, leader': '#d62728',
  'aggregator, standby': '#9467bd',
  gateway: '#2ca02c',
  redis: '#8c564b',
  'load generator': '#7f7f7f',
};

export function soakPlot(r: SoakResult): string {
  const series = (pick: (s: SoakResult['samples'][number]) => number | null | undefined): Point[] =>
    r.samples.flatMap((s) => {
      const v = pick(s);
      return typeof v === 'number' && Number.isFinite(v) ? [{ t: s.t, v }] : [];
    });
  const panels: PlotInput['panels'] = r.processes.map((p) => {
    const lines: PlotLine[] =
      p.kind === 'redis'
        ? [
            { label: 'used_memory', points: series((s) => s.redis?.usedMemory), dashed: false },
            { label: 'used_memory_rss', points: series((s) => s.redis?.usedMemoryRss), dashed: true },
          ]
        : [
            ...(p.kind === 'service' ? [{ label: 'heap used after GC', points: series((s) => s.procs[p.name]?.heapUsed), dashed: false }] : []),
            { label: 'RSS', points: series((s) => s.procs[p.name]?.rss), dashed: true },
          ];
    const verdict = p.kind === 'redis' ? r.verdicts.redis : r.verdicts.memory.find((m) => m.name === p.name);
    const g = verdict?.judgedGrowth;
    const note = verdict ? ` — ${g ? `${g.pct > 0 ? '+' : ''}${g.pct.toFixed(1)} %` : 'too few samples'}, ${verdict.pass ? 'pass' : 'FAIL'}` : ' — RSS only, not judged';
    return { title: `${p.role ? `${p.name} · ${p.role}` : p.name}${note}`, color: colorOf(p.name, p.kind, p.role), lines };
  });
  const minutes = Math.round((r.durationSeconds / 60) * 10) / 10;
  return renderSvg({
    title: `Pulse soak: memory of every process over ${minutes} min (${r.verdicts.pass ? 'PASS' : 'FAIL'})`,
    subtitle: `${r.config.rate} req/s through a ${Math.round(r.config.faultShare * 1000) / 10} % fault proxy, ${r.config.clients} WebSocket clients; ${r.startedAt}, ${r.machine.cpus} × ${r.machine.model}`,
    durationS: r.durationSeconds,
    judgedFromS: r.judgedFromSeconds,
    panels,
    colors: Object.entries(COLORS).map(([label, color]) => ({ label, color })),
  });
}

function colorOf(name: string, kind: string, role: string | undefined): string {
  if (kind === 'redis') return COLORS.redis;
  if (kind === 'load') return COLORS['load generator'];
  if (name.startsWith('aggregator')) return role?.endsWith('leader') ? COLORS['aggregator, leader'] : COLORS['aggregator, standby'];
  return name.startsWith('ingest') ? COLORS.ingest : COLORS.gateway;
}
