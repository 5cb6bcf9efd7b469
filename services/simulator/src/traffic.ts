/**
 * The traffic model of one request, pure: which endpoint and model, whether
 * it streams, how long it takes and what its `request.end` reports. Shapes
 * follow an LLM server: log-normal latencies and token counts; a stream's
 * first token comes at its TTFT and each further one after 1/speed, so its
 * inter-token latency is 1/speed; errors end early and produce no tokens;
 * embeddings never stream and use no KV cache.
 */
import { logNormal, pickWeighted, type Random, type Weighted } from './random.js';

export interface TrafficProfile {
  readonly endpoints: readonly Weighted<string>[];
  readonly models: readonly Weighted<string>[];
  readonly streamShare: number;
  readonly errorRate: number;
  readonly cacheHitRate: number;
  readonly latencyMs: number;
  readonly ttftMs: number;
  /** σ of the log of latencies, TTFT, speeds and token counts. */
  readonly spread: number;
  readonly tokensPerSec: number;
  readonly completionTokens: number;
}

/** What a `request.end` reports beyond the fields it shares with its start. */
export interface EndFigures {
  status: number;
  error?: string;
  latency_ms: number;
  ttft_ms?: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache?: { hit: boolean; cached_tokens: number; prefix_length: number };
}

export interface PlannedRequest {
  endpoint: string;
  model: string;
  stream: boolean;
  end: EndFigures;
}

const ERRORS: readonly Weighted<{ status: number; error: string }>[] = [
  { value: { status: 429, error: 'rate_limit_exceeded' }, weight: 3 },
  { value: { status: 500, error: 'internal_error' }, weight: 6 },
  { value: { status: 503, error: 'service_unavailable' }, weight: 1 },
];

const MEDIAN_PROMPT_TOKENS = 400;
/** Embedding calls are much faster than generation. */
const EMBEDDING_LATENCY_FACTOR = 0.15;

export function isEmbeddings(endpoint: string): boolean {
  return endpoint.includes('embedding');
}

export function planRequest(random: Random, p: TrafficProfile): PlannedRequest {
  const endpoint = pickWeighted(random, p.endpoints);
  const model = pickWeighted(random, p.models);
  const embeddings = isEmbeddings(endpoint);
  const stream = !embeddings && random() < p.streamShare;
  const promptTokens = Math.max(1, Math.round(logNormal(random, MEDIAN_PROMPT_TOKENS, p.spread)));

  if (random() < p.errorRate) {
    const { status, error } = pickWeighted(random, ERRORS);
    // Failures are mostly refused or cut short: a fraction of a normal latency, no tokens.
    const latency = logNormal(random, p.latencyMs * 0.2, p.spread);
    return { endpoint, model, stream, end: { status, error, latency_ms: round(latency), prompt_tokens: promptTokens, completion_tokens: 0 } };
  }

  const end: EndFigures = { status: 200, latency_ms: 0, prompt_tokens: promptTokens, completion_tokens: 0 };
  if (embeddings) {
    end.latency_ms = round(logNormal(random, p.latencyMs * EMBEDDING_LATENCY_FACTOR, p.spread));
    return { endpoint, model, stream, end };
  }

  end.completion_tokens = Math.max(1, Math.round(logNormal(random, p.completionTokens, p.spread)));
  const hit = random() < p.cacheHitRate;
  // A hit serves a leading share of the prompt from the KV cache.
  const cached = hit ? Math.round(promptTokens * (0.3 + 0.6 * random())) : 0;
  end.cache = { hit, cached_tokens: cached, prefix_length: cached };
  if (stream) {
    const ttft = logNormal(random, p.ttftMs, p.spread) * (hit ? 0.6 : 1);
    const speed = logNormal(random, p.tokensPerSec, p.spread / 2);
    end.ttft_ms = round(ttft);
    end.latency_ms = round(ttft + ((end.completion_tokens - 1) / speed) * 1000);
  } else {
    end.latency_ms = round(logNormal(random, p.latencyMs, p.spread));
  }
  return { endpoint, model, stream, end };
}

/**
 * The same request on a node `factor` times slower: latency and TTFT, hence
 * the time between tokens, stretched; what it produced unchanged.
 */
export function slowedDown(end: EndFigures, factor: number): EndFigures {
  if (factor === 1) return end;
  const slow = { ...end, latency_ms: round(end.latency_ms * factor) };
  if (end.ttft_ms !== undefined) slow.ttft_ms = round(end.ttft_ms * factor);
  return slow;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
