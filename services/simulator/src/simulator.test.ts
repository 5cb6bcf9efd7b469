/**
 * The simulator on fake timers: what its ends carry, slow and failing nodes,
 * and runs that repeat their traffic under one seed but never an id.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RequestEnd, RequestStart } from '@pulse/protocol';
import type { ReporterEvent } from '@pulse/reporter';
import { seededRandom } from './random.js';
import { Simulator, type SimulatorOptions } from './simulator.js';
import type { TrafficProfile } from './traffic.js';

/** Short requests: few timers pending at once keeps the fake clock fast. */
const profile: TrafficProfile = {
  endpoints: [{ value: '/v1/chat/completions', weight: 3 }, { value: '/v1/embeddings', weight: 1 }],
  models: [{ value: 'gpt-4o', weight: 1 }],
  streamShare: 0.6,
  errorRate: 0.02,
  cacheHitRate: 0.4,
  latencyMs: 40,
  ttftMs: 10,
  spread: 0.5,
  tokensPerSec: 2000,
  completionTokens: 40,
};

type Start = Extract<ReporterEvent, { type: 'request.start' }> & RequestStart;
type End = Extract<ReporterEvent, { type: 'request.end' }> & RequestEnd;

interface Run {
  starts: Start[];
  ends: End[];
  runId: string;
}

/** Three nodes at 1500 requests/s for 2 s of fake time, every request run to its end. */
async function run(options: Partial<SimulatorOptions> = {}, seed = 7): Promise<Run> {
  const events: ReporterEvent[] = [];
  const sim = new Simulator({ nodes: 3, ratePerSec: 1500, profile, gaugeIntervalMs: 1000, random: seededRandom(seed), emit: (e) => events.push(e), ...options });
  sim.start();
  // The simulator's timers do all their work synchronously: no need to yield between them.
  vi.advanceTimersByTime(2000);
  const stopped = sim.stop(10_000);
  vi.advanceTimersByTime(10_000);
  await stopped;
  return {
    starts: events.filter((e): e is Start => e.type === 'request.start'),
    ends: events.filter((e): e is End => e.type === 'request.end'),
    runId: sim.runId,
  };
}

const on = (node: string) => (e: { node: string }) => e.node === node;
const isError = (e: End) => e.status >= 400;
const itl = (e: End) => (e.latency_ms - e.ttft_ms!) / (e.completion_tokens! - 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** A request's own part of its id: the counter after the run id. */
const counter = (e: { request_id: string }) => e.request_id.split('-').at(-1);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Simulator', () => {
  it('ends every request it starts with what the figures need', async () => {
    const { starts, ends } = await run();
    expect(ends).toHaveLength(starts.length);
    expect(starts.length).toBeGreaterThan(2500);
    const startOf = new Map(starts.map((s) => [s.request_id, s]));
    for (const end of ends) {
      const start = startOf.get(end.request_id)!;
      expect(end.stream).toBe(start.stream);
      expect(end.status).toBeGreaterThanOrEqual(200);
      expect(end.completion_tokens).toBeGreaterThanOrEqual(0);
      if (isError(end)) expect(end.error).toMatch(/^[a-z_]+$/);
      else expect(end.error).toBeUndefined();
      if (end.stream && !isError(end)) {
        expect(end.ttft_ms).toBeGreaterThan(0);
        expect(end.latency_ms).toBeGreaterThanOrEqual(end.ttft_ms!);
        expect(end.completion_tokens).toBeGreaterThanOrEqual(1);
      }
    }
    // Tokens after the first come at the stream's speed: the median ITL is 1000 ms / tokensPerSec.
    const streams = ends.filter((e) => e.stream && !isError(e) && e.completion_tokens! >= 2);
    expect(median(streams.map(itl)) / (1000 / profile.tokensPerSec)).toBeCloseTo(1, 1);
  });

  it('makes a slow node k times slower, request for request, and leaves the others alone', async () => {
    const normal = await run();
    const slowed = await run({ slowNodes: new Map([['fakeai-sim-2', 4]]) });
    for (const node of ['fakeai-sim-1', 'fakeai-sim-2', 'fakeai-sim-3']) {
      const before = normal.ends.filter(on(node)).sort((a, b) => Number(counter(a)) - Number(counter(b)));
      const after = slowed.ends.filter(on(node)).sort((a, b) => Number(counter(a)) - Number(counter(b)));
      expect(after.map(counter)).toEqual(before.map(counter));
      const k = node === 'fakeai-sim-2' ? 4 : 1;
      after.forEach((end, i) => {
        // Each figure is rounded to 0.1 ms before and after the factor.
        expect(Math.abs(end.latency_ms - k * before[i]!.latency_ms)).toBeLessThanOrEqual(0.05 * (k + 1));
        if (end.ttft_ms !== undefined) expect(Math.abs(end.ttft_ms - k * before[i]!.ttft_ms!)).toBeLessThanOrEqual(0.05 * (k + 1));
        expect(end.completion_tokens).toBe(before[i]!.completion_tokens);
      });
    }
    const latencies = (node: string) => median(slowed.ends.filter(on(node)).map((e) => e.latency_ms));
    expect(latencies('fakeai-sim-2') / latencies('fakeai-sim-1')).toBeGreaterThan(3.4);
    expect(latencies('fakeai-sim-2') / latencies('fakeai-sim-1')).toBeLessThan(4.6);
  });

  it('makes a failing node fail at its own error rate', async () => {
    const { ends } = await run({ failingNodes: new Map([['fakeai-sim-3', 0.5]]) });
    const share = (node: string) => ends.filter(on(node)).filter(isError).length / ends.filter(on(node)).length;
    expect(share('fakeai-sim-3')).toBeGreaterThan(0.45);
    expect(share('fakeai-sim-3')).toBeLessThan(0.55);
    for (const node of ['fakeai-sim-1', 'fakeai-sim-2']) {
      expect(share(node)).toBeGreaterThan(0.005);
      expect(share(node)).toBeLessThan(0.04);
    }
    expect(new Set(ends.filter(on('fakeai-sim-3')).filter(isError).map((e) => e.status))).toEqual(new Set([429, 500, 503]));
  });

  it('repeats its traffic under one seed, yet two runs never share a request id', async () => {
    const first = await run({}, 42);
    const second = await run({}, 42);
    expect(second.runId).not.toBe(first.runId);
    const ids = new Set(first.starts.map((s) => s.request_id));
    expect(second.starts.some((s) => ids.has(s.request_id))).toBe(false);
    const figures = (r: Run) => r.ends.map(({ ts: _ts, request_id: _id, ...rest }) => rest).sort((a, b) => a.node.localeCompare(b.node));
    expect(figures(second)).toEqual(figures(first));
  });

  it('refuses slow or failing nodes it does not simulate', () => {
    const options = { nodes: 2, ratePerSec: 1, profile, gaugeIntervalMs: 1000, random: seededRandom(1), emit: () => {} };
    expect(() => new Simulator({ ...options, slowNodes: new Map([['fakeai-sim-3', 2]]) })).toThrow(/slowNodes: fakeai-sim-3/);
    expect(() => new Simulator({ ...options, failingNodes: new Map([['other', 1]]) })).toThrow(/failingNodes: other/);
  });
});
