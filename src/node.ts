/**
 * The composition root: builds a node's components from its config, starts them in order and
 * stops them in reverse. No logic of its own.
 */
import { randomBytes } from 'node:crypto';
import { AdminServer } from './admin/admin-server.js';
import { segmentsFor } from './anti-entropy/hash-tree.js';
import { AntiEntropy } from './anti-entropy/scheduler.js';
import { PartitionTrees } from './anti-entropy/trees.js';
import { CommandStats, SlowLog } from './commands/command-stats.js';
import { buildCommandTable } from './commands/index.js';
import type { ClusterView, ServerContext, ServerStats } from './commands/context.js';
import type { NodeConfig } from './config.js';
import { ConfigError, isLoopback } from './config.js';
import { limits } from './limits.js';
import { componentLog, createLogger, type LogFn } from './log.js';
import { PeerBus } from './peer/peer-bus.js';
import { buildPeerTable, type PeerServerStats } from './peer/peer-commands.js';
import { KvService, type RingView } from './replication/coordinator.js';
import { FallbackJournal } from './replication/fallback-journal.js';
import { HintReplayer, HintStore } from './replication/hints.js';
import { Router } from './replication/router.js';
import { noTransport } from './replication/transport.js';
import { Ring } from './ring/ring.js';
import { Membership } from './membership/membership.js';
import { seedList } from './membership/seeds.js';
import { TransferManager } from './replication/transfer.js';
import { RespServer } from './server/resp-server.js';
import { clientPortTls, loadTls, peerPortTls } from './server/tls.js';
import type { StorageEngine } from './storage/engine.js';
import { ExpirySweeper } from './storage/expiry-sweeper.js';
import { checkRingSettings, DotSequence, loadIdentity, type NodeIdentity } from './storage/identity.js';
import { ReplicaStore } from './storage/replica-store.js';
import { RocksDbEngine } from './storage/rocksdb-engine.js';

export interface NodeOptions {
  /** Use this engine instead of RocksDB in config.dir (tests: the memory engine). */
  readonly engine?: StorageEngine;
  readonly log?: (line: string) => void;
  /** This node has left the cluster (a committed leave or remove finished): the caller stops it. */
  readonly onLeft?: () => void;
}

export class DynisNode {
  private engine!: StorageEngine;
  private store!: ReplicaStore;
  private sweeper!: ExpirySweeper;
  private server!: RespServer;
  private admin: AdminServer | undefined;
  private peerServer: RespServer | undefined;
  private bus: PeerBus | undefined;
  private hints!: HintStore;
  private journal!: FallbackJournal;
  private trees: PartitionTrees | undefined;
  private antiEntropy: AntiEntropy | undefined;
  private replayer: HintReplayer | undefined;
  private membership: Membership | undefined;
  private transfers: TransferManager | undefined;
  private readonly peerStats: PeerServerStats = { malformed: 0, refusedHandshakes: 0 };
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

  /** The admin HTTP port actually bound (0 when --admin-port is off). */
  get adminPort(): number {
    return this.admin?.listeningPort ?? 0;
  }

  async start(): Promise<void> {
    const { config } = this;
    if (!isLoopback(config.bind) && config.requirepass === null && config.protectedMode) {
      throw new ConfigError(
        `refusing to listen on ${config.bind} without a password (protected mode): set --requirepass or --protected-mode no`,
      );
    }
    const clustered = config.seeds.length > 0;
    const tls = loadTls(config);
    const { self, seeds } = seedList(config);
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
    const logger = createLogger(config.loglevel, config.logFormat, (line) => this.options.log?.(line));
    const logOf = (component: string): LogFn => componentLog(logger, component);
    const log = logOf('node');

    // The ring: a node alone has a fixed one-member ring; a cluster member's comes from membership.
    let ringView: RingView;
    let current: () => Ring | undefined;
    if (clustered) {
      const bus = new PeerBus([], {
        ring: ringIdentity,
        self: self.id,
        secret: config.clusterSecret,
        tls: config.tlsPeers && tls !== undefined ? { cert: tls.cert, key: tls.key, ca: tls.ca } : undefined,
        timeoutMs: config.peerTimeout,
        phiThreshold: config.phiThreshold,
        log: logOf('peer'),
      });
      this.bus = bus;
      const membership = new Membership(
        { id: self.id, host: self.host, peerPort: self.peerPort, zone: self.zone, port: config.port, incarnation: this.identity.incarnation },
        seeds,
        this.engine,
        this.store,
        bus,
        { partitions: config.partitions, n: config.n, scheme: config.partitionScheme, gossipIntervalMs: limits.gossipIntervalMs, log: logOf('membership') },
      );
      await membership.open();
      membership.onLeft = () => this.options.onLeft?.();
      // A member that left has handed its partitions over: hints for it have nowhere to go.
      membership.onChange(() => {
        for (const r of membership.list()) {
          if (r.status === 'left' && this.hints.pending().has(r.id)) void this.hints.dropTarget(r.id).catch(() => undefined);
        }
      });
      this.membership = membership;
      ringView = membership.ringView();
      current = () => membership.current;
    } else {
      const ring = new Ring([{ id: self.id, zone: self.zone }], { partitions: config.partitions, n: 1, scheme: config.partitionScheme });
      ringView = {
        partitions: config.partitions,
        memberIds: [self.id],
        partitionOf: (key) => ring.partitionOf(key),
        preferenceList: (p) => ring.preferenceList(p),
        fallbacks: (p) => ring.fallbacks(p),
      };
      current = () => ring;
    }
    const kv = new KvService({
      store: this.store,
      actor: this.identity.actor,
      sequence,
      ring: ringView,
      self: self.id,
      transport: this.bus ?? noTransport,
      hints: this.hints,
      journal: this.journal,
      r: config.r,
      w: config.w,
      log: logOf('replication'),
    });
    const router = this.bus === undefined ? undefined : new Router(kv, this.bus, self.id);
    const replicated = (): number[] => current()?.replicatedBy(self.id) ?? [];
    if (this.bus !== undefined && this.membership !== undefined) {
      const segments = segmentsFor(config.partitions, limits.aeSegmentsTotal, limits.aeSegmentsMin, limits.aeSegmentsMax);
      const trees = new PartitionTrees(this.engine, this.store, segments);
      this.trees = trees;
      this.antiEntropy = new AntiEntropy({
        trees,
        store: this.store,
        transport: this.bus,
        peer: this.bus,
        self: self.id,
        replicated,
        preferenceList: (p) => ringView.preferenceList(p),
        syncLocal: (p, key, set) => kv.syncLocal(p, key, set),
        intervalMs: config.antiEntropyInterval,
        treeMaxAgeMs: limits.aeTreeMaxAgeMs,
        log: logOf('anti-entropy'),
      });
      this.replayer = new HintReplayer(this.hints, this.bus, { intervalMs: limits.hintReplayIntervalMs, log: logOf('hints'), journal: this.journal });
      this.transfers = new TransferManager({
        membership: this.membership,
        transport: this.bus,
        engine: this.engine,
        store: this.store,
        self: self.id,
        syncLocal: (p, key, set) => kv.syncLocal(p, key, set),
        onDropped: (p) => trees.drop(p),
        log: logOf('transfer'),
      });
      await this.transfers.open();
    }
    const bus = this.bus;
    const membership = this.membership;
    const cluster: ClusterView = {
      self: self.id,
      clusterName: config.clusterName,
      get members(): readonly string[] {
        return current()?.members.map((m) => m.id) ?? [];
      },
      n: config.n,
      r: config.r,
      w: config.w,
      partitions: config.partitions,
      scheme: config.partitionScheme,
      preferenceList: (p) => ringView.preferenceList(p),
      owned: () => current()?.ownedBy(self.id).length ?? 0,
      replicated: () => replicated().length,
      peers: () => bus?.info() ?? [],
      membership,
      transfers: this.transfers,
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
      reapTombstones: !clustered,
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
      dispatch: (ctx, args, protocol) => table.dispatch(ctx, args, protocol, true),
      commandStats: new CommandStats(),
      slowlog: new SlowLog(config.slowlogLogSlowerThan, config.slowlogMaxLen),
      router,
      cluster,
      hints: this.hints,
      antiEntropy: this.antiEntropy,
      peerStats: this.peerStats,
      log: logOf('server'),
    };
    this.server = new RespServer(context, table, tls === undefined ? undefined : clientPortTls(tls, config.tlsAuthClients), logOf('server'));
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
        membership: this.membership,
        clientTable: table,
        clientServer: () => context,
        log: logOf('peer'),
        stats: this.peerStats,
      });
      this.peerServer = new RespServer(
        { ...context, config: peerConfig, stats: { ...stats }, commandStats: undefined, slowlog: undefined },
        peerTable,
        config.tlsPeers && tls !== undefined ? peerPortTls(tls) : undefined,
        logOf('peer'),
      );
      this.peerPort = await this.peerServer.listen(config.peerPort, config.bind);
    }
    this.port = await this.server.listen(config.port, config.bind);
    if (config.adminPort !== 0) {
      // Same address, password and TLS as the client port (admin/admin-server.ts).
      this.admin = new AdminServer({
        server: context,
        ring: current,
        selfZone: self.zone,
        selfHost: self.host,
        password: config.requirepass,
        tls: tls === undefined ? undefined : clientPortTls(tls, config.tlsAuthClients),
        log: logOf('admin'),
      });
      await this.admin.listen(config.adminPort, config.bind);
    }
    this.bus?.start();
    this.membership?.start();
    this.replayer?.start();
    this.antiEntropy?.start();
    this.transfers?.start();
    this.sweeper.start();
    const ringSize = current()?.members.length ?? 0;
    log(
      'info',
      `dynis node ${this.identity.nodeId} (actor ${this.identity.actor}) listening on ${config.bind}:${this.port}` +
        (clustered
          ? `, peers on ${config.bind}:${this.peerPort} as ${self.id}, ` +
            (ringSize > 0 ? `${ringSize} members` : 'not in a cluster yet (stage a join with DYNIS JOIN)') +
            `, N=${config.n} R=${config.r} W=${config.w}`
          : '') +
        `, data in ${config.dir}, fsync ${config.fsync}` +
        (this.admin !== undefined ? `, admin ${this.admin.scheme} on ${config.bind}:${this.admin.listeningPort}${config.requirepass !== null ? ' (Basic auth)' : ''}` : '') +
        (tls !== undefined ? `, TLS on the client port${config.tlsPeers ? ' and between peers' : ''}` : ''),
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
      this.transfers?.stop();
      this.membership?.stop();
      this.replayer?.stop();
      this.antiEntropy?.stop();
      await this.admin?.close();
      await this.server?.close();
      await this.peerServer?.close();
      this.bus?.stop();
      await this.membership?.persist().catch(() => undefined);
      await this.store?.stop();
      await this.engine?.close();
    })();
    return this.stopping;
  }
}
