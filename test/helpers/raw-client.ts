/**
 * A raw RESP client for byte-exact tests: sends bytes, returns the exact bytes of each reply.
 */
import { connect, type Socket } from 'node:net';

/** End offset of the first complete RESP2/RESP3 value in buf starting at `at`, or -1. */
export function replyEnd(buf: Buffer, at = 0): number {
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buf[at] as number);
  const header = buf.toString('latin1', at + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return afterLine;
    case '$':
    case '=':
    case '!': {
      const len = Number(header);
      if (len < 0) return afterLine;
      return buf.length >= afterLine + len + 2 ? afterLine + len + 2 : -1;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      let count = Number(header);
      if (count < 0) return afterLine;
      if (type === '%' || type === '|') count *= 2;
      let pos = afterLine;
      for (let i = 0; i < count; i++) {
        pos = replyEnd(buf, pos);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('latin1', at, at + 40))}`);
  }
}

export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** The bytes of the next complete reply. */
  async reply(timeoutMs = 5000): Promise<Buffer> {
    for (;;) {
      if (this.buf.length > 0) {
        const end = replyEnd(this.buf);
        if (end >= 0) {
          const out = this.buf.subarray(0, end);
          this.buf = this.buf.subarray(end);
          return Buffer.from(out);
        }
      }
      if (this.closed) throw new Error('connection closed');
      await this.wait(timeoutMs);
    }
  }

  async command(...args: Array<string | Buffer>): Promise<Buffer> {
    this.write(encodeCommand(args));
    return this.reply();
  }

  /** Everything the server sends until it closes the connection. */
  async untilClosed(timeoutMs = 5000): Promise<Buffer> {
    while (!this.closed) await this.wait(timeoutMs);
    return this.buf;
  }

  close(): void {
    this.socket.destroy();
  }
}
