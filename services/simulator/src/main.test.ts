/**
 * The simulator process against a running Pulse: its events show up as the
 * figures its settings describe, it stops cleanly on SIGTERM (flushing), and
 * a bad setting exits 2 naming the variable.
 */
import { describe, expect, it } from 'vitest';
import { standalonePerFile, startService, type ServiceProcess } from '@pulse/test-support/processes';

let pulse: ServiceProcess;

standalonePerFile({}, (p) => (pulse = p));

async function snapshot(): Promise<any> {
  return (await (await fetch(`${pulse.url}/metrics/snapshot`)).json()) as any;
}

describe('simulator process', () => {
  it('feeds Pulse with the traffic its settings describe, and exits 0 on SIGTERM', async () => {
    const sim = await startService(
      'simulator',
      {
        PULSE_INGEST_URL: pulse.url,
        PULSE_SIM_NODES: '2',
        PULSE_SIM_RATE: '200',
        PULSE_SIM_ENDPOINTS: '/v1/chat/completions:3,/v1/embeddings:1',
        PULSE_SIM_MODELS: 'model-x,model-y',
        PULSE_SIM_ERROR_RATE: '0.1',
        PULSE_SIM_LATENCY_MS: '50',
        PULSE_SIM_TTFT_MS: '20',
        PULSE_SIM_TOKENS_PER_SEC: '2000',
        PULSE_SIM_GAUGE_INTERVAL_MS: '200',
        PULSE_SIM_SEED: '11',
        LOG_LEVEL: 'info',
      },
      { waitReady: false },
    );
    await expect.poll(async () => (await snapshot()).data.streaming.completed_streams, { timeout: 10_000 }).toBeGreaterThan(20);
    const { data } = await snapshot();
    expect(Object.keys(data.throughput.requests_per_sec).sort()).toEqual(['/v1/chat/completions', '/v1/embeddings']);
    expect(data.throughput.total_requests_per_sec).toBeGreaterThan(0);
    expect(data.error.total_errors_per_sec).toBeGreaterThan(0);
    expect(data.streaming.ttft.p50).toBeGreaterThan(0);
    expect(data.cache.total_lookups).toBeGreaterThan(0);
    expect(data.latency['/v1/embeddings'].p50).toBeLessThan(data.latency['/v1/chat/completions'].p50);

    expect(await sim.stop('SIGTERM')).toBe(0);
    expect(sim.output()).toMatch(/simulator stopped/);
    const stopped = sim.output().split('\n').find((l) => l.includes('simulator stopped'))!;
    const stats = JSON.parse(stopped).reporter;
    expect(stats.dropped).toBe(0);
    expect(stats.buffered).toBe(0);
    expect(stats.sent).toBeGreaterThan(0);
  }, 30_000);

  it('exits 2 with one line naming a bad setting', async () => {
    const sim = await startService('simulator', { PULSE_SIM_RATE: 'fast', PULSE_SIM_MODELS: 'a:0' }, { waitReady: false });
    expect(await sim.exited).toBe(2);
    const lines = sim.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PULSE_SIM_RATE/);
    expect(lines[0]).toMatch(/PULSE_SIM_MODELS/);
  });
});
