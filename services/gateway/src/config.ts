/**
 * The gateway's configuration: the common variables of docs/PROTOCOL.md §2 plus the
 * knobs that protect a gateway from its clients. Parsed once in main.ts.
 */
import { alertRulesVar, commonVars, intVar, parseConfig, redisUrlVar, securityVars, slosVar } from '@pulse/runtime';
import { historyVars } from '@pulse/history';

/** The views PULSE_PROMETHEUS_COMPAT may name. */
export const PROMETHEUS_COMPAT_VIEWS = ['vllm'] as const;
export type PrometheusCompat = (typeof PROMETHEUS_COMPAT_VIEWS)[number];

/**
 * Unset, or one of PROMETHEUS_COMPAT_VIEWS. Built on the runtime's optional
 * non-empty text (the gateway has no zod of its own); a transform that adds
 * an issue fails the parse, so a typo is refused at start, never ignored.
 */
function prometheusCompatVar() {
  return alertRulesVar.transform((value, ctx): PrometheusCompat | undefined => {
    if (value === undefined) return undefined;
    const known = PROMETHEUS_COMPAT_VIEWS.find((view) => view === value);
    if (!known) ctx.addIssue({ code: 'custom', message: `must be ${PROMETHEUS_COMPAT_VIEWS.map((v) => `"${v}"`).join(' or ')}, or unset` });
    return known;
  });
}

export const gatewayConfigShape = {
  ...commonVars,
  ...securityVars,
  /** The history tiers the aggregators write (docs/HISTORY.md): the gateway reads them. */
  ...historyVars,
  PORT: intVar(8000, 0, 65_535),
  REDIS_URL: redisUrlVar.default('redis://127.0.0.1:6379'),
  /** Alert rules file: the gateway serves GET /v1/alerts and the deliveries routes from the cluster's alert state. */
  PULSE_ALERT_RULES: alertRulesVar,
  /** The SLO names the rules file may refer to. */
  PULSE_SLOS: slosVar,
  /** WebSocket clients one gateway holds; beyond it an upgrade is refused with 503. Default 10000. */
  PULSE_GATEWAY_MAX_CONNECTIONS: intVar(10_000, 1, 1_000_000),
  /**
   * Bytes a client may leave unread on its socket before it stops getting
   * updates (it gets the newest once it catches up); a client over it for
   * several ticks is closed as a slow consumer. Default 1 MiB.
   */
  PULSE_GATEWAY_MAX_BUFFERED_BYTES: intVar(1_048_576, 1024, 1_073_741_824),
  /** WebSocket ping period; a client silent for two periods is terminated. Default 30 s. */
  PULSE_GATEWAY_HEARTBEAT_MS: intVar(30_000, 50, 600_000),
  /** Largest client frame, in KiB; a bigger one closes the connection with 1009. Default 64. */
  PULSE_GATEWAY_MAX_PAYLOAD_KB: intVar(64, 1, 16_384),
  /** Client messages per second (token bucket, bursts of as many); a sustained flood is closed. Default 50. */
  PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: intVar(50, 1, 10_000),
  /**
   * WebSocket clients one address may hold; beyond it an upgrade is refused
   * with 429. A dashboard tab holds up to 13 (one per model row). Default 100.
   */
  PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: intVar(100, 1, 1_000_000),
  /**
   * Proxies in front whose X-Forwarded-For entries are trusted for the
   * per-address limit: 0 counts the socket's peer, 1 the address the nearest
   * proxy saw (compose's HAProxy, ingress-nginx). Default 0.
   */
  PULSE_GATEWAY_TRUSTED_PROXY_HOPS: intVar(0, 0, 10),
  /** A connection must send its request headers (the upgrade, or a REST request) within this; 408 after. Default 10 s. */
  PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: intVar(10_000, 100, 120_000),
  /** Endpoints plus models one subscribe may name; more is an `error`. Default 100. */
  PULSE_GATEWAY_MAX_LABELS_PER_SUBSCRIBE: intVar(100, 1, 100_000),
  /** Endpoints plus models one client may hold across its subscribes; more is an `error`. Default 256. */
  PULSE_GATEWAY_MAX_LABELS_PER_CLIENT: intVar(256, 1, 100_000),
  /**
   * Distinct views (endpoint, model and node filters) one gateway serves; a
   * subscribe that would add one more gets an `error` and keeps its filters.
   * Default 5000 (docs/PERFORMANCE.md: what 5,000 distinct views cost).
   */
  PULSE_GATEWAY_MAX_VIEWS: intVar(5000, 1, 1_000_000),
  /**
   * Time per snapshot the gateway may spend building views; past it the
   * views that cost most per client are built every 2nd to 8th snapshot
   * instead. Default 250 ms (half of the default 500 ms tick).
   */
  PULSE_GATEWAY_VIEW_BUDGET_MS: intVar(250, 1, 60_000),
  /**
   * `vllm`: GET /metrics/prometheus also serves the figures under vLLM's
   * metric names and `model_name` label (prometheus-vllm.ts), beside the
   * `pulse_*` families. Unset: only those. Anything else stops the process.
   */
  PULSE_PROMETHEUS_COMPAT: prometheusCompatVar(),
};

export type GatewayConfig = ReturnType<typeof parseGatewayConfig>;

export function parseGatewayConfig(env: Record<string, string | undefined>) {
  return parseConfig(gatewayConfigShape, env);
}
