/**
 * Which proxied requests Pulse records (docs/PROXY.md, "Which requests are
 * recorded"): a POST whose path is one of the configured paths, exactly.
 * Everything else — `GET /v1/models`, a typo, a scanner's `/wp-login.php` —
 * is forwarded untouched and leaves no event, so it never becomes an
 * endpoint in the figures.
 *
 * Exact, byte for byte: the query is not part of the path, a trailing slash
 * makes another path (servers such as FastAPI redirect it to the path without
 * one, and the redirected request is the one recorded), and a sub-path such as
 * `/v1/responses/{id}` (retrieve, cancel, delete a stored response) runs no
 * model.
 */

/** OpenAI's routes that run a model: the default of PULSE_PROXY_ROUTES. */
export const INFERENCE_ROUTES: readonly string[] = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses'];

/** Whether a request, by its method and target (path and query), is recorded. */
export type RouteFilter = (method: string | undefined, target: string) => boolean;

export function recordedRoutes(paths: readonly string[]): RouteFilter {
  const recorded = new Set(paths);
  return (method, target) => method === 'POST' && recorded.has(requestPath(target));
}

/** The path of a request target: everything before the query. */
export function requestPath(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}
