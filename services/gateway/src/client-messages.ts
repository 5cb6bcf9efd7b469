/**
 * A client's frames and the one reply each gets (docs/PROTOCOL.md §5): `subscribe`,
 * `unsubscribe`, `ping`; anything else gets an `error` naming what was wrong,
 * changes nothing, and leaves the connection open. Pure: the caller sends.
 */
import { ErrorCode, parseClientMessage, parseSince, type SubscribeLimit, type SubscribeLimits } from '@pulse/protocol';
import type { ClientSession } from './client-session.js';
import { errorReply, pongReply, subscribedReply, unsubscribedReply } from './frames.js';

export interface MessageTime {
  /** Monotonic clock, ms: restarts the client's schedule. */
  nowMs: number;
  /** Wall clock, seconds since the epoch: the reply's `timestamp`. */
  timestamp: number;
}

/** The gateway's subscribe limits, and where a refusal by one of them is counted. */
export interface SubscribeGuard {
  readonly limits: SubscribeLimits;
  onLimit(limit: SubscribeLimit): void;
}

export const BINARY_FRAME_ERROR = 'binary frames are not supported: send JSON text frames';

/**
 * Handles one frame from `session`'s client and returns the reply to send it.
 * `changed` hears of each valid subscribe (with its `since`, when it had one:
 * docs/PROTOCOL.md §5.11) and unsubscribe, after the session applied it.
 */
export function handleClientFrame(
  session: ClientSession,
  data: Buffer,
  isBinary: boolean,
  at: MessageTime,
  guard?: SubscribeGuard,
  changed?: (since: number | undefined) => void,
): string {
  if (isBinary) return errorReply(at.timestamp, BINARY_FRAME_ERROR, ErrorCode.INVALID_MESSAGE);
  const parsed = parseClientMessage(data.toString('utf8'));
  if (!parsed.ok) return errorReply(at.timestamp, parsed.error, ErrorCode.INVALID_MESSAGE);
  const message = parsed.value;
  switch (message.type) {
    case 'subscribe': {
      // Checked first: an invalid `since` changes nothing, like an invalid filter.
      const since = 'since' in message ? parseSince(message.since) : undefined;
      if (since && !since.ok) return errorReply(at.timestamp, since.error, ErrorCode.INVALID_SUBSCRIPTION);
      const result = session.subscribe(message.filters, at.nowMs, guard?.limits);
      if (result.ok) {
        changed?.(since?.value);
        return subscribedReply(at.timestamp, result.value);
      }
      if (result.limit) guard?.onLimit(result.limit);
      return errorReply(at.timestamp, result.error, ErrorCode.INVALID_SUBSCRIPTION);
    }
    case 'unsubscribe':
      session.unsubscribe(at.nowMs);
      changed?.(undefined);
      return unsubscribedReply(at.timestamp);
    case 'ping':
      return pongReply(at.timestamp);
  }
}
