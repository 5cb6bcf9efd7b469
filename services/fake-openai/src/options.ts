/**
 * How the fake upstream behaves. Every option has a default that makes it
 * answer at once and never fail, which is what tests want; the start script
 * (config.ts) has demo-friendly defaults instead.
 */

export interface FakeOpenAIOptions {
  /** Delay before the response headers, in ms (queueing, network). Default 0. */
  readonly latencyMs?: number;
  /** From the headers to the first content token, in ms. Default 0. */
  readonly ttftMs?: number;
  /** Pace of the tokens after the first; 0 sends them all at once. Default 0. */
  readonly tokensPerSecond?: number;
  /** Completion tokens of a request without `max_tokens`. Default 16. */
  readonly completionTokens?: number;
  /** Share of requests answered 500 `server_error`, 0…1. Default 0. */
  readonly errorRate?: number;
  /** Share of requests whose prompt prefix is found in the cache, 0…1. Default 0. */
  readonly cacheHitRate?: number;
  /** On a hit, the share of prompt tokens served from the cache, 0…1. Default 0.5. */
  readonly cachedShare?: number;
  /** Length of an embedding without `dimensions` in the request. Default 16. */
  readonly embeddingDimensions?: number;
  /** Source of randomness for errors and cache hits. Default Math.random. */
  readonly random?: () => number;
}

export type Behaviour = Required<FakeOpenAIOptions>;

export function withDefaults(options: FakeOpenAIOptions): Behaviour {
  return {
    latencyMs: 0,
    ttftMs: 0,
    tokensPerSecond: 0,
    completionTokens: 16,
    errorRate: 0,
    cacheHitRate: 0,
    cachedShare: 0.5,
    embeddingDimensions: 16,
    random: Math.random,
    ...stripUndefined(options),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
