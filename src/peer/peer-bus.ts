/**
 * The client side of the peer bus: one ioredis connection per peer (DESIGN.md §7), made to
 * fail fast — no offline queue, no retried requests, a per-request timeout, auto-pipelining,
 * a bounded number of requests in flight — and a DYN.HELLO handshake after every (re)connect.
 * A peer is "up" only between a successful handshake and the next disconnect; requests to a
 * peer that is not up fail at once, which the coordinator counts as a missing answer.
 *
 * PeerBus implements the coordinator's ReplicaTransport and the router's Forwarder.
 */
import { Redis } from 'ioredis';
import { limits } from '../limits.js';
import type { PeerInfo } from '../commands/context.js';
import type { Protocol } from '../resp/encoder.js';
import type { ReplicaTransport, ScanPage } from '../replication/transport.js';
import type { Forwarder } from '../replication/router.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';
import type { SiblingSet } from '../versions/dvv.js';
import type { AntiEntropyPeer } from '../anti-entropy/scheduler.js';
import { FailureDetector } from '../membership/failure-detector.js';
import type { MembershipBus } from '../membership/membership.js';
import { clientProof, decodeScanPage, helloArgs, newNonce, PeerCommand, proofMatches, serverProof, type RingIdentity } from './messages.js';

export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface PeerBusOptions {
  /** The ring settings and cluster name this node introduces itself with (DYN.HELLO). */
  readonly ring: RingIdentity;
  /** This node's member id. */
  readonly self: string;
  /** The cluster secret proved in the handshake (null: loopback-only cluster, no proof). */
  readonly secret: string | null;
  /** TLS to peers (--tls-peers): this node's certificate and the CA peers' certificates must chain to. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer | undefined };
  readonly timeoutMs: number;
  readonly phiThreshold?: number;
  readonly clock?: () => number;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
}

export class PeerUnavailableError extends Error {
  constructor(id: string, why: string) {
    super(`peer ${id} ${why}`);
    this.name = 'PeerUnavailableError';
  }
}

/**
 * One ioredis connection to a peer, with its handshake. A channel is "up" only between a
 * successful DYN.HELLO and the next disconnect.
 */
class PeerChannel {
  private readonly redis: Redis;
  private handshaken = false;
  private lastHandshakeError = '';

  constructor(
    private readonly address: PeerAddress,
    private readonly options: PeerBusOptions,
    private readonly role: string,
    timeoutMs: number,
    private readonly onHandshake: () => void,
  ) {
    this.redis = new Redis({
      host: address.host,
      port: address.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      enableAutoPipelining: true,
      autoResubscribe: false,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(options.timeoutMs, 1000),
      retryStrategy: (times) => Math.min(limits.peerReconnectMinMs * 2 ** Math.min(times, 16), limits.peerReconnectMaxMs),
      ...(options.tls !== undefined ? { tls: { cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca, rejectUnauthorized: true } } : {}),
    });
    // callBuffer() loses the command name under auto-pipelining (redis/ioredis#1923), so each
    // DYN.* command is registered as a builtin and sent through its generated `…Buffer` method.
    for (const name of Object.values(PeerCommand)) this.redis.addBuiltinCommand(name);
    this.redis.on('ready', () => this.handshake());
    this.redis.on('close', () => {
      if (this.handshaken) options.log?.('warn', `peer ${address.id} disconnected (${role} channel)`);
      this.handshaken = false;
    });
    // Connection errors are expected while a peer is down; 'close' and reconnects handle them.
    this.redis.on('error', () => undefined);
  }

  start(): void {
    this.redis.connect().catch(() => undefined);
  }

  private handshake(): void {
    this.handshakeSteps().then(
      () => {
        this.handshaken = true;
        this.lastHandshakeError = '';
        this.onHandshake();
        this.options.log?.('info', `peer ${this.address.id} connected (${this.role} channel)`);
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.lastHandshakeError) this.options.log?.('warn', `peer ${this.address.id} refused the handshake: ${message}`);
        this.lastHandshakeError = message;
        // Try again later: the peer may be restarted with matching settings.
        setTimeout(() => {
          if (!this.handshaken && this.redis.status === 'ready') this.handshake();
        }, limits.peerReconnectMaxMs).unref();
      },
    );
  }

  /**
   * DYN.HELLO with a fresh nonce, check the server's proof of the cluster secret (and that it
   * is the member this channel is for), then prove it back with DYN.AUTH (messages.ts).
   */
  private async handshakeSteps(): Promise<void> {
    const { ring, self, secret } = this.options;
    const clientNonce = newNonce();
    const reply = await this.send(PeerCommand.hello, helloArgs(ring, self, clientNonce));
    if (!Array.isArray(reply) || reply.length !== 5) throw new Error('malformed DYN.HELLO reply');
    const [, serverIdRaw, , serverNonceRaw, proofRaw] = reply as [unknown, unknown, unknown, unknown, unknown];
    const serverId = String(serverIdRaw);
    const serverNonce = String(serverNonceRaw);
    if (!proofMatches(serverProof(secret, ring.clusterName, serverId, clientNonce, serverNonce), String(proofRaw))) {
      throw new Error(`the node at ${this.address.host}:${this.address.port} could not prove the cluster secret`);
    }
    if (serverId !== this.address.id) throw new Error(`expected member ${this.address.id} at ${this.address.host}:${this.address.port}, found ${serverId}`);
    await this.send(PeerCommand.auth, [clientProof(secret, ring.clusterName, self, serverNonce, clientNonce)]);
  }

  get up(): boolean {
    return this.handshaken && this.redis.status === 'ready';
  }

  send(command: string, args: ReadonlyArray<string | Buffer>): Promise<unknown> {
    // The methods addBuiltinCommand() creates are not in ioredis's types.
    const method = (this.redis as unknown as Record<string, (...a: ReadonlyArray<string | Buffer>) => Promise<unknown>>)[`${command}Buffer`];
    if (method === undefined) throw new Error(`${command} is not a registered peer command`);
    return method.apply(this.redis, [...args]);
  }

  stop(): void {
    this.redis.disconnect(false);
  }
}

/**
 * A peer: two channels, because replies on one connection come back in request order. Replica
 * requests (read, write, scan) are answered from the peer's own storage and never wait on
 * another node; a forwarded command waits for the peer's own quorum. Sharing one connection
 * would queue replica requests behind forwards, and two nodes forwarding to each other would
 * wait on each other until a timeout. Keeping replica traffic on its own channel makes every
 * wait end at a node's storage.
 */
class PeerClient {
  private readonly replica: PeerChannel;
  private readonly forwarding: PeerChannel;
  inFlight = 0;
  requests = 0;
  errors = 0;
  private readonly latencies = new Float64Array(limits.peerLatencySamples);
  private latencyCount = 0;

  constructor(
    readonly address: PeerAddress,
    options: PeerBusOptions,
    heartbeat: (id: string) => void,
  ) {
    this.replica = new PeerChannel(address, options, 'replica', options.timeoutMs, () => heartbeat(address.id));
    // A forwarded write runs a quorum read and a replication there, each bounded by the timeout.
    this.forwarding = new PeerChannel(address, options, 'forward', options.timeoutMs * limits.peerForwardTimeoutFactor, () => undefined);
  }

  start(): void {
    this.replica.start();
    this.forwarding.start();
  }

  /** The replica channel has completed its handshake (the failure detector may still suspect the peer). */
  get up(): boolean {
    return this.replica.up;
  }

  get connected(): boolean {
    return this.replica.up;
  }

  get canForward(): boolean {
    return this.forwarding.up;
  }

  async request(command: string, args: ReadonlyArray<string | Buffer>): Promise<unknown> {
    const channel = command === PeerCommand.forward ? this.forwarding : this.replica;
    if (!channel.up) throw new PeerUnavailableError(this.address.id, 'is not connected');
    if (this.inFlight >= limits.peerInFlightMax) {
      this.errors++;
      throw new PeerUnavailableError(this.address.id, `has ${this.inFlight} requests in flight`);
    }
    this.inFlight++;
    this.requests++;
    const started = performance.now();
    try {
      return await channel.send(command, args);
    } catch (err) {
      this.errors++;
      throw err;
    } finally {
      this.inFlight--;
      this.latencies[this.latencyCount++ % this.latencies.length] = performance.now() - started;
    }
  }

  info(): PeerInfo {
    const n = Math.min(this.latencyCount, this.latencies.length);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(q * n))] as number));
    return {
      id: this.address.id,
      up: this.up && this.canForward,
      requests: this.requests,
      errors: this.errors,
      inFlight: this.inFlight,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
    };
  }

  stop(): void {
    this.replica.stop();
    this.forwarding.stop();
  }
}

/** ioredis's message for a command that got no reply within commandTimeout. */
const TIMED_OUT = 'Command timed out';

/**
 * The peers of this node. A peer is *up* when its replica channel has completed the
 * handshake and the failure detector does not suspect it: every DYN.PING answer is a
 * heartbeat, and a request that times out makes the peer suspect at once (the fast path), so
 * a paused or overloaded peer stops being waited on after one timeout.
 */
export class PeerBus implements ReplicaTransport, Forwarder, AntiEntropyPeer, MembershipBus {
  private readonly peers = new Map<string, PeerClient>();
  private readonly detector: FailureDetector;
  private pingTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    addresses: readonly PeerAddress[],
    private readonly options: PeerBusOptions,
  ) {
    this.detector = new FailureDetector({
      threshold: options.phiThreshold ?? limits.phiThreshold,
      minStdDeviationMs: limits.phiMinStdDeviationMs,
      acceptablePauseMs: limits.phiAcceptablePauseMs,
      firstIntervalMs: limits.peerPingIntervalMs,
      maxIntervalMs: limits.phiMaxIntervalMs,
    });
    for (const a of addresses) this.add(a);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** Start talking to a (new) member. */
  add(address: PeerAddress): void {
    if (this.peers.has(address.id)) return;
    const peer = new PeerClient(address, this.options, (id) => {
      // A (re)connection starts a new history: the outage before it is not a heartbeat interval.
      this.detector.remove(id);
      this.detector.heartbeat(id, this.now());
    });
    this.peers.set(address.id, peer);
    if (this.started) peer.start();
  }

  /** Stop talking to a member that left the cluster. */
  remove(id: string): void {
    this.peers.get(id)?.stop();
    this.peers.delete(id);
    this.detector.remove(id);
  }

  has(id: string): boolean {
    return this.peers.has(id);
  }

  start(): void {
    this.started = true;
    for (const p of this.peers.values()) p.start();
    this.pingTimer = setInterval(() => this.pingAll(), limits.peerPingIntervalMs);
    this.pingTimer.unref();
  }

  stop(): void {
    this.started = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const p of this.peers.values()) p.stop();
  }

  private pingAll(): void {
    for (const [id, p] of this.peers) {
      if (!p.connected) continue;
      p.request(PeerCommand.ping, []).then(
        () => this.detector.heartbeat(id, this.now()),
        () => undefined,
      );
    }
  }

  isUp(member: string): boolean {
    const p = this.peers.get(member);
    return p !== undefined && p.up && !this.detector.isSuspect(member, this.now());
  }

  canForward(member: string): boolean {
    return this.isUp(member) && (this.peers.get(member)?.canForward ?? false);
  }

  /** True when every peer has completed its handshake on both channels and is not suspect. */
  allUp(): boolean {
    for (const id of this.peers.keys()) if (!this.canForward(id)) return false;
    return true;
  }

  /** φ of a peer now (INFO). */
  phi(member: string): number {
    return this.detector.phi(member, this.now());
  }

  info(): PeerInfo[] {
    return [...this.peers.values()].map((p) => ({ ...p.info(), up: this.canForward(p.address.id), phi: this.phi(p.address.id) }));
  }

  isConnected(member: string): boolean {
    return this.peers.get(member)?.up ?? false;
  }

  /**
   * A request to an up member (with `force`, to a connected one even if suspect); a timeout
   * makes the member suspect (the fast path).
   */
  private async call(member: string, command: string, args: ReadonlyArray<string | Buffer>, force = false): Promise<unknown> {
    const p = this.peers.get(member);
    if (p === undefined) throw new PeerUnavailableError(member, 'is not a member');
    if (!(force ? p.up : this.isUp(member))) throw new PeerUnavailableError(member, 'is not reachable');
    try {
      return await p.request(command, args);
    } catch (err) {
      if (err instanceof Error && err.message === TIMED_OUT) this.detector.suspect(member, this.now());
      throw err;
    }
  }

  async read(member: string, partition: number, key: Buffer, hintFor?: string, force = false): Promise<SiblingSet> {
    const args = hintFor === undefined ? [String(partition), key] : [String(partition), key, hintFor];
    const reply = await this.call(member, PeerCommand.read, args, force);
    return decodeSiblingSet(asBuffer(reply, PeerCommand.read));
  }

  async write(member: string, partition: number, key: Buffer, set: SiblingSet, force = false): Promise<void> {
    await this.call(member, PeerCommand.write, [String(partition), key, encodeSiblingSet(set)], force);
  }

  async hint(member: string, target: string, partition: number, key: Buffer, set: SiblingSet): Promise<void> {
    await this.call(member, PeerCommand.hint, [target, String(partition), key, encodeSiblingSet(set)]);
  }

  async scan(member: string, partition: number, position: number, limit: number, end?: number): Promise<ScanPage> {
    const args = [String(partition), String(position), String(limit)];
    if (end !== undefined) args.push(String(end));
    const reply = await this.call(member, PeerCommand.scan, args);
    return decodeScanPage(asBuffer(reply, PeerCommand.scan), partition);
  }

  async tree(member: string, partition: number): Promise<Buffer | undefined> {
    try {
      return asBuffer(await this.call(member, PeerCommand.aeTree, [String(partition)]), PeerCommand.aeTree);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOTREADY')) return undefined;
      throw err;
    }
  }

  async gossip(member: string, records: Buffer): Promise<Buffer> {
    return asBuffer(await this.call(member, PeerCommand.gossip, [records]), PeerCommand.gossip);
  }

  async reap(member: string, partition: number, key: Buffer, digest: string): Promise<boolean> {
    return (await this.call(member, PeerCommand.reap, [String(partition), key, digest])) === 1;
  }

  async flushAll(member: string): Promise<void> {
    await this.call(member, PeerCommand.flushAll, []);
  }

  async forward(member: string, protocol: Protocol, args: readonly Buffer[]): Promise<Buffer> {
    const reply = await this.call(member, PeerCommand.forward, [String(protocol), ...args]);
    return asBuffer(reply, PeerCommand.forward);
  }
}

function asBuffer(reply: unknown, command: string): Buffer {
  if (!Buffer.isBuffer(reply)) throw new Error(`malformed ${command} reply from peer`);
  return reply;
}
