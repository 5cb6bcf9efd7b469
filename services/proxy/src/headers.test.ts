import { describe, expect, it } from 'vitest';
import { requestHeaders, responseHeaders } from './headers.js';

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
  'Expect', '100-continue',
  'Content-Type', 'application/json',
];
const endToEnd = ['Host', 'api.local', 'Authorization', 'Bearer k', 'X-Dup', 'a', 'x-dup', 'b'];

describe('forwarded headers', () => {
  it('keep order, case and repeats, and drop hop-by-hop headers, those Connection names, and a request\'s Expect', () => {
    expect(requestHeaders(raw)).toEqual([...endToEnd, 'Content-Type', 'application/json']);
  });

  it('a response keeps Expect (it means nothing there) and takes undici\'s Buffer lists', () => {
    expect(responseHeaders(raw.map((h) => Buffer.from(h, 'latin1')))).toEqual([...endToEnd, 'Expect', '100-continue', 'Content-Type', 'application/json']);
  });
});
