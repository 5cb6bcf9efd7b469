/**
 * The command lines of `pulse run start|stop|list|export` and `pulse
 * annotate` (docs/PROTOCOL.md "Runs"), parsed into what to do or a usage
 * error. `<url>` is the same as watch's and alerts' (ws://, http:// or
 * host:port of a gateway or `npm start`). Pure: main.ts runs them.
 */
import { parseArgs } from 'node:util';
import { METRIC_TYPES, isMetricType } from '@pulse/protocol/snapshot-data';

export const RUNS_USAGE = `       pulse run start <url> <name> [--label key=value]… [--json]
       pulse run stop <url> <id> [--json]
       pulse run list <url> [--json]
       pulse run export <url> <id> [--format csv|jsonl] [--step <s>] [--endpoint …] [--model …] [--node …] [--metric …]
       pulse annotate <url> <text> [--run <id>] [--json]`;

export const RUNS_HELP = `run: record a load test as a named run. \`start\` prints the new run's id,
\`stop\` ends it, \`list\` shows the runs (the newest first), \`export\` writes the
run's figures to stdout, as CSV (default) or JSON lines, one point per --step
(seconds, or 500ms, 5s, 1m, 1h; default: history's finest for the run's
length), filtered like watch. annotate: a note on the charts, now, of a run
with --run. --json prints the reply as one JSON line.

Writing (start, stop, annotate) takes a write token when Pulse has
PULSE_WRITE_TOKENS: set PULSE_WRITE_TOKEN (PULSE_TOKEN is sent when it is unset).`;

export type RunsCommand =
  | { kind: 'run-start'; url: string; name: string; labels: Record<string, string>; json: boolean }
  | { kind: 'run-stop'; url: string; id: string; json: boolean }
  | { kind: 'run-list'; url: string; json: boolean }
  | { kind: 'run-export'; url: string; id: string; query: string }
  | { kind: 'annotate'; url: string; text: string; runId?: string; json: boolean };

type Parsed = RunsCommand | { kind: 'help' } | { kind: 'error'; message: string };

/** Which options each command takes: anything else is refused, not ignored. */
const ALLOWED: Record<RunsCommand['kind'], readonly string[]> = {
  'run-start': ['label', 'json'],
  'run-stop': ['json'],
  'run-list': ['json'],
  'run-export': ['format', 'step', 'endpoint', 'model', 'node', 'metric'],
  annotate: ['run', 'json'],
};

/** `argv` from the command on: `run …` or `annotate …`; `httpBase` makes a REST base of a `<url>` (args.ts). */
export function parseRunsCommand(argv: readonly string[], httpBase: (url: string) => string | null): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        label: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        format: { type: 'string' },
        step: { type: 'string' },
        endpoint: { type: 'string', multiple: true },
        model: { type: 'string', multiple: true },
        node: { type: 'string', multiple: true },
        metric: { type: 'string', multiple: true },
        run: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, ...rest] = positionals;
  let sub: string | undefined;
  let args: string[];
  let kind: RunsCommand['kind'];
  if (command === 'annotate') {
    kind = 'annotate';
    args = rest;
  } else {
    [sub, ...args] = rest;
    const kinds: Record<string, RunsCommand['kind']> = { start: 'run-start', stop: 'run-stop', list: 'run-list', export: 'run-export' };
    if (sub === undefined || !Object.hasOwn(kinds, sub)) return { kind: 'error', message: sub ? `unknown run command: ${sub} (start, stop, list or export)` : 'missing run command: start, stop, list or export' };
    kind = kinds[sub]!;
  }
  const label = kind === 'annotate' ? 'annotate' : `run ${sub}`;
  const given = Object.keys(values).find((o) => !ALLOWED[kind].includes(o));
  if (given !== undefined) return { kind: 'error', message: `--${given} is not an option of ${label}` };

  const [rawUrl, ...operands] = args;
  if (!rawUrl) return { kind: 'error', message: 'missing <url>' };
  const url = httpBase(rawUrl);
  if (url === null) return { kind: 'error', message: `not a Pulse URL: ${rawUrl}` };
  const want = kind === 'run-list' ? 0 : 1;
  const what = kind === 'run-start' ? '<name>' : kind === 'annotate' ? '<text>' : '<id>';
  if (operands.length < want) return { kind: 'error', message: `missing ${what}` };
  if (operands.length > want) return { kind: 'error', message: `unexpected argument: ${operands[want]}${kind === 'annotate' ? ' (quote the text)' : ''}` };
  const operand = operands[0] ?? '';
  const json = values.json ?? false;

  switch (kind) {
    case 'run-start': {
      const labels: Record<string, string> = {};
      for (const pair of values.label ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) return { kind: 'error', message: `--label: not key=value: ${pair}` };
        labels[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return { kind, url, name: operand, labels, json };
    }
    case 'run-stop':
      return { kind, url, id: operand, json };
    case 'run-list':
      return { kind, url, json };
    case 'annotate':
      return { kind, url, text: operand, ...(values.run !== undefined && { runId: values.run }), json };
    case 'run-export': {
      const query = new URLSearchParams();
      if (values.format !== undefined) {
        if (values.format !== 'csv' && values.format !== 'jsonl') return { kind: 'error', message: `--format: csv or jsonl, not ${values.format}` };
        query.set('format', values.format);
      }
      if (values.step !== undefined) query.set('step', values.step);
      for (const e of values.endpoint ?? []) query.append('endpoint', e);
      for (const m of values.model ?? []) query.append('model', m);
      for (const n of values.node ?? []) query.append('node', n);
      for (const t of values.metric ?? []) {
        if (t !== 'all' && !isMetricType(t)) return { kind: 'error', message: `--metric: unknown type ${t} (expected one of ${METRIC_TYPES.join(', ')})` };
        query.append('metric_type', t);
      }
      return { kind, url, id: operand, query: query.toString() };
    }
  }
}
