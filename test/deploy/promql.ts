/**
 * What the monitoring files may query: the series of GET /metrics/prometheus
 * (CONTRACT §9, docs/PROTOCOL.md), and the PromQL reading the dashboard's
 * queries needs — the metric names a query selects, and how it uses them.
 */

/** The route every gateway (and `npm start`) serves the cluster's figures on. */
export const PROMETHEUS_PATH = '/metrics/prometheus';

/** Each process's own metrics (README, "Running the services separately"). */
export const SELF_METRICS_PATH = '/metrics';

export type SeriesType = 'counter' | 'histogram' | 'gauge';

/** The metric families of GET /metrics/prometheus, by name, with their type. */
export const PULSE_SERIES: Readonly<Record<string, SeriesType>> = {
  pulse_requests_total: 'counter',
  pulse_responses_total: 'counter',
  pulse_request_errors_total: 'counter',
  pulse_prompt_tokens_total: 'counter',
  pulse_completion_tokens_total: 'counter',
  pulse_cache_lookups_total: 'counter',
  pulse_cache_hits_total: 'counter',
  pulse_request_duration_seconds: 'histogram',
  pulse_time_to_first_token_seconds: 'histogram',
  pulse_inter_token_latency_seconds: 'histogram',
  pulse_requests_in_flight: 'gauge',
  pulse_streams_active: 'gauge',
  // SLO attainment (0..1) per slo, endpoint and model.
  pulse_slo_attainment_ratio: 'gauge',
};

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** The family a selectable metric name belongs to (`x_bucket` → `x` for a histogram), or null when it is none of them. */
export function familyOf(name: string): { family: string; type: SeriesType } | null {
  const type = PULSE_SERIES[name];
  if (type && type !== 'histogram') return { family: name, type };
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const family = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && PULSE_SERIES[family] === 'histogram') return { family, type: 'histogram' };
  }
  return null;
}

/** Words that are not metric names where PromQL allows an identifier. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'start', 'end']);

/**
 * The metric names a PromQL expression selects: every identifier left once
 * strings, label matchers, ranges and grouping label lists are removed that is
 * not a function or aggregation (followed by `(`), a keyword, a number's
 * exponent or unit, or a Grafana variable (`$model`).
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = bare[m.index - 1] ?? ' ';
    const after = bare.slice(m.index + m[0].length);
    if (/[$0-9.A-Za-z_]/.test(before)) continue;
    if (/^\s*\(/.test(after)) continue;
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** The label lists of every `by (…)` in `expr`. */
export function groupings(expr: string): string[][] {
  return [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].map((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean));
}

/** The label matchers right after each selector of `name` in `expr` (`{a="b"}` → `a="b"`), '' for none. */
export function matchersOf(expr: string, name: string): string[] {
  return [...expr.matchAll(new RegExp(`(?<![A-Za-z0-9_:])${name}(?![A-Za-z0-9_:])(\\{[^}]*\\})?`, 'g'))].map((m) => (m[1] ?? '{}').slice(1, -1).trim());
}

/** How many times `name` is selected as the argument of `fn(…)`, directly. */
export function callsOn(expr: string, fn: string, name: string): number {
  return [...expr.matchAll(new RegExp(`\\b${fn}\\(\\s*${name}(?![A-Za-z0-9_:])`, 'g'))].length;
}
