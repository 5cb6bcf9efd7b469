/**
 * Alerts with partitions (PULSE_PARTITIONS > 1): the leader of partition 0
 * evaluates the rules on the merge of every partition — its own messages and
 * the others' from their feeds — once per merged tick, fenced by its own
 * epoch; never on partition 0's cells alone, and not at all once it stood down.
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvaluator } from '@pulse/alerts';
import { encodeSnapshot, EMPTY_DISTRIBUTION, NO_KEYED_COUNTS, zeroCumulative, type CellData, type InternalSnapshot } from '@pulse/protocol';
import { silentLogger } from '@pulse/runtime';
import { AlertsOnSnapshots } from './alerts.js';

function cellOf(node: string, requests: number): CellData {
  return {
    node, endpoint: '/v1/chat/completions', model: 'gpt-4',
    requests, responses: requests, completionTokens: 0, errors: 0, lookups: 0, hits: 0, cachedTokens: 0, lookupPromptTokens: 0, prefixSum: 0,
    latency: EMPTY_DISTRIBUTION, ttft: EMPTY_DISTRIBUTION, tokensPerSecond: EMPTY_DISTRIBUTION, itl: EMPTY_DISTRIBUTION,
    queueDepth: 0, activeStreams: 0, completedStreams: 0, failedStreams: 0, totalLookups: 0, totalHits: 0,
    errorsByStatus: NO_KEYED_COUNTS, errorsByType: NO_KEYED_COUNTS, sloGood: [], cumulative: zeroCumulative(),
  } as CellData;
}

const keyframe = (seq: number, cells: CellData[], epoch = 7): InternalSnapshot => ({
  epoch, seq, builtAt: seq / 2, coveredSeconds: 10, stats: { eventsApplied: 0, eventsDropped: 0, labelsFolded: 0 }, slos: [], nodes: [], cells,
});

describe('alerts over partitions', () => {
  it('evaluates each merged tick over every partition, fenced by partition 0\'s epoch, and nothing after standing down', async () => {
    const calls: { nowMs: number; rate: number; nodes: string[]; epoch: number }[] = [];
    const evaluator = {
      evaluate: async (input: { nowMs: number; view: (f: object) => { throughput: { total_requests_per_sec: number } }; labels: { nodes: string[] }; fence: { epoch: number } }) => {
        calls.push({ nowMs: input.nowMs, rate: input.view({}).throughput.total_requests_per_sec, nodes: [...input.labels.nodes].sort(), epoch: input.fence.epoch });
        return { status: 'ok' };
      },
      reset: () => undefined,
    } as unknown as AlertEvaluator;
    const alerts = new AlertsOnSnapshots(evaluator, '{p}:leader:lease', silentLogger(), { partitions: 2, waitMs: 20 });
    alerts.published({ keyframe: keyframe(100, [cellOf('a', 10)]) }, 7, 50_000);
    expect(calls).toHaveLength(0); // partition 1 has not got tick 100 yet
    expect(alerts.partial(1, encodeSnapshot(keyframe(100, [cellOf('b', 30)], 3)))).toBe('accepted');
    expect(calls).toEqual([{ nowMs: 50_000, rate: 4, nodes: ['a', 'b'], epoch: 7 }]);
    // A tick partition 1 is late for still goes out after the wait, with its last figures.
    alerts.published({ keyframe: keyframe(101, [cellOf('a', 20)]) }, 7, 50_500);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.at(-1)).toEqual({ nowMs: 50_500, rate: 5, nodes: ['a', 'b'], epoch: 7 });
    alerts.stoodDown();
    alerts.partial(1, encodeSnapshot(keyframe(102, [cellOf('b', 30)], 3)));
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toHaveLength(2);
    alerts.close();
  });
});
