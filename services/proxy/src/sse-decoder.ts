/**
 * Server-Sent Events decoding (WHATWG HTML, "Interpreting an event stream"),
 * as far as the proxy needs it: the `data` of each event, in order. Lines end
 * in LF, CRLF or CR and chunks may split them anywhere, a CRLF included. Only
 * a partial line is held between chunks, and at most `maxLineBytes` of it.
 */

const LF = 0x0a;
const CR = 0x0d;

export class SseDecoder {
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** The partial line went over the limit: skip it up to its end. */
  private skipping = false;
  /** The previous chunk ended in CR: an LF starting this one belongs to it. */
  private afterCr = false;
  private data: string[] = [];

  /**
   * @param onData called with each event's data (its `data:` lines joined by LF)
   * @param maxLineBytes a longer line is dropped (default 1 MiB)
   */
  constructor(
    private readonly onData: (data: string) => void,
    private readonly maxLineBytes = 1024 * 1024,
  ) {}

  write(chunk: Buffer): void {
    let start = this.afterCr && chunk[0] === LF ? 1 : 0;
    this.afterCr = false;
    for (let i = start; i < chunk.length; i++) {
      const c = chunk[i];
      if (c !== LF && c !== CR) continue;
      this.endLine(chunk.subarray(start, i));
      if (c === CR) {
        if (i + 1 === chunk.length) this.afterCr = true;
        else if (chunk[i + 1] === LF) i++;
      }
      start = i + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  private keep(part: Buffer): void {
    if (this.skipping) return;
    this.partialLength += part.length;
    if (this.partialLength > this.maxLineBytes) {
      this.skipping = true;
      this.partial = [];
      return;
    }
    this.partial.push(Buffer.from(part));
  }

  private endLine(tail: Buffer): void {
    if (this.skipping) {
      this.skipping = false;
      this.partialLength = 0;
      return;
    }
    const bytes = this.partial.length === 0 ? tail : Buffer.concat([...this.partial, tail]);
    this.partial = [];
    this.partialLength = 0;
    this.line(bytes.toString('utf8'));
  }

  private line(line: string): void {
    if (line === '') {
      // A blank line dispatches the event; one without data is no event.
      if (this.data.length > 0) this.onData(this.data.join('\n'));
      this.data = [];
      return;
    }
    if (!line.startsWith('data')) return; // other fields and `:` comments
    if (line.length === 4) {
      this.data.push('');
    } else if (line[4] === ':') {
      this.data.push(line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5));
    }
  }
}
