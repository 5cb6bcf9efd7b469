import { describe, expect, it } from 'vitest';
import { endToEndHeaders } from './headers.js';

describe('endToEndHeaders', () => {
  it('keeps order, case and repeats, and drops hop-by-hop headers and those Connection names', () => {
    const raw = [
      'Host', 'api.local',
      'Authorization', 'Bearer k',
      'Connection', 'keep-alive, X-Hop',
      'X-Hop', 'secret',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'TE', 'trailers',
      'Upgrade', 'h2c',
      'Proxy-Authorization', 'Basic x',
      'X-Dup', 'a',
      'x-dup', 'b',
      'Content-Type', 'application/json',
    ];
    expect(endToEndHeaders(raw)).toEqual(['Host', 'api.local', 'Authorization', 'Bearer k', 'X-Dup', 'a', 'x-dup', 'b', 'Content-Type', 'application/json']);
  });
});
