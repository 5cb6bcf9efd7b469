import { describe, expect, it } from 'vitest';
import { MessageStream } from './message-stream.js';

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of stream) out.push(v);
  return out;
}

describe('MessageStream', () => {
  it('delivers pushed values in order, then ends', async () => {
    const s = new MessageStream<number>(10);
    s.push(1);
    s.push(2);
    s.end();
    expect(await drain(s)).toEqual([1, 2]);
  });

  it('hands a value straight to a waiting consumer', async () => {
    const s = new MessageStream<number>(10);
    const next = s.next();
    s.push(7);
    expect(await next).toEqual({ value: 7, done: false });
  });

  it('drops the oldest values beyond its capacity and counts them', async () => {
    const s = new MessageStream<number>(2);
    for (const v of [1, 2, 3, 4]) s.push(v);
    s.end();
    expect(await drain(s)).toEqual([3, 4]);
    expect(s.dropped).toBe(2);
  });

  it('ends a pending next() when the stream ends', async () => {
    const s = new MessageStream<number>(2);
    const next = s.next();
    s.end();
    expect(await next).toEqual({ value: undefined, done: true });
  });

  it('breaking out of the loop tells the owner once', async () => {
    let done = 0;
    const s = new MessageStream<number>(5, () => (done += 1));
    s.push(1);
    s.push(2);
    for await (const _ of s) break;
    s.end();
    expect(done).toBe(1);
    s.push(3);
    expect(await s.next()).toEqual({ value: undefined, done: true });
  });
});
