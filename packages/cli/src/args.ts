/**
 * The command line of `pulse` (`watch`, `alerts`, `alerts retry`), parsed
 * into what to do or a usage error. Pure: main.ts prints and exits.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SLO_TARGETS, parseSloTargets, type SloTargets, type SubscribeFilters } from '@pulse/client';
import { METRIC_TYPES, isMetricType, type MetricType } from '@pulse/protocol/snapshot-data';
import { parseRunsCommand, RUNS_HELP, RUNS_USAGE, type RunsCommand } from './runs-args.js';

export const USAGE = `usage: pulse watch <ws-url> [options]
       pulse alerts <url> [--json]
       pulse alerts retry <url> <id>
${RUNS_USAGE}

watch: Pulse's live metrics, a table refreshed in place, or the raw messages.

  <ws-url>               the stream, e.g. ws://localhost:8000/metrics/stream
                         (a bare http://host:port or host:port gets /metrics/stream)
  --endpoint <path>      only this endpoint (repeatable)
  --model <name>         only this model (repeatable)
  --node <name>          only this node's events (repeatable)
  --metric <type>        only this metric type (repeatable): ${METRIC_TYPES.join(', ')}
  --interval <seconds>   seconds between updates (default 1)
  --slo-target <pct>     the attainment each SLO should reach (default ${DEFAULT_SLO_TARGETS.all} %);
                         name:pct for one SLO, e.g. 95,interactive:99.9
  --json                 print every message as one JSON line instead of the table
  --count <n>            exit after n metrics updates
  -h, --help             this help

alerts: the active alerts (pending and firing) and the notifications that
failed for good, as tables, or as one JSON line with --json; \`alerts retry\`
sends a failed one again (its id is the first column). Needs a Pulse with
PULSE_ALERT_RULES; <url> is the same as watch's (ws://, http:// or host:port).

${RUNS_HELP}

A Pulse with read tokens (docs/SECURITY.md) wants one: set PULSE_TOKEN (an
environment variable rather than an option, so it stays out of \`ps\`).`;

export interface WatchCommand {
  kind: 'watch';
  url: string;
  filters: SubscribeFilters;
  json: boolean;
  /** What each SLO's attainment is judged against in the table. */
  sloTargets: SloTargets;
  /** Stop after this many metrics_update messages; undefined: run until interrupted. */
  count?: number;
  /** Read token, from PULSE_TOKEN (main.ts); sent as an Authorization header. */
  token?: string;
}

/** `pulse alerts <url>`: GET /v1/alerts and /v1/alerts/deliveries?state=failed. */
export interface AlertsCommand {
  kind: 'alerts';
  /** The gateway's HTTP base, without a trailing slash: `http://h:8000`. */
  url: string;
  json: boolean;
  /** Read token, from PULSE_TOKEN (main.ts). */
  token?: string;
}

/** `pulse alerts retry <url> <id>`: POST /v1/alerts/deliveries/{id}/retry. */
export interface RetryCommand {
  kind: 'alerts-retry';
  url: string;
  id: string;
  token?: string;
}

export type Command = WatchCommand | AlertsCommand | RetryCommand | RunsCommand | { kind: 'help' } | { kind: 'error'; message: string };

/** Options that only mean something to watch. */
const WATCH_OPTIONS = ['endpoint', 'model', 'node', 'metric', 'interval', 'slo-target', 'count'] as const;

export function parseCommand(argv: readonly string[]): Command {
  // Runs have options of their own (runs-args.ts).
  if (argv[0] === 'run' || argv[0] === 'annotate') return parseRunsCommand(argv, httpBase);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        endpoint: { type: 'string', multiple: true },
        model: { type: 'string', multiple: true },
        node: { type: 'string', multiple: true },
        metric: { type: 'string', multiple: true },
        interval: { type: 'string' },
        'slo-target': { type: 'string' },
        json: { type: 'boolean', default: false },
        count: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, url, ...extra] = positionals;
  if (command === 'alerts') return parseAlerts(positionals.slice(1), values);
  if (command !== 'watch') return { kind: 'error', message: command ? `unknown command: ${command}` : 'missing command: watch, alerts, run or annotate' };
  if (!url) return { kind: 'error', message: 'missing <ws-url>' };
  if (extra.length > 0) return { kind: 'error', message: `unexpected argument: ${extra[0]}` };

  const filters: SubscribeFilters = {};
  if (values.endpoint) filters.endpoints = values.endpoint;
  if (values.model) filters.models = values.model;
  if (values.node) filters.nodes = values.node;
  if (values.metric) {
    const bad = values.metric.find((m) => m !== 'all' && !isMetricType(m));
    if (bad) return { kind: 'error', message: `--metric: unknown type ${bad} (expected one of ${METRIC_TYPES.join(', ')})` };
    filters.metric_types = values.metric as (MetricType | 'all')[];
  }
  if (values.interval !== undefined) {
    const interval = Number(values.interval);
    if (!Number.isFinite(interval) || interval <= 0) return { kind: 'error', message: `--interval: not a positive number of seconds: ${values.interval}` };
    filters.interval = interval;
  }
  let sloTargets: SloTargets;
  try {
    sloTargets = parseSloTargets(values['slo-target']);
  } catch (err) {
    return { kind: 'error', message: `--slo-target: ${(err as Error).message}` };
  }
  let count: number | undefined;
  if (values.count !== undefined) {
    count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) return { kind: 'error', message: `--count: not a positive whole number: ${values.count}` };
  }
  const stream = streamUrl(url);
  if (stream === null) return { kind: 'error', message: `not a WebSocket URL: ${url}` };
  return { kind: 'watch', url: stream, filters, json: values.json, sloTargets, ...(count !== undefined ? { count } : {}) };
}

/** `ws://h:p/metrics/stream` as given; `http://h:p`, `h:p` or a URL without a path get the stream path. */
export function streamUrl(input: string): string | null {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(input) ? input : `ws://${input}`);
  } catch {
    return null;
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return null;
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics/stream';
  return url.toString();
}

/** `alerts <url>` or `alerts retry <url> <id>`; watch's filters are refused rather than ignored. */
function parseAlerts(args: readonly string[], values: Partial<Record<(typeof WATCH_OPTIONS)[number], unknown>> & { json?: boolean }): Command {
  const given = WATCH_OPTIONS.find((o) => values[o] !== undefined);
  if (given) return { kind: 'error', message: `--${given} is an option of watch, not alerts` };
  const retry = args[0] === 'retry';
  const [url, ...rest] = retry ? args.slice(1) : args;
  if (!url) return { kind: 'error', message: 'missing <url>' };
  const base = httpBase(url);
  if (base === null) return { kind: 'error', message: `not a Pulse URL: ${url}` };
  if (!retry) {
    if (rest.length > 0) return { kind: 'error', message: `unexpected argument: ${rest[0]}` };
    return { kind: 'alerts', url: base, json: values.json ?? false };
  }
  const [id, ...extra] = rest;
  if (!id) return { kind: 'error', message: 'missing <id> (the first column of pulse alerts)' };
  if (extra.length > 0) return { kind: 'error', message: `unexpected argument: ${extra[0]}` };
  if (values.json) return { kind: 'error', message: '--json is an option of alerts, not alerts retry' };
  return { kind: 'alerts-retry', url: base, id };
}

/**
 * The gateway's HTTP base for its REST routes, from anything watch accepts:
 * `ws://h:1/metrics/stream`, `https://h`, `h:1` → `http://h:1`, `https://h`.
 * A gateway mounted under a prefix keeps it.
 */
export function httpBase(input: string): string | null {
  const stream = streamUrl(input);
  if (stream === null) return null;
  const url = new URL(stream);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/metrics\/stream$/, '');
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/$/, '');
}
