/**
 * The ingest HTTP app (CONTRACT §3): POST /v1/events validates events and
 * appends the valid ones to the event log in one call; the reply is sent only
 * after the log confirmed. No `listen` here: main.ts (or a test) owns the port.
 */
import express, { type Express, type RequestHandler } from 'express';
import { ErrorCode, PulseError } from '@pulse/protocol';
import type { EventLog, Logger } from '@pulse/runtime';
import { batchFromJson, batchFromNdjson } from './batch.js';
import type { IngestLimits } from './config.js';
import { errorHandler, notFound, sendError } from './error-handler.js';
import { IDEMPOTENCY_TTL_SECONDS, idempotencyKey } from './idempotency.js';

export interface IngestDeps {
  readonly config: IngestLimits;
  readonly log: EventLog;
  readonly logger: Logger;
  /** Whether /readyz answers 200: the store answers and the process is not stopping. */
  isReady(): boolean;
}

const JSON_TYPE = 'application/json';
const NDJSON_TYPE = 'application/x-ndjson';

export function createIngestApp({ config, log, logger, isReady }: IngestDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (isReady()) res.json({ status: 'ready' });
    else sendError(res, new PulseError(ErrorCode.NOT_READY, 'not ready: the event store does not answer'));
  });

  const limit = config.PULSE_MAX_BODY_BYTES;
  const maxEvents = config.PULSE_MAX_EVENTS_PER_BATCH;
  const receive: RequestHandler[] = [
    acceptOnly,
    // strict: false lets a lone JSON value through, to be rejected as an event with its index.
    express.json({ type: JSON_TYPE, limit, strict: false }),
    express.text({ type: NDJSON_TYPE, limit }),
  ];

  app.post('/v1/events', ...receive, async (req, res) => {
    const key = idempotencyKey(req.headers['idempotency-key']);
    const batch = req.is(NDJSON_TYPE)
      ? batchFromNdjson(req.body as string, maxEvents)
      : batchFromJson(req.body, maxEvents);
    if (batch.events.length === 0) {
      // Not stored under the Idempotency-Key: nothing was accepted, so a corrected retry must get through.
      const reason = batch.size === 0 ? 'the body holds no events' : 'no valid event in the body';
      res.status(400).json({ ...batch.reply(), error: reason, code: ErrorCode.INVALID_EVENT });
      return;
    }
    const body = JSON.stringify(batch.reply());
    const { replay } = await log.append(
      batch.events,
      key === undefined ? undefined : { key, reply: { status: 202, body }, ttlSeconds: IDEMPOTENCY_TTL_SECONDS },
    );
    if (replay) {
      res.set('Idempotent-Replayed', 'true').status(replay.status).type(JSON_TYPE).send(replay.body);
      return;
    }
    res.status(202).type(JSON_TYPE).send(body);
  });

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
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

