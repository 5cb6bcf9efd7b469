/**
 * Ingest configuration (CONTRACT §2), parsed once in main.ts.
 */
import { commonVars, intVar, redisUrlVar, type parseConfig } from '@pulse/runtime';

/** The request limits, separate so the all-in-one process can reuse them in its own shape. */
export const ingestLimitVars = {
  /** Largest request body in bytes, after decompression; 413 above. Default 5 MiB. */
  PULSE_MAX_BODY_BYTES: intVar(5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** Most events in one request; 413 above. Default 10 000. */
  PULSE_MAX_EVENTS_PER_BATCH: intVar(10_000, 1, 1_000_000),
};

export const ingestConfigShape = {
  ...commonVars,
  ...ingestLimitVars,
  PORT: intVar(8080, 0, 65_535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
};

export type IngestConfig = ReturnType<typeof parseConfig<typeof ingestConfigShape>>;
export type IngestLimits = Pick<IngestConfig, keyof typeof ingestLimitVars>;

/** Slack beyond two windows so an aggregator that lags a little still finds its entries. */
const RETENTION_MARGIN_MS = 30_000;

/**
 * How long stream entries are kept: two windows (a new leader rebuilds a full
 * window from the stream) plus a margin.
 */
export function eventRetentionMs(windowSeconds: number): number {
  return 2 * windowSeconds * 1000 + RETENTION_MARGIN_MS;
}
