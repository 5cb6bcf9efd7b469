import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  it('redacts authorization headers and tokens in whatever object is logged', () => {
    const lines: string[] = [];
    const logger = createLogger('test', 'info', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
    const secret = 'tok_0123456789abcdef';
    logger.info({ req: { headers: { authorization: `Bearer ${secret}`, host: 'h' } } }, 'a request');
    logger.info({ headers: { authorization: `Bearer ${secret}` }, token: secret }, 'headers');
    logger.info({ err: { config: { headers: { authorization: secret } } } }, 'an error');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).not.toContain(secret);
    expect(JSON.parse(lines[0]!).req.headers).toEqual({ authorization: '[redacted]', host: 'h' });
  });
});
