/**
 * An async iterator over pushed values with a bounded buffer: a consumer
 * slower than the stream loses the oldest values (counted in `dropped`), as
 * a live view wants the newest figures, and memory stays bounded.
 */
export class MessageStream<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private ended = false;
  /** Values discarded because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly capacity: number,
    /** Called once when the consumer stops (break, return) or the stream ends. */
    private readonly onDone: () => void = () => {},
  ) {}

  push(value: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.capacity) {
      this.buffer.shift();
      this.dropped += 1;
    }
    this.buffer.push(value);
  }

  /** No more values: the buffered ones are still delivered, then the iteration ends. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onDone();
    if (this.waiting) {
      this.waiting({ value: undefined, done: true });
      this.waiting = null;
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift()!, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
