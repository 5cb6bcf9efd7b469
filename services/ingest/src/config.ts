/**
 * Ingest configuration (docs/PROTOCOL.md §2), parsed once in main.ts.
 */
import { commonVars, intVar, redisUrlVar, securityVars, type parseConfig, type SecuritySettings } from '@pulse/runtime';

/** The request limits, separate so the all-in-one process can reuse them in its own shape. */
export const ingestLimitVars = {
  /** Largest request body in bytes, after decompression; 413 above. Default 5 MiB. */
  PULSE_MAX_BODY_BYTES: intVar(5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** Most events in one request; 413 above. Default 10 000. */
  PULSE_MAX_EVENTS_PER_BATCH: intVar(10_000, 1, 1_000_000),
};

/** Shared with the all-in-one process, which acknowledges events the same way on Redis. */
export const ingestReplicaVars = {
  /** Replicas that must hold a batch before it is answered 202 (WAIT), else 503 (CONTRACT §10, docs/REDIS.md). Default 0. */
  PULSE_INGEST_MIN_REPLICAS: intVar(0, 0, 16),
};

export const ingestConfigShape = {
  ...commonVars,
  ...ingestLimitVars,
  ...securityVars,
  PORT: intVar(8080, 0, 65_535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
  ...ingestReplicaVars,
};

export type IngestConfig = ReturnType<typeof parseConfig<typeof ingestConfigShape>>;
/** What the ingest app needs of the config: its request limits and the security settings. */
export type IngestLimits = Pick<IngestConfig, keyof typeof ingestLimitVars> & SecuritySettings;
