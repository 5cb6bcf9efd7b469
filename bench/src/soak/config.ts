/**
 * The soak's knobs, from the environment, and the load they describe: the
 * simulator's traffic and the WebSocket clients' subscriptions.
 */
import { ENDPOINTS, MODELS } from '../workers/event-batch.js';

export interface SoakConfig {
  /** Load duration (PULSE_SOAK_MINUTES, default 30; fractions allowed). */
  minutes: number;
  /** One sample of every process this often (PULSE_SOAK_SAMPLE_SECONDS, default 30). */
  sampleSeconds: number;
  /** Simulated requests/s over all nodes (PULSE_SOAK_RATE, default 400). */
  rate: number;
  /** WebSocket clients, half on each gateway (PULSE_SOAK_CLIENTS, default 2000). */
  clients: number;
  /** Share of POST /v1/events the proxy answers 503 (PULSE_SOAK_FAULT_SHARE, default 0.05). */
  faultShare: number;
  nodes: number;
  endpoints: string[];
  models: string[];
  /** Client intervals, seconds: client i gets the filter group i mod (kinds × intervals). */
  intervals: number[];
}

const NODES = 8;
const ENDPOINT_COUNT = 14;
const MODEL_COUNT = 3;
const INTERVALS = [0.5, 1, 2, 5];

export function soakConfig(env: Record<string, string | undefined>): SoakConfig {
  return {
    minutes: num(env, 'PULSE_SOAK_MINUTES', 30, 0.05),
    sampleSeconds: num(env, 'PULSE_SOAK_SAMPLE_SECONDS', 30, 1),
    rate: num(env, 'PULSE_SOAK_RATE', 400, 0.1),
    clients: Math.round(num(env, 'PULSE_SOAK_CLIENTS', 2000, 0)),
    faultShare: num(env, 'PULSE_SOAK_FAULT_SHARE', 0.05, 0, 0.9),
    nodes: NODES,
    endpoints: ENDPOINTS.slice(0, ENDPOINT_COUNT),
    models: MODELS.slice(0, MODEL_COUNT),
    intervals: INTERVALS,
  };
}

function num(env: Record<string, string | undefined>, name: string, def: number, min: number, max = Infinity): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}: expected a number within [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * The simulator's environment: chat traffic dominates as on a real node,
 * every other endpoint and model still gets requests, so all 14 × 3 cells
 * stay populated. A fixed seed makes runs comparable.
 */
export function simulatorEnv(cfg: SoakConfig, ingestUrl: string): Record<string, string> {
  const weight = (i: number) => (i === 0 ? 6 : i < 3 ? 2 : 1);
  return {
    PULSE_INGEST_URL: ingestUrl,
    PULSE_SIM_NODES: String(cfg.nodes),
    PULSE_SIM_RATE: String(cfg.rate),
    PULSE_SIM_ENDPOINTS: cfg.endpoints.map((e, i) => `${e}:${weight(i)}`).join(','),
    PULSE_SIM_MODELS: cfg.models.map((m, i) => `${m}:${weight(i)}`).join(','),
    PULSE_SIM_SEED: '1',
  };
}

/**
 * Every kind of subscription at every interval: no filter, an endpoint
 * subset, one model, metric-type subsets. Group g is kind g mod kinds at
 * interval ⌊g / kinds⌋, so a fleet of any size gets all of them.
 */
export function clientFilters(cfg: SoakConfig): Record<string, unknown>[] {
  const [e0, e1, e2, e3] = cfg.endpoints;
  const kinds: Record<string, unknown>[] = [
    {},
    { endpoints: [e0, e1, e2] },
    { model: cfg.models[1] },
    { metric_types: ['latency', 'error'] },
    { endpoint: e3, metric_types: ['throughput', 'cache', 'queue'] },
  ];
  return cfg.intervals.flatMap((interval) => kinds.map((k) => ({ ...k, interval })));
}
