/**
 * PERFORMANCE.md's pointer to the last soak (bench/results/soak.json, from
 * `npm run soak`, which writes docs/SOAK.md itself): the bench rewrites
 * PERFORMANCE.md, so the soak's summary is rendered here too to survive it.
 */
import { MEANINGFUL_MINUTES } from '../soak/markdown.js';
import type { SoakResult } from '../soak/result.js';
import { n } from './format.js';

export function soakSection(s: SoakResult): string[] {
  const v = s.verdicts;
  const worst = Math.max(...v.memory.map((m) => m.judgedGrowth?.pct ?? NaN));
  const applied = Object.entries(v.events.applied)
    .map(([name, a]) => `${name} ${a === null ? '–' : n(a)}`)
    .join(', ');
  return [
    '## Soak',
    '',
    `[docs/SOAK.md](SOAK.md) (\`npm run soak\`, ${s.startedAt}, ${n(s.durationSeconds / 60, 1)} min of ${n(s.config.rate)} req/s through a ` +
      `${n(s.config.faultShare * 100, 1)} % fault proxy and ${n(s.config.clients)} WebSocket clients): **${v.pass ? 'PASS' : 'FAIL'}**. ` +
      `Largest heap-after-GC growth of a service over the last two thirds ${Number.isFinite(worst) ? `${n(worst, 1)} %` : '–'} ` +
      `(Redis used_memory ${v.redis.judgedGrowth ? `${n(v.redis.judgedGrowth.pct, 1)} %` : '–'}); ` +
      `${n(v.events.accepted)} events accepted, applied: ${applied}; ${n(v.clients.dropped)} of ${n(v.clients.connected)} clients dropped; ` +
      `${n(v.logs.reduce((a, l) => a + l.errors, 0))} error lines logged.` +
      (s.durationSeconds / 60 < MEANINGFUL_MINUTES ? ` A short run: its memory verdicts mean something from ${MEANINGFUL_MINUTES} min on.` : ''),
    '',
  ];
}
