/**
 * Minimal growable binary writer and bounds-checked reader: unsigned LEB128
 * varints (exact up to 2^53), zigzag for signed, float64, UTF-8 strings.
 */

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** Unsigned integer in [0, 2^53). */
  uint(value: number): void {
    this.ensure(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /**
   * Unsigned integers in [0, 2^53), as uint() writes them one by one: the
   * histogram hot loop, inlined (one bounds check for the lot, bit operations
   * below 2^31). Calling uint() per bucket was half of a snapshot's build.
   */
  uints(values: ArrayLike<number>): void {
    this.ensure(values.length * 8);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < values.length; i++) {
      let v = values[i]!;
      if (v < 0x80) {
        buf[pos++] = v;
      } else if (v < 0x80000000) {
        do {
          buf[pos++] = (v & 0x7f) | 0x80;
          v >>>= 7;
        } while (v >= 0x80);
        buf[pos++] = v;
      } else {
        while (v >= 0x80) {
          buf[pos++] = (v % 0x80) | 0x80;
          v = Math.floor(v / 0x80);
        }
        buf[pos++] = v;
      }
    }
    this.pos = pos;
  }

  /**
   * A list of integers: its length as uint(), then each as a zigzag-encoded
   * delta from the one before (the first from 0), as int() would write each
   * difference. A patch's sorted histogram indices, most a byte each, some
   * ten thousand short lists a tick at a fleet: one loop, one bounds check.
   */
  intDeltas(values: readonly number[]): void {
    this.ensure(8 + values.length * 5);
    this.uint(values.length);
    const buf = this.buf;
    let pos = this.pos;
    let prev = 0;
    for (let i = 0; i < values.length; i++) {
      const delta = values[i]! - prev;
      prev = values[i]!;
      let v = ((delta << 1) ^ (delta >> 31)) >>> 0;
      while (v >= 0x80) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[pos++] = v;
    }
    this.pos = pos;
  }

  /** Signed 32-bit integer, zigzag-encoded. */
  int(value: number): void {
    this.uint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  f64(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  str(value: string): void {
    const len = Buffer.byteLength(value);
    this.uint(len);
    this.ensure(len);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += len;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export class BinaryReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DecodeError(`truncated at byte ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
    throw new DecodeError(`varint too long at byte ${this.pos}`);
  }

  /**
   * Where uints() puts what it reads: one allocation per buffer decoded, each
   * result a view into it. A Uint32Array of its own per histogram (thousands
   * per snapshot, each an off-heap backing store) cost more than reading them.
   */
  private arena: Uint32Array | null = null;
  private arenaPos = 0;

  /** `len` varints below 2^32 into a Uint32Array: the histogram hot loop, inlined. */
  uints(len: number): Uint32Array {
    if (!this.arena || this.arenaPos + len > this.arena.length) {
      // Every varint takes at least one byte: what is left of the buffer bounds all counts still to read.
      this.arena = new Uint32Array(Math.max(len, this.buf.length - this.pos));
      this.arenaPos = 0;
    }
    const out = this.arena.subarray(this.arenaPos, this.arenaPos + len);
    this.arenaPos += len;
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < len; i++) {
      let byte = buf[pos++]!;
      if (byte < 0x80) {
        out[i] = byte;
        continue;
      }
      let v = byte & 0x7f;
      let shift = 7;
      do {
        if (pos >= buf.length || shift > 28) throw new DecodeError(`bad varint at byte ${pos}`);
        byte = buf[pos++]!;
        v |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte >= 0x80);
      out[i] = v >>> 0;
    }
    if (pos > buf.length) throw new DecodeError(`truncated at byte ${buf.length}`);
    this.pos = pos;
    return out;
  }

  int(): number {
    const z = this.uint();
    return (z >>> 1) ^ -(z & 1);
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  str(): string {
    const len = this.uint();
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}
