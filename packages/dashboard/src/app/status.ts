/** The connection pill: what the client's status means to a person watching. */
import type { ConnectionStatus } from '@pulse/client';
import { CloseCode } from '@pulse/protocol/close-codes';

/** A connection that dropped without a close frame (RFC 6455 §7.1.5). */
const ABNORMAL = 1006;

export function describeStatus(status: ConnectionStatus): string {
  switch (status.state) {
    case 'connecting':
      return status.attempt === 0 ? 'connecting…' : `connecting… (attempt ${status.attempt + 1})`;
    case 'open':
      return 'live';
    case 'reconnecting':
      return `reconnecting in ${((status.delayMs ?? 0) / 1000).toFixed(1)} s (${closeCause(status.code)})`;
    case 'closed':
      return `disconnected (${closeCause(status.code)}${status.reason ? `: ${status.reason}` : ''})`;
  }
}

function closeCause(code: number | undefined): string {
  switch (code) {
    case 1000:
      return 'closed';
    case CloseCode.GOING_AWAY:
      return 'server restarting';
    case ABNORMAL:
      return 'connection lost';
    case CloseCode.SLOW_CONSUMER:
      return 'too slow';
    case CloseCode.HEARTBEAT_TIMEOUT:
      return 'server silent';
    default:
      return code === undefined ? 'unknown' : `code ${code}`;
  }
}
