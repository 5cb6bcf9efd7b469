/**
 * Bearer-token checks (docs/SECURITY.md). The configured tokens are kept
 * only as SHA-256 digests and every candidate is compared with every one of
 * them, in constant time: how long a check takes says nothing about how
 * much of a guess was right, nor about which token matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export class TokenSet {
  private readonly digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  /** False when no token is configured: that side is open. */
  get required(): boolean {
    return this.digests.length > 0;
  }

  /** Whether `candidate` is one of the tokens. Hashing first gives equal lengths, as timingSafeEqual needs. */
  accepts(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const d = digest(candidate);
    let match = false;
    // No early exit: each check costs the same whichever token (if any) matches.
    for (const known of this.digests) match = timingSafeEqual(d, known) || match;
    return match;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const BEARER = /^Bearer +(\S+) *$/i;

/** The token of an `Authorization: Bearer <token>` header; undefined for none or another scheme. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return BEARER.exec(header)?.[1];
}

/** The WWW-Authenticate value of a 401 (RFC 6750 §3): `invalid_token` once a token was presented. */
export function bearerChallenge(presented: boolean): string {
  return presented ? 'Bearer realm="pulse", error="invalid_token"' : 'Bearer realm="pulse"';
}
