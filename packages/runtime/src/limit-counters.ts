/**
 * Self-metrics of the protections (docs/SECURITY.md): how often each limit
 * refused something, as one Prometheus counter labelled by reason. Served
 * at GET /metrics/limits by ingest and the gateway, and with the process's
 * other self-metrics at GET /metrics. A counter is per process; Prometheus
 * sums them across replicas.
 */
import { Counter, endLines, SelfMetrics } from './self-metrics.js';

/** Every reason a request, connection, frame or event can be refused for: one per setting. */
export const LIMIT_REASONS = [
  /** Missing or wrong token (PULSE_WRITE_TOKENS, PULSE_READ_TOKENS): 401. */
  'unauthorized',
  /** PULSE_ALLOWED_ORIGINS: 403. */
  'origin',
  /** PULSE_MAX_BODY_BYTES: 413. */
  'body_bytes',
  /** PULSE_MAX_EVENTS_PER_BATCH: 413. */
  'events_per_batch',
  /** PULSE_MAX_STRING_LENGTH: the event rejected, or an `error` to the subscribe. */
  'string_length',
  /** PULSE_GATEWAY_MAX_LABELS_PER_SUBSCRIBE: an `error` to the subscribe. */
  'labels_per_subscribe',
  /** PULSE_GATEWAY_MAX_LABELS_PER_CLIENT: an `error` to the subscribe. */
  'labels_per_client',
  /** PULSE_GATEWAY_MAX_VIEWS: an `error` to a subscribe that would add a distinct view. */
  'distinct_views',
  /** PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: each message dropped. */
  'client_messages_per_sec',
  /** PULSE_GATEWAY_CLIENT_MSGS_PER_SEC: a client closed with 4002 for flooding. */
  'client_flood',
  /** PULSE_GATEWAY_MAX_PAYLOAD_KB: a client closed with 1009. */
  'frame_bytes',
  /** PULSE_GATEWAY_MAX_CONNECTIONS: 503. */
  'connections',
  /** PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: 429. */
  'connections_per_ip',
  /** PULSE_GATEWAY_HANDSHAKE_TIMEOUT_MS: 408. */
  'handshake_timeout',
  /** PULSE_GATEWAY_MAX_BUFFERED_BYTES: a client closed with 4000. */
  'buffered_bytes',
] as const;

export type LimitReason = (typeof LIMIT_REASONS)[number];

export const INGEST_LIMITS: readonly LimitReason[] = ['unauthorized', 'body_bytes', 'events_per_batch', 'string_length'];
/** Every reason but the two about event batches, which only ingest has. */
export const GATEWAY_LIMITS: readonly LimitReason[] = LIMIT_REASONS.filter((r) => r !== 'body_bytes' && r !== 'events_per_batch');

const METRIC = 'pulse_rejections_total';

export class LimitCounters {
  private readonly counts = new Map<LimitReason, number>();
  private readonly counter: Counter<'reason'>;

  /**
   * `reasons` are listed from the start, at 0, so a dashboard sees the series
   * before the first refusal. Registered on `metrics` (the process's self
   * metrics at GET /metrics); GET /metrics/limits serves this one alone.
   */
  constructor(reasons: Iterable<LimitReason>, private readonly metrics: SelfMetrics = new SelfMetrics()) {
    this.counter = new Counter({
      name: METRIC,
      help: 'Requests, connections, messages and events refused, by the limit that refused them.',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
    for (const r of [...reasons].sort()) this.hit(r, 0);
  }

  hit(reason: LimitReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
    this.counter.inc({ reason }, n);
  }

  get(reason: LimitReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** This counter alone, Prometheus text exposition format 0.0.4. */
  async prometheusText(): Promise<string> {
    return endLines(await this.metrics.registry.getSingleMetricAsString(METRIC));
  }
}
