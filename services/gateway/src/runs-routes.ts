/**
 * Runs and annotations over REST (docs/PROTOCOL.md "Runs"):
 *
 *   POST /v1/runs {"name","labels"?}        → 201 the run
 *   POST /v1/runs/{id}/stop                 → 200 the run; 409 stopped already; 404 unknown
 *   GET  /v1/runs                           → {"runs": [...]}, the newest first
 *   GET  /v1/runs/{id}                      → the run
 *   GET  /v1/runs/{id}/export?format=csv|jsonl&step=&endpoint=&model=&node=&metric_type=
 *   GET  /v1/runs/{id}/summary?endpoint=&model=&node=&metric_type= → the view's figures over the whole run
 *   POST /v1/annotations {"text","timestamp"?,"run_id"?} → 201 the annotation
 *   GET  /v1/annotations?since=&until=&run_id=           → {"annotations": [...]}
 *
 * Reads follow the `/metrics/*` rules (read token, origin: access.ts).
 * Writes need a write token (PULSE_WRITE_TOKENS, as ingest) in an
 * `Authorization: Bearer` header; a deployment without write tokens applies
 * the read rules to them instead, so one with only read tokens is not open
 * to writes. The runs live in the shared store (runs-store in @pulse/runtime);
 * exports read the durable history (@pulse/history).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HistoryQueryError, MAX_POINTS, type HistoryAnswer, type HistoryQuery, type HistoryReader } from '@pulse/history';
import type { CellFilter } from '@pulse/metrics';
import { ErrorCode, HTTP_STATUS, isMetricType, METRIC_TYPES, type MetricType } from '@pulse/protocol';
import {
  bearerChallenge,
  bearerToken,
  parseAnnotationInput,
  parseRunInput,
  RunInputError,
  sendError,
  sendJson,
  TokenSet,
  type LimitCounters,
  type Run,
  type RunsStore,
} from '@pulse/runtime';
import type { AccessPolicy, Refusal } from './access.js';
import { EXPORT_CONTENT_TYPES, EXPORT_FORMATS, toCsv, toJsonl, type ExportFormat } from './run-export.js';

export interface RunsApi {
  store: RunsStore;
  /** The durable history run exports read; without it, an export answers 503. */
  history?: HistoryReader;
  /** Points one history query may answer (history's MAX_POINTS): an export with a finer step asks several times. */
  pointsPerQuery?: number;
}

export interface RunsRouteDeps {
  access: AccessPolicy;
  /** PULSE_WRITE_TOKENS. */
  writeTokens: readonly string[];
  counters: LimitCounters;
  /** Wall clock, seconds since the epoch. */
  epochSeconds(): number;
}

/** Largest request body accepted, in bytes: a run's name and 32 labels fit many times over. */
export const MAX_RUNS_BODY_BYTES = 16 * 1024;

/** Most points one export may hold: beyond it, a coarser `step` is asked for. */
export const MAX_EXPORT_POINTS = 100_000;

const RUN = /^\/v1\/runs\/([^/]+)$/;
const STOP = /^\/v1\/runs\/([^/]+)\/stop$/;
const EXPORT = /^\/v1\/runs\/([^/]+)\/export$/;
const SUMMARY = /^\/v1\/runs\/([^/]+)\/summary$/;

/** A request refused with an ErrorCode: the reply says which. */
class Refused extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const badRequest = (message: string): Refused => new Refused(ErrorCode.INVALID_BODY, message);

type Reply = { status: number; body: unknown } | { status: number; text: string; type: string; headers: Record<string, string> };

interface Route {
  method: 'GET' | 'POST';
  answer(req: IncomingMessage, url: URL, id: string | undefined): Promise<Reply>;
}

/** Answers a runs or annotations route and returns true, or returns false for any other path. */
export function runsRoutes(api: RunsApi, deps: RunsRouteDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const writers = new TokenSet(deps.writeTokens);
  const { store } = api;

  const runOr404 = async (id: string): Promise<Run> => {
    const run = await store.getRun(id);
    if (!run) throw new Refused(ErrorCode.NOT_FOUND, `no run ${id}`);
    return run;
  };

  const routes = {
    list: { method: 'GET', answer: async () => ({ status: 200, body: { runs: await store.listRuns() } }) },
    start: {
      method: 'POST',
      answer: async (req) => {
        const input = parseRunInput(await readJson(req));
        const run = await store.startRun(input, deps.epochSeconds());
        return { status: 201, body: run };
      },
    },
    get: { method: 'GET', answer: async (_req, _url, id) => ({ status: 200, body: await runOr404(id!) }) },
    stop: {
      method: 'POST',
      answer: async (_req, _url, id) => {
        const result = await store.stopRun(id!, deps.epochSeconds());
        if (result.kind === 'not_found') throw new Refused(ErrorCode.NOT_FOUND, `no run ${id}`);
        if (result.kind === 'already_stopped') throw new Refused(ErrorCode.CONFLICT, `run ${id} was stopped already, at ${new Date(result.run.stopped_at! * 1000).toISOString()}`);
        return { status: 200, body: result.run };
      },
    },
    export: {
      method: 'GET',
      answer: async (_req, url, id) => {
        const run = await runOr404(id!);
        const q = exportQuery(url.searchParams);
        if (!api.history) throw new Refused(ErrorCode.STORE_UNAVAILABLE, 'this gateway has no history to export from');
        const since = run.started_at;
        const until = run.stopped_at ?? deps.epochSeconds();
        if (q.step !== undefined && (until - since) / q.step > MAX_EXPORT_POINTS) {
          throw badRequest(`step: ${q.step} s gives more than ${MAX_EXPORT_POINTS} points over the run's ${Math.round(until - since)} s; ask for a coarser one`);
        }
        // The CSV's figures read several types each (whether a view is empty: throughput, queue, nodes): ask for every
        // one — but the node table under a model filter, which only the finest tier keeps and the figures can do without.
        const csvTypes = q.filter.models.size > 0 ? METRIC_TYPES.filter((t) => t !== 'nodes') : METRIC_TYPES;
        const types = q.format === 'csv' ? csvTypes : [...q.types];
        const answer = await queryInParts(api.history, { since, until, ...(q.step !== undefined && { step: q.step }), filter: q.filter, types }, api.pointsPerQuery ?? MAX_POINTS);
        const text = q.format === 'csv' ? toCsv(answer.points, q.types) : toJsonl(answer.points);
        return {
          status: 200,
          text,
          type: EXPORT_CONTENT_TYPES[q.format],
          headers: { 'Content-Disposition': `attachment; filename="${id!.replace(/[^A-Za-z0-9_.-]/g, '_')}.${q.format}"`, 'X-Pulse-Step': String(answer.step) },
        };
      },
    },
    summary: {
      method: 'GET',
      answer: async (_req, url, id) => {
        const run = await runOr404(id!);
        const { filter, types } = viewQuery(url.searchParams);
        if (!api.history) throw new Refused(ErrorCode.STORE_UNAVAILABLE, 'this gateway has no history to summarize from');
        const since = run.started_at;
        const until = run.stopped_at ?? deps.epochSeconds();
        const summary = await api.history.summary({ since, until, filter, types: [...types] });
        return { status: 200, body: { run, ...(summary ?? { since, until, data: null }) } };
      },
    },
    annotate: {
      method: 'POST',
      answer: async (req) => {
        const input = parseAnnotationInput(await readJson(req), deps.epochSeconds());
        if (input.run_id !== undefined && !(await store.getRun(input.run_id))) throw badRequest(`run_id: no run ${input.run_id}`);
        return { status: 201, body: await store.addAnnotation(input) };
      },
    },
    annotations: {
      method: 'GET',
      answer: async (_req, url) => {
        const params = url.searchParams;
        const since = timeParam(params, 'since') ?? 0;
        const until = timeParam(params, 'until') ?? deps.epochSeconds();
        if (until < since) throw badRequest(`until: before since`);
        const runId = params.get('run_id');
        const all = await store.listAnnotations(since, until);
        return { status: 200, body: { annotations: runId === null ? all : all.filter((a) => a.run_id === runId) } };
      },
    },
  } satisfies Record<string, Route>;

  const match = (path: string, method: string | undefined): { route: Route; id?: string } | null => {
    if (path === '/v1/runs') return { route: method === 'POST' ? routes.start : routes.list };
    if (path === '/v1/annotations') return { route: method === 'POST' ? routes.annotate : routes.annotations };
    // The id routes: the method decides nothing here, the check below does.
    for (const [pattern, route] of [
      [STOP, routes.stop],
      [EXPORT, routes.export],
      [SUMMARY, routes.summary],
      [RUN, routes.get],
    ] as const) {
      const m = pattern.exec(path);
      if (m) return { route, id: decodeURIComponent(m[1]!) };
    }
    return null;
  };

  /** Null when `req` may write; else the refusal, counted. */
  const checkWrite = (req: IncomingMessage): Refusal | null => {
    const origin = deps.access.checkPreflight(req);
    if (origin) return origin;
    if (!writers.required) return deps.access.check(req);
    const presented = bearerToken(req.headers.authorization);
    if (writers.accepts(presented)) return null;
    deps.counters.hit('unauthorized');
    // The message never repeats what was presented: it may be a real token sent to the wrong place.
    const present = req.headers.authorization !== undefined;
    return {
      status: HTTP_STATUS[ErrorCode.UNAUTHORIZED],
      code: ErrorCode.UNAUTHORIZED,
      message: present ? 'the write token is not valid' : 'a write token is required: an Authorization: Bearer header with one of PULSE_WRITE_TOKENS',
      headers: { 'WWW-Authenticate': bearerChallenge(present) },
    };
  };

  return (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      return false;
    }
    const path = url.pathname;
    if (path !== '/v1/runs' && !path.startsWith('/v1/runs/') && path !== '/v1/annotations') return false;
    let found: { route: Route; id?: string } | null;
    try {
      found = match(path, req.method);
    } catch {
      found = null; // a malformed %-escape in the id
    }
    if (!found) {
      sendError(res, ErrorCode.NOT_FOUND, `no route for ${req.method} ${path}`);
      return true;
    }
    const collection = path === '/v1/runs' || path === '/v1/annotations';
    const allow = collection ? 'GET, HEAD, POST' : found.route.method === 'GET' ? 'GET, HEAD' : 'POST';
    if (req.method === 'OPTIONS') {
      const refusal = deps.access.checkPreflight(req);
      if (refusal) sendError(res, refusal.code, refusal.message);
      else {
        const cors = deps.access.corsHeaders(req, true);
        if (cors['Access-Control-Allow-Origin']) Object.assign(cors, { 'Access-Control-Allow-Methods': allow, 'Access-Control-Allow-Headers': 'Authorization, Content-Type' });
        res.writeHead(204, { ...cors, 'Cache-Control': 'no-store' });
        res.end();
      }
      return true;
    }
    // HEAD: a GET's status and headers without its body, as on every other route (docs/PROTOCOL.md §6.1).
    const headOnly = req.method === 'HEAD' && found.route.method === 'GET';
    if (req.method !== found.route.method && !headOnly) {
      sendError(res, ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${path}`, { Allow: allow });
      return true;
    }
    const cors = deps.access.corsHeaders(req);
    const refusal = found.route.method === 'POST' ? checkWrite(req) : deps.access.check(req);
    if (refusal) {
      sendError(res, refusal.code, refusal.message, { ...cors, ...refusal.headers }, headOnly);
      return true;
    }
    found.route.answer(req, url, found.id).then(
      (reply) => {
        if ('body' in reply) return sendJson(res, reply.status, reply.body, cors, headOnly);
        res.writeHead(reply.status, { ...cors, ...reply.headers, 'Content-Type': reply.type, 'Content-Length': Buffer.byteLength(reply.text), 'Cache-Control': 'no-store' });
        res.end(headOnly ? undefined : reply.text);
      },
      (err: unknown) => {
        if (err instanceof RunInputError) return sendError(res, ErrorCode.INVALID_BODY, err.message, cors, headOnly);
        // History names the parameter to change (a step that is no multiple of a tier's).
        if (err instanceof HistoryQueryError) return sendError(res, ErrorCode.INVALID_BODY, err.message, cors, headOnly);
        if (err instanceof Refused) return sendError(res, err.code, err.message, { ...cors, ...err.headers }, headOnly);
        // A fail-fast Redis connection refuses commands during an outage: a 503, to try again.
        sendError(res, ErrorCode.STORE_UNAVAILABLE, `could not answer ${path}: ${String(err)}`, cors, headOnly);
      },
    );
    return true;
  };
}

/**
 * The history of a run: one query, or with an explicit step finer than one
 * query may answer, one per `perQuery` points (history puts points at
 * multiples of the step, so the parts meet without a gap or an overlap).
 */
export async function queryInParts(history: HistoryReader, q: HistoryQuery, perQuery: number): Promise<HistoryAnswer> {
  if (q.step === undefined) return history.query(q);
  const stepMs = Math.round(q.step * 1000);
  const firstMs = Math.ceil(Math.round(q.since * 1000) / stepMs) * stepMs;
  const untilMs = Math.round(q.until * 1000);
  if ((untilMs - firstMs) / stepMs < perQuery) return history.query(q);
  const points: HistoryAnswer['points'] = [];
  let step = q.step;
  for (let fromMs = firstMs; fromMs <= untilMs; fromMs += perQuery * stepMs) {
    const toMs = Math.min(untilMs, fromMs + (perQuery - 1) * stepMs);
    const part = await history.query({ ...q, since: fromMs / 1000, until: toMs / 1000 });
    step = part.step;
    for (const p of part.points) if (points.length === 0 || p.timestamp > points[points.length - 1]!.timestamp) points.push(p);
  }
  return { step, points };
}

/** The request's body as JSON: at most MAX_RUNS_BODY_BYTES, JSON by its Content-Type when it has one; an empty body is `{}`. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/([a-z.+-]*\+)?json\s*(;|$)/i.test(type)) {
    req.resume();
    throw new Refused(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `the body must be JSON (Content-Type: application/json), not ${type.slice(0, 64)}`);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_RUNS_BODY_BYTES) {
    req.resume();
    throw new Refused(ErrorCode.BODY_TOO_LARGE, `the body is over ${MAX_RUNS_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RUNS_BODY_BYTES) throw new Refused(ErrorCode.BODY_TOO_LARGE, `the body is over ${MAX_RUNS_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('body: not valid JSON');
  }
}

/** A `since`/`until` query parameter: seconds since the epoch; undefined when absent. */
function timeParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw badRequest(`${name}: not seconds since the epoch: ${raw.slice(0, 64)}`);
  return value;
}

const STEP = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const STEP_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** `step` of an export: seconds, or a number with a unit (`500ms`, `5s`, `1m`, `1h`, `1d`). */
export function parseStep(raw: string): number {
  const m = STEP.exec(raw.trim());
  const seconds = m ? Number(m[1]) * STEP_UNITS[m[2] ?? 's']! : NaN;
  if (!(seconds > 0)) throw badRequest(`step: not a positive duration (seconds, or 500ms, 5s, 1m, 1h): ${raw.slice(0, 64)}`);
  return seconds;
}

interface ExportQuery {
  format: ExportFormat;
  step?: number;
  filter: CellFilter;
  types: ReadonlySet<MetricType>;
}

/** The view asked for: filters as a live subscription's (repeatable), metric types (default: all). */
function viewQuery(params: URLSearchParams): Pick<ExportQuery, 'filter' | 'types'> {
  const named = params.getAll('metric_type').flatMap((t) => t.split(','));
  const bad = named.find((t) => t !== 'all' && !isMetricType(t));
  if (bad !== undefined) throw badRequest(`metric_type: unknown type ${bad.slice(0, 64)} (expected one of ${METRIC_TYPES.join(', ')}, or all)`);
  const types = new Set<MetricType>(named.length === 0 || named.includes('all') ? METRIC_TYPES : (named as MetricType[]));
  const set = (name: string) => new Set(params.getAll(name).filter((v) => v !== ''));
  return { filter: { endpoints: set('endpoint'), models: set('model'), nodes: set('node') }, types };
}

/** The export's parameters: the view's, its format and step. */
function exportQuery(params: URLSearchParams): ExportQuery {
  const format = params.get('format') ?? 'csv';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw badRequest(`format: must be ${EXPORT_FORMATS.join(' or ')}, not ${format.slice(0, 64)}`);
  const rawStep = params.get('step');
  const step = rawStep === null || rawStep === '' ? undefined : parseStep(rawStep);
  return { format: format as ExportFormat, ...(step !== undefined && { step }), ...viewQuery(params) };
}
