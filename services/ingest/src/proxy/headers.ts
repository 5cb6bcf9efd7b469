/**
 * Header forwarding: everything passes in its original order, case and
 * multiplicity (raw header arrays), except the hop-by-hop headers of RFC 9110
 * §7.6.1, which describe one connection and must not cross the proxy. Node
 * sets its own Connection / Transfer-Encoding for each side.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * `raw` is a flat [name, value, name, value, …] list (`IncomingMessage.rawHeaders`);
 * so is the result, ready for `http.request({headers})` or `res.writeHead`.
 */
export function endToEndHeaders(raw: readonly string[]): string[] {
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    named ??= new Set();
    for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

