/**
 * One POST of one batch and what its answer means for the sender: done
 * (with how many ingest accepted and rejected), retry (503, 429, other 5xx,
 * a network error or a timeout; with the server's Retry-After when it gave
 * one), or give up (4xx: sending the same bytes again cannot succeed).
 */

export type SendOutcome =
  | { kind: 'done'; accepted: number; rejected: { index: number; error: string }[] }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'fail'; status: number; reason: string };

export interface SendOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  /** Write token, when ingest wants one; a wrong one is a 401, given up like any 4xx. */
  token?: string | undefined;
}

export async function sendBatch(url: string, body: string, idempotencyKey: string, opts: SendOptions): Promise<SendOutcome> {
  let res: Response;
  let text: string;
  try {
    res = await opts.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    return { kind: 'retry', reason: (err as Error).message };
  }
  if (res.status === 202) {
    const reply = parseReply(text);
    return { kind: 'done', accepted: reply.accepted, rejected: reply.rejected };
  }
  if (res.status === 429 || res.status >= 500) {
    const retryAfterMs = retryAfter(res.headers.get('retry-after'));
    return { kind: 'retry', reason: `HTTP ${res.status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { kind: 'fail', status: res.status, reason: `HTTP ${res.status}: ${text.slice(0, 300)}` };
}

function parseReply(text: string): { accepted: number; rejected: { index: number; error: string }[] } {
  try {
    const body = JSON.parse(text) as { accepted?: unknown; rejected?: unknown };
    return {
      accepted: typeof body.accepted === 'number' ? body.accepted : 0,
      rejected: Array.isArray(body.rejected) ? (body.rejected as { index: number; error: string }[]) : [],
    };
  } catch {
    return { accepted: 0, rejected: [] };
  }
}

/** Retry-After in seconds (the only form ingest sends); an HTTP date is ignored. */
function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
