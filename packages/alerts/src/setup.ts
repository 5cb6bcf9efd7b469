/**
 * How a process opens alerts from PULSE_ALERT_RULES: the rules (validated
 * against the SLOs the snapshots carry), and the state store and delivery
 * queue — in Redis, shared by the cluster, or in-process for `npm start`
 * without Redis (docs/ALERTS.md). A process that evaluates (an aggregator, or
 * the all-in-one process) also runs a delivery worker; a gateway only reads.
 */
import type { Cluster, Redis } from 'ioredis';
import { RedisAlertStateStore } from './alert-state.redis.js';
import { MemoryAlertStateStore } from './alert-state.memory.js';
import type { AlertStateStore } from './alert-state.js';
import { BullmqNotificationQueue } from './delivery.bullmq.js';
import { MemoryNotificationQueue } from './delivery.memory.js';
import type { NotificationQueue } from './delivery.js';
import { alertKeys } from './keys.js';
import { loadAlertRules, type AlertRules } from './rules.js';

export interface AlertsSetup {
  rules: AlertRules;
  store: AlertStateStore;
  queue: NotificationQueue;
}

export interface AlertsRedis {
  /** A fail-fast connection for the state's scripts. */
  commands: Redis | Cluster;
  /** A patient connection for BullMQ (maxRetriesPerRequest null). */
  patient: Redis | Cluster;
  prefix: string;
}

/**
 * openAlerts, or — for a bad rules file — one line naming every problem on
 * stderr and exit code 2, as for any other invalid configuration.
 */
export async function openAlertsOrExit(service: string, path: string, slos: readonly string[], redis: AlertsRedis | null, worker: boolean): Promise<AlertsSetup> {
  try {
    return await openAlerts(path, slos, redis, worker);
  } catch (err) {
    process.stderr.write(`pulse ${service}: invalid configuration: ${(err as Error).message.replaceAll('\n', ' ')}\n`);
    process.exit(2);
  }
}

/** Opens alerts on Redis, or in-process when `redis` is null. Rejects with every problem of the rules file. */
export async function openAlerts(path: string, slos: readonly string[], redis: AlertsRedis | null, worker: boolean): Promise<AlertsSetup> {
  const rules = await loadAlertRules(path, { slos });
  if (!redis) return { rules, store: new MemoryAlertStateStore(), queue: new MemoryNotificationQueue({ receivers: rules.receivers }) };
  const keys = alertKeys(redis.prefix);
  return {
    rules,
    store: new RedisAlertStateStore(redis.commands, keys),
    queue: new BullmqNotificationQueue({ connection: redis.patient, keys, receivers: rules.receivers, worker }),
  };
}
