/**
 * The settings that make Pulse safe to expose beyond localhost
 * (docs/SECURITY.md). Every service spreads `securityVars` into its config
 * shape, so one environment configures a whole deployment. All off by
 * default: an empty token list leaves that side open, as for local use.
 */
import { z } from 'zod';
import { intVar, secretVar } from './config.js';

/**
 * Shortest token accepted: 16 characters of base64 are 96 bits, beyond
 * guessing at any request rate. `openssl rand -base64 32` gives 44.
 */
const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 512;

/** RFC 6750's b64token: what an `Authorization: Bearer` header can carry verbatim. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * A comma-separated token list. Several tokens at once let an operator roll
 * a new one out before retiring the old. Problems name the token by its
 * position, never by its value.
 */
const tokenListVar = secretVar(
  z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const tokens = raw.split(',').map((t) => t.trim());
      // "PULSE_WRITE_TOKENS=," must not silently leave ingest open.
      if (raw.trim() !== '' && tokens.every((t) => t === '')) {
        ctx.addIssue({ code: 'custom', message: 'holds no token; leave it unset to turn authentication off' });
        return z.NEVER;
      }
      const kept: string[] = [];
      for (const [i, token] of tokens.entries()) {
        if (token === '') continue;
        const problem =
          token.length < MIN_TOKEN_LENGTH ? `shorter than ${MIN_TOKEN_LENGTH} characters`
          : token.length > MAX_TOKEN_LENGTH ? `longer than ${MAX_TOKEN_LENGTH} characters`
          : !B64TOKEN.test(token) ? 'not a bearer token (letters, digits and - . _ ~ + / with trailing =)'
          : kept.includes(token) ? 'listed twice'
          : null;
        if (problem) {
          ctx.addIssue({ code: 'custom', message: `token ${i + 1}: ${problem}` });
          return z.NEVER;
        }
        kept.push(token);
      }
      return kept;
    }),
);

/**
 * Comma-separated origins (`https://dash.example.com`) browsers may open
 * WebSockets from and read REST with; empty allows any. Each must be an
 * origin exactly as a browser sends it: scheme, host, port if not default.
 */
const originListVar = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const origins: string[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const url = URL.canParse(part) ? new URL(part) : null;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== part) {
        const hint = url && (url.protocol === 'http:' || url.protocol === 'https:') ? ` (did you mean ${url.origin}?)` : '';
        ctx.addIssue({ code: 'custom', message: `not an http(s) origin: ${part}${hint}` });
        return z.NEVER;
      }
      origins.push(part);
    }
    return origins;
  });

export const securityVars = {
  /** Bearer tokens that may POST events to ingest. Empty (default): ingest is open. */
  PULSE_WRITE_TOKENS: tokenListVar,
  /** Tokens that may read metrics: WebSocket, /metrics/* REST. Empty (default): reading is open. */
  PULSE_READ_TOKENS: tokenListVar,
  /** Browser origins allowed on the gateway (WebSocket and CORS). Empty (default): any origin. */
  PULSE_ALLOWED_ORIGINS: originListVar,
  /**
   * Longest string field accepted, in characters: event labels at ingest
   * (never beyond docs/PROTOCOL.md §3's 128 for node and request_id, 256 for the
   * rest) and endpoint/model names in a subscribe. Default 256.
   */
  PULSE_MAX_STRING_LENGTH: intVar(256, 1, 256),
};

/** The parsed settings, as every service's config holds them. */
export type SecuritySettings = Readonly<z.infer<z.ZodObject<typeof securityVars>>>;
