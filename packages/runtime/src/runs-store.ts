/**
 * Runs and annotations (docs/PROTOCOL.md "Runs"): a run is a named, labelled
 * span of time — a load test — started and stopped over REST; an annotation
 * is a line of text at a point in time, maybe of a run. Every gateway of a
 * deployment reads and writes the same ones: in Redis (runs-store.redis.ts),
 * or in process for `npm start` without Redis (runs-store.memory.ts). Both
 * keep at most `maxRuns` runs and `maxAnnotations` annotations, dropping the
 * oldest. Times are seconds since the epoch, like every timestamp of the API.
 */

export interface Run {
  id: string;
  name: string;
  labels: Record<string, string>;
  started_at: number;
  /** Absent while the run is going on. */
  stopped_at?: number;
}

export interface Annotation {
  id: string;
  timestamp: number;
  text: string;
  /** The run it belongs to, when it was given one. */
  run_id?: string;
}

export interface RunInput {
  name: string;
  labels: Record<string, string>;
}

export interface AnnotationInput {
  text: string;
  timestamp: number;
  run_id?: string;
}

export type StopResult = { kind: 'stopped'; run: Run } | { kind: 'already_stopped'; run: Run } | { kind: 'not_found' };

export interface RunsStore {
  /** Starts a run at `now` (seconds); the oldest run goes when more than the cap are kept. */
  startRun(input: RunInput, now: number): Promise<Run>;
  /** Stops a run at `now` unless it is stopped already. */
  stopRun(id: string, now: number): Promise<StopResult>;
  getRun(id: string): Promise<Run | null>;
  /** Every run kept, the newest first. */
  listRuns(): Promise<Run[]>;
  /** Adds an annotation; the one with the oldest timestamp goes when more than the cap are kept. */
  addAnnotation(input: AnnotationInput): Promise<Annotation>;
  /** The annotations with `since` ≤ timestamp ≤ `until`, oldest first. */
  listAnnotations(since: number, until: number): Promise<Annotation[]>;
}

/** What a store keeps at most; the oldest goes first beyond it. */
export interface RunsLimits {
  maxRuns: number;
  maxAnnotations: number;
}

export const DEFAULT_RUNS_LIMITS: RunsLimits = { maxRuns: 1000, maxAnnotations: 10_000 };

/** The bounds on what a client may write (docs/PROTOCOL.md "Runs"). */
export const RUN_LIMITS = {
  nameLength: 128,
  labels: 32,
  labelKeyLength: 64,
  labelValueLength: 256,
  textLength: 1024,
  idLength: 64,
} as const;

/** Why a body was refused: the field at fault and what is wrong with it. */
export class RunInputError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'RunInputError';
  }
}

const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(body: Record<string, unknown>, known: readonly string[]): void {
  const extra = Object.keys(body).find((k) => !known.includes(k));
  if (extra !== undefined) throw new RunInputError(extra.slice(0, 64), `unknown field (expected ${known.join(', ')})`);
}

function text(body: Record<string, unknown>, field: string, max: number): string {
  const value = body[field];
  if (typeof value !== 'string') throw new RunInputError(field, value === undefined ? 'is required' : 'must be a string');
  if (value.trim() === '') throw new RunInputError(field, 'must not be empty');
  if (value.length > max) throw new RunInputError(field, `longer than ${max} characters`);
  return value;
}

/** `{"name", "labels"?}` of `POST /v1/runs`, or RunInputError naming the field. */
export function parseRunInput(body: unknown): RunInput {
  if (!isObject(body)) throw new RunInputError('body', 'must be a JSON object');
  unknownFields(body, ['name', 'labels']);
  const name = text(body, 'name', RUN_LIMITS.nameLength);
  // Collected as entries: a label named `__proto__` is a label like any other, not the object's prototype.
  const labels: [string, string][] = [];
  if (body.labels !== undefined) {
    if (!isObject(body.labels)) throw new RunInputError('labels', 'must be an object of strings');
    const entries = Object.entries(body.labels);
    if (entries.length > RUN_LIMITS.labels) throw new RunInputError('labels', `more than ${RUN_LIMITS.labels} labels`);
    for (const [key, value] of entries) {
      if (key.length > RUN_LIMITS.labelKeyLength) throw new RunInputError('labels', `a name is longer than ${RUN_LIMITS.labelKeyLength} characters`);
      const field = `labels.${key}`;
      if (!LABEL_KEY.test(key)) throw new RunInputError(field, 'a label name is letters, digits, _ . - and starts with a letter or _');
      if (typeof value !== 'string') throw new RunInputError(field, 'must be a string');
      if (value.length > RUN_LIMITS.labelValueLength) throw new RunInputError(field, `longer than ${RUN_LIMITS.labelValueLength} characters`);
      labels.push([key, value]);
    }
  }
  return { name, labels: Object.fromEntries(labels) };
}

/** `{"text", "timestamp"?, "run_id"?}` of `POST /v1/annotations`; `now` when no timestamp is given. */
export function parseAnnotationInput(body: unknown, now: number): AnnotationInput {
  if (!isObject(body)) throw new RunInputError('body', 'must be a JSON object');
  unknownFields(body, ['text', 'timestamp', 'run_id']);
  const value = text(body, 'text', RUN_LIMITS.textLength);
  let timestamp = now;
  if (body.timestamp !== undefined) {
    if (typeof body.timestamp !== 'number' || !Number.isFinite(body.timestamp) || body.timestamp < 0 || body.timestamp > 1e11) {
      throw new RunInputError('timestamp', 'must be seconds since the epoch (a number ≥ 0)');
    }
    timestamp = body.timestamp;
  }
  const input: AnnotationInput = { text: value, timestamp };
  if (body.run_id !== undefined) input.run_id = text(body, 'run_id', RUN_LIMITS.idLength);
  return input;
}

/** A run as stored (without `stopped_at`) and its stop time, as one Run. */
export function withStop(run: Run, stoppedAt: number | null | undefined): Run {
  return stoppedAt === null || stoppedAt === undefined ? run : { ...run, stopped_at: stoppedAt };
}

export const RUN_ID_PREFIX = 'run-';
export const ANNOTATION_ID_PREFIX = 'ann-';
/** The id of the n-th run (from 1). */
export const runId = (n: number): string => `${RUN_ID_PREFIX}${n}`;
/** The id of the n-th annotation (from 1). */
export const annotationId = (n: number): string => `${ANNOTATION_ID_PREFIX}${n}`;
