/**
 * One attempt to deliver one notification: a POST with Node's fetch, and
 * what its outcome means for the policy of delivery.ts. Never throws: a
 * network error or a timeout is an outcome like a status.
 */
import type { Notification } from './notification.js';
import { slackText } from './notification.js';
import type { Receiver } from './rules.js';

export type AttemptOutcome =
  /** 2xx. */
  | { readonly kind: 'delivered'; readonly status: number }
  /** Network error, timeout, 408, 5xx: try again later, spending an attempt. */
  | { readonly kind: 'retry'; readonly error: string }
  /** 429: try again after `retryAfterMs` (null: the receiver gave none) without spending an attempt. */
  | { readonly kind: 'defer'; readonly retryAfterMs: number | null; readonly error: string }
  /** Any other status: trying again would get the same answer. */
  | { readonly kind: 'fail'; readonly error: string };

/** The request a receiver gets for a notification (its own format, its headers, the idempotency key). */
export function requestFor(n: Notification, receiver: Receiver): { url: string; headers: Record<string, string>; body: string } {
  return {
    url: receiver.url,
    headers: {
      ...receiver.headers,
      'Content-Type': 'application/json',
      'Idempotency-Key': n.id,
      'User-Agent': 'pulse-alerts',
    },
    body: JSON.stringify(receiver.format === 'slack' ? { text: slackText(n.body) } : n.body),
  };
}

/** How much of a refusing receiver's body goes into the last error (enough to see why). */
const ERROR_BODY_CHARS = 200;

export async function attemptDelivery(n: Notification, receiver: Receiver, timeoutMs: number, nowMs: () => number = Date.now): Promise<AttemptOutcome> {
  const { url, headers, body } = requestFor(n, receiver);
  let res: Response;
  try {
    // No redirects: a 301/302 would turn the POST into a GET and drop the body.
    res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return { kind: 'retry', error: fetchError(err, timeoutMs) };
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    // Release the connection without reading what the receiver said.
    await res.body?.cancel().catch(() => {});
    return { kind: 'delivered', status };
  }
  let text = '';
  try {
    text = (await res.text()).slice(0, ERROR_BODY_CHARS).trim();
  } catch {
    // A body cut short or timed out: the status says enough.
  }
  const error = `HTTP ${status}${res.statusText ? ` ${res.statusText}` : ''}${text ? `: ${text}` : ''}`;
  if (status === 429) return { kind: 'defer', retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), nowMs()), error };
  if (status === 408 || status >= 500) return { kind: 'retry', error };
  if (status >= 300 && status < 400) return { kind: 'fail', error: `${error} (redirects are not followed)` };
  return { kind: 'fail', error };
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function fetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timeout: no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return `network error: ${detail}`;
}
