/**
 * Playing hostile frames on one WebSocket connection and checking that
 * everything the server sends back, and how it closes, is documented
 * (docs/PROTOCOL.md §5, close-codes.ts): shared by the gateway and all-in-one fuzz
 * suites.
 */
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '@pulse/protocol';
import type { Frame } from './hostile.js';

const MESSAGE_TYPES = ['historical_data', 'metrics_update', 'subscribed', 'unsubscribed', 'pong', 'error'];
const ERROR_CODES: readonly string[] = [ErrorCode.INVALID_MESSAGE, ErrorCode.INVALID_SUBSCRIPTION, ErrorCode.RATE_LIMITED];
/** 1000: our own close, echoed; the rest are the server's, each documented in close-codes.ts. */
const CLOSE_CODES: readonly number[] = [1000, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG, CloseCode.RATE_LIMITED];

function expectDocumentedMessage(raw: Buffer, isBinary: boolean): void {
  expect(isBinary, 'the server sends text frames only').toBe(false);
  const m = JSON.parse(raw.toString());
  expect(MESSAGE_TYPES, raw.toString().slice(0, 200)).toContain(m.type);
  expect(typeof m.timestamp).toBe('number');
  if (m.type === 'error') {
    expect(ERROR_CODES, m.message).toContain(m.code);
    expect(typeof m.message).toBe('string');
  }
}

function sendFrame(ws: WebSocket, f: Frame): void {
  if (f.kind === 'binary') ws.send(f.data, { binary: true });
  else if (f.kind === 'raw-text') ws.send(Buffer.from(f.data), { binary: false });
  else ws.send(f.data);
}

/**
 * Connects to `url` with `token`, sends the frames, then a ping; waits for
 * its pong or for the server to close; then closes. Every message received
 * and the close code are checked.
 */
export async function playFrames(url: string, token: string, frames: readonly Frame[]): Promise<void> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  ws.on('error', () => {});
  let pongs = 0;
  ws.on('message', (data: Buffer, isBinary) => {
    expectDocumentedMessage(data, isBinary);
    if (JSON.parse(data.toString()).type === 'pong') pongs++;
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  for (const f of frames) if (ws.readyState === WebSocket.OPEN) sendFrame(ws, f);
  const before = pongs;
  if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
  const settled = await Promise.race([
    closed.then((code) => ({ code })),
    new Promise<null>((resolve) => {
      const poll = setInterval(() => pongs > before && (clearInterval(poll), resolve(null)), 5);
      // A rate-limited client may get no pong: it is then closed by us after this.
      setTimeout(() => (clearInterval(poll), resolve(null)), 1500);
    }),
  ]);
  if (settled === null) {
    ws.close(1000);
    expect(CLOSE_CODES).toContain(await closed);
  } else {
    expect(CLOSE_CODES, `closed by the server with ${settled.code}`).toContain(settled.code);
  }
}
