/**
 * Hostile POST /v1/events requests and what ingest may answer them
 * (docs/PROTOCOL.md §3, docs/SECURITY.md): shared by the ingest and all-in-one
 * fuzz suites.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { contentType, headerValue, hostileBody } from './hostile.js';

/** Status → the error codes it may carry. 202 is checked on its own. */
const DOCUMENTED: Record<number, readonly string[]> = {
  400: ['invalid_body', 'invalid_event'],
  401: ['unauthorized'],
  413: ['body_too_large', 'too_many_events'],
  415: ['unsupported_media_type'],
};

export async function expectIngestReply(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.headers.get('content-type'), text).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  if (res.status === 202) {
    expect(body.accepted).toBeGreaterThan(0);
    expect(Array.isArray(body.rejected)).toBe(true);
    for (const r of body.rejected) expect(typeof r.index === 'number' && typeof r.error === 'string').toBe(true);
    return;
  }
  expect(DOCUMENTED[res.status], `undocumented status ${res.status}: ${text.slice(0, 300)}`).toBeDefined();
  expect(DOCUMENTED[res.status]).toContain(body.code);
  expect(typeof body.error).toBe('string');
  if (res.status === 400) expect(body).toMatchObject({ accepted: 0, rejected: expect.any(Array) });
}

/** A request with a hostile body, content type, encoding, Idempotency-Key and credentials: mostly `writeToken`. */
export function hostileRequest(writeToken: string, otherToken: string) {
  return fc.record({
    body: hostileBody,
    contentType,
    authorization: fc.oneof(
      { arbitrary: fc.constant<string | undefined>(`Bearer ${writeToken}`), weight: 3 },
      fc.constant<string | undefined>(undefined),
      fc.constant<string | undefined>(`Bearer ${otherToken}`),
      headerValue.map((v) => `Bearer ${v}`),
      headerValue,
    ),
    encoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'deflate', 'br', 'identity', 'x-bogus'),
    idempotencyKey: fc.option(headerValue, { nil: undefined }),
  });
}

export type HostileRequest = ReturnType<typeof hostileRequest> extends fc.Arbitrary<infer T> ? T : never;

export function postHostile(baseUrl: string, r: HostileRequest): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': r.contentType };
  if (r.authorization !== undefined) headers.authorization = r.authorization;
  if (r.encoding !== undefined) headers['content-encoding'] = r.encoding;
  if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
  return fetch(`${baseUrl}/v1/events`, { method: 'POST', headers, body: r.body });
}
