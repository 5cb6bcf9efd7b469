/**
 * Header forwarding: everything passes in its original order, case and
 * multiplicity (raw header lists), except the hop-by-hop headers of RFC 9110
 * §7.6.1, which describe one connection and must not cross the proxy. Node
 * and undici set their own Connection / Transfer-Encoding for each side.
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
 * Expect: 100-continue was answered by the proxy's own server already (Node
 * sends the 100 itself), and the body follows; the upstream gets the body
 * without waiting, as from any client that sent no Expect.
 */
const REQUEST_ONLY = new Set([...HOP_BY_HOP, 'expect']);

/** A request's raw header list (`IncomingMessage.rawHeaders`), ready for the upstream. */
export function requestHeaders(raw: readonly string[]): string[] {
  return endToEnd(raw, REQUEST_ONLY);
}

/** A response's raw header list (strings, or undici's Buffers), ready for `res.writeHead`. */
export function responseHeaders(raw: readonly (string | Buffer)[]): string[] {
  return endToEnd(raw, HOP_BY_HOP);
}

/** `raw` is a flat [name, value, name, value, …] list; so is the result. */
function endToEnd(raw: readonly (string | Buffer)[], drop: ReadonlySet<string>): string[] {
  // Node's lists are strings already (copied only when they are undici's Buffers).
  const text = typeof raw[0] === 'string' ? (raw as readonly string[]) : raw.map((h) => (typeof h === 'string' ? h : h.toString('latin1')));
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  let named: Set<string> | null = null;
  for (let i = 0; i < text.length; i += 2) {
    if (text[i]!.toLowerCase() !== 'connection') continue;
    named ??= new Set();
    for (const token of text[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 2) {
    const name = text[i]!.toLowerCase();
    if (drop.has(name) || named?.has(name)) continue;
    out.push(text[i]!, text[i + 1]!);
  }
  return out;
}
