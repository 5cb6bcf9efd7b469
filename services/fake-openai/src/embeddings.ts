/**
 * `/v1/embeddings` as OpenAI returns it: one vector per input, numbers
 * derived from the input text so the same input always gets the same vector.
 */
import { countInputTokens, promptText } from './tokens.js';

export function embeddingsBody(body: Record<string, unknown>, defaultDimensions: number): string {
  const raw = body.input;
  const inputs: unknown[] = Array.isArray(raw) && raw.some((v) => typeof v !== 'number') ? raw : [raw];
  const dimensions = Number.isSafeInteger(body.dimensions) && (body.dimensions as number) > 0 ? (body.dimensions as number) : defaultDimensions;
  const data = inputs.map((input, index) => ({ object: 'embedding', index, embedding: vector(promptText(input) || JSON.stringify(input), dimensions) }));
  const promptTokens = countInputTokens(raw);
  return JSON.stringify({
    object: 'list',
    data,
    model: typeof body.model === 'string' ? body.model : 'fake-embedding',
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

/** A unit-length vector seeded by an FNV-1a hash of the text. */
function vector(text: string, dimensions: number): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193) >>> 0;
  const v: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) >>> 0;
    v.push(seed / 0xffffffff - 0.5);
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}
