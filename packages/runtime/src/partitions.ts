/**
 * Every service of a deployment must run with the same PULSE_PARTITIONS:
 * ingest routing by one count and aggregators or gateways expecting another
 * would split events where nobody reads them. The first service to start
 * records the count in the deployment's meta hash (`{prefix}:meta`, field
 * `partitions`); each one after it compares and refuses to start on a
 * mismatch, naming the variable and what Redis holds.
 */
import { pulseKeys, type PulseKeys } from '@pulse/protocol';
import type { Logger } from './logger.js';
import { closeRedis, connectRedis, type RedisConnection } from './redis.js';

export class PartitionCountError extends Error {
  override readonly name = 'PartitionCountError';
  constructor(
    readonly configured: number,
    readonly recorded: number,
    readonly meta: string,
  ) {
    super(
      `PULSE_PARTITIONS=${configured}, but this deployment's Redis records ${recorded} partition${recorded === 1 ? '' : 's'} (${meta}, field partitions): ` +
        `every ingest node, aggregator, gateway and proxy of a deployment must use the same PULSE_PARTITIONS. ` +
        `To change it, start a new deployment (another PULSE_KEY_PREFIX), or delete the field (HDEL ${meta} partitions) once nothing runs with the old count: ` +
        `the old partitions' unread events and totals are not carried over.`,
    );
  }
}

/**
 * Records `keys.partitions` as the deployment's partition count unless one
 * is recorded already, and throws PartitionCountError when the recorded one
 * differs. Rejects as the connection does when Redis does not answer.
 */
export async function checkPartitionCount(redis: RedisConnection, keys: PulseKeys): Promise<void> {
  await redis.hsetnx(keys.meta, 'partitions', String(keys.partitions));
  const recorded = Number(await redis.hget(keys.meta, 'partitions'));
  if (recorded !== keys.partitions) throw new PartitionCountError(keys.partitions, recorded, keys.meta);
}

/** How often a service whose Redis does not answer yet tries the check again. */
const RETRY_MS = 1000;

/**
 * For main.ts: resolves once the count is checked (retrying while Redis does
 * not answer); on a mismatch prints one line naming PULSE_PARTITIONS and
 * exits 2, like a bad variable (config.ts). `stopped` ends the retries.
 */
export async function checkPartitionCountOrExit(
  service: string,
  redis: RedisConnection,
  keys: PulseKeys,
  logger: Logger,
  stopped: () => boolean = () => false,
): Promise<void> {
  // The first try waits for the connection; the retries after it wait RETRY_MS each.
  await readyWithin(redis, RETRY_MS);
  let warned = false;
  while (!stopped()) {
    try {
      await checkPartitionCount(redis, keys);
      return;
    } catch (err) {
      if (err instanceof PartitionCountError) {
        logger.fatal({ configured: err.configured, recorded: err.recorded }, 'PULSE_PARTITIONS differs from the deployment\'s');
        process.stderr.write(`pulse ${service}: invalid configuration: ${err.message}\n`);
        process.exit(2);
      }
      if (!warned) logger.warn({ err }, 'cannot check PULSE_PARTITIONS against Redis yet; retrying');
      warned = true;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/**
 * Waits until `redis` is connected, or `ms`, whichever is first. The check
 * starts on a connection still connecting, and a command sent before it is
 * ready fails at once (the offline queue is off): that was a warning with a
 * stack on every start of every service.
 */
async function readyWithin(redis: RedisConnection, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
  });
}

/** A check of PULSE_PARTITIONS running beside a service's start (it exits the process on a mismatch). */
export interface PartitionCheck {
  /** True once the count is checked against Redis: ingest is not ready before. */
  readonly checked: boolean;
  /** Stops retrying (shutdown). */
  stop(): void;
}

/**
 * For main.ts of a service that does not wait for Redis to start (ingest, a
 * gateway, the proxy): checks PULSE_PARTITIONS on a connection of its own,
 * closed once done, retrying until Redis answers; exits 2 on a mismatch.
 */
export function checkPartitionsInBackground(
  service: string,
  config: { readonly REDIS_URL: string; readonly PULSE_KEY_PREFIX: string; readonly PULSE_PARTITIONS?: number },
  name: string,
  logger: Logger,
): PartitionCheck {
  let checked = false;
  let stopped = false;
  const redis = connectRedis(config.REDIS_URL, 'producer', `${name}-check`, logger);
  void checkPartitionCountOrExit(service, redis, pulseKeys(config.PULSE_KEY_PREFIX, 0, config.PULSE_PARTITIONS ?? 1), logger, () => stopped)
    .then(() => (checked = !stopped))
    .finally(() => closeRedis(redis).catch(() => undefined));
  return {
    get checked() {
      return checked;
    },
    stop() {
      stopped = true;
    },
  };
}
