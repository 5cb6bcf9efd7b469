/**
 * The `Idempotency-Key` header: a retried request with the same key is
 * answered with the first reply and not counted twice (docs/PROTOCOL.md §3).
 */
import { ErrorCode, PulseError } from '@pulse/protocol';

/** How long a reply is kept: the contract promises at least 10 minutes. */
export const IDEMPOTENCY_TTL_SECONDS = 600;

const VALID_KEY = /^[\x20-\x7e]{1,200}$/;

/** The key, undefined without the header; a PulseError (400) when it is malformed. */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header === 'string' && VALID_KEY.test(header)) return header;
  throw new PulseError(ErrorCode.INVALID_BODY, 'Idempotency-Key: must be 1 to 200 printable ASCII characters');
}
