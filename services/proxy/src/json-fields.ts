/**
 * Captures chosen top-level fields of a JSON object while it streams past in
 * chunks, without holding the document: the proxy reads `model` and `stream`
 * from request bodies of any size (a 5 MB prompt may put `model` last) and
 * `usage` from responses, and keeps only those values.
 *
 * A structure-only tokenizer (strings, nesting, the key/value alternation at
 * depth 1), not a validator. On anything that is not a JSON object it stops
 * looking and yields what it found. Bytes are scanned, not characters: every
 * structural character is ASCII and UTF-8 never reuses ASCII bytes inside a
 * multi-byte sequence, so a chunk boundary anywhere is harmless.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Bytes before the object that may be skipped: JSON whitespace and a UTF-8 byte order mark. */
const LEADING = new Set([0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf]);

export class JsonFieldCapture {
  private readonly wanted: Set<string>;
  private readonly longestKey: number;
  private readonly found = new Map<string, string>();
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectKey = false;
  private stopped = false;
  /** Parts of the depth-1 key being read, or null when not in a key. */
  private keyParts: Buffer[] | null = null;
  private keyLength = 0;
  /** The key whose value comes next (after its colon), if it is wanted. */
  private pendingKey: string | null = null;
  /** The key being captured and the parts of its value so far. */
  private capturing: string | null = null;
  private valueParts: Buffer[] = [];
  private valueLength = 0;

  /** @param maxValueBytes a wanted value longer than this is not kept (default 64 KiB). */
  constructor(keys: readonly string[], private readonly maxValueBytes = 64 * 1024) {
    this.wanted = new Set(keys);
    this.longestKey = Math.max(0, ...keys.map((k) => Buffer.byteLength(k)));
  }

  /** True once every wanted key was found or the document ended or is not an object. */
  get done(): boolean {
    return this.stopped;
  }

  write(chunk: Buffer): void {
    if (this.stopped) return;
    let keyStart = this.keyParts ? 0 : -1;
    let valueStart = this.capturing ? 0 : -1;
    // Next quote / backslash at or after i, cached so that a long string full
    // of escapes is still scanned in linear time (-1: none left in the chunk).
    let quote = -2;
    let slash = -2;
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.stopped) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        if (quote !== -1 && quote < i) quote = chunk.indexOf(QUOTE, i);
        if (slash !== -1 && slash < i) slash = chunk.indexOf(BACKSLASH, i);
        if (slash !== -1 && (quote === -1 || slash < quote)) {
          this.escaped = true;
          i = slash + 1;
          continue;
        }
        if (quote === -1) break;
        this.inString = false;
        if (this.keyParts) {
          this.addKeyPart(chunk.subarray(keyStart, quote));
          this.endKey();
          keyStart = -1;
        }
        i = quote + 1;
        continue;
      }
      const c = chunk[i]!;
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.expectKey) {
          this.keyParts = [];
          this.keyLength = 0;
          keyStart = i + 1;
        }
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (this.depth === 0 && c !== OPEN_OBJECT) this.stopped = true;
        this.depth++;
        if (this.depth === 1) this.expectKey = true;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (this.depth === 1) {
          this.endValue(chunk, valueStart, i);
          valueStart = -1;
        }
        this.depth--;
        if (this.depth <= 0) this.stopped = true;
      } else if (this.depth === 1 && c === COMMA) {
        this.endValue(chunk, valueStart, i);
        valueStart = -1;
        this.expectKey = true;
      } else if (this.depth === 1 && c === COLON) {
        if (this.pendingKey !== null) {
          this.capturing = this.pendingKey;
          this.valueParts = [];
          this.valueLength = 0;
          valueStart = i + 1;
        }
        this.pendingKey = null;
      } else if (this.depth === 0 && !LEADING.has(c)) {
        this.stopped = true;
      }
      i++;
    }
    if (this.keyParts && keyStart >= 0) this.addKeyPart(chunk.subarray(keyStart));
    if (this.capturing !== null && valueStart >= 0) this.addValuePart(chunk.subarray(valueStart));
  }

  /** The captured values, parsed; a key not found (or too long, or not valid JSON) is absent. */
  fields(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, text] of this.found) {
      try {
        out[key] = JSON.parse(text);
      } catch {
        // A value cut short by a truncated document: as if it were absent.
      }
    }
    return out;
  }

  private addKeyPart(part: Buffer): void {
    this.keyLength += part.length;
    // A key longer than every wanted one cannot match: remember only its length.
    // Copied, like value parts: the chunk may be reused once write() returns.
    if (this.keyLength <= this.longestKey) this.keyParts!.push(Buffer.from(part));
  }

  private endKey(): void {
    const key = this.keyLength <= this.longestKey ? Buffer.concat(this.keyParts!).toString('utf8') : null;
    this.keyParts = null;
    this.expectKey = false;
    this.pendingKey = key !== null && this.wanted.has(key) && !this.found.has(key) ? key : null;
  }

  private addValuePart(part: Buffer): void {
    this.valueLength += part.length;
    if (this.valueLength > this.maxValueBytes) {
      this.capturing = null;
      this.valueParts = [];
      return;
    }
    // Copied: the caller may reuse or release the chunk once write() returns.
    this.valueParts.push(Buffer.from(part));
  }

  /** The depth-1 value ends at `end` of `chunk`; it began at `start` (0 when in an earlier chunk). */
  private endValue(chunk: Buffer, start: number, end: number): void {
    if (this.capturing === null) return;
    const key = this.capturing;
    this.addValuePart(chunk.subarray(start, end));
    if (this.capturing === null) return; // over the limit
    this.capturing = null;
    this.found.set(key, Buffer.concat(this.valueParts).toString('utf8'));
    this.valueParts = [];
    if (this.found.size === this.wanted.size) this.stopped = true;
  }
}
