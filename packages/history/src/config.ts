/**
 * History's settings (docs/HISTORY.md): read by the aggregators (which
 * write it), the gateways (which read it) and the all-in-one process, each
 * validating them once at startup.
 */
import { z } from 'zod';
import { ConfigError, intVar } from '@pulse/runtime';
import { defaultTiers, parseTiers, rollUpFrom, type Tier } from './tiers.js';

export const historyVars = {
  /** `<step>:<retention>,…`, finest first, the first step the tick; `off` records nothing. Default: `defaultTiers` of the tick (`0.5s:10m,5s:6h,1m:7d` at 500 ms). */
  PULSE_HISTORY_TIERS: z.string().optional(),
  /** How long after a tick bucket closes its record is written: events this late still count in it. Default 1000 ms. */
  PULSE_HISTORY_GRACE_MS: intVar(1000, 0, 60_000),
  /**
   * Per tier, how much coarser its histograms are than the window's: bucket indices rounded down to
   * multiples of the factor (`1,8,16`: the 2nd tier's ×8, the 3rd's ×16 and beyond; docs/HISTORY.md, "Size").
   */
  PULSE_HISTORY_COARSEN: z.string().optional(),
  /**
   * How many of the finest tiers keep every node × endpoint × model cell (default 1: the tick tier);
   * coarser ones keep rollups by (endpoint, model) and by (node, endpoint) — docs/HISTORY.md, "Rollups".
   */
  PULSE_HISTORY_CELL_TIERS: intVar(1, 1, 16),
};

export const DEFAULT_HISTORY_COARSEN = '1,8,16';

export interface HistorySettings {
  /** Empty: history is off. */
  readonly tiers: readonly Tier[];
  /** Per tier, its histograms' coarsening factor (1: as the window's). */
  readonly coarsen: readonly number[];
  readonly graceMs: number;
  readonly windowMs: number;
}

/** The settings of `config`, checked: throws ConfigError naming PULSE_HISTORY_TIERS. */
export function historySettings(config: {
  PULSE_HISTORY_TIERS?: string | undefined;
  PULSE_HISTORY_GRACE_MS: number;
  PULSE_HISTORY_COARSEN?: string | undefined;
  PULSE_HISTORY_CELL_TIERS?: number | undefined;
  PULSE_TICK_MS: number;
  PULSE_WINDOW_SECONDS: number;
}): HistorySettings {
  const windowMs = config.PULSE_WINDOW_SECONDS * 1000;
  let tiers: Tier[];
  try {
    tiers = rollUpFrom(parseTiers(config.PULSE_HISTORY_TIERS ?? defaultTiers(config.PULSE_TICK_MS), config.PULSE_TICK_MS), config.PULSE_HISTORY_CELL_TIERS ?? 1);
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  if (tiers.length > 0 && windowMs % config.PULSE_TICK_MS !== 0) {
    throw new ConfigError([`PULSE_HISTORY_TIERS: the window (PULSE_WINDOW_SECONDS) must be a whole number of ticks (PULSE_TICK_MS) to record history`]);
  }
  if (tiers.length > 0 && config.PULSE_HISTORY_GRACE_MS >= tiers[0]!.retentionMs / 2) {
    throw new ConfigError([`PULSE_HISTORY_GRACE_MS: ${config.PULSE_HISTORY_GRACE_MS} ms is not well under the finest tier's retention`]);
  }
  const factors = (config.PULSE_HISTORY_COARSEN ?? DEFAULT_HISTORY_COARSEN).split(',').map((x) => Number(x.trim()));
  if (factors.some((k) => !Number.isInteger(k) || k < 1 || k > 64)) throw new ConfigError(['PULSE_HISTORY_COARSEN: expected integers from 1 to 64, comma-separated, one per tier']);
  // Each tier is summed from the one before: its factor must be a multiple of that one's (the roundings then compose).
  const coarsen = tiers.map((_, i) => factors[Math.min(i, factors.length - 1)]!);
  for (let i = 1; i < coarsen.length; i++) {
    if (coarsen[i]! % coarsen[i - 1]! !== 0) throw new ConfigError([`PULSE_HISTORY_COARSEN: ${coarsen[i]} (tier ${tiers[i]!.name}) is not a multiple of ${coarsen[i - 1]} (the tier before it)`]);
  }
  return { tiers, coarsen, graceMs: config.PULSE_HISTORY_GRACE_MS, windowMs };
}

/** For main.ts: the settings, or one line naming the bad variable and exit 2. */
export function historySettingsOrExit(service: string, config: Parameters<typeof historySettings>[0]): HistorySettings {
  try {
    return historySettings(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`pulse ${service}: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}
