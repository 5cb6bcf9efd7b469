/**
 * The simulator process's node settings, end to end: a slow node and a
 * failing node as Pulse's per-node figures show them, and two runs under one
 * seed that send the same traffic under request ids that never meet.
 */
import { describe, expect, it } from 'vitest';
import type { RequestEnd } from '@pulse/protocol';
import { startMemoryIngest } from '@pulse/test-support/memory-ingest';
import { standalonePerFile, startService, type ServiceProcess } from '@pulse/test-support/processes';

let pulse: ServiceProcess;

standalonePerFile({}, (p) => (pulse = p));

/** Short, fast requests: many of them in a few seconds. */
const TRAFFIC = {
  PULSE_SIM_RATE: '300',
  PULSE_SIM_ENDPOINTS: '/v1/chat/completions',
  PULSE_SIM_LATENCY_MS: '40',
  PULSE_SIM_TTFT_MS: '20',
  PULSE_SIM_TOKENS_PER_SEC: '2000',
  PULSE_SIM_COMPLETION_TOKENS: '20',
  PULSE_SIM_GAUGE_INTERVAL_MS: '200',
};

async function snapshot(): Promise<any> {
  return (await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any;
}

describe('simulator process: node settings', () => {
  it("makes the slow node k× slower and the failing node fail at its rate, in Pulse's per-node figures", async () => {
    const sim = await startService(
      'simulator',
      {
        PULSE_INGEST_URL: pulse.url,
        ...TRAFFIC,
        PULSE_SIM_NODES: '3',
        PULSE_SIM_ERROR_RATE: '0',
        PULSE_SIM_SLOW_NODES: 'fakeai-sim-2:4',
        PULSE_SIM_FAILING_NODES: 'fakeai-sim-3:0.5',
        PULSE_SIM_SEED: '5',
      },
      { waitReady: false },
    );
    try {
      // About 180 streams a second: ~1000 requests, ~330 a node, by then.
      await expect.poll(async () => (await snapshot()).data.streaming.completed_streams, { timeout: 15_000 }).toBeGreaterThan(600);
    } finally {
      expect(await sim.stop('SIGTERM')).toBe(0);
    }
    expect(sim.output()).toMatch(/"slow":\{"fakeai-sim-2":4\},"failing":\{"fakeai-sim-3":0.5\}/);
    const { data } = await snapshot();
    const [normal, slow, failing] = ['fakeai-sim-1', 'fakeai-sim-2', 'fakeai-sim-3'].map((n) => data.nodes[n]);
    // Planned latencies, multiplied by 4: only the sampling of ~330 requests a node separates the medians.
    expect(slow.latency.p50 / normal.latency.p50).toBeGreaterThan(3.2);
    expect(slow.latency.p50 / normal.latency.p50).toBeLessThan(4.8);
    expect(slow.ttft.p50 / normal.ttft.p50).toBeGreaterThan(3.2);
    expect(slow.ttft.p50 / normal.ttft.p50).toBeLessThan(4.8);
    expect(normal.errors_per_sec).toBe(0);
    expect(slow.errors_per_sec).toBe(0);
    expect(failing.errors_per_sec / failing.responses_per_sec).toBeGreaterThan(0.4);
    expect(failing.errors_per_sec / failing.responses_per_sec).toBeLessThan(0.6);
    expect(Object.keys(data.error.by_type).sort()).toEqual(['internal_error', 'rate_limit_exceeded', 'service_unavailable']);
    expect(data.streaming.itl.p50).toBeGreaterThan(0);
  }, 40_000);

  it('two runs with the same seed and node names send the same requests, never under the same id', async () => {
    const ingests = await Promise.all([startMemoryIngest(), startMemoryIngest()]);
    try {
      // Side by side, as a restarted simulator meets what its predecessor left in flight.
      const runs = await Promise.all(
        ingests.map((ingest) =>
          startService('simulator', { PULSE_INGEST_URL: ingest.url, ...TRAFFIC, PULSE_SIM_NODES: '2', PULSE_SIM_SEED: '9', PULSE_SIM_DURATION_SECONDS: '1.5' }, { waitReady: false }),
        ),
      );
      expect(await Promise.all(runs.map((r) => r.exited))).toEqual([0, 0]);
      const [first, second] = ingests.map((ingest) => ingest.stored().filter((e): e is RequestEnd => (e as RequestEnd).type === 'request.end'));
      const ids = new Set(first!.map((e) => e.request_id));
      expect(second!.filter((e) => ids.has(e.request_id))).toEqual([]);

      // Request by request (node and counter), the figures are the same.
      const byRequest = (ends: RequestEnd[]) => new Map(ends.map(({ ts: _ts, request_id: id, ...figures }) => [`${figures.node}#${id.split('-').at(-1)}`, figures]));
      const [a, b] = [byRequest(first!), byRequest(second!)];
      const common = [...a.keys()].filter((k) => b.has(k));
      expect(common.length).toBeGreaterThan(200);
      for (const key of common) expect(b.get(key), key).toEqual(a.get(key));
    } finally {
      await Promise.all(ingests.map((i) => i.close()));
    }
  }, 30_000);
});
