/**
 * Service-level objectives (docs/PROTOCOL.md §8): `PULSE_SLOS` names them as
 * `name:bound,bound;name:bound…`, a bound being `latency_ms<=N`,
 * `ttft_ms<=N` or `itl_ms<=N`, e.g.
 * `interactive:ttft_ms<=300,itl_ms<=50;batch:latency_ms<=30000`.
 */

export const SLO_BOUNDS = ['latency_ms', 'ttft_ms', 'itl_ms'] as const;
export type SloBound = (typeof SLO_BOUNDS)[number];

export interface Slo {
  readonly name: string;
  /** The most each figure may be, ms; absent bounds do not apply. */
  readonly bounds: Readonly<Partial<Record<SloBound, number>>>;
}

/** SLOs at most: each costs a counter per cell. */
export const MAX_SLOS = 16;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const BOUND = /^(latency_ms|ttft_ms|itl_ms)<=(.+)$/;

/** Parses PULSE_SLOS; throws an Error whose message names the SLO and the bad part. Empty text: no SLOs. */
export function parseSlos(text: string): Slo[] {
  const slos: Slo[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return slos;
  for (const part of trimmed.split(';')) {
    const spec = part.trim();
    if (spec === '') continue;
    const colon = spec.indexOf(':');
    const name = colon < 0 ? spec : spec.slice(0, colon).trim();
    if (colon < 0) throw new Error(`SLO "${name}": no bounds (write ${name}:latency_ms<=N, ttft_ms<=N or itl_ms<=N)`);
    if (!NAME.test(name)) throw new Error(`SLO "${name}": a name is 1 to 64 letters, digits, '_', '.' or '-'`);
    if (slos.some((s) => s.name === name)) throw new Error(`SLO "${name}": named twice`);
    const bounds: Partial<Record<SloBound, number>> = {};
    for (const raw of spec.slice(colon + 1).split(',')) {
      const bound = raw.trim().replace(/\s+/g, '');
      const m = BOUND.exec(bound);
      if (!m) throw new Error(`SLO "${name}": bound "${raw.trim()}" is not latency_ms<=N, ttft_ms<=N or itl_ms<=N`);
      const kind = m[1] as SloBound;
      const value = Number(m[2]);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`SLO "${name}": bound ${kind}<=${m[2]}: N must be a number of ms greater than 0`);
      if (bounds[kind] !== undefined) throw new Error(`SLO "${name}": ${kind} bound given twice`);
      bounds[kind] = value;
    }
    slos.push({ name, bounds });
  }
  if (slos.length > MAX_SLOS) throw new Error(`at most ${MAX_SLOS} SLOs (${slos.length} given)`);
  return slos;
}

/** What an end is judged on. `itlMs` is undefined when it has none (not streaming, no TTFT, or fewer than 2 tokens). */
export interface SloSample {
  readonly error: boolean;
  readonly stream: boolean;
  readonly latencyMs: number;
  readonly ttftMs: number | undefined;
  readonly itlMs: number | undefined;
}

/**
 * Whether an end is good for `slo`: not an error, and within every bound.
 * TTFT and ITL bounds apply to streaming requests only; a stream without
 * `ttft_ms` fails them; a stream with a TTFT but fewer than two tokens has
 * no gap between tokens, so an ITL bound holds for it.
 */
export function meetsSlo(slo: Slo, s: SloSample): boolean {
  if (s.error) return false;
  const { latency_ms, ttft_ms, itl_ms } = slo.bounds;
  if (latency_ms !== undefined && s.latencyMs > latency_ms) return false;
  if (!s.stream) return true;
  if ((ttft_ms !== undefined || itl_ms !== undefined) && s.ttftMs === undefined) return false;
  if (ttft_ms !== undefined && s.ttftMs! > ttft_ms) return false;
  if (itl_ms !== undefined && s.itlMs !== undefined && s.itlMs > itl_ms) return false;
  return true;
}
