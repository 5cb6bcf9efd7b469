/**
 * Ticks that do not happen are visible: an aggregator whose event loop is
 * blocked past several tick edges counts them in its status (and so in
 * `pulse_aggregator_ticks_skipped_total`) and says so in one warning.
 */
import { MemoryConsumerGroup, MemoryEventLog, MemoryEventSource, MemoryLeaderLease, MemoryLeaseStore, MemorySnapshotBus } from '@pulse/runtime';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/support/logs.js';
import { createAggregator, type Aggregator } from './aggregator.js';

const TICK = 200;
const settings = { windowMs: 60_000, tickMs: TICK, maxEndpoints: 100, maxModels: 100, maxNodes: 256, maxCells: 1000, slos: [], batchEntries: 100 };

let aggregator: Aggregator | null = null;
afterEach(async () => {
  await aggregator?.close();
  aggregator = null;
});

describe('skipped ticks', () => {
  it('are counted in the status and logged once, with how long the slowest took', async () => {
    const log = new MemoryEventLog(60_000);
    const leases = new MemoryLeaseStore();
    const { logger, lines } = capturingLogger('warn');
    aggregator = createAggregator({
      settings,
      source: new MemoryEventSource(log, { group: new MemoryConsumerGroup(Date.now(), leases), consumer: 'a', reclaimIdleMs: 60_000 }),
      lease: new MemoryLeaderLease(leases, 1500),
      publisher: new MemorySnapshotBus(300),
      logger,
    });
    aggregator.start();
    await aggregator.nextSnapshot();
    const before = aggregator.status().ticksSkipped;
    // The event loop blocked for 4.5 ticks: the tick due in it starts late, and the edges after it pass.
    const until = Date.now() + 4.5 * TICK;
    while (Date.now() < until);
    await sleep(3 * TICK);
    const status = aggregator.status();
    expect(status.ticksSkipped - before).toBeGreaterThanOrEqual(3);
    expect(status.lastTickMs).toBeLessThan(TICK);
    const warned = lines.filter((l) => l.msg.startsWith('ticks skipped'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ tickMs: TICK, state: 'leading' });
    // The first skip is logged at once, counting every edge of the tick that skipped; the next line waits 10 s. (A busy
    // machine may have skipped one before the block: then that one was the line, and the block's wait for the next.)
    if (before === 0) expect(warned[0]!.skipped).toBe(status.ticksSkipped);
  });
});
