/**
 * Ingest request bodies for the load generators: FakeAI-like start/end pairs
 * spread over endpoints × models, rendered to bytes once. Per request only
 * the timestamp and a batch number are patched in place (fixed-width digits),
 * so a generator spends microseconds per request rather than a
 * JSON.stringify of a thousand events, and stays far from the bottleneck.
 */
import { seededRandom } from '@pulse/simulator';

/** 20 endpoints × 5 models = 100 cells, the shape of a busy FakeAI cluster. */
export const ENDPOINTS = [
  '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', '/v1/images/generations',
  '/v1/audio/speech', '/v1/audio/transcriptions', '/v1/moderations', '/v1/batches', '/v1/files',
  '/v1/fine_tuning/jobs', '/v1/rerank', '/v1/solido/rag', '/v1/ranking', '/v1/text/generation',
  '/v1/realtime', '/v1/vector_stores', '/v1/assistants', '/v1/threads/runs', '/v1/organization/usage',
];
export const MODELS = ['gpt-4', 'gpt-4o', 'gpt-3.5-turbo', 'meta-llama/Llama-3.1-8B-Instruct', 'deepseek-ai/DeepSeek-R1'];

/** Seconds since the epoch with milliseconds: 14 characters until the year 2286. */
const TS_HOLE = '1000000000.000';
const SEQ_HOLE = '00000000';

export interface BodyTemplate {
  readonly bytes: Buffer;
  readonly events: number;
  readonly tsAt: readonly number[];
  readonly seqAt: readonly number[];
}

/** Events as FakeAI sends them from `nodes` nodes (or all from `node`); `pairs` start/end pairs, request ids `<prefix>-<batch>-<i>`. */
export function eventObjects(pairs: number, seed: number, prefix: string, ts: number | string, seq: string, nodes = 8, node?: string): Record<string, unknown>[] {
  const r = seededRandom(seed);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < pairs; i++) {
    const endpoint = ENDPOINTS[Math.floor(r() * ENDPOINTS.length)]!;
    const model = MODELS[Math.floor(r() * MODELS.length)]!;
    const stream = r() < 0.6;
    const picked = `fakeai-${Math.floor(r() * nodes)}`;
    const common = { ts, node: node ?? picked, request_id: `${prefix}-${seq}-${i}`, endpoint, model, stream };
    const latency = Math.round(Math.exp(5.5 + 0.7 * (r() + r() + r() - 1.5)) * 10) / 10;
    const prompt = Math.round(50 + 400 * r());
    const cached = Math.round(prompt * r() * 0.8);
    out.push({ type: 'request.start', ...common });
    out.push({
      type: 'request.end',
      ...common,
      status: r() < 0.02 ? 500 : 200,
      latency_ms: latency,
      ...(stream ? { ttft_ms: Math.round(latency * (0.05 + 0.2 * r()) * 10) / 10 } : {}),
      prompt_tokens: prompt,
      completion_tokens: Math.round(20 + 400 * r()),
      cache: { hit: cached > 0, cached_tokens: cached, prefix_length: cached },
    });
  }
  return out;
}

/** A body of `events` events (rounded down to pairs), with holes for the timestamp and batch number; all from `node` when given. */
export function bodyTemplate(events: number, seed: number, prefix: string, nodes = 8, node?: string): BodyTemplate {
  // ts goes in as a string marker and comes out as a bare number of fixed width.
  const marked = JSON.stringify(eventObjects(Math.floor(events / 2), seed, prefix, 'TS', SEQ_HOLE, nodes, node));
  const text = marked.replaceAll('"ts":"TS"', `"ts":${TS_HOLE}`);
  return { bytes: Buffer.from(text, 'latin1'), events: Math.floor(events / 2) * 2, tsAt: offsetsOf(text, `"ts":${TS_HOLE}`, 5), seqAt: offsetsOf(text, `-${SEQ_HOLE}-`, 1) };
}

function offsetsOf(text: string, needle: string, skip: number): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) out.push(i + skip);
  return out;
}

/** A fresh copy of the template's body stamped with `nowMs` and batch number `seq`. */
export function stamp(t: BodyTemplate, nowMs: number, seq: number): Buffer {
  const ts = (nowMs / 1000).toFixed(3);
  const n = String(seq % 1e8).padStart(8, '0');
  if (ts.length !== TS_HOLE.length) throw new Error(`timestamp ${ts} does not fit its hole`);
  const body = Buffer.from(t.bytes);
  for (const at of t.tsAt) body.write(ts, at, 'latin1');
  for (const at of t.seqAt) body.write(n, at, 'latin1');
  return body;
}
