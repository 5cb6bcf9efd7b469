/** Small formatting helpers for the Markdown report. */

export function n(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : `${n(v, 1)} %`;
}

export function ratio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${n(v, 2)}×`;
}

export function table(head: string[], rows: (string | number)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** How busy the machine was over a window, and how much of that was the bench's own processes. */
export function machineLoad(w: { cpuPct: Record<string, number>; hostBusyPct: number }): string {
  const ours = Object.values(w.cpuPct).reduce((a, v) => a + v, 0);
  return `machine busy ${n(w.hostBusyPct, 0)} % of 200 %, the bench's processes ${n(ours, 0)} % of it`;
}

export function verdict(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? '**met**' : '**missed**';
}
