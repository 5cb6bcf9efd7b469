/**
 * Self-metrics of the protections (docs/SECURITY.md): how often each limit
 * refused something, as one Prometheus counter labelled by reason. Served
 * at GET /metrics/limits by ingest and the gateway. A counter is per
 * process; Prometheus sums them across replicas.
 */

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

  /** `reasons` are listed from the start, at 0, so a dashboard sees the series before the first refusal. */
  constructor(reasons: Iterable<LimitReason>) {
    for (const r of reasons) this.counts.set(r, 0);
  }

  hit(reason: LimitReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  get(reason: LimitReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** Prometheus text exposition format, version 0.0.4. */
  prometheusText(): string {
    const lines = [`# HELP ${METRIC} Requests, connections, messages and events refused, by the limit that refused them.`, `# TYPE ${METRIC} counter`];
    for (const [reason, n] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${METRIC}{reason="${reason}"} ${n}`);
    return lines.join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
