import { describe, expect, it } from 'vitest';
import { INFERENCE_ROUTES, recordedRoutes, requestPath } from './routes.js';

describe('recorded routes', () => {
  const records = recordedRoutes(INFERENCE_ROUTES);

  it.each(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses'])('records POST %s by default', (path) => {
    expect(records('POST', path)).toBe(true);
  });

  it('ignores the query', () => {
    expect(records('POST', '/v1/chat/completions?api-version=2024-10-21')).toBe(true);
    expect(records('POST', '/v1/embeddings?')).toBe(true);
  });

  it.each([
    ['GET', '/v1/models'],
    ['GET', '/v1/chat/completions'], // lists stored completions
    ['OPTIONS', '/v1/chat/completions'], // a CORS preflight
    ['HEAD', '/v1/completions'],
    ['POST', '/v1/chat/completion'], // a typo
    ['POST', '/v1/chat/completions/'], // redirected by the server: the request that follows is recorded
    ['POST', '/v1/responses/resp_123/cancel'],
    ['GET', '/v1/responses/resp_123'],
    ['DELETE', '/v1/responses/resp_123'],
    ['POST', '/V1/chat/completions'],
    ['POST', '/v1/chat%2Fcompletions'],
    ['POST', '//v1/chat/completions'],
    ['POST', '/wp-login.php'],
    [undefined, '/v1/chat/completions'],
  ])('does not record %s %s', (method, target) => {
    expect(records(method, target)).toBe(false);
  });

  it('records exactly the configured paths', () => {
    const custom = recordedRoutes(['/generate', '/v1/audio/transcriptions']);
    expect(custom('POST', '/generate?stream=1')).toBe(true);
    expect(custom('POST', '/v1/audio/transcriptions')).toBe(true);
    expect(custom('POST', '/v1/chat/completions')).toBe(false);
  });

  it('takes the path of a target up to its query', () => {
    expect(requestPath('/a/b?c=d?e')).toBe('/a/b');
    expect(requestPath('/a/b')).toBe('/a/b');
    expect(requestPath('?x')).toBe('');
  });
});
