import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { FrameSocket, frameText, textFrame } from './ws-frame.js';

/** Every length field width (7 bits, 16 bits, 64 bits) at and around its bounds, and multi-byte UTF-8. */
const TEXTS = ['', 'x', 'y'.repeat(125), 'z'.repeat(126), 'w'.repeat(65_535), 'v'.repeat(65_536), 'u'.repeat(200_000), 'ü✓'.repeat(30_000)];

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** `ws`'s own framer; its type definitions leave it out. */
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: Record<string, boolean | number>): Buffer[] } };

/** How `ws` itself frames a server's text message: the oracle. */
function wsFrame(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false });
  return Buffer.concat(parts);
}

describe('textFrame', () => {
  it('is byte for byte the frame ws sends for the same text', () => {
    for (const text of TEXTS) {
      expect(textFrame(text).equals(wsFrame(text)), `${Buffer.byteLength(text)} bytes`).toBe(true);
      expect(frameText(textFrame(text))).toBe(text);
    }
  });

  describe('on a real connection', () => {
    let server: WebSocketServer | null = null;
    afterEach(async () => {
      for (const c of server?.clients ?? []) c.terminate();
      await new Promise((resolve) => server?.close(resolve));
      server = null;
    });

    /** A server and a client connected to it; `frames` writes to the server's end as fan-out does. */
    async function connect() {
      server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
      await once(server, 'listening');
      const connected = once(server, 'connection') as Promise<[WebSocket, { socket: Duplex }]>;
      const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const received: string[] = [];
      client.on('message', (data) => received.push(String(data)));
      const [ws, req] = await connected;
      await once(client, 'open');
      return { ws, client, received, socket: req.socket as Socket, frames: new FrameSocket(ws, req.socket) };
    }

    it('reaches a ws client as the same messages, in order, between frames ws writes itself', async () => {
      const { ws, client, received, frames } = await connect();
      for (const [i, text] of TEXTS.entries()) {
        frames.sendFrame(textFrame(text));
        if (i === 2) ws.send('from ws');
      }
      await until(() => received.length === TEXTS.length + 1);
      expect(received).toEqual([...TEXTS.slice(0, 3), 'from ws', ...TEXTS.slice(3)]);
      client.close();
    });

    it('writes nothing once ws began closing: no data follows a close frame', async () => {
      const { ws, client, received, socket, frames } = await connect();
      frames.sendFrame(textFrame('before'));
      ws.close(4000, 'bye');
      const closeWritten = socket.bytesWritten;
      frames.sendFrame(textFrame('after'));
      expect(socket.bytesWritten).toBe(closeWritten);
      const [code] = (await once(client, 'close')) as [number];
      expect(code).toBe(4000);
      expect(received).toEqual(['before']);
    });
  });
});
