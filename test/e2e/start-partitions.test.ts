/**
 * `npm start` with PULSE_PARTITIONS=3 (issue 16 item 3): the one process runs
 * every partition's aggregator on the in-process log and buses and its
 * gateway merges them. The same events posted to it and to a one-partition
 * `npm start` give the same figures (the rates aside: each process has its
 * own creation time; averages to float rounding: sums added in another order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '@pulse/protocol';
import { startService, type ServiceProcess } from '@pulse/test-support/processes';

const NODES = Array.from({ length: 9 }, (_, i) => `fakeai-${i}`);

function body(): object[] {
  const now = Date.now() / 1000;
  return NODES.flatMap((node, n) =>
    Array.from({ length: 20 }, (_, i) => {
      const base = { ts: now, node, request_id: `${node}-${i}`, endpoint: i % 2 ? '/v1/chat/completions' : '/v1/embeddings', model: i % 3 ? 'gpt-4' : 'llama', stream: i % 2 === 1 };
      return [
        { type: 'request.start', ...base },
        { type: 'request.end', ...base, ts: now + 0.1, status: i % 7 === 0 ? 500 : 200, latency_ms: 50 + 13 * i + n, ttft_ms: 5 + i, completion_tokens: 10 + i, prompt_tokens: 20 },
      ];
    }).flat(),
  );
}

let one: ServiceProcess;
let three: ServiceProcess;
beforeAll(async () => {
  [one, three] = await Promise.all([
    startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn' }),
    startService('standalone', { PULSE_TICK_MS: '100', LOG_LEVEL: 'warn', PULSE_PARTITIONS: '3' }),
  ]);
}, 30_000);
afterAll(async () => {
  await Promise.all([one?.stop(), three?.stop()]);
});

/** Equal figures: numbers within float rounding, everything else exactly. */
function expectSame(got: unknown, want: unknown, path = 'data'): void {
  if (typeof want === 'number') return void expect(Math.abs((got as number) - want), path).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
  if (typeof want !== 'object' || want === null) return void expect(got, path).toEqual(want);
  expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expectSame((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
}

async function snapshotOf(p: ServiceProcess): Promise<any> {
  return (await fetch(`${p.url}/metrics/snapshot`)).json();
}

describe('npm start with PULSE_PARTITIONS=3', () => {
  it('merges its partitions to the one-partition figures', { timeout: 20_000 }, async () => {
    expect(new Set(NODES.map((n) => partitionOf(n, 3))).size).toBe(3);
    const events = body();
    for (const p of [one, three]) {
      const res = await fetch(`${p.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      expect(res.status).toBe(202);
    }
    const counted = async (p: ServiceProcess) => {
      for (let i = 0; i < 100; i++) {
        const s = await snapshotOf(p);
        if (s.data.streaming.completed_streams + s.data.streaming.failed_streams === 90) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('not all counted');
    };
    const [a, b] = await Promise.all([counted(one), counted(three)]);
    expect(b.stale_partitions).toBeUndefined();
    expectSame(b.data.latency, a.data.latency);
    expectSame(b.data.streaming, a.data.streaming);
    expectSame(b.data.cache, a.data.cache);
    expect(Object.keys(b.data.error.by_status)).toEqual(Object.keys(a.data.error.by_status));
    expect(Object.keys(b.data.nodes).sort()).toEqual([...NODES].sort());
    for (const node of NODES) expectSame(b.data.nodes[node].latency, a.data.nodes[node].latency);
    const labels = (await (await fetch(`${three.url}/metrics/labels`)).json()) as { nodes: string[] };
    expect(labels.nodes).toEqual([...NODES].sort());
  });
});
