import { describe, expect, it } from 'vitest';
import { decodeServerMessage } from './decode.js';

describe('decodeServerMessage', () => {
  it('passes known messages through, extra fields included', () => {
    expect(decodeServerMessage('{"type":"pong","timestamp":1,"extra":true}')).toEqual({ type: 'pong', timestamp: 1, extra: true });
  });

  it.each(['not json', '[]', 'null', '"pong"', '{"type":"surprise"}', '{"type":7}'])('ignores %s', (text) => {
    expect(decodeServerMessage(text)).toBeNull();
  });
});
