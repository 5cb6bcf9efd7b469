/**
 * The simulator's configuration, from the environment like every Pulse
 * process. Lists take optional weights: `/v1/chat/completions:6,/v1/embeddings:2`.
 */
import { z } from 'zod';
import { ConfigError, intVar, numVar, parseConfig, secretVar } from '@pulse/runtime';
import type { Weighted } from './random.js';
import { nodeNames } from './simulator.js';

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

/**
 * `fakeai-sim-2:4,fakeai-sim-3:2` → node → number within [min, max]; empty:
 * no node. Whether the names are simulated nodes is checked once
 * PULSE_SIM_NODES is known (parseSimulatorConfig).
 */
export const nodeList = (what: string, min: number, max: number) =>
  z
    .string()
    .default('')
    .transform((text, ctx): ReadonlyMap<string, number> => {
      const nodes = new Map<string, number>();
      for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
        const colon = part.lastIndexOf(':');
        const name = part.slice(0, Math.max(0, colon)).trim();
        const raw = part.slice(colon + 1).trim();
        const value = Number(raw);
        if (colon < 0 || name === '' || raw === '' || !Number.isFinite(value) || value < min || value > max) {
          ctx.addIssue({ code: 'custom', message: `bad item ${JSON.stringify(part)}: node name, a colon and ${what} from ${min} to ${max}` });
          return z.NEVER;
        }
        if (nodes.has(name)) {
          ctx.addIssue({ code: 'custom', message: `${name} is listed twice` });
          return z.NEVER;
        }
        nodes.set(name, value);
      }
      return nodes;
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
  /** Nodes slower than the others: `fakeai-sim-2:4` multiplies that node's latencies and TTFTs by 4. */
  PULSE_SIM_SLOW_NODES: nodeList('a slowdown factor', 1, 1000),
  /** Nodes failing more than the others: `fakeai-sim-3:0.5` gives that node an error rate of 0.5. */
  PULSE_SIM_FAILING_NODES: nodeList('an error rate', 0, 1),
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

export type SimulatorConfig = Readonly<z.infer<z.ZodObject<typeof simulatorVars>>>;

/**
 * The configuration from `env`: each variable on its own, then the node
 * lists against the nodes there are. Throws ConfigError naming every problem.
 */
export function parseSimulatorConfig(env: Record<string, string | undefined>): SimulatorConfig {
  const config = parseConfig(simulatorVars, env);
  const names = nodeNames(config.PULSE_SIM_NODES);
  const problems = (['PULSE_SIM_SLOW_NODES', 'PULSE_SIM_FAILING_NODES'] as const).flatMap((key) =>
    [...config[key].keys()]
      .filter((node) => !names.includes(node))
      .map((node) => `${key}: ${node} is not a simulated node (PULSE_SIM_NODES=${names.length}: ${names[0]} … ${names.at(-1)})`),
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
