/**
 * The client request decoder: RESP multibulk and inline commands, strict and bounded, with
 * Redis 7's exact protocol errors (networking.c: processMultibulkBuffer, processInlineBuffer,
 * sds.c: sdssplitargs). Every declared length is checked before any of its bytes are
 * buffered, so a client cannot make the server allocate by announcing a huge request.
 *
 * Contract: push(bytes) appends; next() returns the next complete command's arguments, null
 * when more bytes are needed, or throws ProtocolError (after which the decoder is unusable and
 * the connection closes once the error is sent). Commands are parsed one at a time, so a
 * change of authentication by an earlier command applies to the limits of the next one.
 * Arguments are zero-copy slices where the bytes arrived in one chunk.
 */
import { ProtocolError } from '../errors.js';
import { limits } from '../limits.js';

export interface DecoderOptions {
  /** proto-max-bulk-len. */
  readonly protoMaxBulkLen: number;
  /** Whether the client is authenticated (unauthenticated clients get Redis's smaller limits). */
  readonly authenticated: () => boolean;
  /** client-query-buffer-limit. */
  readonly queryBufferMax?: number;
}

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);
/** Args at least this long are received into their own buffer instead of the query buffer. */
const BIG_ARG_BYTES = 32 * 1024;
const INT_MAX = 2147483647;

export class RequestDecoder {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private failed = false;

  // Multibulk state: remaining arguments, arguments so far, and the current bulk length.
  private multibulkLen = 0;
  /** A multibulk command's header has been read and its arguments are being collected. */
  private inCommand = false;
  private args: Buffer[] = [];
  private bulkLen = -1;
  // A big argument received directly into its own buffer.
  private bigArg: Buffer | undefined;
  private bigArgFilled = 0;
  /** Bytes to drop before parsing continues (the CRLF after a big argument). */
  private skip = 0;

  constructor(private readonly options: DecoderOptions) {}

  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.bigArgFilled;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let data = chunk;
    if (this.bigArg !== undefined) {
      const n = Math.min(data.length, this.bigArg.length - this.bigArgFilled);
      data.copy(this.bigArg, this.bigArgFilled, 0, n);
      this.bigArgFilled += n;
      data = data.subarray(n);
      if (this.bigArgFilled === this.bigArg.length) {
        this.args.push(this.bigArg);
        this.bigArg = undefined;
        this.bigArgFilled = 0;
        this.bulkLen = -1;
        this.multibulkLen--;
        this.skip = 2;
      }
    }
    if (this.skip > 0 && data.length > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) return;
    if (this.pos >= this.buf.length) {
      this.buf = data;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), data]);
      this.pos = 0;
    }
    const max = this.options.queryBufferMax ?? limits.queryBufferMaxBytes;
    if (this.buf.length > max) this.fail('client query buffer limit exceeded');
  }

  private fail(message: string): never {
    this.failed = true;
    this.buf = EMPTY;
    this.pos = 0;
    this.args = [];
    throw new ProtocolError(message);
  }

  next(): Buffer[] | null {
    if (this.failed) throw new ProtocolError('decoder closed after a protocol error');
    for (;;) {
      if (this.bigArg !== undefined || this.skip > 0) return null;
      if (!this.inCommand) {
        if (this.pos >= this.buf.length) return null;
        if (this.buf[this.pos] !== 0x2a /* '*' */) {
          const inline = this.parseInline();
          if (inline === null) return null;
          if (inline.length === 0) continue; // an empty line is skipped, like Redis
          return inline;
        }
        const count = this.parseMultibulkHeader();
        if (count === null) return null;
        if (count <= 0) continue; // "*0" and "*-1" are empty commands: skipped
        this.multibulkLen = count;
        this.inCommand = true;
        this.args = [];
      }
      const done = this.parseBulks();
      if (!done) return null;
      const args = this.args;
      this.args = [];
      this.inCommand = false;
      return args;
    }
  }

  /** The `*<count>\r\n` line; null when incomplete. */
  private parseMultibulkHeader(): number | null {
    const cr = this.buf.indexOf(CR, this.pos);
    if (cr < 0) {
      if (this.buf.length - this.pos > limits.inlineMaxBytes) this.fail('too big mbulk count string');
      return null;
    }
    // The buffer must also hold the byte after '\r' (Redis skips two bytes without checking).
    if (cr + 1 >= this.buf.length) return null;
    const ll = parseLongLong(this.buf, this.pos + 1, cr);
    if (ll === undefined || ll > INT_MAX) this.fail('invalid multibulk length');
    if (ll > limits.unauthMultibulkMaxArgs && !this.options.authenticated()) this.fail('unauthenticated multibulk length');
    this.pos = cr + 2;
    return ll;
  }

  /** Read bulk arguments until the command is complete (true) or more bytes are needed. */
  private parseBulks(): boolean {
    while (this.multibulkLen > 0) {
      if (this.bulkLen === -1) {
        if (this.pos >= this.buf.length) return false;
        const cr = this.buf.indexOf(CR, this.pos);
        if (cr < 0) {
          if (this.buf.length - this.pos > limits.inlineMaxBytes) this.fail('too big bulk count string');
          return false;
        }
        if (cr + 1 >= this.buf.length) return false;
        if (this.buf[this.pos] !== 0x24 /* '$' */) {
          this.fail(`expected '$', got '${String.fromCharCode(this.buf[this.pos] as number)}'`);
        }
        const ll = parseLongLong(this.buf, this.pos + 1, cr);
        if (ll === undefined || ll < 0 || ll > this.options.protoMaxBulkLen) this.fail('invalid bulk length');
        if (ll > limits.unauthBulkMaxBytes && !this.options.authenticated()) this.fail('unauthenticated bulk length');
        this.pos = cr + 2;
        this.bulkLen = ll;
        if (ll >= BIG_ARG_BYTES && this.buf.length - this.pos < ll + 2) {
          // Receive the body straight into its own buffer: no quadratic concatenation.
          this.bigArg = Buffer.allocUnsafe(ll);
          const have = Math.min(ll, this.buf.length - this.pos);
          this.buf.copy(this.bigArg, 0, this.pos, this.pos + have);
          this.bigArgFilled = have;
          this.pos += have;
          if (this.bigArgFilled === ll) {
            // The body is here but (part of) its CRLF is not: drop what there is, skip the rest later.
            const rest = this.buf.length - this.pos;
            this.pos += rest;
            this.skip = 2 - rest;
            this.args.push(this.bigArg);
            this.bigArg = undefined;
            this.bigArgFilled = 0;
            this.bulkLen = -1;
            this.multibulkLen--;
          }
          return false;
        }
      }
      if (this.buf.length - this.pos < this.bulkLen + 2) return false;
      this.args.push(this.buf.subarray(this.pos, this.pos + this.bulkLen));
      this.pos += this.bulkLen + 2;
      this.bulkLen = -1;
      this.multibulkLen--;
    }
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return true;
  }

  /** One inline command line; null when incomplete. */
  private parseInline(): Buffer[] | null {
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      if (this.buf.length - this.pos > limits.inlineMaxBytes) this.fail('too big inline request');
      return null;
    }
    let end = lf;
    if (end > this.pos && this.buf[end - 1] === CR) end--;
    const line = this.buf.subarray(this.pos, end);
    const args = splitArgs(line);
    if (args === undefined) this.fail('unbalanced quotes in request');
    this.pos = lf + 1;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return args;
  }
}

/**
 * Redis's string2ll over buf[start, end): optional '-', then "0" or a digit string without
 * leading zeros, no '+', no spaces, within int64. Returns undefined when invalid. Lengths
 * beyond 2^53 come back as imprecise numbers, which only ever fail the callers' range checks.
 */
export function parseLongLong(buf: Buffer, start: number, end: number): number | undefined {
  const len = end - start;
  if (len <= 0 || len > 20) return undefined;
  if (len === 1 && buf[start] === 0x30) return 0;
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
    if (i === end) return undefined;
  }
  const first = buf[i] as number;
  if (first < 0x31 || first > 0x39) return undefined;
  let v = 0;
  for (; i < end; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  // int64 bounds (2^63 as a double): beyond them the value cannot be a valid length anyway.
  if (v >= 2 ** 63) return undefined;
  return negative ? -v : v;
}

function isSpace(c: number): boolean {
  // C isspace: space, \t, \n, \v, \f, \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Redis's sdssplitargs: whitespace-separated tokens; "double quotes" with \n \r \t \b \a \xHH
 * and \<any> escapes; 'single quotes' with only \' ; a closing quote must be followed by
 * whitespace or the end. Returns undefined for unbalanced quotes. A NUL byte ends the line,
 * as it does for Redis's C string handling.
 */
export function splitArgs(line: Buffer): Buffer[] | undefined {
  const nul = line.indexOf(0);
  const n = nul >= 0 ? nul : line.length;
  const out: Buffer[] = [];
  let p = 0;
  for (;;) {
    while (p < n && isSpace(line[p] as number)) p++;
    if (p >= n) return out;
    const bytes: number[] = [];
    let inq = false;
    let insq = false;
    let done = false;
    const at = (i: number): number => (i < n ? (line[i] as number) : 0);
    while (!done) {
      const c = at(p);
      if (inq) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          bytes.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          bytes.push(e === 0x6e ? 10 : e === 0x72 ? 13 : e === 0x74 ? 9 : e === 0x62 ? 8 : e === 0x61 ? 7 : e);
        } else if (c === 0x22) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          bytes.push(c);
        }
      } else if (insq) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          bytes.push(0x27);
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          bytes.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22) {
        inq = true;
      } else if (c === 0x27) {
        insq = true;
      } else {
        bytes.push(c);
      }
      if (p < n) p++;
    }
    out.push(Buffer.from(bytes));
  }
}
