/**
 * Decodes a server frame at the edge. Only the envelope is checked (an object
 * with a known `type`): fields a newer server adds pass through untouched, and
 * a frame that is not even that is ignored rather than thrown at the caller.
 */
import type { ServerMessage } from '@pulse/protocol';

const TYPES: ReadonlySet<string> = new Set<ServerMessage['type']>([
  'historical_data',
  'metrics_update',
  'history',
  'subscribed',
  'unsubscribed',
  'pong',
  'error',
]);

export function decodeServerMessage(text: string): ServerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && TYPES.has(type) ? (value as ServerMessage) : null;
}
