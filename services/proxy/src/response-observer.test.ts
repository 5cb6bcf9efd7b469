import { describe, expect, it } from 'vitest';
import { observeResponse } from './response-observer.js';

const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
const chat = (delta: object, extra: object = {}) => ({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }], ...extra });

/** Writes each string as one chunk at the given time. */
function observe(contentType: string | undefined, chunks: [at: number, text: string][]) {
  const o = observeResponse(contentType);
  for (const [at, text] of chunks) o.write(Buffer.from(text), at);
  return o.figures();
}

describe('observeResponse', () => {
  it('event stream: first content time, pieces counted, no usage without include_usage', () => {
    const figures = observe('text/event-stream; charset=utf-8', [
      [10, sse(chat({ role: 'assistant', content: '' }))],
      [25, sse(chat({ content: 'Hel' }))],
      [30, sse(chat({ content: 'lo' }), chat({ reasoning_content: 'hm' }))],
      [31, sse(chat({ tool_calls: [{ index: 0 }] }), chat({}), '[DONE]')],
    ]);
    expect(figures).toEqual({ firstContentAt: 25, contentPieces: 4, usage: null, errorType: undefined });
  });

  it('event stream with include_usage: usage from the last chunk, `usage: null` elsewhere ignored', () => {
    const usage = { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14, prompt_tokens_details: { cached_tokens: 8 } };
    const figures = observe('text/event-stream', [
      [5, sse(chat({ content: 'a' }, { usage: null }), chat({ content: 'b' }, { usage: null }))],
      [6, sse({ choices: [], usage }, '[DONE]')],
    ]);
    expect(figures.usage).toEqual({ promptTokens: 12, completionTokens: 2, cachedTokens: 8 });
    expect(figures.contentPieces).toBe(2);
  });

  it('completions stream: `text` is content, an empty final text is not', () => {
    const figures = observe('text/event-stream', [[7, sse({ choices: [{ text: 'x' }, { text: 'y' }] }, { choices: [{ text: '', finish_reason: 'stop' }] })]]);
    expect(figures).toMatchObject({ firstContentAt: 7, contentPieces: 2 });
  });

  it('an error chunk in a stream gives its type', () => {
    const figures = observe('text/event-stream', [[1, sse({ error: { message: 'boom', type: 'server_error' } })]]);
    expect(figures.errorType).toBe('server_error');
  });

  it('JSON body: usage and error read as it streams, content pieces not counted', () => {
    const body = JSON.stringify({ id: 'x', choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 3, completion_tokens: 5 } });
    const figures = observe('application/json', [
      [1, body.slice(0, 20)],
      [2, body.slice(20)],
    ]);
    expect(figures).toEqual({ usage: { promptTokens: 3, completionTokens: 5, cachedTokens: undefined }, errorType: undefined });
    expect(observe('application/json', [[1, '{"error":{"message":"no","type":"invalid_request_error","code":"x"}}']]).errorType).toBe('invalid_request_error');
    expect(observe('application/problem+json', [[1, '{"error":{"code":"rate_limited"}}']]).errorType).toBe('rate_limited');
  });

  it('other bodies are not read', () => {
    expect(observe('text/plain', [[1, 'data: {"choices":[{"text":"x"}]}\n\n']])).toEqual({ usage: null });
    expect(observe(undefined, [[1, '{"usage":{"prompt_tokens":1}}']])).toEqual({ usage: null });
  });
});
