/**
 * History tiers (docs/HISTORY.md): each a bucket length and how long its
 * buckets are kept, finest first, from PULSE_HISTORY_TIERS
 * (`defaultTiers` of the tick when unset; `off` records nothing). The finest is
 * the tick; each coarser one is an exact sum of the one before it, so its
 * step must be a whole multiple of that one's.
 */
export interface Tier {
  /** As written in the setting, e.g. `5s`: also the tier's part of its keys. */
  readonly name: string;
  readonly stepMs: number;
  readonly retentionMs: number;
  /**
   * Keeps rollups, not cells (docs/HISTORY.md "Rollups"): per (endpoint, model)
   * over every node and per (node, endpoint) over every model. Set by
   * `rollUpFrom` (PULSE_HISTORY_CELL_TIERS); parsed tiers keep every cell.
   */
  readonly rollup?: boolean;
}

/** `tiers`, the first `cellTiers` keeping every cell and the coarser ones rollups. */
export function rollUpFrom(tiers: readonly Tier[], cellTiers: number): Tier[] {
  return tiers.map((t, i) => ({ ...t, rollup: i >= cellTiers }));
}

/**
 * The tiers when PULSE_HISTORY_TIERS is not set: every tick for 10 minutes,
 * every 5 s for 6 hours, every minute for 7 days — each coarser step rounded
 * up to a whole multiple of the one before, so any PULSE_TICK_MS works
 * (`0.5s:10m,5s:6h,1m:7d` at the default tick, `0.3s:10m,5.1s:6h,61.2s:7d` at 300 ms).
 */
export function defaultTiers(tickMs: number): string {
  const fiveSeconds = Math.ceil(5000 / tickMs) * tickMs;
  const minute = Math.ceil(60_000 / fiveSeconds) * fiveSeconds;
  const name = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
  const tiers: [number, string][] = [];
  for (const [stepMs, retention] of [[tickMs, '10m'], [fiveSeconds, '6h'], [minute, '7d']] as const) {
    // A tick of 5 s or more is its own 5-s tier: one tier, kept the longer.
    if (tiers.length > 0 && tiers[tiers.length - 1]![0] === stepMs) tiers.pop();
    tiers.push([stepMs, retention]);
  }
  return tiers.map(([stepMs, retention]) => `${name(stepMs)}:${retention}`).join(',');
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `0.5s`, `5s`, `1m`, `6h`, `7d` in ms; NaN when it is none of these. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return NaN;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/**
 * The tiers of `spec` for an aggregator ticking every `tickMs`, checked once
 * at startup: throws with what is wrong. An empty list means history is off.
 */
export function parseTiers(spec: string, tickMs: number): Tier[] {
  const text = spec.trim();
  if (text === '' || text === 'off') return [];
  const tiers: Tier[] = [];
  for (const part of text.split(',')) {
    const [step, retention, extra] = part.split(':').map((s) => s.trim());
    if (!step || !retention || extra !== undefined) throw new Error(`PULSE_HISTORY_TIERS: "${part}" is not <step>:<retention> (e.g. 5s:6h)`);
    const stepMs = parseDuration(step);
    const retentionMs = parseDuration(retention);
    if (!(stepMs > 0)) throw new Error(`PULSE_HISTORY_TIERS: step "${step}" is not a duration (e.g. 500ms, 0.5s, 5s, 1m)`);
    if (!(retentionMs > 0)) throw new Error(`PULSE_HISTORY_TIERS: retention "${retention}" is not a duration (e.g. 10m, 6h, 7d)`);
    const finer = tiers[tiers.length - 1];
    const base = finer?.stepMs ?? tickMs;
    if (stepMs % base !== 0 || (!finer && stepMs !== tickMs)) {
      throw new Error(
        finer
          ? `PULSE_HISTORY_TIERS: step ${step} is not a whole multiple of the tier before it (${finer.name})`
          : `PULSE_HISTORY_TIERS: the first tier's step (${step}) must be the tick (PULSE_TICK_MS = ${tickMs} ms)`,
      );
    }
    if (finer && stepMs === finer.stepMs) throw new Error(`PULSE_HISTORY_TIERS: two tiers of step ${step}`);
    if (retentionMs < stepMs) throw new Error(`PULSE_HISTORY_TIERS: retention ${retention} is shorter than its step ${step}`);
    if (finer && retentionMs < stepMs + finer.stepMs) {
      throw new Error(`PULSE_HISTORY_TIERS: tier ${finer.name} must be kept at least ${step} longer than its step to be summed into ${step}`);
    }
    tiers.push({ name: step, stepMs, retentionMs });
  }
  return tiers;
}
