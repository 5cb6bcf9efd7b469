/**
 * The ingest HTTP app (docs/PROTOCOL.md §3): POST /v1/events validates events and
 * appends the valid ones to the event log in one call; the reply is sent only
 * after the log confirmed. No `listen` here: main.ts (or a test) owns the port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import { ErrorCode, PulseError } from '@pulse/protocol';
import {
  INGEST_LIMITS,
  LimitCounters,
  LIVENESS_BODY,
  PROMETHEUS_CONTENT_TYPE,
  readinessReply,
  SelfMetrics,
  sendJson,
  TokenSet,
  type EventLog,
  type Logger,
} from '@pulse/runtime';
import { requireToken } from './auth.js';
import { batchFromJson, batchFromNdjson, type Batch } from './batch.js';
import type { IngestLimits } from './config.js';
import { errorHandler, notFound, sendRejected } from './error-handler.js';
import { IDEMPOTENCY_TTL_SECONDS, idempotencyKey } from './idempotency.js';

export interface IngestDeps {
  readonly config: IngestLimits;
  readonly log: EventLog;
  readonly logger: Logger;
  /** Whether /readyz answers 200: the store answers and the process is not stopping. */
  isReady(): boolean;
  /** The process's self-metrics (GET /metrics); the all-in-one process shares one with the gateway and the aggregator. */
  readonly metrics?: SelfMetrics;
  /** Where refusals are counted; the all-in-one process shares one with the gateway. Default: the app's own, on `metrics`. */
  readonly counters?: LimitCounters;
}

const JSON_TYPE = 'application/json';
const NDJSON_TYPE = 'application/x-ndjson';

export function createIngestApp({
  config,
  log,
  logger,
  isReady,
  metrics = new SelfMetrics(),
  counters = new LimitCounters(INGEST_LIMITS, metrics),
}: IngestDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const writers = requireToken(new TokenSet(config.PULSE_WRITE_TOKENS));
  const readers = requireToken(new TokenSet(config.PULSE_READ_TOKENS));

  app.get('/healthz', (_req, res) => sendJson(res, 200, LIVENESS_BODY));
  app.get('/readyz', (_req, res) => {
    const { status, body } = readinessReply(isReady() ? null : 'the event store does not answer, or stopping');
    sendJson(res, status, body);
  });
  app.get('/metrics/limits', readers, async (_req, res) => {
    res.type(PROMETHEUS_CONTENT_TYPE).send(await counters.prometheusText());
  });
  app.get('/metrics', readers, async (_req, res) => {
    res.type(PROMETHEUS_CONTENT_TYPE).send(await metrics.exposition());
  });

  const limit = config.PULSE_MAX_BODY_BYTES;
  const maxEvents = config.PULSE_MAX_EVENTS_PER_BATCH;
  const maxString = config.PULSE_MAX_STRING_LENGTH;
  const receive: RequestHandler[] = [
    writers,
    acceptOnly,
    // strict: false lets a lone JSON value through, to be rejected as an event with its index.
    express.json({ type: JSON_TYPE, limit, strict: false, verify: keepRawArray }),
    express.text({ type: NDJSON_TYPE, limit }),
  ];

  app.post('/v1/events', ...receive, async (req, res) => {
    const key = idempotencyKey(req.headers['idempotency-key']);
    const batch = req.is(NDJSON_TYPE)
      ? batchFromNdjson(req.body as string, maxEvents, maxString)
      : batchFromJson(req.body, maxEvents, maxString);
    if (batch.overlong > 0) counters.hit('string_length', batch.overlong);
    if (batch.events.length === 0) {
      // Not stored under the Idempotency-Key: nothing was accepted, so a corrected retry must get through.
      const reason = batch.size === 0 ? 'the body holds no events' : 'no valid event in the body';
      sendRejected(res, ErrorCode.INVALID_EVENT, reason, batch.reply());
      return;
    }
    const body = JSON.stringify(batch.reply());
    const { replay } = await log.append(
      batch.events,
      key === undefined ? undefined : { key, reply: { status: 202, body }, ttlSeconds: IDEMPOTENCY_TTL_SECONDS },
      rawEntry(req, batch),
    );
    if (replay) {
      res.set('Idempotent-Replayed', 'true').status(replay.status).type(JSON_TYPE).send(replay.body);
      return;
    }
    res.status(202).type(JSON_TYPE).send(body);
  });

  app.use(notFound);
  app.use(errorHandler(logger, counters));
  return app;
}

/**
 * JSON bodies that are a bare array in UTF-8, by request. When every event
 * of such a body is valid, the body itself becomes the stream entry: it
 * validates to exactly the accepted events, and the aggregator validates
 * what it reads anyway. Re-encoding the events and converting that string
 * back to bytes for Redis was a third of ingest's CPU per event.
 */
const rawArrays = new WeakMap<IncomingMessage, Buffer>();

function keepRawArray(req: IncomingMessage, _res: ServerResponse, buf: Buffer, encoding: string): void {
  // No BOM, no leading whitespace, no other charset: exactly what the reader will parse.
  if (encoding === 'utf-8' && buf[0] === 0x5b) rawArrays.set(req, buf);
}

/**
 * Bytes per event up to which a body is stored as sent. Above it, unknown
 * fields (which re-encoding drops) make up most of it: re-encode instead.
 */
const MAX_RAW_BYTES_PER_EVENT = 1024;

function rawEntry(req: IncomingMessage, batch: Batch): Buffer | undefined {
  const raw = rawArrays.get(req);
  if (!raw || batch.rejected.length > 0 || raw.length > MAX_RAW_BYTES_PER_EVENT * batch.events.length) return undefined;
  return raw;
}

/** 415 before a byte of the body is read, and 400 for a request without one. */
const acceptOnly: RequestHandler = (req, _res, next) => {
  const type = req.is([JSON_TYPE, NDJSON_TYPE]);
  if (type === null || req.headers['content-length'] === '0') {
    next(new PulseError(ErrorCode.INVALID_BODY, 'the request has no body'));
  } else if (type === false) {
    next(new PulseError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type must be ${JSON_TYPE} or ${NDJSON_TYPE}`));
  } else {
    next();
  }
};

