import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { securityVars } from './security-config.js';

const GOOD = 'tok_0123456789abcdef';
const OTHER = 'AbCdEfGhIjKlMnOpQr+/==';

function parse(env: Record<string, string>) {
  return parseConfig(securityVars, env);
}

function problems(env: Record<string, string>): string {
  try {
    parse(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('security settings', () => {
  it('are off by default: no tokens, any origin, the contract string lengths', () => {
    expect(parse({})).toEqual({ PULSE_WRITE_TOKENS: [], PULSE_READ_TOKENS: [], PULSE_ALLOWED_ORIGINS: [], PULSE_MAX_STRING_LENGTH: 256 });
  });

  it('accept several tokens at once, for rotation, trimmed', () => {
    expect(parse({ PULSE_WRITE_TOKENS: ` ${GOOD} , ${OTHER}` }).PULSE_WRITE_TOKENS).toEqual([GOOD, OTHER]);
  });

  it.each([
    ['short', 'abc', /token 1: shorter than 16/],
    ['with a space', 'abcdefgh ijklmnopq', /token 1: not a bearer token/],
    ['with a non-ASCII letter', 'abcdefghijklmnopé', /token 1: not a bearer token/],
    ['with = inside', 'abcdefgh=ijklmnopq', /token 1: not a bearer token/],
    ['listed twice', `${GOOD},${GOOD}`, /token 2: listed twice/],
    ['only commas', ' , ', /holds no token/],
  ])('refuse a token %s, naming its position but never its value', (_what, value, message) => {
    const text = problems({ PULSE_READ_TOKENS: value });
    expect(text).toMatch(/^PULSE_READ_TOKENS: /);
    expect(text).toMatch(message);
    for (const token of value.split(',').map((t) => t.trim()).filter((t) => t.length > 2)) expect(text).not.toContain(token);
  });

  it('accept exact origins and refuse anything a browser would not send as one', () => {
    expect(parse({ PULSE_ALLOWED_ORIGINS: 'https://dash.example.com, http://localhost:8000' }).PULSE_ALLOWED_ORIGINS).toEqual([
      'https://dash.example.com',
      'http://localhost:8000',
    ]);
    expect(problems({ PULSE_ALLOWED_ORIGINS: 'https://dash.example.com/' })).toMatch(/did you mean https:\/\/dash\.example\.com\?/);
    expect(problems({ PULSE_ALLOWED_ORIGINS: 'https://Dash.example.com:443' })).toMatch(/did you mean https:\/\/dash\.example\.com\?/);
    expect(problems({ PULSE_ALLOWED_ORIGINS: 'dash.example.com' })).toMatch(/not an http\(s\) origin/);
    expect(problems({ PULSE_ALLOWED_ORIGINS: 'ftp://x.example' })).toMatch(/not an http\(s\) origin/);
  });

  it('bound the string length by the contract', () => {
    expect(parse({ PULSE_MAX_STRING_LENGTH: '64' }).PULSE_MAX_STRING_LENGTH).toBe(64);
    expect(problems({ PULSE_MAX_STRING_LENGTH: '1000' })).toMatch(/PULSE_MAX_STRING_LENGTH/);
  });
});
