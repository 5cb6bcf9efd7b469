/**
 * The fake upstream over a real socket: OpenAI's shapes, exact usage, the
 * stream's schedule, injected errors, and cancellation seen by the server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeOpenAI, type FakeOpenAI } from './server.js';
import type { FakeOpenAIOptions } from './options.js';

const running: FakeOpenAI[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((f) => f.close()));
});

async function start(options: FakeOpenAIOptions = {}): Promise<{ fake: FakeOpenAI; url: string }> {
  const fake = createFakeOpenAI(options);
  running.push(fake);
  return { fake, url: await fake.listen() };
}

/** A reply's JSON, walked freely by the assertions. */
const json = async (res: Response): Promise<any> => res.json();

const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The data of each SSE event, with the time it arrived (ms since `t0`). */
async function events(res: Response, t0: number): Promise<{ at: number; data: string }[]> {
  const out: { at: number; data: string }[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      out.push({ at: performance.now() - t0, data: buffered.slice(0, end).replace(/^data: /, '') });
      buffered = buffered.slice(end + 2);
    }
  }
  return out;
}

const messages = [{ role: 'user', content: 'x'.repeat(40) }]; // 10 prompt tokens

describe('fake OpenAI upstream', () => {
  it('answers a chat completion with exact usage and cached tokens', async () => {
    const { url } = await start({ cacheHitRate: 1, cachedShare: 0.5 });
    const res = await post(url, '/v1/chat/completions', { model: 'gpt-4', messages, max_tokens: 5 });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ object: 'chat.completion', model: 'gpt-4', choices: [{ message: { role: 'assistant' }, finish_reason: 'length' }] });
    expect(body.choices[0].message.content).toBe('lorem ipsum dolor sit amet ');
    expect(body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 5 } });
  });

  it('streams a chat completion on schedule: role chunk, first token at TTFT, then the token rate', async () => {
    const { url } = await start({ ttftMs: 150, tokensPerSecond: 20 });
    const t0 = performance.now();
    const res = await post(url, '/v1/chat/completions', { model: 'm', messages, stream: true, max_tokens: 3, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const got = await events(res, t0);
    expect(got.map((e) => e.data.slice(0, 1))).toEqual(['{', '{', '{', '{', '{', '{', '[']);
    const chunks = got.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.slice(1, 4).map((c) => c.choices[0].delta.content)).toEqual(['lorem ', 'ipsum ', 'dolor ']);
    expect(chunks[5]).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 3 } });
    expect(chunks.slice(0, 5).every((c) => c.usage === null)).toBe(true);
    // Lower bounds only: the server never sends early, while a busy client may read late.
    expect(got[1]!.at).toBeGreaterThanOrEqual(145);
    expect(got[3]!.at).toBeGreaterThanOrEqual(245); // two gaps of 50 ms after the first token
    expect(got.at(-1)!.data).toBe('[DONE]');
  });

  it('streams text completions with `text` chunks and no usage unless asked', async () => {
    const { url } = await start();
    const got = await events(await post(url, '/v1/completions', { model: 'm', prompt: 'hello', stream: true, max_tokens: 2 }), 0);
    const chunks = got.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.map((c) => c.choices[0].text)).toEqual(['lorem ', 'ipsum ', '']);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('answers embeddings, one vector per input, with prompt usage', async () => {
    const { url } = await start({ embeddingDimensions: 8 });
    const body = await json(await post(url, '/v1/embeddings', { model: 'e', input: ['abcd', 'abcdefgh'] }));
    expect(body.data.map((d: { embedding: number[] }) => d.embedding.length)).toEqual([8, 8]);
    expect(body.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it('injects 500s at the error rate, in OpenAI shape', async () => {
    const { fake, url } = await start({ errorRate: 1 });
    const res = await post(url, '/v1/chat/completions', { model: 'm', messages });
    expect(res.status).toBe(500);
    expect(await json(res)).toMatchObject({ error: { type: 'server_error' } });
    expect(fake.stats()).toMatchObject({ requests: 1, errors: 1 });
  });

  it('stops generating for a caller that hung up, and counts it', async () => {
    const { fake, url } = await start({ tokensPerSecond: 50 });
    const controller = new AbortController();
    const res = await fetch(url + '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'm', messages, stream: true, max_tokens: 1000 }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect.poll(() => fake.stats().cancelled).toBe(1);
  });

  it('answers health checks, lists models, and 404s other paths OpenAI-style', async () => {
    const { fake, url } = await start();
    expect((await fetch(url + '/health')).status).toBe(200);
    expect((await json(await fetch(url + '/v1/models'))).data[0].id).toBe('fake-gpt');
    const missing = await post(url, '/v1/nope', {});
    expect(missing.status).toBe(404);
    expect(await json(missing)).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect((await post(url, '/v1/chat/completions', 'not an object')).status).toBe(400);
    expect(fake.stats().requests).toBe(1); // only the API request, not health or models
  });
});
