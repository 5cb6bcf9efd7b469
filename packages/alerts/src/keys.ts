/**
 * Every Redis key of @pulse/alerts, built from the deployment's prefix
 * (PULSE_KEY_PREFIX). No other module of the package joins key names.
 *
 * All of them start with the hash tag `{<prefix>}`, like @pulse/protocol's
 * keys: the fenced Lua script reads the aggregators' lease
 * (`{<prefix>}:leader:lease`) and writes the alert state and the outbox in
 * one call, which Redis Cluster allows only within one slot.
 */

export interface AlertKeys {
  /** Hash: alert fingerprint → JSON AlertState (pending and firing alerts only). */
  readonly state: string;
  /** Hash: notification id → JSON Notification, written with the state, drained into the queue. */
  readonly outbox: string;
  /** BullMQ's key prefix: its keys are `{<prefix>}:bull:<queue>:…`, in the same slot. */
  readonly bullPrefix: string;
  /** The BullMQ queue name (BullMQ forbids `:` in it). */
  readonly queueName: string;
}

export function alertKeys(prefix: string): AlertKeys {
  const p = `{${prefix}}`;
  return Object.freeze({
    state: `${p}:alerts:state`,
    outbox: `${p}:alerts:outbox`,
    bullPrefix: `${p}:bull`,
    queueName: 'alert-notifications',
  });
}
