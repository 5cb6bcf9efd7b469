/**
 * Durations of the rules file (docs/PROTOCOL.md §8): an integer and one unit,
 * `500ms`, `10s`, `5m`, `4h`. One unit only, so a value reads the same to
 * everyone who edits the file; `0s` is a duration too.
 */

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Number.isSafeInteger(ms) ? ms : null;
}
