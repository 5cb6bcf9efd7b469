/**
 * Whole WebSocket frames for fan-out: a `metrics_update` shared by many
 * clients is framed once and the same bytes are written to each of them.
 *
 * A server's frames are unmasked (RFC 6455 §5.1), so one frame of a text is
 * the same bytes on every connection. `ws` frames every `send` anew: a
 * header buffer per client and a corked write of header and payload, which
 * the kernel takes as a two-part `writev`. At 5,000 clients a second that was
 * a sixth of what the gateway spent beyond the bare-`ws` floor
 * (docs/PERFORMANCE.md §2b, "Since: frames built once"). A frame written whole
 * is one buffer, one `write`.
 *
 * Only valid while `ws` sends nothing compressed: with permessage-deflate a
 * `ws` send may wait in its queue, and a frame written past it would reorder
 * messages. ws-server.ts turns the extension off.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ClientSocket } from './client-session.js';

/** FIN set, opcode 1 (text), no RSV bits: a whole text message in one frame. */
const FIN_TEXT = 0x81;

/** The frame carrying `text` as one unfragmented text message. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + length);
  frame[0] = FIN_TEXT;
  if (head === 2) {
    frame[1] = length;
  } else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, head, 'utf8');
  return frame;
}

/** The text a frame of `textFrame` carries (tests read what fan-out wrote with it). */
export function frameText(frame: Buffer): string {
  const marker = frame[1]! & 0x7f;
  const head = marker < 126 ? 2 : marker === 126 ? 4 : 10;
  return frame.toString('utf8', head);
}

/**
 * A client's socket as fan-out writes to it: whole frames
 * straight onto the TCP socket `ws` runs on. `ws` writes its own frames
 * (replies, pings, the close frame) synchronously to the same socket, so
 * frames never interleave; after `ws` began closing nothing more is written.
 */
export class FrameSocket implements ClientSocket {
  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
  ) {}

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  sendFrame(frame: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.socket.write(frame);
  }
}

