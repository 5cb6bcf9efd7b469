/**
 * The aggregator's ops port: its self-metrics carry the process's memory and
 * event-loop lag and what the window holds, in either role.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AggregatorStatus } from './aggregator.js';
import { createHealthServer } from './health-server.js';

const standby: AggregatorStatus = {
  role: 'standby',
  state: 'standby',
  epoch: null,
  lastPublishedSeq: null,
  lastPublishedAt: null,
  cells: 42,
  buckets: 121,
  eventsApplied: 9000,
  appliedId: '1-0',
  inFlight: 17,
  nodes: 8,
  recordedEntries: 120,
  labelsFolded: 3,
  lagMs: null,
  ticksSkipped: 5,
  lastTickMs: 37,
};

let close: (() => void) | null = null;
afterEach(() => close?.());

async function serve(status: AggregatorStatus): Promise<string> {
  const server = createHealthServer({ status: () => status, storeReachable: () => true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => server.close();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('aggregator health server', () => {
  it('serves process and window metrics of a standby at /metrics', async () => {
    const url = await serve(standby);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const line of [
      'pulse_aggregator_leader 0',
      'pulse_aggregator_buckets 121',
      'pulse_aggregator_cells 42',
      'pulse_aggregator_nodes 8',
      'pulse_aggregator_in_flight 17',
      'pulse_aggregator_recorded_entries 120',
      'pulse_aggregator_labels_folded_total 3',
      'pulse_aggregator_lag_ms 0',
      'pulse_aggregator_ticks_skipped_total 5',
      'pulse_aggregator_last_tick_ms 37',
    ]) {
      expect(text).toMatch(new RegExp(`^${line}$`, 'm'));
    }
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) expect(text).toContain(`\n${name} `);
  });

  it('answers readiness with the role, and status as JSON', async () => {
    const url = await serve({ ...standby, role: 'leader', state: 'leading', epoch: 4, lagMs: 12 });
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', role: 'leader' });
    expect(await (await fetch(`${url}/status`)).json()).toMatchObject({ role: 'leader', buckets: 121 });
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^pulse_aggregator_lag_ms 12$/m);
  });
});
