/**
 * The alert rules file, PULSE_ALERT_RULES (docs/PROTOCOL.md §8): a YAML or
 * JSON file of receivers and rules. Parsed once at start and validated
 * whole: every problem is collected, each naming the rule (or receiver) and
 * the field, and thrown together as one AlertRulesError — an operator fixes
 * the file in one pass instead of one restart per typo. Unknown keys are
 * problems too: a misspelt `keep_firing_for` must not silently mean 0s.
 * The result is frozen.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from './duration.js';
import { BASE_FIGURES, isFigure, sloOf, type Figure } from './figures.js';

export const OPS = ['>', '>=', '<', '<='] as const;
export type Op = (typeof OPS)[number];

/** The labels a rule may filter and group by, as subscribe's filters (§5). */
export const GROUP_LABELS = ['endpoint', 'model', 'node'] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

/** How a receiver is POSTed to: Alertmanager's webhook body, or a Slack incoming webhook's `{"text"}`. */
export const RECEIVER_FORMATS = ['alertmanager', 'slack'] as const;
export type ReceiverFormat = (typeof RECEIVER_FORMATS)[number];

export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;

export interface Receiver {
  readonly name: string;
  /** An http(s) URL, POSTed to. */
  readonly url: string;
  /** Sent with every POST (e.g. Authorization). */
  readonly headers: Readonly<Record<string, string>>;
  /** Default true: a resolution is notified too. */
  readonly sendResolved: boolean;
  /** Default 4h: a firing alert is notified again this often. */
  readonly repeatIntervalMs: number;
  /** Default alertmanager. */
  readonly format: ReceiverFormat;
}

/** A rule's filters, in the shape of a view filter (absent: every value). */
export interface RuleFilters {
  readonly endpoints?: readonly string[];
  readonly models?: readonly string[];
  readonly nodes?: readonly string[];
}

export interface AlertRule {
  /** `[A-Za-z0-9_]+`, unique; the alert's `alertname` label. */
  readonly name: string;
  readonly figure: Figure;
  readonly op: Op;
  readonly value: number;
  /** Default 0: pending this long before firing. */
  readonly forMs: number;
  /** Default 0: a firing alert keeps firing this long after its condition stopped holding. */
  readonly keepFiringForMs: number;
  readonly filters: RuleFilters;
  /** One alert per value set of these labels; empty: one alert for the rule. */
  readonly groupBy: readonly GroupLabel[];
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Names of receivers of the file; empty: the alert is listed (GET /v1/alerts) but notifies no one. */
  readonly receivers: readonly string[];
}

export interface AlertRules {
  readonly receivers: readonly Receiver[];
  readonly rules: readonly AlertRule[];
}

export type RulesFormat = 'yaml' | 'json';

export interface ParseRulesOptions {
  /** The SLO names of PULSE_SLOS: when given, an `slo_attainment_pct:` figure must name one of them. */
  readonly slos?: readonly string[];
}

/** Every problem of a rules file, one line each. */
export class AlertRulesError extends Error {
  override readonly name = 'AlertRulesError';
  constructor(
    readonly problems: readonly string[],
    source = 'alert rules',
  ) {
    super(`${source}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n- ${problems.join('\n- ')}`);
  }
}

/** `a > b` with the rule's operator. */
export function holds(op: Op, figure: number, value: number): boolean {
  switch (op) {
    case '>':
      return figure > value;
    case '>=':
      return figure >= value;
    case '<':
      return figure < value;
    case '<=':
      return figure <= value;
  }
}

/** Reads and parses the file at `path`: `.json` as JSON, anything else as YAML. */
export async function loadAlertRules(path: string, options: ParseRulesOptions = {}): Promise<AlertRules> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AlertRulesError([`cannot read the file: ${(err as Error).message}`], `PULSE_ALERT_RULES ${path}`);
  }
  return parseAlertRules(text, path.toLowerCase().endsWith('.json') ? 'json' : 'yaml', options, `PULSE_ALERT_RULES ${path}`);
}

export function parseAlertRules(text: string, format: RulesFormat, options: ParseRulesOptions = {}, source = 'alert rules'): AlertRules {
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new AlertRulesError([`not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`], source);
  }
  const problems: string[] = [];
  const rules = validate(doc, options, problems);
  if (problems.length > 0) throw new AlertRulesError(problems, source);
  return rules;
}

// ---- validation ----

type Problem = (field: string, message: string) => void;

const RULE_NAME = /^[A-Za-z0-9_]+$/;
/** Like SLO names: receiver names key maps in stored alert state, so no spaces or surprises. */
const RECEIVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by Pulse on every POST: a receiver may not override them. */
const RESERVED_HEADERS = new Set(['idempotency-key', 'content-type', 'content-length', 'host']);

function validate(doc: unknown, options: ParseRulesOptions, problems: string[]): AlertRules {
  if (!isRecord(doc)) {
    problems.push('the file must hold a mapping with "receivers" and "rules"');
    return { receivers: [], rules: [] };
  }
  unknownKeys(doc, ['receivers', 'rules'], (field, message) => problems.push(`field "${field}": ${message}`));

  const receivers: Receiver[] = [];
  const receiverNamesSeen = new Set<string>();
  for (const [i, raw] of listOf(doc.receivers, 'receivers', problems).entries()) {
    const name = isRecord(raw) && typeof raw.name === 'string' && raw.name !== '' ? raw.name : null;
    const subject = `receiver ${name !== null ? JSON.stringify(name) : `#${i + 1}`}`;
    const receiver = validateReceiver(raw, (field, message) => problems.push(`${subject}: field "${field}": ${message}`));
    // A name is taken even by a receiver with problems: its second use is a problem of its own.
    if (name !== null && receiverNamesSeen.has(name)) problems.push(`${subject}: field "name": used by another receiver`);
    else if (receiver) receivers.push(receiver);
    if (name !== null) receiverNamesSeen.add(name);
  }

  const rules: AlertRule[] = [];
  // A receiver that has problems of its own still exists for the rules: one problem, reported once.
  const receiverNames = receiverNamesSeen;
  const ruleNames = new Set<string>();
  for (const [i, raw] of listOf(doc.rules, 'rules', problems).entries()) {
    const name = isRecord(raw) && typeof raw.name === 'string' && raw.name !== '' ? raw.name : null;
    const subject = `rule ${name !== null ? JSON.stringify(name) : `#${i + 1}`}`;
    const problem: Problem = (field, message) => problems.push(`${subject}: field "${field}": ${message}`);
    const rule = validateRule(raw, problem, receiverNames, options);
    if (name !== null && ruleNames.has(name)) problem('name', 'used by another rule');
    else if (rule) rules.push(rule);
    if (name !== null) ruleNames.add(name);
  }
  return deepFreeze({ receivers, rules });
}

function listOf(value: unknown, field: string, problems: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`field "${field}": must be a list`);
    return [];
  }
  return value;
}

function validateReceiver(raw: unknown, problem: Problem): Receiver | null {
  if (!isRecord(raw)) {
    problem('-', 'a receiver must be a mapping');
    return null;
  }
  const before = problemCounter(problem);
  const p = before.problem;
  unknownKeys(raw, ['name', 'url', 'headers', 'send_resolved', 'repeat_interval', 'format'], p);

  const name = raw.name;
  if (typeof name !== 'string' || !RECEIVER_NAME.test(name) || name === '__proto__') p('name', 'required: 1 to 64 letters, digits, _ . or -');

  let url = '';
  if (typeof raw.url !== 'string') p('url', 'required, an http(s) URL');
  else {
    url = raw.url;
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) p('url', `must be an http(s) URL, not ${JSON.stringify(url)}`);
  }

  const headers: Record<string, string> = {};
  if (raw.headers !== undefined && raw.headers !== null) {
    if (!isRecord(raw.headers)) p('headers', 'must be a mapping of header name to text');
    else
      for (const [key, value] of Object.entries(raw.headers)) {
        if (!HEADER_NAME.test(key)) p('headers', `${JSON.stringify(key)} is not a header name`);
        else if (RESERVED_HEADERS.has(key.toLowerCase())) p('headers', `${key} is set by Pulse`);
        else if (typeof value !== 'string' || /[\r\n]/.test(value)) p('headers', `${key}: the value must be text on one line`);
        else headers[key] = value;
      }
  }

  let sendResolved = true;
  if (raw.send_resolved !== undefined) {
    if (typeof raw.send_resolved !== 'boolean') p('send_resolved', 'must be true or false');
    else sendResolved = raw.send_resolved;
  }

  const repeatIntervalMs = durationField(raw, 'repeat_interval', DEFAULT_REPEAT_INTERVAL_MS, p);
  if (repeatIntervalMs !== null && repeatIntervalMs <= 0) p('repeat_interval', 'must be longer than 0');

  let format: ReceiverFormat = 'alertmanager';
  if (raw.format !== undefined) {
    if (!(RECEIVER_FORMATS as readonly unknown[]).includes(raw.format)) p('format', `must be one of ${RECEIVER_FORMATS.join(', ')}`);
    else format = raw.format as ReceiverFormat;
  }

  if (before.count() > 0) return null;
  return { name: name as string, url, headers, sendResolved, repeatIntervalMs: repeatIntervalMs as number, format };
}

function validateRule(raw: unknown, problem: Problem, receiverNames: ReadonlySet<string>, options: ParseRulesOptions): AlertRule | null {
  if (!isRecord(raw)) {
    problem('-', 'a rule must be a mapping');
    return null;
  }
  const before = problemCounter(problem);
  const p = before.problem;
  unknownKeys(
    raw,
    ['name', 'figure', 'op', 'value', 'for', 'keep_firing_for', 'filters', 'group_by', 'labels', 'annotations', 'receivers'],
    p,
  );

  if (typeof raw.name !== 'string' || !RULE_NAME.test(raw.name)) p('name', 'required: letters, digits and _ ([A-Za-z0-9_]+)');

  if (typeof raw.figure !== 'string' || !isFigure(raw.figure)) {
    p('figure', `must be one of ${BASE_FIGURES.join(', ')} or slo_attainment_pct:<slo name>`);
  } else {
    const slo = sloOf(raw.figure);
    if (slo !== null && options.slos && !options.slos.includes(slo)) p('figure', `no SLO named ${JSON.stringify(slo)} in PULSE_SLOS`);
  }

  if (typeof raw.op !== 'string' || !(OPS as readonly string[]).includes(raw.op)) {
    // A bare `op: >` is a YAML block scalar, not the text ">".
    p('op', `must be one of ${OPS.join(' ')} (quote it in YAML: op: ">")`);
  }

  if (typeof raw.value !== 'number' || !Number.isFinite(raw.value)) p('value', 'required, a number');

  const forMs = durationField(raw, 'for', 0, p);
  const keepFiringForMs = durationField(raw, 'keep_firing_for', 0, p);

  const filters: { endpoints?: string[]; models?: string[]; nodes?: string[] } = {};
  if (raw.filters !== undefined && raw.filters !== null) {
    if (!isRecord(raw.filters)) p('filters', 'must be a mapping of endpoint, model or node to a string or a list of strings');
    else {
      unknownKeys(raw.filters, GROUP_LABELS, (field, message) => p(`filters.${field}`, message));
      for (const label of GROUP_LABELS) {
        const value = raw.filters[label];
        if (value === undefined) continue;
        const list = typeof value === 'string' ? [value] : value;
        if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v !== '')) {
          p(`filters.${label}`, 'must be a non-empty string or a non-empty list of them');
        } else filters[`${label}s`] = [...new Set(list as string[])];
      }
    }
  }

  const groupBy: GroupLabel[] = [];
  if (raw.group_by !== undefined && raw.group_by !== null) {
    if (!Array.isArray(raw.group_by)) p('group_by', `must be a list of ${GROUP_LABELS.join(', ')}`);
    else
      for (const label of raw.group_by) {
        if (!(GROUP_LABELS as readonly unknown[]).includes(label)) p('group_by', `${JSON.stringify(label)} is not one of ${GROUP_LABELS.join(', ')}`);
        else if (groupBy.includes(label as GroupLabel)) p('group_by', `${label} is listed twice`);
        else groupBy.push(label as GroupLabel);
      }
  }

  const labels = textMap(raw, 'labels', p, (key) => {
    if (key === 'alertname') return 'alertname is the rule name';
    if ((groupBy as string[]).includes(key)) return `${key} is a group_by label: its value comes from the group`;
    return null;
  });
  const annotations = textMap(raw, 'annotations', p, (key) => (key === 'value' ? 'value is set by Pulse to the figure' : null));

  const receivers: string[] = [];
  if (raw.receivers !== undefined && raw.receivers !== null) {
    if (!Array.isArray(raw.receivers)) p('receivers', 'must be a list of receiver names');
    else
      for (const name of raw.receivers) {
        if (typeof name !== 'string' || !receiverNames.has(name)) p('receivers', `no receiver named ${JSON.stringify(name)}`);
        else if (!receivers.includes(name)) receivers.push(name);
      }
  }

  if (before.count() > 0) return null;
  return {
    name: raw.name as string,
    figure: raw.figure as Figure,
    op: raw.op as Op,
    value: raw.value as number,
    forMs: forMs as number,
    keepFiringForMs: keepFiringForMs as number,
    filters,
    groupBy,
    labels,
    annotations,
    receivers,
  };
}

function durationField(raw: Record<string, unknown>, field: string, fallback: number, p: Problem): number | null {
  const value = raw[field];
  if (value === undefined || value === null) return fallback;
  const ms = typeof value === 'string' ? parseDuration(value) : null;
  if (ms === null) p(field, 'must be a duration such as 500ms, 10s, 5m or 4h');
  return ms;
}

/** A mapping of label-like names to text; `reserved` says why a name may not be used. */
function textMap(raw: Record<string, unknown>, field: string, p: Problem, reserved: (key: string) => string | null): Record<string, string> {
  const out: Record<string, string> = {};
  const value = raw[field];
  if (value === undefined || value === null) return out;
  if (!isRecord(value)) {
    p(field, 'must be a mapping of name to text');
    return out;
  }
  for (const [key, text] of Object.entries(value)) {
    const why = reserved(key);
    if (!LABEL_NAME.test(key) || key.startsWith('__')) p(field, `${JSON.stringify(key)} is not a name ([A-Za-z_][A-Za-z0-9_]*, not starting with __)`);
    else if (why) p(field, why);
    else if (typeof text !== 'string') p(field, `${key}: the value must be text (quote it)`);
    else out[key] = text;
  }
  return out;
}

function unknownKeys(raw: Record<string, unknown>, known: readonly string[], p: Problem): void {
  for (const key of Object.keys(raw)) if (!known.includes(key)) p(key, `unknown (expected one of ${known.join(', ')})`);
}

function problemCounter(problem: Problem): { problem: Problem; count(): number } {
  let n = 0;
  return {
    problem: (field, message) => {
      n += 1;
      problem(field, message);
    },
    count: () => n,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
