/**
 * REDIS_URL (CONTRACT §10, docs/REDIS.md): which Redis topology it names,
 * parsed and validated once, at start, by the config layer. No ioredis here,
 * so the config can check a URL without opening anything.
 */

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** What a REDIS_URL names, parsed and validated (parseRedisUrl). */
export type RedisTopology =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly RedisNode[]; readonly name: string; readonly username?: string; readonly password?: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly username?: string; readonly password?: string };

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

const SCHEMES = 'redis://, rediss://, redis+sentinel://host:port[,host:port…]/<master name> or redis+cluster://host:port[,host:port…]';

/**
 * Parses a REDIS_URL. Throws RedisUrlError saying what is wrong, never
 * echoing the URL (it may hold a password).
 */
export function parseRedisUrl(url: string): RedisTopology {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RedisUrlError(`not a valid ${scheme}:// URL`);
    }
    if (parsed.hostname === '') throw new RedisUrlError('names no host');
    return { kind: 'standalone', url };
  }
  if (scheme === 'redis+sentinel' || scheme === 'redis+cluster') return parseMultiHost(scheme, url.slice(scheme.length + 3));
  throw new RedisUrlError(`must be ${SCHEMES}`);
}

/** `[user:pass@]host:port[,host:port…][/path]`: WHATWG URL parsing rejects the comma list, so it is split here. */
function parseMultiHost(scheme: 'redis+sentinel' | 'redis+cluster', rest: string): RedisTopology {
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? parseCredentials(rest.slice(0, at)) : {};
  const afterAt = rest.slice(at + 1);
  const slash = afterAt.indexOf('/');
  const hostList = slash >= 0 ? afterAt.slice(0, slash) : afterAt;
  const path = slash >= 0 ? afterAt.slice(slash + 1) : '';
  const nodes = hostList.split(',').map(parseNode);
  if (scheme === 'redis+cluster') {
    if (path !== '') throw new RedisUrlError('redis+cluster:// takes no path (a Cluster has only database 0)');
    return { kind: 'cluster', nodes, ...credentials };
  }
  const name = decodeURIComponent(path.replace(/\/$/, ''));
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new RedisUrlError('redis+sentinel:// must end with /<master name> (letters, digits, _ . -)');
  return { kind: 'sentinel', sentinels: nodes, name, ...credentials };
}

function parseCredentials(text: string): { username?: string; password?: string } {
  const colon = text.indexOf(':');
  const username = decodeURIComponent(colon >= 0 ? text.slice(0, colon) : text);
  const password = colon >= 0 ? decodeURIComponent(text.slice(colon + 1)) : '';
  return { ...(username !== '' && { username }), ...(password !== '' && { password }) };
}

function parseNode(text: string): RedisNode {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new RedisUrlError('every host must be host:port (port 1–65535), separated by commas');
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
