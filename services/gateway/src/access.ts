/**
 * Who may read metrics from this gateway (docs/SECURITY.md): the WebSocket
 * upgrade and the /metrics/* REST routes need a read token when tokens are
 * configured, and a browser's Origin must be allowed when an allowlist is.
 * CORS on REST follows the same allowlist, so a page that may open the
 * stream may also read the snapshot, and no other page may.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, HTTP_STATUS } from '@pulse/protocol';
import { bearerChallenge, bearerToken, TokenSet, type LimitCounters, type LimitReason, type SecuritySettings } from '@pulse/runtime';

export type AccessSettings = Pick<SecuritySettings, 'PULSE_READ_TOKENS' | 'PULSE_ALLOWED_ORIGINS'>;

/** Why a request was refused, as the HTTP reply that says so. */
export interface Refusal {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The query parameter browsers pass the token in: a WebSocket cannot carry an Authorization header from a page. */
const TOKEN_PARAM = 'token';

export class AccessPolicy {
  private readonly tokens: TokenSet;
  private readonly origins: ReadonlySet<string>;

  constructor(
    settings: AccessSettings,
    private readonly counters: LimitCounters,
  ) {
    this.tokens = new TokenSet(settings.PULSE_READ_TOKENS);
    this.origins = new Set(settings.PULSE_ALLOWED_ORIGINS);
  }

  /** Null when `req` may read; else the refusal to send, counted. The origin is checked first: it needs no token. */
  check(req: IncomingMessage): Refusal | null {
    if (!this.originAllowed(req)) return this.refuse('origin', ErrorCode.FORBIDDEN_ORIGIN, 'this origin may not read from this gateway');
    if (!this.tokens.required) return null;
    const { token, presented } = tokenOf(req);
    if (this.tokens.accepts(token)) return null;
    // The message never repeats what was presented: it may be a real token sent to the wrong place.
    const message = presented ? 'the token is not valid' : `a token is required: an Authorization: Bearer header, or the ${TOKEN_PARAM} query parameter`;
    return this.refuse('unauthorized', ErrorCode.UNAUTHORIZED, message, { 'WWW-Authenticate': bearerChallenge(presented) });
  }

  /** Refusal of a CORS preflight from an origin not allowed; null when it may proceed. */
  checkPreflight(req: IncomingMessage): Refusal | null {
    return this.originAllowed(req) ? null : this.refuse('origin', ErrorCode.FORBIDDEN_ORIGIN, 'this origin may not read from this gateway');
  }

  /**
   * CORS headers for a REST reply to `req`: none without an Origin (not a
   * browser's cross-origin request), `*` without an allowlist, else the
   * origin itself when allowed.
   */
  corsHeaders(req: IncomingMessage, preflight = false): Record<string, string> {
    const origin = req.headers.origin;
    if (origin === undefined || !this.originAllowed(req)) return {};
    const headers: Record<string, string> =
      this.origins.size === 0 ? { 'Access-Control-Allow-Origin': '*' } : { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (preflight) {
      headers['Access-Control-Allow-Methods'] = 'GET, HEAD';
      headers['Access-Control-Allow-Headers'] = 'Authorization';
      headers['Access-Control-Max-Age'] = '600';
    }
    return headers;
  }

  /**
   * No Origin: not a browser, which the allowlist cannot concern. The
   * gateway's own origin (its dashboard) is always allowed: a browser sends
   * the Host it connected to, and a page elsewhere cannot make it lie.
   */
  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.origins.size === 0 || this.origins.has(origin)) return true;
    return URL.canParse(origin) && new URL(origin).host === req.headers.host;
  }

  private refuse(reason: LimitReason, code: ErrorCode, message: string, headers: Record<string, string> = {}): Refusal {
    this.counters.hit(reason);
    return { status: HTTP_STATUS[code], code, message, headers };
  }
}

/** The Authorization header's bearer token, else the query parameter's; `presented` when either was there at all. */
function tokenOf(req: IncomingMessage): { token: string | undefined; presented: boolean } {
  if (req.headers.authorization !== undefined) return { token: bearerToken(req.headers.authorization), presented: true };
  const token = queryParam(req.url, TOKEN_PARAM);
  return { token, presented: token !== undefined };
}

function queryParam(url: string | undefined, name: string): string | undefined {
  if (url === undefined || !url.includes('?')) return undefined;
  try {
    return new URL(url, 'http://gateway').searchParams.get(name) ?? undefined;
  } catch {
    return undefined;
  }
}
