/**
 * SLO attainment for people: per SLO (PULSE_SLOS on the server) and per
 * endpoint, judged against a target attainment. The server knows each SLO's
 * bounds but not what share of requests should meet them, so the target is
 * the reader's: `?slo_target=` on the dashboard, `--slo-target` on the CLI,
 * 99 % unless told. Shared by both. Pure.
 */
import type { ViewData } from '@pulse/protocol';

const DEFAULT_SLO_TARGET_PCT = 99;

export interface SloTargets {
  /** For SLOs not named in `byName`. */
  readonly all: number;
  readonly byName: ReadonlyMap<string, number>;
}

export const DEFAULT_SLO_TARGETS: SloTargets = { all: DEFAULT_SLO_TARGET_PCT, byName: new Map() };

/**
 * Reads `99`, `interactive:99.9,batch:95` or both (`95,interactive:99.9`):
 * a bare percentage for every SLO, `name:percentage` for one. Empty or
 * missing text: the default. Throws a RangeError naming the bad part.
 */
export function parseSloTargets(text: string | null | undefined): SloTargets {
  let all = DEFAULT_SLO_TARGET_PCT;
  const byName = new Map<string, number>();
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.lastIndexOf(':');
    const name = colon < 0 ? '' : part.slice(0, colon).trim();
    const raw = part.slice(colon + 1).trim();
    const pct = raw === '' ? NaN : Number(raw);
    if (!(pct > 0 && pct <= 100)) throw new RangeError(`SLO target "${part}": the target is a percentage above 0 and at most 100`);
    if (colon < 0) all = pct;
    else if (name === '') throw new RangeError(`SLO target "${part}": no SLO name before the colon`);
    else byName.set(name, pct);
  }
  return { all, byName };
}

function sloTarget(targets: SloTargets, name: string): number {
  return targets.byName.get(name) ?? targets.all;
}

export interface SloEndpointRow {
  endpoint: string;
  /** Undefined while nothing of it is valid in the window. */
  attainmentPct?: number;
  goodPerSec: number;
  validPerSec: number;
  /** Attainment at or above the target; undefined without an attainment. */
  met?: boolean;
}

export interface SloRow extends Omit<SloEndpointRow, 'endpoint'> {
  name: string;
  targetPct: number;
  endpoints: SloEndpointRow[];
}

/** One row per SLO in the order the server lists them, each with its endpoints. */
export function sloRows(data: ViewData, targets: SloTargets = DEFAULT_SLO_TARGETS): SloRow[] {
  return Object.entries(data.slo ?? {}).map(([name, slo]) => {
    const targetPct = sloTarget(targets, name);
    const met = (pct: number | undefined) => (pct === undefined ? undefined : pct >= targetPct);
    return {
      name,
      attainmentPct: slo.attainment_pct,
      goodPerSec: slo.good_per_sec,
      validPerSec: slo.valid_per_sec,
      targetPct,
      met: met(slo.attainment_pct),
      endpoints: Object.entries(slo.by_endpoint).map(([endpoint, e]) => ({
        endpoint,
        attainmentPct: e.attainment_pct,
        goodPerSec: e.good_per_sec,
        validPerSec: e.valid_per_sec,
        met: met(e.attainment_pct),
      })),
    };
  });
}
