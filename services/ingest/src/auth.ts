/**
 * Bearer-token authentication of ingest routes (docs/SECURITY.md). Checked
 * before a byte of the body is read, so a client without a token costs no
 * parsing. Off while no token is configured.
 */
import type { RequestHandler } from 'express';
import { ErrorCode, PulseError } from '@pulse/protocol';
import { bearerChallenge, bearerToken, type TokenSet } from '@pulse/runtime';

export function requireToken(tokens: TokenSet): RequestHandler {
  return (req, res, next) => {
    if (!tokens.required) return next();
    const presented = bearerToken(req.headers.authorization);
    if (tokens.accepts(presented)) return next();
    res.set('WWW-Authenticate', bearerChallenge(presented !== undefined));
    // The message never repeats what was presented: it may be a real token sent to the wrong place.
    next(new PulseError(ErrorCode.UNAUTHORIZED, presented === undefined ? 'a bearer token is required' : 'the bearer token is not valid'));
  };
}
