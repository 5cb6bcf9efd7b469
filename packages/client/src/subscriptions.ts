/**
 * What the client has asked for, kept so a fresh connection can be brought
 * back to it. The server's `subscribed` echo is the truth (it applied the
 * rules and rounded the interval), so the ledger keeps the last echo plus
 * the requests not answered yet, and replays exactly that after a reconnect:
 * a subscribe the server rejected is never re-sent, and one lost with the
 * connection is not lost.
 */
import type { MetricType, ServerMessage } from '@pulse/protocol';

/** The `filters` of a subscribe (docs/PROTOCOL.md §5): strings add to sets, `interval` replaces. */
export interface SubscribeFilters {
  endpoint?: string;
  endpoints?: readonly string[];
  model?: string;
  models?: readonly string[];
  /** Only these nodes' events count, in every figure (version 2). */
  node?: string;
  nodes?: readonly string[];
  metric_type?: MetricType | 'all';
  metric_types?: readonly (MetricType | 'all')[];
  /** Seconds; rounded up by the server to whole ticks. */
  interval?: number;
}

/** The effective filters the server echoes in `subscribed`. */
export type EffectiveFilters = Omit<Extract<ServerMessage, { type: 'subscribed' }>['filters'], 'nodes'> & {
  /** Absent from servers before version 2 (FakeAI's own). */
  nodes?: string[];
};

/** `since` (docs/PROTOCOL.md §5.11) goes on the last subscribe a reconnect replays: see `replay`. */
export type Request = { type: 'subscribe'; filters: SubscribeFilters; since?: number } | { type: 'unsubscribe' };

/** The error code the gateway gives a rejected subscribe. */
const INVALID_SUBSCRIPTION = 'invalid_subscription';

/**
 * Requests waiting for the server's answer, at most. Connected, the server
 * answers each at once; they pile up only while the client is offline, and
 * an app that keeps subscribing then has a bug worth hearing about.
 */
export const MAX_PENDING_REQUESTS = 256;

export class SubscriptionLedger {
  private confirmed: EffectiveFilters | null = null;
  /** Sent (or to be sent), not answered yet; the server answers in order. */
  private pending: Request[] = [];

  /** The filters the server last confirmed; null for the defaults. */
  get filters(): EffectiveFilters | null {
    return this.confirmed;
  }

  /** Throws a RangeError, keeping nothing, when MAX_PENDING_REQUESTS are unanswered already. */
  request(request: Request): void {
    if (this.pending.length >= MAX_PENDING_REQUESTS) {
      throw new RangeError(`${MAX_PENDING_REQUESTS} requests are waiting for the server already (is the client offline?)`);
    }
    this.pending.push(request);
  }

  /** Takes the server's answer to the oldest pending request into account. */
  settle(message: ServerMessage): void {
    const head = this.pending[0];
    if (!head) return;
    if (message.type === 'subscribed' && head.type === 'subscribe') {
      this.pending.shift();
      this.confirmed = message.filters;
    } else if (message.type === 'unsubscribed' && head.type === 'unsubscribe') {
      this.pending.shift();
      this.confirmed = null;
    } else if (message.type === 'error' && head.type === 'subscribe' && (message.code === undefined || message.code === INVALID_SUBSCRIPTION)) {
      // Rejected whole, changing nothing (docs/PROTOCOL.md §5): forget it.
      this.pending.shift();
    }
  }

  /**
   * For a new connection, which starts at the defaults: the requests that
   * rebuild the confirmed filters, then those still unanswered. They become
   * the pending requests of the new connection. With `since` (the timestamp
   * of the last update delivered), the last of them is a subscribe carrying
   * it — one `{}` subscribe is added when the last is an unsubscribe or there
   * is none — so the server answers with the points missed for the filters
   * the connection ends up with (docs/PROTOCOL.md §5.11).
   */
  replay(since?: number): readonly Request[] {
    const requests: Request[] = [];
    if (this.confirmed) requests.push({ type: 'subscribe', filters: toSubscribeFilters(this.confirmed) });
    // A `since` of an earlier connection's request is stale.
    for (const r of this.pending) requests.push(r.type === 'subscribe' && r.since !== undefined ? { type: 'subscribe', filters: r.filters } : r);
    if (since !== undefined) {
      const last = requests[requests.length - 1];
      if (last?.type === 'subscribe') requests[requests.length - 1] = { ...last, since };
      else requests.push({ type: 'subscribe', filters: {}, since });
    }
    this.confirmed = null;
    this.pending = [...requests];
    return requests;
  }
}

/** A subscribe that gives a fresh connection exactly `filters`. */
export function toSubscribeFilters(filters: EffectiveFilters): SubscribeFilters {
  const out: SubscribeFilters = { interval: filters.interval };
  if (filters.endpoints.length > 0) out.endpoints = filters.endpoints;
  if (filters.models.length > 0) out.models = filters.models;
  // A server before version 2 echoes no nodes.
  if ((filters.nodes?.length ?? 0) > 0) out.nodes = filters.nodes;
  if (!filters.metric_types.includes('all')) out.metric_types = filters.metric_types as MetricType[];
  return out;
}
