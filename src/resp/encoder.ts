/**
 * RESP2 / RESP3 reply encoder. One encoder per connection; replies are appended to a growing
 * buffer and taken as one chunk per socket write, so a pipelined batch costs one write.
 * A RESP2 connection never receives RESP3-only types: maps become flat arrays, sets arrays,
 * doubles and verbatim text bulk strings, booleans integers, nulls `$-1`/`*-1`.
 */
import { DynisError } from '../errors.js';
import {
  BoolReply,
  DoubleReply,
  MapReply,
  NullArrayReply,
  RawReply,
  SetReply,
  SimpleString,
  VerbatimReply,
  type Reply,
} from './reply.js';

const CRLF = '\r\n';
const INITIAL_BYTES = 16 * 1024;
/** Output up to this size is copied out (pool-allocated) instead of handing over the buffer. */
const COPY_OUT_MAX_BYTES = 2 * 1024;

export type Protocol = 2 | 3;

export class ReplyEncoder {
  protocol: Protocol = 2;
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private pos = 0;

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.pos;
  }

  /** The bytes encoded since the last take, or null when there are none. */
  take(): Buffer | null {
    if (this.pos === 0) return null;
    let out: Buffer;
    if (this.pos <= COPY_OUT_MAX_BYTES) {
      // Small output (the common case: a few replies) is copied into Node's shared buffer
      // pool, and the encoder keeps its buffer: no large allocation per socket write.
      out = Buffer.allocUnsafe(this.pos);
      this.buf.copy(out, 0, 0, this.pos);
    } else {
      // Large output is handed over whole (the socket may hold it until it drains).
      out = this.buf.subarray(0, this.pos);
      this.buf = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, Math.min(this.buf.length, 1 << 20)));
    }
    this.pos = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private ascii(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  private raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  write(reply: Reply): void {
    if (reply === null) {
      this.ascii(this.protocol === 3 ? '_\r\n' : '$-1\r\n');
    } else if (Buffer.isBuffer(reply)) {
      this.ascii(`$${reply.length}\r\n`);
      this.raw(reply);
      this.ascii(CRLF);
    } else if (typeof reply === 'string') {
      const len = Buffer.byteLength(reply);
      this.ascii(`$${len}\r\n`);
      this.ensure(len + 2);
      this.pos += this.buf.write(reply, this.pos);
      this.ascii(CRLF);
    } else if (typeof reply === 'number' || typeof reply === 'bigint') {
      this.ascii(`:${reply}\r\n`);
    } else if (Array.isArray(reply)) {
      this.ascii(`*${reply.length}\r\n`);
      for (const item of reply as readonly Reply[]) this.write(item);
    } else if (reply instanceof SimpleString) {
      this.ensure(reply.text.length * 3 + 3);
      this.ascii('+');
      this.pos += this.buf.write(reply.text, this.pos);
      this.ascii(CRLF);
    } else if (reply instanceof DynisError) {
      // Error texts never contain CR/LF (Redis replaces them with spaces).
      const text = reply.toResp().replace(/[\r\n]+/g, ' ');
      this.ensure(Buffer.byteLength(text) + 3);
      this.ascii('-');
      this.pos += this.buf.write(text, this.pos);
      this.ascii(CRLF);
    } else if (reply instanceof MapReply) {
      this.ascii(this.protocol === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`);
      for (const [k, v] of reply.entries) {
        this.write(k);
        this.write(v);
      }
    } else if (reply instanceof SetReply) {
      this.ascii(`${this.protocol === 3 ? '~' : '*'}${reply.items.length}\r\n`);
      for (const item of reply.items) this.write(item);
    } else if (reply instanceof DoubleReply) {
      const text = formatDouble(reply.value);
      this.ascii(this.protocol === 3 ? `,${text}\r\n` : `$${text.length}\r\n${text}\r\n`);
    } else if (reply instanceof BoolReply) {
      this.ascii(this.protocol === 3 ? (reply.value ? '#t\r\n' : '#f\r\n') : reply.value ? ':1\r\n' : ':0\r\n');
    } else if (reply instanceof VerbatimReply) {
      const body = Buffer.from(reply.text);
      if (this.protocol === 3) {
        this.ascii(`=${body.length + 4}\r\n${reply.format}:`);
      } else {
        this.ascii(`$${body.length}\r\n`);
      }
      this.raw(body);
      this.ascii(CRLF);
    } else if (reply instanceof NullArrayReply) {
      this.ascii(this.protocol === 3 ? '_\r\n' : '*-1\r\n');
    } else if (reply instanceof RawReply) {
      this.raw(reply.bytes);
    } else {
      throw new Error(`unencodable reply: ${String(reply)}`);
    }
  }
}

function formatDouble(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Number.isNaN(v)) return 'nan';
  return String(v);
}
