/**
 * The end of a soak: once the simulator has stopped, every accepted event
 * must reach both aggregators. Polls their /status until each one's
 * eventsApplied equals the accepted count, or until none has moved for a
 * while (then the counts are what they are), or a timeout.
 */
import { sleep } from '../lib/ports.js';
import type { SoakCluster } from './cluster.js';

const POLL_MS = 1000;
/** No aggregator's count moved for this long: they have stopped. */
const QUIET_MS = 5000;
const TIMEOUT_MS = 60_000;

export interface Settled {
  /** Both reached `accepted`, or stopped moving, before the timeout. */
  settled: boolean;
  seconds: number;
  /** Each aggregator's eventsApplied at the end (null: not in its /status). */
  applied: Record<string, number | null>;
}

export async function settle(cluster: SoakCluster, accepted: number): Promise<Settled> {
  const t0 = Date.now();
  let last = '';
  let quietSince = t0;
  for (;;) {
    const status = await cluster.aggregatorStatus();
    const applied = Object.fromEntries(
      Object.entries(status).map(([name, s]) => [name, typeof s?.eventsApplied === 'number' ? s.eventsApplied : null]),
    );
    const now = Date.now();
    const seconds = Math.round((now - t0) / 100) / 10;
    const key = JSON.stringify(applied);
    if (key !== last) {
      last = key;
      quietSince = now;
    }
    if (Object.values(applied).every((n) => n === accepted) || now - quietSince >= QUIET_MS) return { settled: true, seconds, applied };
    if (now - t0 >= TIMEOUT_MS) return { settled: false, seconds, applied };
    await sleep(POLL_MS);
  }
}
