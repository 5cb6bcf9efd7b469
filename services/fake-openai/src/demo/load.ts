/**
 * OpenAI traffic for the demo: an open loop at a fixed rate (requests are
 * sent on schedule whether or not earlier ones finished, as real clients
 * do), with a mix of streaming and non-streaming chat, text completions and
 * embeddings over two models. Each response is read to its end.
 */

export interface LoadStats {
  readonly sent: number;
  /** 2xx responses read to the end. */
  readonly ok: number;
  /** Other statuses and failed requests. */
  readonly failed: number;
  readonly inFlight: number;
}

export interface Load {
  stats(): LoadStats;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void>;
}

const TICK_MS = 50;
const MODELS = ['gpt-4o-mini', 'llama-3.1-8b'];
/** A shared system prompt, so the fake's cache figures look like a prefix cache's. */
const SYSTEM = 'You are a concise assistant for the Pulse demo. '.repeat(6);

export function startLoad(baseUrl: string, requestsPerSecond: number, maxInFlight = 500): Load {
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  let owed = 0;

  const send = () => {
    const { path, body } = nextRequest();
    sent++;
    const done = fetch(baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) ok++;
        else failed++;
      })
      .catch(() => {
        failed++;
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };

  const timer = setInterval(() => {
    owed += (requestsPerSecond * TICK_MS) / 1000;
    for (; owed >= 1; owed--) if (inFlight.size < maxInFlight) send();
  }, TICK_MS);

  return {
    stats: () => ({ sent, ok, failed, inFlight: inFlight.size }),
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}

function nextRequest(): { path: string; body: Record<string, unknown> } {
  const model = pick(MODELS);
  const question = `Question ${Math.floor(Math.random() * 1000)}: ${'tell me more '.repeat(1 + Math.floor(Math.random() * 30))}`;
  const messages = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: question },
  ];
  const r = Math.random();
  if (r < 0.45) {
    const usage = Math.random() < 0.5 ? { stream_options: { include_usage: true } } : {};
    return { path: '/v1/chat/completions', body: { model, messages, stream: true, max_tokens: between(16, 64), ...usage } };
  }
  if (r < 0.75) return { path: '/v1/chat/completions', body: { model, messages, max_tokens: between(8, 32) } };
  if (r < 0.9) return { path: '/v1/completions', body: { model, prompt: SYSTEM + question, stream: true, max_tokens: between(8, 32) } };
  return { path: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: [question, SYSTEM] } };
}

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

function between(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}
