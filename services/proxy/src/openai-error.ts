/**
 * Errors in OpenAI's shape, both ways: the bodies the proxy answers with when
 * the upstream fails (so OpenAI clients parse and retry them as usual), and
 * the error type read from an upstream's error body for the event's `error`.
 */
import { isObject } from './usage.js';

/** Why the proxy, not the upstream, ended a request: the `error` of its request.end. */
export const ProxyFailure = {
  /** No connection could be made (refused, unreachable, connect timeout): 502, upstream ejected. */
  CONNECT_FAILED: 'upstream_connect_failed',
  /** The upstream dropped the connection before the response was complete: 502, or a cut stream. */
  RESET: 'upstream_reset',
  /** No byte from the upstream within the idle timeout: 504, or a cut stream. */
  TIMEOUT: 'upstream_timeout',
  /** The caller hung up before the response was complete; the upstream request is aborted. */
  CLIENT_DISCONNECTED: 'client_disconnected',
  /** Still running when the shutdown deadline came. */
  SHUTDOWN: 'proxy_shutdown',
  /** A request the proxy cannot send on as it came (a duplicate Host, say): 400, never sent. */
  INVALID_REQUEST: 'invalid_request_error',
} as const;

export type ProxyFailure = (typeof ProxyFailure)[keyof typeof ProxyFailure];

export function proxyErrorBody(failure: ProxyFailure, detail: string): string {
  const message =
    failure === ProxyFailure.TIMEOUT
      ? `upstream timed out: ${detail}`
      : failure === ProxyFailure.INVALID_REQUEST
        ? `request cannot be forwarded: ${detail}`
        : `upstream unavailable: ${detail}`;
  return JSON.stringify({ error: { message, type: failure, param: null, code: failure } });
}

/**
 * The type of an OpenAI error object (`{"error": {"type", "code", …}}` gives
 * its `error` value here): `type`, else `code`, else undefined.
 */
export function errorType(error: unknown): string | undefined {
  if (typeof error === 'string' && error !== '') return error.slice(0, 256);
  if (!isObject(error)) return undefined;
  for (const key of ['type', 'code'] as const) {
    const v = error[key];
    if (typeof v === 'string' && v !== '') return v.slice(0, 256);
  }
  return undefined;
}
