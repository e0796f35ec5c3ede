/**
 * The composition root: builds a node's components from its config, starts them in order and
 * stops them in reverse. No logic of its own.
 */
import { randomBytes } from 'node:crypto';
import { buildCommandTable } from './commands/index.js';
import type { ServerContext, ServerStats } from './commands/context.js';
import type { NodeConfig } from './config.js';
import { ConfigError, isLoopback } from './config.js';
import { KvService } from './replication/coordinator.js';
import { makePartitioner } from './ring/partition.js';
import { RespServer } from './server/resp-server.js';
import type { StorageEngine } from './storage/engine.js';
import { ExpirySweeper } from './storage/expiry-sweeper.js';
import { DotSequence, loadIdentity, type NodeIdentity } from './storage/identity.js';
import { ReplicaStore } from './storage/replica-store.js';
import { RocksDbEngine } from './storage/rocksdb-engine.js';

export interface NodeOptions {
  /** Use this engine instead of RocksDB in config.dir (tests: the memory engine). */
  readonly engine?: StorageEngine;
  readonly log?: (line: string) => void;
}

export class DynisNode {
  private engine!: StorageEngine;
  private store!: ReplicaStore;
  private sweeper!: ExpirySweeper;
  private server!: RespServer;
  private port = 0;
  identity!: NodeIdentity;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly config: NodeConfig,
    private readonly options: NodeOptions = {},
  ) {}

  get listeningPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    const { config } = this;
    if (!isLoopback(config.bind) && config.requirepass === null && config.protectedMode) {
      throw new ConfigError(
        `refusing to listen on ${config.bind} without a password (protected mode): set --requirepass or --protected-mode no`,
      );
    }
    this.engine = this.options.engine ?? new RocksDbEngine(config.dir);
    await this.engine.open();
    this.identity = await loadIdentity(this.engine, config.nodeId);
    const sequence = await DotSequence.open(this.engine);
    this.store = new ReplicaStore(this.engine, { fsync: config.fsync, cacheMaxBytes: config.cacheBytes });
    this.store.start();
    const kv = new KvService({
      store: this.store,
      actor: this.identity.actor,
      sequence,
      partitionOf: makePartitioner(config.partitionScheme, config.partitions),
    });
    const stats: ServerStats = {
      totalConnections: 0,
      totalCommands: 0,
      rejectedConnections: 0,
      protocolErrors: 0,
      expiredKeys: 0,
      keyspaceHits: 0,
      keyspaceMisses: 0,
      netInputBytes: 0,
      netOutputBytes: 0,
    };
    this.sweeper = new ExpirySweeper(this.store, {
      reapTombstones: config.n === 1,
      tombstoneGraceMs: 10_000,
      onExpired: (n) => (stats.expiredKeys += n),
    });
    const table = buildCommandTable();
    const startedAtMs = Date.now();
    const runId = randomBytes(20).toString('hex');
    const context: ServerContext = {
      config,
      kv,
      store: this.store,
      identity: this.identity,
      startedAtMs,
      stats,
      clients: new Map(),
      listeningPort: () => this.port,
      runId,
    };
    this.server = new RespServer(context, table);
    (context as { clients: ServerContext['clients'] }).clients = this.server.clients;
    this.port = await this.server.listen(config.port, config.bind);
    this.sweeper.start();
    this.options.log?.(
      `dynis node ${this.identity.nodeId} (actor ${this.identity.actor}) listening on ${config.bind}:${this.port}, data in ${config.dir}, fsync ${config.fsync}`,
    );
  }

  /** Graceful stop: stop accepting, finish in-flight requests, flush and sync, close storage. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.sweeper?.stop();
      await this.server?.close();
      await this.store?.stop();
      await this.engine?.close();
    })();
    return this.stopping;
  }
}
