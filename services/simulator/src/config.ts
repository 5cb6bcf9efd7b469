/**
 * The simulator's configuration, from the environment like every Pulse
 * process. Lists take optional weights: `/v1/chat/completions:6,/v1/embeddings:2`.
 */
import { z } from 'zod';
import { intVar, numVar, secretVar } from '@pulse/runtime';
import type { Weighted } from './random.js';

/** `a:3,b,c:0.5` → weighted items (weight 1 when omitted). */
export const weightedList = (def: string) =>
  z
    .string()
    .default(def)
    .transform((text, ctx): Weighted<string>[] => {
      const items: Weighted<string>[] = [];
      for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
        // The weight is after the last colon, so names may contain colons (`llama3:70b:2`).
        const match = /^(.*):(\d+(?:\.\d+)?)$/.exec(part);
        const value = match ? match[1]!.trim() : part;
        const weight = match ? Number(match[2]) : 1;
        if (value === '' || value.length > 256 || !(weight > 0)) {
          ctx.addIssue({ code: 'custom', message: `bad item ${JSON.stringify(part)}: name (≤ 256 chars) with an optional positive :weight` });
          return z.NEVER;
        }
        items.push({ value, weight });
      }
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'needs at least one item' });
        return z.NEVER;
      }
      return items;
    });

const fraction = (def: number) => numVar(def, 0, 1);

export const simulatorVars = {
  /** Where to POST events: an ingest node or `npm start`. */
  PULSE_INGEST_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8000'),
  /** A write token, when ingest has PULSE_WRITE_TOKENS (docs/SECURITY.md). Unset: none sent. */
  PULSE_INGEST_TOKEN: secretVar(z.string().min(1).optional()),
  /** Virtual FakeAI nodes, each with its own name, arrivals and gauges. */
  PULSE_SIM_NODES: intVar(3, 1, 10_000),
  /** Requests per second over all nodes (Poisson arrivals). */
  PULSE_SIM_RATE: numVar(20, 0.01, 1_000_000),
  PULSE_SIM_ENDPOINTS: weightedList('/v1/chat/completions:6,/v1/completions:2,/v1/embeddings:2'),
  PULSE_SIM_MODELS: weightedList('gpt-4o:3,gpt-4o-mini:5,llama-3.1-70b:2'),
  /** Share of chat and completion requests that stream (embeddings never do). */
  PULSE_SIM_STREAM_SHARE: fraction(0.6),
  /** Share of requests that end in an error (429, 500 or 503). */
  PULSE_SIM_ERROR_RATE: fraction(0.02),
  /** Share of KV-cache lookups that hit. */
  PULSE_SIM_CACHE_HIT_RATE: fraction(0.35),
  /** Median latency of a non-streaming request, ms (log-normal). */
  PULSE_SIM_LATENCY_MS: numVar(400, 1, 600_000),
  /** Median time to first token of a streaming request, ms (log-normal). */
  PULSE_SIM_TTFT_MS: numVar(120, 1, 600_000),
  /** Spread (σ of the log) of latency, TTFT and token counts; 0.5 puts p99 near 3× the median. */
  PULSE_SIM_SPREAD: numVar(0.5, 0, 3),
  /** Median generation speed of a stream, tokens/s. */
  PULSE_SIM_TOKENS_PER_SEC: numVar(60, 1, 100_000),
  /** Median completion length, tokens. */
  PULSE_SIM_COMPLETION_TOKENS: numVar(150, 1, 1_000_000),
  /** How often each node reports its gauges (active streams, queue depth), ms. */
  PULSE_SIM_GAUGE_INTERVAL_MS: intVar(2000, 100, 600_000),
  /** Stop after this long, seconds; 0 runs until SIGTERM/SIGINT. */
  PULSE_SIM_DURATION_SECONDS: numVar(0, 0, 31_536_000),
  /** Seed for a repeatable run; unset draws one. */
  PULSE_SIM_SEED: z.coerce.number().int().min(0).max(2 ** 32 - 1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};
