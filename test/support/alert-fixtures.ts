/**
 * What the evaluator tests share: hand-made snapshot data, a queue that
 * records what it is given (an implementation of the package's own
 * NotificationQueue interface, not a stand-in for Redis, BullMQ or HTTP),
 * and a rules builder. Not shipped: outside src/.
 */
import type { SnapshotData } from '@pulse/protocol';
import { parseAlertRules, type AlertRules, type AlertState, type FailedDelivery, type Notification, type NotificationQueue } from '@pulse/alerts';

/** Figures of one view: only what a test sets; everything else is an empty window. */
export interface Figures {
  ttftP99?: number;
  queueDepth?: number;
}

export function dataWith(f: Figures): SnapshotData {
  const active = f.ttftP99 !== undefined || (f.queueDepth ?? 0) > 0;
  return {
    throughput: {
      requests_per_sec: active ? { '/x': 1 } : {},
      responses_per_sec: active ? { '/x': 1 } : {},
      tokens_per_sec: {},
      total_requests_per_sec: active ? 1 : 0,
      total_responses_per_sec: active ? 1 : 0,
      total_tokens_per_sec: 0,
    },
    latency: {},
    cache: { hit_rate: 0, token_reuse_rate: 0, avg_prefix_length: 0, total_lookups: 0, cache_hits: 0, by_endpoint: {} },
    queue: { queue_depth: f.queueDepth ?? 0, active_streams: 0 },
    streaming: {
      active_streams: 0,
      completed_streams: 0,
      failed_streams: 0,
      ...(f.ttftP99 !== undefined ? { ttft: { avg: f.ttftP99, min: 0, max: f.ttftP99, p50: f.ttftP99, p90: f.ttftP99, p95: f.ttftP99, p99: f.ttftP99, p999: f.ttftP99 } } : {}),
    },
    error: { errors_per_sec: {}, total_errors_per_sec: 0, by_status: {}, by_type: {} },
    slo: {},
    nodes: {},
  };
}

/** Takes every notification, once per id, and delivers nothing: the evaluator's tests read what it was given. */
export class RecordingQueue implements NotificationQueue {
  readonly taken: Notification[] = [];
  /** When set, enqueue fails (a queue whose Redis is unreachable). */
  down = false;

  async enqueue(n: Notification): Promise<void> {
    if (this.down) throw new Error('queue unreachable');
    if (!this.taken.some((t) => t.id === n.id)) this.taken.push(n);
  }
  async failed(): Promise<FailedDelivery[]> {
    return [];
  }
  async retry(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {}
}

/** A NotificationQueue that forwards to another until `down` is set: a process whose queue went away mid-way. */
export class SwitchableQueue implements NotificationQueue {
  down = false;
  constructor(private readonly inner: NotificationQueue) {}
  async enqueue(n: Notification): Promise<void> {
    if (this.down) throw new Error('queue unreachable');
    await this.inner.enqueue(n);
  }
  failed(): Promise<FailedDelivery[]> {
    return this.inner.failed();
  }
  retry(id: string): Promise<boolean> {
    return this.inner.retry(id);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Rules from YAML, with a receiver `oncall` at `url` unless the text declares receivers. */
export function rulesFrom(rulesYaml: string, receiversYaml = `receivers:\n  - {name: oncall, url: "http://127.0.0.1:9/hook"}\n`): AlertRules {
  return parseAlertRules(`${receiversYaml}rules:\n${rulesYaml}`, 'yaml');
}

/** A stored alert, firing unless overridden. */
export function alertState(fp: string, overrides: Partial<AlertState> = {}): AlertState {
  return {
    fingerprint: fp,
    rule: 'Deep',
    labels: { alertname: 'Deep', endpoint: fp },
    groupLabels: { alertname: 'Deep', endpoint: fp },
    annotations: {},
    phase: 'firing',
    activeAtMs: 1_000,
    firedAtMs: 1_000,
    keepFiringSinceMs: null,
    value: 5,
    firedValue: 5,
    sent: { oncall: { atMs: 1_000, count: 1 } },
    ...overrides,
  };
}

/** A firing notification of the alert `Deep`. */
export function notification(id: string, createdAtMs: number): Notification {
  const labels = { alertname: 'Deep' };
  return {
    id,
    receiver: 'oncall',
    createdAtMs,
    body: {
      version: '4',
      groupKey: '{}:{alertname="Deep"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'oncall',
      groupLabels: labels,
      commonLabels: labels,
      commonAnnotations: { value: '5' },
      externalURL: '',
      alerts: [{ status: 'firing', labels, annotations: { value: '5' }, startsAt: '2026-01-01T00:00:00.000Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: 'f' }],
    },
  };
}

