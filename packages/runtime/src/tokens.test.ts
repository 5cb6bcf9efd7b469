import { describe, expect, it } from 'vitest';
import { bearerChallenge, bearerToken, TokenSet } from './tokens.js';

describe('TokenSet', () => {
  const tokens = new TokenSet(['old-token-0123456789', 'new-token-0123456789']);

  it('accepts every configured token, so an old and a new one work during a rotation', () => {
    expect(tokens.required).toBe(true);
    expect(tokens.accepts('old-token-0123456789')).toBe(true);
    expect(tokens.accepts('new-token-0123456789')).toBe(true);
  });

  it('refuses anything else: a prefix, an extension, another case, nothing', () => {
    for (const wrong of ['old-token-012345678', 'old-token-01234567890', 'OLD-TOKEN-0123456789', '', undefined]) {
      expect(tokens.accepts(wrong), String(wrong)).toBe(false);
    }
  });

  it('is not required, and accepts nothing, without tokens', () => {
    const open = new TokenSet([]);
    expect(open.required).toBe(false);
    expect(open.accepts('anything-at-all-here')).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['abc', undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it('reads no token from a missing or repeated header', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken(['Bearer a', 'Bearer b'])).toBeUndefined();
  });

  it('challenges with invalid_token only once a token was presented (RFC 6750 §3)', () => {
    expect(bearerChallenge(false)).toBe('Bearer realm="pulse"');
    expect(bearerChallenge(true)).toBe('Bearer realm="pulse", error="invalid_token"');
  });
});
