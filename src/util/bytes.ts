/**
 * Compact binary writing and reading for stored values and peer payloads. Unsigned varints
 * (LEB128) carry integers up to 2^53 - 1; the reader validates every length against the
 * bytes that remain, so a malformed payload raises a DecodeError and never over-reads.
 */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bytes(b: Buffer): this {
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }

  string(s: string): this {
    const len = Buffer.byteLength(s);
    this.varint(len);
    this.ensure(len);
    this.buf.write(s, this.pos);
    this.pos += len;
    return this;
  }

  /** The bytes written so far (a copy, so the writer's buffer can be dropped). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.pos;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new DecodeError('truncated');
    return this.buf[this.pos++] as number;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw new DecodeError('varint out of range');
        return result;
      }
      mul *= 0x80;
    }
    throw new DecodeError('varint too long');
  }

  /** A length-prefixed byte string, as a zero-copy slice of the input. */
  bytes(): Buffer {
    const len = this.varint();
    if (len > this.remaining) throw new DecodeError('length exceeds payload');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  /** Bound a count read from the input before allocating for it. */
  count(max: number): number {
    const n = this.varint();
    if (n > max || n > this.remaining) throw new DecodeError(`count ${n} exceeds bound`);
    return n;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new DecodeError('trailing bytes');
  }
}
