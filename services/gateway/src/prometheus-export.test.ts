import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { COUNTER_SLOT, HISTOGRAM_SLOTS, zeroCumulative } from '@pulse/protocol';
import { cell } from '@pulse/test-support/gateway';
import { prometheusText } from './prometheus-export.js';

/** A cell with 3 requests on two nodes' worth of cumulative slots. */
function counted(node: string, endpoint: string, model: string, latencyBuckets: Record<number, number>) {
  const cumulative = zeroCumulative();
  cumulative[COUNTER_SLOT.requests] = 3;
  cumulative[COUNTER_SLOT.errors] = 1;
  for (const [bucket, n] of Object.entries(latencyBuckets)) cumulative[HISTOGRAM_SLOTS.latency.first + Number(bucket)] = n;
  cumulative[HISTOGRAM_SLOTS.latency.sum] = 1_500_000; // 1.5 s
  return { ...cell(endpoint, model, { responses: 4, sloGood: [3], queueDepth: 2 }), node, cumulative };
}

const sample = (text: string, series: string) => text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1];

describe('GET /metrics/prometheus exposition', () => {
  const text = prometheusText({
    slos: ['interactive'],
    cells: [
      counted('n1', '/v1/chat/completions', 'gpt-4', { 0: 1, 3: 2 }),
      counted('n2', '/v1/chat/completions', 'gpt-4', { 3: 1, 14: 1 }),
      counted('n1', '/v1/"odd"\\path', 'line\nbreak', {}),
    ],
  });

  it('sums the nodes of each endpoint and model, counters and gauges alike', () => {
    expect(sample(text, 'pulse_requests_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('6');
    expect(sample(text, 'pulse_request_errors_total{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('2');
    expect(sample(text, 'pulse_requests_in_flight{endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('4');
    expect(sample(text, 'pulse_slo_attainment_ratio{slo="interactive",endpoint="/v1/chat/completions",model="gpt-4"}')).toBe('0.75');
  });

  it('writes histograms with cumulative le buckets at the GenAI bounds, +Inf equal to the count, sums in seconds', () => {
    const l = 'endpoint="/v1/chat/completions",model="gpt-4"';
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.01"}`)).toBe('1');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.04"}`)).toBe('1');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="0.08"}`)).toBe('4');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="81.92"}`)).toBe('4');
    expect(sample(text, `pulse_request_duration_seconds_bucket{${l},le="+Inf"}`)).toBe('5');
    expect(sample(text, `pulse_request_duration_seconds_count{${l}}`)).toBe('5');
    expect(sample(text, `pulse_request_duration_seconds_sum{${l}}`)).toBe('3');
  });

  it('escapes label values', () => {
    expect(sample(text, 'pulse_requests_total{endpoint="/v1/\\"odd\\"\\\\path",model="line\\nbreak"}')).toBe('3');
  });

  it('declares every family with no snapshot yet', () => {
    const empty = prometheusText(null);
    expect(empty.match(/^# TYPE /gm)).toHaveLength(13);
    expect(empty.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });

  const promtool = spawnSync('promtool', ['--version']).error ? 'promtool is not installed' : null;
  it.skipIf(promtool !== null)(`passes \`promtool check metrics\`${promtool ? ` — skipped: ${promtool}` : ''}`, () => {
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(run.stderr + run.stdout).toBe('');
    expect(run.status).toBe(0);
  });
});
