/**
 * Environment of `node services/fake-openai/dist/main.js`. The defaults look
 * like a small model on a busy node, so the demo's figures move; tests use
 * createFakeOpenAI(options) with its own zero-delay defaults.
 */
import { commonVars, intVar, numVar, type parseConfig } from '@pulse/runtime';
import type { FakeOpenAIOptions } from './options.js';

export const fakeOpenAIVars = {
  HOST: commonVars.HOST,
  LOG_LEVEL: commonVars.LOG_LEVEL,
  PULSE_SHUTDOWN_TIMEOUT_MS: commonVars.PULSE_SHUTDOWN_TIMEOUT_MS,
  /** Default 8001: beside Pulse's 8000. */
  PORT: intVar(8001, 0, 65_535),
  /** Delay before the response headers, ms. Default 20. */
  FAKE_OPENAI_LATENCY_MS: numVar(20, 0, 600_000),
  /** Headers to first content token, ms. Default 80. */
  FAKE_OPENAI_TTFT_MS: numVar(80, 0, 600_000),
  /** Token pace after the first; 0 = all at once. Default 50. */
  FAKE_OPENAI_TOKENS_PER_SEC: numVar(50, 0, 1_000_000),
  /** Completion tokens of a request without max_tokens. Default 32. */
  FAKE_OPENAI_COMPLETION_TOKENS: intVar(32, 1, 100_000),
  /** Share of requests answered 500, 0…1. Default 0.01. */
  FAKE_OPENAI_ERROR_RATE: numVar(0.01, 0, 1),
  /** Share of requests that hit the prompt cache, 0…1. Default 0.5. */
  FAKE_OPENAI_CACHE_HIT_RATE: numVar(0.5, 0, 1),
  /** On a hit, share of the prompt tokens served from cache, 0…1. Default 0.5. */
  FAKE_OPENAI_CACHED_SHARE: numVar(0.5, 0, 1),
};

export type FakeOpenAIConfig = ReturnType<typeof parseConfig<typeof fakeOpenAIVars>>;

export function fakeOptions(config: FakeOpenAIConfig): FakeOpenAIOptions {
  return {
    latencyMs: config.FAKE_OPENAI_LATENCY_MS,
    ttftMs: config.FAKE_OPENAI_TTFT_MS,
    tokensPerSecond: config.FAKE_OPENAI_TOKENS_PER_SEC,
    completionTokens: config.FAKE_OPENAI_COMPLETION_TOKENS,
    errorRate: config.FAKE_OPENAI_ERROR_RATE,
    cacheHitRate: config.FAKE_OPENAI_CACHE_HIT_RATE,
    cachedShare: config.FAKE_OPENAI_CACHED_SHARE,
  };
}
