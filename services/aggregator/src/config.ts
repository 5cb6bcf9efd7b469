import type { Slo } from '@pulse/protocol';
import { otlpVars, pushesExponential, type OtlpEnv } from '@pulse/otel-export';
import { alertRulesVar, commonVars, intVar, redisUrlVar, slosVar } from '@pulse/runtime';
import { historyVars } from '@pulse/history';

/** Environment of an aggregator replica (docs/PROTOCOL.md §2), with defaults. */
export const aggregatorVars = {
  ...commonVars,
  PORT: intVar(9100, 0, 65535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
  /** Leader lease length: a standby takes over at most this long after the leader dies. */
  PULSE_LEASE_MS: intVar(1500, 200, 60_000),
  /** Entries pending this long with a silent consumer are taken over by the leader. */
  PULSE_RECLAIM_IDLE_MS: intVar(5000, 100, 600_000),
  /** Cardinality guard: distinct endpoints / models before folding into `__other__`. */
  PULSE_MAX_ENDPOINTS: intVar(1000, 1, 100_000),
  PULSE_MAX_MODELS: intVar(1000, 1, 100_000),
  /** … and producing nodes. */
  PULSE_MAX_NODES: intVar(256, 1, 100_000),
  /** … and distinct node×endpoint×model cells: bounds aggregator memory and snapshot size. */
  PULSE_MAX_CELLS: intVar(10_000, 1, 1_000_000),
  /** Service-level objectives whose attainment every snapshot carries. */
  PULSE_SLOS: slosVar,
  /** Alert rules file (YAML or JSON): the leader evaluates them on every snapshot (docs/ALERTS.md). */
  PULSE_ALERT_RULES: alertRulesVar,
  /** Stream entries (ingest requests) read per batch. */
  PULSE_BATCH_ENTRIES: intVar(500, 1, 100_000),
  /** The OTLP push of the figures by the leader (docs/MONITORING.md): the standard OTEL_* variables. */
  ...otlpVars,
  /** The durable history the leader writes (docs/HISTORY.md). */
  ...historyVars,
};

/** What the aggregator core needs, in its own units. */
export interface AggregatorSettings {
  windowMs: number;
  tickMs: number;
  maxEndpoints: number;
  maxModels: number;
  maxNodes: number;
  maxCells: number;
  batchEntries: number;
  slos: readonly Slo[];
  /**
   * The lease's length. A leader renews it every third of this on a timer of
   * its own, not only at each tick, so a tick run late (a long GC, a starved
   * core) or a tick longer than a third of the lease does not cost the lease.
   * Unset: renewed at each tick only (tests driving ticks by hand).
   */
  leaseMs?: number;
  /**
   * Count each acknowledged value into exponential buckets too: on when the
   * OTLP push sends exponential histograms, off otherwise, since they cost
   * (docs/MONITORING.md).
   */
  exponentialHistograms?: boolean;
}

export function aggregatorSettings(
  env: {
    PULSE_WINDOW_SECONDS: number;
    PULSE_TICK_MS: number;
    PULSE_MAX_ENDPOINTS: number;
    PULSE_MAX_MODELS: number;
    PULSE_MAX_NODES: number;
    PULSE_MAX_CELLS: number;
    PULSE_SLOS: readonly Slo[];
    PULSE_BATCH_ENTRIES: number;
    PULSE_LEASE_MS: number;
  } & Partial<OtlpEnv>,
): AggregatorSettings {
  return {
    windowMs: env.PULSE_WINDOW_SECONDS * 1000,
    tickMs: env.PULSE_TICK_MS,
    maxEndpoints: env.PULSE_MAX_ENDPOINTS,
    maxModels: env.PULSE_MAX_MODELS,
    maxNodes: env.PULSE_MAX_NODES,
    maxCells: env.PULSE_MAX_CELLS,
    slos: env.PULSE_SLOS,
    batchEntries: env.PULSE_BATCH_ENTRIES,
    leaseMs: env.PULSE_LEASE_MS,
    exponentialHistograms: pushesExponential(env),
  };
}
