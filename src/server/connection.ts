/**
 * One client connection: decode requests, dispatch them, and write replies strictly in
 * request order although handlers answer asynchronously.
 *
 * Replies that are ready when a read's commands have been dispatched go out in one socket
 * write; replies that arrive later are flushed once per event-loop turn. Backpressure: at
 * most `pipelineInFlightMax` requests are outstanding and the socket's unsent output stays
 * under a soft limit, otherwise reading pauses (TCP then slows the client); past the hard
 * output limit the client is disconnected, like Redis's client-output-buffer-limit.
 */
import type { Socket } from 'node:net';
import { DynisError, ProtocolError } from '../errors.js';
import { limits } from '../limits.js';
import { RequestDecoder } from '../resp/decoder.js';
import { ReplyEncoder, type Protocol } from '../resp/encoder.js';
import type { Reply } from '../resp/reply.js';
import type { CommandTable } from '../commands/table.js';
import type { ClientState, ServerContext } from '../commands/context.js';


interface Slot {
  done: boolean;
  reply: Reply;
}

export class Connection implements ClientState {
  readonly createdAtMs = Date.now();
  name: string | null = null;
  libName: string | null = null;
  libVer: string | null = null;
  authenticated: boolean;
  db = 0;
  lastCommand = 'NULL';
  lastInteractionMs = Date.now();
  closeAfterReply = false;

  private readonly decoder: RequestDecoder;
  private readonly encoder = new ReplyEncoder();
  /** Replies not yet encoded, in request order; only used while an async reply is outstanding. */
  private readonly queue: Slot[] = [];
  private queueHead = 0;
  private flushScheduled = false;
  private readingPaused = false;
  private closing = false;
  private closed = false;
  private readonly ctx: { client: ClientState; server: ServerContext };

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly server: ServerContext,
    private readonly table: CommandTable,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.authenticated = server.config.requirepass === null;
    this.decoder = new RequestDecoder({
      protoMaxBulkLen: server.config.protoMaxBulkLen,
      authenticated: () => this.authenticated,
    });
    this.ctx = { client: this, server };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.finish());
  }

  get addr(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  get laddr(): string {
    return `${this.socket.localAddress ?? '?'}:${this.socket.localPort ?? 0}`;
  }

  get protocol(): Protocol {
    return this.encoder.protocol;
  }

  set protocol(p: Protocol) {
    this.encoder.protocol = p;
  }

  queryBufferBytes(): number {
    return this.decoder.bufferedBytes;
  }

  outputBufferBytes(): number {
    return this.socket.writableLength + this.encoder.pendingBytes;
  }

  kill(): void {
    this.closing = true;
    // Let the current reply (e.g. CLIENT KILL on oneself) go out first.
    setImmediate(() => this.destroy());
  }

  /** Send an error and close (maxclients, protected mode). */
  reject(error: DynisError): void {
    this.encoder.write(error);
    this.closing = true;
    this.flush();
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.server.stats.netInputBytes += chunk.length;
    this.lastInteractionMs = Date.now();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.protocolError(err);
      return;
    }
    this.processInput();
  }

  /** Parse and dispatch as many buffered commands as backpressure allows. */
  private processInput(): void {
    while (!this.closing && !this.readingPaused) {
      let args: Buffer[] | null;
      try {
        args = this.decoder.next();
      } catch (err) {
        this.protocolError(err);
        return;
      }
      if (args === null) break;
      this.execute(args);
      // Replies still in the encoder count too: one read can hold thousands of pipelined
      // commands, and their replies must not all be built before the client reads any.
      if (this.inFlight() >= limits.pipelineInFlightMax || this.outputBufferBytes() > limits.outputBufferSoftMaxBytes) {
        this.pauseReading();
      }
    }
    this.flush();
  }

  private execute(args: Buffer[]): void {
    this.server.stats.totalCommands++;
    const reply = this.table.dispatch(this.ctx, args);
    const quitting = this.closeAfterReply;
    if (!(reply instanceof Promise)) {
      if (this.queueHead === this.queue.length) this.encoder.write(reply);
      else this.queue.push({ done: true, reply });
    } else {
      const slot: Slot = { done: false, reply: null };
      this.queue.push(slot);
      reply.then(
        (r) => this.complete(slot, r),
        (err: unknown) => this.complete(slot, new DynisError('ERR', `internal error: ${String(err)}`)),
      );
    }
    if (quitting) this.closing = true;
  }

  private complete(slot: Slot, reply: Reply): void {
    slot.done = true;
    slot.reply = reply;
    if (this.closed) return;
    this.drainQueue();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
        this.maybeResume();
      });
    }
  }

  private drainQueue(): void {
    while (this.queueHead < this.queue.length) {
      const slot = this.queue[this.queueHead] as Slot;
      if (!slot.done) break;
      this.encoder.write(slot.reply);
      slot.reply = null;
      this.queueHead++;
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private inFlight(): number {
    return this.queue.length - this.queueHead;
  }

  private flush(): void {
    if (this.closed) return;
    this.drainQueue();
    const out = this.encoder.take();
    if (out !== null) {
      // client-output-buffer-limit: a client this far behind is disconnected, not buffered for.
      if (this.socket.writableLength + out.length > limits.outputBufferHardMaxBytes) {
        this.destroy();
        return;
      }
      this.server.stats.netOutputBytes += out.length;
      this.socket.write(out);
    }
    if (this.closing && this.inFlight() === 0) this.socket.end();
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.readingPaused || this.closing) return;
    if (this.inFlight() > limits.pipelineInFlightMax / 2 || this.outputBufferBytes() > limits.outputBufferSoftMaxBytes) return;
    this.readingPaused = false;
    this.socket.resume();
    this.processInput();
  }

  private protocolError(err: unknown): void {
    this.server.stats.protocolErrors++;
    const error = err instanceof ProtocolError ? err : new ProtocolError(String(err));
    this.closing = true;
    this.queue.push({ done: true, reply: error });
    this.flush();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.onClose(this);
  }

  /** Close after in-flight replies are written (graceful shutdown). */
  async drainAndClose(): Promise<void> {
    this.closing = true;
    this.socket.pause();
    const deadline = Date.now() + 5000;
    while (!this.closed && this.inFlight() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.flush();
    this.socket.end();
  }
}
