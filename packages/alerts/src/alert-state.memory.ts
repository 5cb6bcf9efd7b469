/**
 * Alert state in one process: `npm start` without Redis, and tests. The
 * same contract as the Redis store (alert-state.ts): a commit is all or
 * nothing, and refused when `accepts(fence)` says the fence is stale — by
 * default every fence is accepted, since the single process is always the
 * leader (@pulse/runtime's MemoryLeaderLease).
 */
import { byCreation, type AlertCommit, type AlertFence, type AlertState, type AlertStateStore } from './alert-state.js';
import type { Notification } from './notification.js';

export class MemoryAlertStateStore implements AlertStateStore {
  private readonly states = new Map<string, AlertState>();
  private readonly pending = new Map<string, Notification>();

  constructor(private readonly accepts: (fence: AlertFence) => boolean = () => true) {}

  async load(): Promise<AlertState[]> {
    // Copies: a caller must not be able to change what is stored behind the store's back.
    return [...this.states.values()].map((s) => structuredClone(s));
  }

  listAlerts(): Promise<AlertState[]> {
    return this.load();
  }

  async commit(change: AlertCommit, fence: AlertFence): Promise<boolean> {
    if (!this.accepts(fence)) return false;
    for (const fp of change.remove) this.states.delete(fp);
    for (const state of change.put) this.states.set(state.fingerprint, structuredClone(state));
    for (const n of change.notifications) this.pending.set(n.id, structuredClone(n));
    return true;
  }

  async outbox(): Promise<Notification[]> {
    return [...this.pending.values()].sort(byCreation).map((n) => structuredClone(n));
  }

  async acknowledge(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.pending.delete(id);
  }
}
