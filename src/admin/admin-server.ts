/**
 * The admin HTTP port (--admin-port, node:http), on the same address as the client port:
 *
 *   GET /             the status page (status-page.ts)
 *   GET /status.json  the node's view of the cluster (status.ts)
 *   GET /metrics      Prometheus text format (metrics.ts)
 *
 * GET and HEAD only (other methods: 405); any other path: 404. The port is protected as the
 * client port is: with --requirepass every request needs HTTP Basic auth as user `default`
 * with that password (401 otherwise); without one it is open, and protected mode already
 * refuses a non-loopback --bind without a password; with TLS on the client port
 * (--tls-cert/--tls-key) it serves HTTPS with the same certificate and the same client
 * certificate policy (--tls-ca, --tls-auth-clients), so the password never crosses in clear.
 * Connections, header counts and the time to send a request are bounded (limits.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { ServerContext } from '../commands/context.js';
import { limits } from '../limits.js';
import type { LogFn } from '../log.js';
import type { Ring } from '../ring/ring.js';
import { NodeMetrics } from './metrics.js';
import { statusPage, type StatusPage } from './status-page.js';
import { OpsSampler, statusSnapshot } from './status.js';

export interface AdminServerOptions {
  readonly server: ServerContext;
  /** The current ring (undefined while this node is in none). */
  readonly ring: () => Ring | undefined;
  readonly selfZone: string;
  readonly selfHost: string;
  /** The client port's password; when set, requests need Basic auth as `default`. */
  readonly password: string | null;
  /** The client port's TLS options: serve HTTPS with them. */
  readonly tls?: TlsOptions;
  readonly log?: LogFn;
}

const AUTH_USER = 'default';

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

export class AdminServer {
  private readonly http: Server | HttpsServer;
  private readonly metrics: NodeMetrics;
  private readonly ops: OpsSampler;
  private readonly page: StatusPage;
  /** sha256 of `default:password`: compared in constant time with the credentials' hash. */
  private readonly credentials: Buffer | undefined;
  private port = 0;

  constructor(private readonly options: AdminServerOptions) {
    this.metrics = new NodeMetrics(options.server);
    this.ops = new OpsSampler(() => options.server.stats.totalCommands);
    this.page = statusPage(limits.adminPageRefreshMs);
    this.credentials = options.password === null ? undefined : digest(Buffer.from(`${AUTH_USER}:${options.password}`, 'utf8'));
    const httpOptions: ServerOptions = {
      headersTimeout: limits.adminHeadersTimeoutMs,
      requestTimeout: limits.adminRequestTimeoutMs,
      keepAliveTimeout: limits.adminKeepAliveTimeoutMs,
      maxHeaderSize: limits.adminHeaderBytesMax,
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.http = options.tls === undefined ? createServer(httpOptions, handler) : createHttpsServer({ ...options.tls, ...httpOptions }, handler);
    this.http.maxConnections = limits.adminConnectionsMax;
    this.http.maxHeadersCount = limits.adminHeadersMax;
    this.http.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  get listeningPort(): number {
    return this.port;
  }

  get scheme(): 'http' | 'https' {
    return this.options.tls === undefined ? 'http' : 'https';
  }

  /** Listen on host:port; a clear error when the port is taken or not allowed. */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(new Error(`admin-port: cannot listen on ${host}:${port}: ${why}`));
      };
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    this.http.on('error', (err) => this.options.log?.('warn', `admin port: ${err.message}`));
    const addr = this.http.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.ops.start();
    return this.port;
  }

  async close(): Promise<void> {
    this.ops.stop();
    if (!this.http.listening) return;
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      // Browsers keep connections alive: close them, or close() would wait for them.
      this.http.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.credentials === undefined) return true;
    const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
    if (m === null) return false;
    // Equal-length digests: the comparison takes the same time whatever was sent.
    return timingSafeEqual(digest(Buffer.from(m[1] as string, 'base64')), this.credentials);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === 'HEAD';
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
      const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      res.writeHead(status, {
        'Content-Type': type,
        'Content-Length': String(payload.length),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
      });
      res.end(head ? undefined : payload);
    };
    try {
      if (!this.authorized(req)) {
        this.metrics.adminAuthFailures++;
        send(401, 'text/plain; charset=utf-8', 'authentication required: HTTP Basic, user default, the requirepass password\n', {
          'WWW-Authenticate': 'Basic realm="dynis", charset="UTF-8"',
        });
        return;
      }
      const path = new URL(req.url ?? '/', 'http://admin').pathname;
      const known = path === '/' || path === '/status.json' || path === '/metrics';
      if (!known) {
        send(404, 'text/plain; charset=utf-8', `not found: ${path} (try /, /status.json or /metrics)\n`);
        return;
      }
      if (req.method !== 'GET' && !head) {
        // Not reading a body we do not want: answer and close.
        send(405, 'text/plain; charset=utf-8', `method ${req.method ?? ''} not allowed (GET, HEAD)\n`, { Allow: 'GET, HEAD', Connection: 'close' });
        return;
      }
      if (path === '/metrics') {
        send(200, this.metrics.contentType, await this.metrics.render());
      } else if (path === '/status.json') {
        const status = statusSnapshot({ server: this.options.server, ring: this.options.ring, selfZone: this.options.selfZone, selfHost: this.options.selfHost, ops: this.ops });
        send(200, 'application/json; charset=utf-8', JSON.stringify(status));
      } else {
        send(200, 'text/html; charset=utf-8', this.page.html, { 'Content-Security-Policy': this.page.csp, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' });
      }
    } catch (err) {
      this.options.log?.('warn', `admin port: ${req.method ?? ''} ${req.url ?? ''} failed: ${(err as Error).message}`);
      if (!res.headersSent) send(500, 'text/plain; charset=utf-8', 'internal error (see the node\'s log)\n');
      else res.destroy();
    }
  }
}
