import { describe, expect, it } from 'vitest';
import { seededRandom } from './random.js';
import { planRequest, slowedDown, type PlannedRequest, type TrafficProfile } from './traffic.js';

const profile: TrafficProfile = {
  endpoints: [{ value: '/v1/chat/completions', weight: 3 }, { value: '/v1/embeddings', weight: 1 }],
  models: [{ value: 'gpt-4o', weight: 1 }, { value: 'llama', weight: 1 }],
  streamShare: 0.6,
  errorRate: 0.05,
  cacheHitRate: 0.4,
  latencyMs: 400,
  ttftMs: 100,
  spread: 0.5,
  tokensPerSec: 50,
  completionTokens: 100,
};

const N = 20_000;
const sample = (p = profile): PlannedRequest[] => {
  const random = seededRandom(7);
  return Array.from({ length: N }, () => planRequest(random, p));
};
const share = (xs: PlannedRequest[], ok: (r: PlannedRequest) => boolean) => xs.filter(ok).length / xs.length;

describe('planRequest', () => {
  const requests = sample();
  const chat = requests.filter((r) => r.endpoint === '/v1/chat/completions');
  const ok = (r: PlannedRequest) => r.end.status < 400;

  it('follows the configured shares', () => {
    expect(share(requests, (r) => r.endpoint === '/v1/embeddings')).toBeCloseTo(0.25, 1);
    expect(share(chat, (r) => r.stream)).toBeCloseTo(0.6, 1);
    expect(share(requests, (r) => !ok(r))).toBeCloseTo(0.05, 2);
    expect(share(chat.filter(ok), (r) => r.end.cache!.hit)).toBeCloseTo(0.4, 1);
  });

  it('gives streams a TTFT and a latency of TTFT plus one token time per further token', () => {
    const streams = chat.filter((r) => r.stream && ok(r));
    for (const r of streams.slice(0, 500)) {
      expect(r.end.ttft_ms).toBeGreaterThan(0);
      expect(r.end.latency_ms).toBeGreaterThan(r.end.ttft_ms!);
    }
    // Inter-token latency, as Pulse computes it: its median is one token at the median speed.
    const itl = streams.map((r) => (r.end.latency_ms - r.end.ttft_ms!) / (r.end.completion_tokens - 1)).sort((a, b) => a - b);
    expect(itl[Math.floor(itl.length / 2)]! / (1000 / profile.tokensPerSec)).toBeCloseTo(1, 1);
    expect(requests.filter((r) => !r.stream).every((r) => r.end.ttft_ms === undefined)).toBe(true);
  });

  it('never streams embeddings nor gives them tokens or cache lookups', () => {
    const embeddings = requests.filter((r) => r.endpoint === '/v1/embeddings');
    expect(embeddings.some((r) => r.stream || r.end.completion_tokens > 0 || r.end.cache)).toBe(false);
  });

  it('errors carry a status ≥ 400, an error type and no completion', () => {
    const errors = requests.filter((r) => !ok(r));
    expect(errors.every((r) => r.end.error && r.end.completion_tokens === 0)).toBe(true);
    expect(new Set(errors.map((r) => r.end.status))).toEqual(new Set([429, 500, 503]));
  });

  it('keeps cached tokens within the prompt', () => {
    expect(chat.every((r) => (r.end.cache?.cached_tokens ?? 0) <= r.end.prompt_tokens)).toBe(true);
  });

  it('slows a request down by a factor: latency and TTFT, not what it produced', () => {
    const stream = chat.find((r) => r.stream && ok(r))!.end;
    expect(slowedDown(stream, 3)).toEqual({ ...stream, latency_ms: expect.closeTo(stream.latency_ms * 3, 1), ttft_ms: expect.closeTo(stream.ttft_ms! * 3, 1) });
    const plain = requests.find((r) => !r.stream)!.end;
    expect(slowedDown(plain, 2)).toEqual({ ...plain, latency_ms: expect.closeTo(plain.latency_ms * 2, 1) });
    expect(slowedDown(plain, 1)).toBe(plain);
  });

  it('honours zero rates', () => {
    const none = sample({ ...profile, errorRate: 0, streamShare: 0, cacheHitRate: 0 });
    expect(none.some((r) => r.stream || r.end.status >= 400 || r.end.cache?.hit)).toBe(false);
  });
});
