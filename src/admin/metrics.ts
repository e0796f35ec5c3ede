/**
 * Prometheus metrics of one node (GET /metrics on the admin port), with prom-client and a
 * registry of the node's own (never the global default one).
 *
 * Nothing is recorded twice: every family is read at scrape time (prom-client `collect`)
 * from the counters the node already keeps for INFO (ServerStats, CommandStats, KvStats,
 * hints, anti-entropy, the peer bus, the replica store, membership). The hot path is
 * unchanged. Counters that CONFIG RESETSTAT zeroes (commands, keyspace hits …) go back to 0
 * there, which Prometheus's rate() treats as a counter reset.
 *
 * Command latency is a histogram built from the exact power-of-two latency buckets the
 * dispatcher keeps per command (the ones LATENCY HISTOGRAM shows).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PeerInfo, ServerContext } from '../commands/context.js';
import type { MemberStatus } from '../membership/members.js';
import { DYNIS_VERSION } from '../commands/server.js';
import { limits } from '../limits.js';

/** Labels and value of one sample. */
type Sample = readonly [labels: Record<string, string>, value: number];

/** What a scrape reads once and shares between families (computing peer latencies sorts samples). */
interface Snapshot {
  peers: PeerInfo[];
}

const MEMBER_STATUSES: readonly MemberStatus[] = ['new', 'joining', 'up', 'leaving', 'left'];
const COMMAND_DURATION = 'dynis_command_duration_seconds';

interface HistogramValue {
  readonly metricName: string;
  readonly labels: Record<string, string>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
}

const HISTOGRAM_HELP =
  'Time to run a command on this node, per command; buckets at powers of two of microseconds (exact), since start or CONFIG RESETSTAT';

/**
 * Command latency (seconds) as a Prometheus histogram, from the power-of-two buckets the
 * dispatcher already keeps per command (LATENCY HISTOGRAM's): bucket i holds the calls in
 * (2^(i-1), 2^i] µs, so `le` = 2^i µs is exact. Buckets below 2^min are folded into the
 * first, those above 2^max only into +Inf (both exact for a cumulative histogram). Unlike a
 * summary's quantiles, these sum across nodes and give windowed quantiles
 * (histogram_quantile over rate()); INFO latencystats keeps the finer HDR percentiles.
 */
class CommandLatencyHistogram extends Histogram<'command' | 'le'> {
  private readonly bounds: ReadonlyArray<{ pow: number; le: string }>;

  constructor(
    registry: Registry,
    private readonly server: ServerContext,
  ) {
    super({
      name: COMMAND_DURATION,
      help: HISTOGRAM_HELP,
      labelNames: ['command'],
      registers: [registry],
    });
    const bounds: Array<{ pow: number; le: string }> = [];
    for (let pow = limits.metricsLatencyMinPow2; pow <= limits.metricsLatencyMaxPow2; pow++) bounds.push({ pow, le: String(2 ** pow / 1e6) });
    this.bounds = bounds;
  }

  /**
   * prom-client renders a histogram (in the registry's text and in get()) from this method,
   * which its typings do not declare: the values come from the command stats at each call.
   */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    const sample = (metricName: string, labels: Record<string, string>, value: number): void => {
      values.push({ metricName, labels, sharedLabels: {}, value });
    };
    for (const [command, e] of this.server.commandStats?.entries() ?? []) {
      if (e.calls === 0) continue;
      let cumulative = 0;
      let next = 0;
      for (const { pow, le } of this.bounds) {
        for (; next <= pow && next < e.pow2.length; next++) cumulative += e.pow2[next] as number;
        sample(`${COMMAND_DURATION}_bucket`, { command, le }, cumulative);
      }
      let count = 0;
      for (const n of e.pow2) count += n;
      sample(`${COMMAND_DURATION}_bucket`, { command, le: '+Inf' }, count);
      sample(`${COMMAND_DURATION}_sum`, { command }, e.usec / 1e6);
      sample(`${COMMAND_DURATION}_count`, { command }, count);
    }
    return { name: COMMAND_DURATION, help: HISTOGRAM_HELP, type: 'histogram', aggregator: 'sum', values };
  }
}

/** The node's metrics; render() is the body of GET /metrics. */
export class NodeMetrics {
  readonly registry = new Registry();
  private snapshot: Snapshot = { peers: [] };
  adminAuthFailures = 0;

  constructor(private readonly server: ServerContext) {
    collectDefaultMetrics({ register: this.registry });
    this.define();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.snapshot = { peers: this.server.cluster.peers() };
    return this.registry.metrics();
  }

  /** A counter read from existing stats at scrape time. */
  private counter(name: string, help: string, read: () => number | Iterable<Sample>, labelNames: readonly string[] = []): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = read();
        if (typeof v === 'number') this.inc(v);
        else for (const [labels, value] of v) this.inc(labels, value);
      },
    });
  }

  /** A gauge read from existing state at scrape time. */
  private gauge(name: string, help: string, read: () => number | Iterable<Sample>, labelNames: readonly string[] = []): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = read();
        if (typeof v === 'number') this.set(v);
        else for (const [labels, value] of v) this.set(labels, value);
      },
    });
  }

  private define(): void {
    const s = this.server;
    const { stats, kv, store, hints, cluster } = s;
    const counter = this.counter.bind(this);
    const gauge = this.gauge.bind(this);
    const perCommand = (pick: (e: { calls: number; failed: number; rejected: number }) => number) => (): Sample[] =>
      [...(s.commandStats?.entries() ?? [])].map(([command, e]) => [{ command }, pick(e)]);
    const perPeer = (pick: (p: PeerInfo) => number) => (): Sample[] => this.snapshot.peers.map((p) => [{ peer: p.id }, pick(p)]);

    // --- The node ---------------------------------------------------------------------------
    gauge(
      'dynis_node_info',
      'Always 1; labels name this node: node id, member id (host:peerport), cluster name, dynis version',
      () => [[{ node_id: s.identity.nodeId, member: cluster.self, cluster: cluster.clusterName, version: DYNIS_VERSION }, 1]],
      ['node_id', 'member', 'cluster', 'version'],
    );

    // --- Clients and commands ---------------------------------------------------------------
    counter('dynis_commands_total', 'Commands run, per command (subcommands as name|sub), as INFO commandstats calls', perCommand((e) => e.calls), ['command']);
    counter('dynis_commands_failed_total', 'Commands that answered an error, per command (INFO commandstats failed_calls)', perCommand((e) => e.failed), ['command']);
    counter(
      'dynis_commands_rejected_total',
      'Commands refused before running (arity, authentication), per command (INFO commandstats rejected_calls)',
      perCommand((e) => e.rejected),
      ['command'],
    );
    new CommandLatencyHistogram(this.registry, s);
    counter('dynis_commands_processed_total', 'Commands processed by the client port (INFO total_commands_processed)', () => stats.totalCommands);
    gauge('dynis_connected_clients', 'Clients connected to the client port', () => s.clients.size);
    counter('dynis_connections_received_total', 'Client connections accepted', () => stats.totalConnections);
    counter('dynis_connections_rejected_total', 'Client connections refused (maxclients)', () => stats.rejectedConnections);
    counter('dynis_auth_failures_total', 'Failed AUTH / HELLO AUTH attempts on the client port', () => stats.authFailures ?? 0);
    counter('dynis_admin_auth_failures_total', 'Admin HTTP requests refused for a missing or wrong password', () => this.adminAuthFailures);
    counter('dynis_protocol_errors_total', 'Client protocol errors (malformed RESP)', () => stats.protocolErrors);
    counter('dynis_net_input_bytes_total', 'Bytes read from clients', () => stats.netInputBytes);
    counter('dynis_net_output_bytes_total', 'Bytes written to clients', () => stats.netOutputBytes);
    counter('dynis_keyspace_hits_total', 'Reads that found a live key', () => stats.keyspaceHits);
    counter('dynis_keyspace_misses_total', 'Reads that found no live key', () => stats.keyspaceMisses);
    counter('dynis_expired_keys_total', 'Keys found expired by the background sweep', () => stats.expiredKeys);

    // --- Replication ------------------------------------------------------------------------
    counter('dynis_kv_reads_total', 'Key reads coordinated by this node', () => kv.stats.reads);
    counter('dynis_kv_writes_total', 'Key writes coordinated by this node', () => kv.stats.writes);
    counter('dynis_siblings_seen_total', 'Reads that found concurrent siblings', () => kv.stats.siblingsSeen);
    counter(
      'dynis_quorum_failures_total',
      'Requests answered NOQUORUM: fewer than R (read) or W (write) replicas answered',
      () => [
        [{ op: 'read' }, kv.stats.readQuorumFailures],
        [{ op: 'write' }, kv.stats.writeQuorumFailures],
      ],
      ['op'],
    );
    counter('dynis_read_repairs_total', 'Replicas sent a merged set after a read found them behind', () => kv.stats.readRepairs);
    counter('dynis_hinted_writes_total', 'Writes that stored a hint for an unreachable primary (sloppy quorum)', () => kv.stats.hintedWrites);
    counter('dynis_fallback_coordinated_writes_total', 'Writes coordinated as a fallback (no primary of the key reachable)', () => kv.stats.fallbackCoordinated);
    counter('dynis_forwarded_writes_total', 'Commands forwarded to the key\'s coordinator', () => s.router?.stats.forwarded ?? 0);
    counter('dynis_forward_errors_total', 'Forwarded commands that failed', () => s.router?.stats.forwardErrors ?? 0);

    // --- Hinted handoff ---------------------------------------------------------------------
    gauge('dynis_hints_pending', 'Hinted keys this node holds for other members, waiting for delivery', () => hints.pendingTotal());
    counter('dynis_hints_stored_total', 'Hints stored on this node', () => hints.stats.stored);
    counter('dynis_hints_delivered_total', 'Hints delivered to their member', () => hints.stats.delivered);
    counter('dynis_hints_expired_total', 'Hints dropped after the hint window, never delivered', () => hints.stats.expired);
    counter('dynis_hints_refused_total', 'Hints refused (too many pending for one member)', () => hints.stats.refused);

    // --- Anti-entropy -----------------------------------------------------------------------
    const ae = s.antiEntropy;
    counter('dynis_anti_entropy_exchanges_total', 'Partition exchanges with another replica', () => ae?.stats.exchanges ?? 0);
    counter('dynis_anti_entropy_rounds_total', 'Anti-entropy rounds over this node\'s partitions', () => ae?.stats.rounds ?? 0);
    counter('dynis_anti_entropy_segments_differing_total', 'Hash-tree segments found to differ in exchanges', () => ae?.stats.segmentsDiffering ?? 0);
    counter('dynis_anti_entropy_keys_repaired_total', 'Keys synced by anti-entropy', () => ae?.stats.keysRepaired ?? 0);
    counter('dynis_tombstones_reaped_total', 'Tombstones removed for good (every replica held the same dead set)', () => ae?.stats.reaped ?? 0);

    // --- Peers --------------------------------------------------------------------------------
    counter('dynis_peer_requests_total', 'Requests sent to a peer', perPeer((p) => p.requests), ['peer']);
    counter('dynis_peer_errors_total', 'Requests to a peer that failed (error, timeout, unreachable)', perPeer((p) => p.errors), ['peer']);
    gauge('dynis_peer_up', '1 when the peer has completed its handshake and is not suspect', perPeer((p) => (p.up ? 1 : 0)), ['peer']);
    gauge('dynis_peer_phi', 'The failure detector\'s phi for the peer (+Inf after a timeout until its next answer)', perPeer((p) => p.phi ?? 0), ['peer']);
    gauge('dynis_peer_in_flight', 'Requests to the peer awaiting an answer', perPeer((p) => p.inFlight), ['peer']);
    gauge(
      'dynis_peer_latency_seconds',
      'Round-trip time of requests to the peer, quantiles over its last requests (a ring buffer of samples)',
      () =>
        this.snapshot.peers.flatMap((p): Sample[] => [
          [{ peer: p.id, quantile: '0.5' }, p.p50Ms / 1000],
          [{ peer: p.id, quantile: '0.99' }, p.p99Ms / 1000],
        ]),
      ['peer', 'quantile'],
    );
    counter('dynis_peer_messages_malformed_total', 'Malformed messages received on the peer port', () => s.peerStats?.malformed ?? 0);
    counter('dynis_peer_handshakes_refused_total', 'Peer handshakes refused (wrong cluster, ring settings or secret)', () => s.peerStats?.refusedHandshakes ?? 0);

    // --- Membership and ring ---------------------------------------------------------------
    gauge(
      'dynis_members',
      'Member records known to this node, by status (a node alone counts itself as up)',
      () => {
        const records = cluster.membership?.list();
        const count = (status: MemberStatus): number =>
          records === undefined ? (status === 'up' ? 1 : 0) : records.filter((r) => r.status === status).length;
        return MEMBER_STATUSES.map((status): Sample => [{ status }, count(status)]);
      },
      ['status'],
    );
    gauge('dynis_ring_members', 'Members of the current ring', () => cluster.members.length);
    gauge('dynis_ring_partitions', 'Partitions of the ring (Q)', () => cluster.partitions);
    gauge('dynis_partitions_owned', 'Partitions this node owns (first in the preference list)', () => cluster.owned());
    gauge('dynis_partitions_replicated', 'Partitions whose preference list includes this node', () => cluster.replicated());
    gauge('dynis_transfer_partitions_left', 'Partitions this node still has to pull in a ring transition', () => cluster.transfers?.remaining() ?? 0);
    counter('dynis_transfer_keys_pulled_total', 'Keys pulled by partition transfers', () => cluster.transfers?.stats.keysPulled ?? 0);
    counter('dynis_partitions_dropped_total', 'Partitions deleted after they stopped being this node\'s', () => cluster.transfers?.stats.partitionsDropped ?? 0);

    // --- Storage ------------------------------------------------------------------------------
    counter('dynis_storage_batches_total', 'Group commits written to RocksDB', () => store.stats.batches);
    counter('dynis_storage_batched_ops_total', 'Operations written in group commits', () => store.stats.batchedOps);
    counter('dynis_storage_reads_total', 'Replica reads (cache, absent filter or RocksDB)', () => store.stats.reads);
    counter('dynis_storage_engine_gets_total', 'Keys read from RocksDB', () => store.stats.engineGets);
    counter('dynis_cache_hits_total', 'Replica reads answered by the read cache', () => store.stats.cacheHits);
    counter('dynis_absent_filter_skips_total', 'Replica reads of never-written keys answered by the absent filter without RocksDB', () => store.stats.absentSkips);
    gauge('dynis_cache_entries', 'Entries in the read cache', () => store.cacheStats.entries);
    gauge('dynis_cache_bytes', 'Bytes of decoded values in the read cache', () => store.cacheStats.bytes);
  }
}
