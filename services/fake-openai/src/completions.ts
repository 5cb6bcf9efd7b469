/**
 * Chat and text completions as OpenAI returns them: the plan of one
 * completion (token counts, cache, streaming options) and its JSON body or
 * its stream chunks. Pure: the server decides when each piece is sent.
 */
import type { Behaviour } from './options.js';
import { countInputTokens, countTokens, promptText, tokenText } from './tokens.js';

export type CompletionKind = 'chat' | 'text';

export interface Completion {
  readonly kind: CompletionKind;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly stream: boolean;
  /** `stream_options.include_usage`: a last chunk carries `usage`, and every chunk `usage: null`. */
  readonly includeUsage: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

export function planCompletion(kind: CompletionKind, body: Record<string, unknown>, behaviour: Behaviour, id: string): Completion {
  const promptTokens = kind === 'chat' ? countTokens(promptText(body.messages)) : countInputTokens(body.prompt);
  const hit = behaviour.random() < behaviour.cacheHitRate;
  const options = body.stream_options as { include_usage?: unknown } | null | undefined;
  return {
    kind,
    id,
    created: Math.floor(Date.now() / 1000),
    model: typeof body.model === 'string' ? body.model : 'fake-gpt',
    stream: body.stream === true,
    includeUsage: options?.include_usage === true,
    promptTokens,
    completionTokens: maxTokens(body) ?? behaviour.completionTokens,
    cachedTokens: hit ? Math.floor(promptTokens * behaviour.cachedShare) : 0,
  };
}

function maxTokens(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : undefined;
}

export function usageOf(c: Completion) {
  return {
    prompt_tokens: c.promptTokens,
    completion_tokens: c.completionTokens,
    total_tokens: c.promptTokens + c.completionTokens,
    prompt_tokens_details: { cached_tokens: c.cachedTokens },
  };
}

/** The whole response of a non-streaming request. */
export function completionBody(c: Completion): string {
  let text = '';
  for (let i = 0; i < c.completionTokens; i++) text += tokenText(i);
  const choice =
    c.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'length' }
      : { index: 0, text, logprobs: null, finish_reason: 'length' };
  return JSON.stringify({ id: c.id, object: objectOf(c, false), created: c.created, model: c.model, choices: [choice], usage: usageOf(c) });
}

/** Chat streams open with a role-only chunk, which carries no content. */
export function openingChunk(c: Completion): string | null {
  if (c.kind !== 'chat') return null;
  return chunk(c, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
}

export function tokenChunk(c: Completion, i: number): string {
  const text = tokenText(i);
  return chunk(c, [
    c.kind === 'chat'
      ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
      : { index: 0, text, logprobs: null, finish_reason: null },
  ]);
}

/** The finish chunk, then the usage chunk when asked for. */
export function closingChunks(c: Completion): string[] {
  const finish = c.kind === 'chat' ? { index: 0, delta: {}, logprobs: null, finish_reason: 'length' } : { index: 0, text: '', logprobs: null, finish_reason: 'length' };
  const out = [chunk(c, [finish])];
  if (c.includeUsage) out.push(JSON.stringify({ ...envelope(c), choices: [], usage: usageOf(c) }));
  return out;
}

function chunk(c: Completion, choices: unknown[]): string {
  return JSON.stringify({ ...envelope(c), choices, ...(c.includeUsage && { usage: null }) });
}

function envelope(c: Completion) {
  return { id: c.id, object: objectOf(c, true), created: c.created, model: c.model };
}

function objectOf(c: Completion, streaming: boolean): string {
  if (c.kind === 'chat') return streaming ? 'chat.completion.chunk' : 'chat.completion';
  return 'text_completion';
}
