/**
 * The composition root: builds a node's components from its config, starts them in order and
 * stops them in reverse. No logic of its own.
 */
import { randomBytes } from 'node:crypto';
import { segmentsFor } from './anti-entropy/hash-tree.js';
import { AntiEntropy } from './anti-entropy/scheduler.js';
import { PartitionTrees } from './anti-entropy/trees.js';
import { buildCommandTable } from './commands/index.js';
import type { ClusterView, ServerContext, ServerStats } from './commands/context.js';
import type { NodeConfig } from './config.js';
import { ConfigError, isLoopback } from './config.js';
import { limits } from './limits.js';
import { helloArgs } from './peer/messages.js';
import { PeerBus } from './peer/peer-bus.js';
import { buildPeerTable } from './peer/peer-commands.js';
import { KvService } from './replication/coordinator.js';
import { FallbackJournal } from './replication/fallback-journal.js';
import { HintReplayer, HintStore } from './replication/hints.js';
import { Router } from './replication/router.js';
import { noTransport } from './replication/transport.js';
import { Ring } from './ring/ring.js';
import { staticMembers } from './ring/static-members.js';
import { RespServer } from './server/resp-server.js';
import type { StorageEngine } from './storage/engine.js';
import { ExpirySweeper } from './storage/expiry-sweeper.js';
import { checkRingSettings, DotSequence, loadIdentity, type NodeIdentity } from './storage/identity.js';
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
  private peerServer: RespServer | undefined;
  private bus: PeerBus | undefined;
  private hints!: HintStore;
  private journal!: FallbackJournal;
  private trees: PartitionTrees | undefined;
  private antiEntropy: AntiEntropy | undefined;
  private replayer: HintReplayer | undefined;
  private port = 0;
  private peerPort = 0;
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
    const { self, members } = staticMembers(config);
    const ring = new Ring(
      members.map((m) => ({ id: m.id, zone: m.zone })),
      { partitions: config.partitions, n: config.n, scheme: config.partitionScheme },
    );
    const ringIdentity = { clusterName: config.clusterName, partitions: config.partitions, scheme: config.partitionScheme, n: config.n };
    this.engine = this.options.engine ?? new RocksDbEngine(config.dir);
    await this.engine.open();
    this.identity = await loadIdentity(this.engine, config.nodeId);
    await checkRingSettings(this.engine, ringIdentity);
    const sequence = await DotSequence.open(this.engine);
    this.store = new ReplicaStore(this.engine, { fsync: config.fsync, cacheMaxBytes: config.cacheBytes });
    this.store.start();
    this.hints = new HintStore(this.engine, this.store, { windowMs: config.hintWindow });
    await this.hints.open();
    this.journal = new FallbackJournal(this.engine, this.store, { windowMs: config.hintWindow });
    const log = (level: 'info' | 'warn', line: string): void => this.options.log?.(`[${level}] ${line}`);
    const others = members.filter((m) => m.id !== self.id);
    if (others.length > 0) {
      this.bus = new PeerBus(
        others.map((m) => ({ id: m.id, host: m.host, port: m.peerPort })),
        { hello: helloArgs(ringIdentity, self.id, config.clusterSecret), timeoutMs: config.peerTimeout, phiThreshold: config.phiThreshold, log },
      );
    }
    const memberIds = ring.members.map((m) => m.id);
    const kv = new KvService({
      store: this.store,
      actor: this.identity.actor,
      sequence,
      ring: {
        partitions: config.partitions,
        memberIds,
        partitionOf: (key) => ring.partitionOf(key),
        preferenceList: (p) => ring.preferenceList(p),
        fallbacks: (p) => ring.fallbacks(p),
      },
      self: self.id,
      transport: this.bus ?? noTransport,
      hints: this.hints,
      journal: this.journal,
      r: config.r,
      w: config.w,
    });
    const router = this.bus === undefined ? undefined : new Router(kv, this.bus, self.id);
    if (this.bus !== undefined) {
      const segments = segmentsFor(config.partitions, limits.aeSegmentsTotal, limits.aeSegmentsMin, limits.aeSegmentsMax);
      const trees = new PartitionTrees(this.engine, this.store, segments);
      this.trees = trees;
      this.antiEntropy = new AntiEntropy({
        trees,
        store: this.store,
        transport: this.bus,
        peer: this.bus,
        self: self.id,
        replicated: () => ring.replicatedBy(self.id),
        preferenceList: (p) => ring.preferenceList(p),
        syncLocal: (p, key, set) => kv.syncLocal(p, key, set),
        intervalMs: config.antiEntropyInterval,
        treeMaxAgeMs: limits.aeTreeMaxAgeMs,
        log,
      });
    }
    if (this.bus !== undefined) this.replayer = new HintReplayer(this.hints, this.bus, { intervalMs: limits.hintReplayIntervalMs, log, journal: this.journal });
    const bus = this.bus;
    const cluster: ClusterView = {
      self: self.id,
      clusterName: config.clusterName,
      members: memberIds,
      n: config.n,
      r: config.r,
      w: config.w,
      partitions: config.partitions,
      scheme: config.partitionScheme,
      preferenceList: (p) => ring.preferenceList(p),
      owned: () => ring.ownedBy(self.id).length,
      replicated: () => ring.replicatedBy(self.id).length,
      peers: () => bus?.info() ?? [],
    };
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
    const antiEntropy = this.antiEntropy;
    this.sweeper = new ExpirySweeper(this.store, {
      reapTombstones: members.length === 1,
      // A single node has no other replica or hint to wait for; a cluster waits out the grace period.
      tombstoneGraceMs: antiEntropy === undefined ? limits.singleNodeTombstoneGraceMs : config.tombstoneGrace,
      confirm: antiEntropy === undefined ? undefined : (p, key, set) => antiEntropy.confirmReap(p, key, set),
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
      dispatch: (ctx, args, protocol) => table.dispatch(ctx, args, protocol),
      router,
      cluster,
      hints: this.hints,
      antiEntropy: this.antiEntropy,
    };
    this.server = new RespServer(context, table);
    (context as { clients: ServerContext['clients'] }).clients = this.server.clients;
    if (this.bus !== undefined) {
      // The peer port: the same RESP server with the DYN.* table; peers prove the cluster
      // secret in DYN.HELLO instead of a password, so client settings do not apply there.
      const peerConfig = { ...config, requirepass: '\u0000peer-handshake', protectedMode: false, timeout: 0, maxclients: limits.peerConnectionsMax };
      const peerTable = buildPeerTable({
        ring: ringIdentity,
        secret: config.clusterSecret,
        self: self.id,
        actor: this.identity.actor,
        kv,
        store: this.store,
        hints: this.hints,
        trees: this.trees,
        clientTable: table,
        clientServer: () => context,
        log,
      });
      this.peerServer = new RespServer({ ...context, config: peerConfig, stats: { ...stats } }, peerTable);
      this.peerPort = await this.peerServer.listen(config.peerPort, config.bind);
    }
    this.port = await this.server.listen(config.port, config.bind);
    this.bus?.start();
    this.replayer?.start();
    this.antiEntropy?.start();
    this.sweeper.start();
    this.options.log?.(
      `dynis node ${this.identity.nodeId} (actor ${this.identity.actor}) listening on ${config.bind}:${this.port}` +
        (this.bus !== undefined ? `, peers on ${config.bind}:${this.peerPort} as ${self.id}, ${members.length} members, N=${config.n} R=${config.r} W=${config.w}` : '') +
        `, data in ${config.dir}, fsync ${config.fsync}`,
    );
  }

  /** True when every other member has completed its handshake with this node. */
  peersUp(): boolean {
    return this.bus?.allUp() ?? true;
  }

  /** Graceful stop: stop accepting, finish in-flight requests, flush and sync, close storage. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.sweeper?.stop();
      this.replayer?.stop();
      this.antiEntropy?.stop();
      await this.server?.close();
      await this.peerServer?.close();
      this.bus?.stop();
      await this.store?.stop();
      await this.engine?.close();
    })();
    return this.stopping;
  }
}
