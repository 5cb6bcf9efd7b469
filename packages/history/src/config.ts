/**
 * History's settings (docs/HISTORY.md): read by the aggregators (which
 * write it), the gateways (which read it) and the all-in-one process, each
 * validating them once at startup.
 */
import { z } from 'zod';
import { ConfigError, intVar } from '@pulse/runtime';
import { defaultTiers, parseTiers, type Tier } from './tiers.js';

export const historyVars = {
  /** `<step>:<retention>,…`, finest first, the first step the tick; `off` records nothing. Default: `defaultTiers` of the tick (`0.5s:10m,5s:6h,1m:7d` at 500 ms). */
  PULSE_HISTORY_TIERS: z.string().optional(),
  /** How long after a tick bucket closes its record is written: events this late still count in it. Default 1000 ms. */
  PULSE_HISTORY_GRACE_MS: intVar(1000, 0, 60_000),
};

export interface HistorySettings {
  /** Empty: history is off. */
  readonly tiers: readonly Tier[];
  readonly graceMs: number;
  readonly windowMs: number;
}

/** The settings of `config`, checked: throws ConfigError naming PULSE_HISTORY_TIERS. */
export function historySettings(config: { PULSE_HISTORY_TIERS?: string | undefined; PULSE_HISTORY_GRACE_MS: number; PULSE_TICK_MS: number; PULSE_WINDOW_SECONDS: number }): HistorySettings {
  const windowMs = config.PULSE_WINDOW_SECONDS * 1000;
  let tiers: Tier[];
  try {
    tiers = parseTiers(config.PULSE_HISTORY_TIERS ?? defaultTiers(config.PULSE_TICK_MS), config.PULSE_TICK_MS);
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  if (tiers.length > 0 && windowMs % config.PULSE_TICK_MS !== 0) {
    throw new ConfigError([`PULSE_HISTORY_TIERS: the window (PULSE_WINDOW_SECONDS) must be a whole number of ticks (PULSE_TICK_MS) to record history`]);
  }
  if (tiers.length > 0 && config.PULSE_HISTORY_GRACE_MS >= tiers[0]!.retentionMs / 2) {
    throw new ConfigError([`PULSE_HISTORY_GRACE_MS: ${config.PULSE_HISTORY_GRACE_MS} ms is not well under the finest tier's retention`]);
  }
  return { tiers, graceMs: config.PULSE_HISTORY_GRACE_MS, windowMs };
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
