/**
 * Evaluates every rule on every snapshot (docs/PROTOCOL.md §8), run by the
 * one active aggregator (whoever holds the lease: the fence it passes).
 *
 * Per snapshot the caller gives the clock, a way to build a view of the
 * snapshot for a filter (the evaluator never computes figures from events
 * itself: views are the gateway's and aggregator's job, and one view is
 * built once per evaluation however many rules share it), the label values
 * present, and its fence. For each rule the evaluator forms the groups —
 * the cross product of the present values of its group_by labels, within
 * its filters — reads the rule's figure from each group's view, and steps
 * each alert's state machine (alert-machine.ts). Alerts it holds that no
 * group produced this time (the group is gone) step with no value.
 *
 * Then, in this order:
 * 1. commit: the state change and its notifications, in one fenced atomic
 *    write (alert-state.ts). Refused: another replica leads now; the
 *    evaluator forgets its state and reloads it when it leads again.
 *    Failed (Redis down): nothing changed, the next snapshot tries again,
 *    with the same notification ids, since they hash persisted state only.
 * 2. hand the outbox to the delivery queue, and acknowledge what it took.
 *    A crash between the two re-sends nothing: the next drain enqueues the
 *    same ids again and the queue ignores them.
 *
 * A new leader (a fence with another epoch) loads the state before its
 * first evaluation and drains the outbox, so an alert that fired under the
 * former leader is not notified again, and one that resolves is notified.
 */
import type { SnapshotData } from '@pulse/protocol';
import { step, type AlertIdentity, type StepContext } from './alert-machine.js';
import type { AlertFence, AlertsSource, AlertState, AlertStateStore } from './alert-state.js';
import type { NotificationQueue } from './delivery.js';
import { figureReader, type FigureReader } from './figures.js';
import { fingerprint, type Notification } from './notification.js';
import type { AlertRule, AlertRules, GroupLabel, Receiver } from './rules.js';

/** A view's filter, as subscribe's (§5): absent means every value. */
export interface ViewFilter {
  endpoints?: string[];
  models?: string[];
  nodes?: string[];
}

/** The label values of the snapshot (§6.1 /metrics/labels). */
export interface PresentLabels {
  readonly endpoints: readonly string[];
  readonly models: readonly string[];
  readonly nodes: readonly string[];
}

export interface EvaluationInput {
  /** The snapshot's time, ms since the epoch. */
  readonly nowMs: number;
  /** The snapshot's data for a filter. */
  view(filter: ViewFilter): SnapshotData;
  readonly labels: PresentLabels;
  /** The caller's lease: key and epoch (alert-state.ts). */
  readonly fence: AlertFence;
}

export type EvaluationStatus =
  /** Evaluated and committed (or nothing to commit). */
  | 'evaluated'
  /** The store refused the fence: another replica leads. Nothing written. */
  | 'fenced'
  /** An evaluation is still running; this snapshot is skipped. */
  | 'busy'
  /** The store or the queue failed (logged); the next snapshot retries. */
  | 'error';

export interface EvaluationResult {
  readonly status: EvaluationStatus;
  /** Notifications this evaluation committed. */
  readonly notifications: readonly Notification[];
  readonly error?: unknown;
}

/** The part of a pino logger the evaluator uses. */
export interface EvaluatorLogger {
  warn(obj: object, msg: string): void;
}

export interface AlertEvaluatorOptions {
  readonly rules: AlertRules;
  readonly store: AlertStateStore;
  readonly queue: NotificationQueue;
  /** Alertmanager's `externalURL` and the base of `generatorURL`: where Pulse's REST is reached. Default ''. */
  readonly externalUrl?: string;
  /** Groups per rule at most (the cross product can be large); beyond, the rest are skipped and a warning logged. Default 1000. */
  readonly maxGroupsPerRule?: number;
  readonly logger?: EvaluatorLogger;
}

const LABEL_FILTER: Record<GroupLabel, keyof ViewFilter> = { endpoint: 'endpoints', model: 'models', node: 'nodes' };

/** One alert a rule can make: who it is, and the view its figure is read from. */
interface Group {
  readonly identity: AlertIdentity;
  readonly filter: ViewFilter;
  /** The same for every group with the same filter: views are built once per key. */
  readonly viewKey: string;
}

export class AlertEvaluator implements AlertsSource {
  private readonly rules: readonly AlertRule[];
  private readonly rulesByName: ReadonlyMap<string, AlertRule>;
  private readonly readers: ReadonlyMap<AlertRule, FigureReader>;
  private readonly receivers: ReadonlyMap<string, Receiver>;
  private readonly externalUrl: string;
  private readonly maxGroups: number;
  private readonly log: EvaluatorLogger;
  /** By fingerprint; null until loaded for the current epoch. */
  private states: Map<string, AlertState> | null = null;
  private epoch: number | null = null;
  /** The outbox may hold notifications the queue has not taken. */
  private outboxDirty = true;
  private running = false;
  private readonly truncatedRules = new Set<string>();
  /** Each rule's groups for the labels of `groupsLabelsKey` (groupsOf). */
  private readonly groups = new Map<AlertRule, readonly Group[]>();
  private groupsLabelsKey = '';

  constructor(private readonly deps: AlertEvaluatorOptions) {
    this.rules = deps.rules.rules;
    this.rulesByName = new Map(this.rules.map((r) => [r.name, r]));
    this.readers = new Map(this.rules.map((r) => [r, figureReader(r.figure)]));
    this.receivers = new Map(deps.rules.receivers.map((r) => [r.name, r]));
    this.externalUrl = deps.externalUrl ?? '';
    this.maxGroups = deps.maxGroupsPerRule ?? 1000;
    this.log = deps.logger ?? { warn: () => {} };
  }

  /** Evaluates every rule on one snapshot. Never throws: a failure is logged and reported in the result. */
  async evaluate(input: EvaluationInput): Promise<EvaluationResult> {
    if (this.running) return { status: 'busy', notifications: [] };
    this.running = true;
    try {
      return await this.evaluateOnce(input);
    } catch (error) {
      this.log.warn({ err: error }, 'alert evaluation failed; the next snapshot retries');
      return { status: 'error', notifications: [], error };
    } finally {
      this.running = false;
    }
  }

  /** The pending and firing alerts as of the last evaluation (empty before the first, or after losing the lease). */
  async listAlerts(): Promise<readonly AlertState[]> {
    return [...(this.states?.values() ?? [])];
  }

  /** Forgets the state (call on losing the lease); the next evaluation loads it from the store. */
  reset(): void {
    this.states = null;
    this.epoch = null;
  }

  /**
   * Hands every notification of the outbox to the queue and acknowledges
   * those it took. Returns how many were handed over. Safe to call at any
   * time, by any replica: enqueue is idempotent by id.
   */
  async drainOutbox(): Promise<number> {
    const pending = await this.deps.store.outbox();
    const taken: string[] = [];
    try {
      for (const n of pending) {
        await this.deps.queue.enqueue(n);
        taken.push(n.id);
      }
    } finally {
      await this.deps.store.acknowledge(taken);
    }
    return taken.length;
  }

  private async evaluateOnce(input: EvaluationInput): Promise<EvaluationResult> {
    if (this.states === null || this.epoch !== input.fence.epoch) {
      const loaded = await this.deps.store.load();
      this.states = new Map(loaded.map((s) => [s.fingerprint, s]));
      this.epoch = input.fence.epoch;
      // A former leader may have committed notifications and died before handing them over.
      this.outboxDirty = true;
    }
    const prev = this.states;
    const next = new Map<string, AlertState>();
    const put: AlertState[] = [];
    const notifications: Notification[] = [];
    const ctxBase = { receivers: this.receivers, nowMs: input.nowMs, externalUrl: this.externalUrl };

    // Alerts held before and evaluated now: the rest lost their group.
    const visited = new Set<string>();
    const apply = (identity: AlertIdentity, value: number | undefined, ctx: StepContext): void => {
      const before = prev.get(identity.fingerprint) ?? null;
      if (before) visited.add(identity.fingerprint);
      const result = step(before, identity, value, ctx);
      if (result.notifications.length > 0) notifications.push(...result.notifications);
      if (result.next) {
        next.set(identity.fingerprint, result.next);
        if (!before || !sameState(before, result.next)) put.push(result.next);
      }
    };

    const views = new Map<string, SnapshotData>();
    const viewOf = (group: Group): SnapshotData => {
      let data = views.get(group.viewKey);
      if (!data) views.set(group.viewKey, (data = input.view(group.filter)));
      return data;
    };

    const labelsKey = JSON.stringify(input.labels);
    if (labelsKey !== this.groupsLabelsKey) {
      this.groups.clear();
      this.groupsLabelsKey = labelsKey;
    }
    // Every group's fingerprint is distinct: alertname is the rule's (unique) name, and a rule's groups differ in their values.
    for (const rule of this.rules) {
      const ctx = { ...ctxBase, rule };
      const read = this.readers.get(rule)!;
      for (const group of this.groupsOf(rule, input.labels)) apply(group.identity, read(viewOf(group)), ctx);
    }
    // Alerts whose group is gone (or whose rule is): no value this time.
    for (const state of prev.values()) {
      if (visited.has(state.fingerprint)) continue;
      const rule = this.rulesByName.get(state.rule);
      apply(rule ? { ...state, annotations: { ...rule.annotations } } : state, undefined, { ...ctxBase, rule });
    }

    const remove = [...prev.keys()].filter((fp) => !next.has(fp));
    if (put.length > 0 || remove.length > 0 || notifications.length > 0) {
      const written = await this.deps.store.commit({ put, remove, notifications }, input.fence);
      if (!written) {
        this.reset();
        return { status: 'fenced', notifications: [] };
      }
    }
    this.states = next;
    if (notifications.length > 0) this.outboxDirty = true;
    if (this.outboxDirty) {
      await this.drainOutbox();
      this.outboxDirty = false;
    }
    return { status: 'evaluated', notifications };
  }

  /**
   * The rule's groups for the labels present now. Labels change rarely, and
   * a group's identity (its fingerprint, a hash) and view filter never do:
   * they are worked out once per rule and kept until the labels change
   * (evaluateOnce clears them).
   */
  private groupsOf(rule: AlertRule, present: PresentLabels): readonly Group[] {
    let groups = this.groups.get(rule);
    if (!groups) {
      groups = this.valueSetsOf(rule, present).map((values) => {
        const filter = filterOf(rule, values);
        const viewKey = JSON.stringify([filter.endpoints ?? null, filter.models ?? null, filter.nodes ?? null]);
        return { identity: identityOf(rule, values), filter, viewKey };
      });
      this.groups.set(rule, groups);
    }
    return groups;
  }

  /** The value sets of the rule's group_by labels present now, within its filters: a cross product. */
  private valueSetsOf(rule: AlertRule, present: PresentLabels): Record<string, string>[] {
    let groups: Record<string, string>[] = [{}];
    for (const label of rule.groupBy) {
      const key = LABEL_FILTER[label];
      const allowed = rule.filters[key];
      const values = [...new Set(present[key])].filter((v) => !allowed || allowed.includes(v));
      groups = groups.flatMap((g) => values.map((v) => ({ ...g, [label]: v })));
    }
    if (groups.length > this.maxGroups) {
      if (!this.truncatedRules.has(rule.name)) {
        this.truncatedRules.add(rule.name);
        this.log.warn({ rule: rule.name, groups: groups.length, max: this.maxGroups }, 'alert rule has more groups than evaluated');
      }
      groups = groups.slice(0, this.maxGroups);
    }
    return groups;
  }
}

/** The view of one group: the rule's filters, with each group_by label narrowed to the group's value. */
function filterOf(rule: AlertRule, group: Readonly<Record<string, string>>): ViewFilter {
  const filter: ViewFilter = {};
  for (const label of ['endpoint', 'model', 'node'] as const) {
    const key = LABEL_FILTER[label];
    const value = group[label];
    if (value !== undefined) filter[key] = [value];
    else if (rule.filters[key]) filter[key] = [...(rule.filters[key] as readonly string[])];
  }
  return filter;
}

function identityOf(rule: AlertRule, group: Readonly<Record<string, string>>): AlertIdentity {
  const groupLabels = { alertname: rule.name, ...group };
  const labels = { ...groupLabels, ...rule.labels };
  return { fingerprint: fingerprint(labels), rule: rule.name, labels, groupLabels, annotations: { ...rule.annotations } };
}

/**
 * Whether an evaluation changed what is stored of an alert. Labels and
 * annotations come from the alert's identity (fixed by its fingerprint, and
 * the rule's text): compared by content only when not the same object.
 */
function sameState(a: AlertState, b: AlertState): boolean {
  return (
    a.phase === b.phase &&
    a.activeAtMs === b.activeAtMs &&
    a.firedAtMs === b.firedAtMs &&
    a.keepFiringSinceMs === b.keepFiringSinceMs &&
    a.value === b.value &&
    a.firedValue === b.firedValue &&
    sameRecord(a.annotations, b.annotations) &&
    (a.sent === b.sent || JSON.stringify(a.sent) === JSON.stringify(b.sent)) &&
    (a.labels === b.labels || JSON.stringify(a.labels) === JSON.stringify(b.labels))
  );
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
