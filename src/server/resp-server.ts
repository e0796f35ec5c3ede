/**
 * The client-facing RESP listener: accepts connections, enforces maxclients, protected mode
 * and the idle timeout, and owns the registry of connected clients.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { DynisError, Errors } from '../errors.js';
import { isLoopback } from '../config.js';
import type { CommandTable } from '../commands/table.js';
import type { ClientState, ServerContext } from '../commands/context.js';
import { Connection } from './connection.js';

const DENIED_TEXT =
  'Redis is running in protected mode because protected mode is enabled and no password is set for the default user. ' +
  'In this mode connections are only accepted from the loopback interface. ' +
  'If you want to connect from external computers, set a password with --requirepass or disable protected mode with --protected-mode no.';

export class RespServer {
  private readonly server: Server;
  private readonly connections = new Map<number, Connection>();
  private nextClientId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  /** Failed TLS handshakes (bad or missing certificates, plain text on a TLS port). */
  tlsErrors = 0;
  private lastTlsErrorLogMs = 0;

  constructor(
    private readonly ctx: ServerContext,
    private readonly table: CommandTable,
    tls?: TlsOptions,
    private readonly log?: (level: 'info' | 'warn', line: string) => void,
  ) {
    if (tls === undefined) {
      this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    } else {
      const server = createTlsServer({ ...tls, noDelay: true }, (socket) => this.accept(socket));
      server.on('tlsClientError', (err, socket) => {
        this.tlsErrors++;
        const now = Date.now();
        if (now - this.lastTlsErrorLogMs >= 1000) {
          this.lastTlsErrorLogMs = now;
          const from = socket.remoteAddress === undefined ? 'a client' : `${socket.remoteAddress}:${socket.remotePort ?? 0}`;
          this.log?.('warn', `TLS handshake with ${from} failed: ${err.message.split('\n')[0]} (${this.tlsErrors} so far)`);
        }
      });
      this.server = server;
    }
    this.server.maxConnections = 1_000_000;
  }

  get clients(): ReadonlyMap<number, ClientState> {
    return this.connections;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog: 511 }, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
      const ctx = this.ctx;
      if (ctx.config.timeout > 0) {
        this.idleTimer = setInterval(() => this.closeIdle(ctx.config.timeout * 1000), 1000);
        this.idleTimer.unref();
      }
    });
  }

  private accept(socket: Socket): void {
    const ctx = this.ctx;
    ctx.stats.totalConnections++;
    const id = this.nextClientId++;
    const conn = new Connection(id, socket, ctx, this.table, (c) => this.connections.delete(c.id));
    if (this.connections.size >= ctx.config.maxclients) {
      ctx.stats.rejectedConnections++;
      conn.reject(Errors.maxClients());
      return;
    }
    if (
      ctx.config.protectedMode &&
      ctx.config.requirepass === null &&
      !isLoopback(socket.remoteAddress ?? '') &&
      !isLoopback(ctx.config.bind)
    ) {
      ctx.stats.rejectedConnections++;
      conn.reject(new DynisError('DENIED', DENIED_TEXT));
      return;
    }
    this.connections.set(id, conn);
  }

  private closeIdle(timeoutMs: number): void {
    const now = Date.now();
    for (const c of this.connections.values()) if (now - c.lastInteractionMs > timeoutMs) c.destroy();
  }

  /** Stop accepting, let in-flight requests finish, then close every client. */
  async close(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections.values()].map((c) => c.drainAndClose()));
    for (const c of this.connections.values()) c.destroy();
    await closed;
  }
}
