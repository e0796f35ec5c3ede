/**
 * GET /status.json on the admin port: this node's view of the cluster for the status page
 * and for scripts. The members (status, zone, client port, reachable, partitions owned), the
 * current ring (per partition: its owner, the head of the preference list, and the whole
 * list), N/R/W, and the commands per second of this node from a sampler that reads
 * total_commands_processed once a second into a bounded ring of samples.
 */
import type { ServerContext } from '../commands/context.js';
import { DYNIS_VERSION } from '../commands/server.js';
import { limits } from '../limits.js';
import type { MemberStatus } from '../membership/members.js';
import type { Ring } from '../ring/ring.js';

/** What the page draws: `down` is a member of the ring this node cannot reach. */
export type MemberHealth = MemberStatus | 'down';

export interface StatusMember {
  readonly id: string;
  readonly self: boolean;
  /** The membership status (new, joining, up, leaving, left). */
  readonly status: MemberStatus;
  /** status, except `down` for a member (not left) this node cannot reach. */
  readonly health: MemberHealth;
  readonly zone: string;
  readonly host: string;
  /** Client (RESP) port; 0 until the member has gossiped it. */
  readonly port: number;
  readonly peerPort: number;
  readonly reachable: boolean;
  readonly partitionsOwned: number;
}

export interface StatusPartition {
  readonly partition: number;
  /** The preference list's head: the key's coordinator. */
  readonly owner: string;
  readonly preferenceList: readonly string[];
}

export interface StatusSnapshot {
  readonly self: string;
  readonly nodeId: string;
  readonly clusterName: string;
  readonly version: string;
  readonly timeMs: number;
  readonly uptimeSeconds: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly scheme: string;
  /** Hash of the target ring while a join or leave is in progress, else null. */
  readonly transition: string | null;
  readonly members: readonly StatusMember[];
  /** The current ring, partition by partition ([] while this node is in no ring). */
  readonly ring: readonly StatusPartition[];
  readonly ops: {
    /** Commands per second over the last sampling interval (null before the first interval). */
    readonly perSecond: number | null;
    readonly intervalMs: number;
    /** The last samples, oldest first (at most limits.adminOpsSamples). */
    readonly samples: readonly number[];
    readonly totalCommands: number;
  };
  readonly hintsPending: number;
  readonly refreshMs: number;
}

/**
 * Commands per second: total_commands_processed read every interval, the rates kept in a
 * ring buffer. A counter that went down (CONFIG RESETSTAT) counts from zero.
 */
export class OpsSampler {
  private readonly rates: Float64Array;
  private count = 0;
  private next = 0;
  private lastTotal: number;
  private lastAtMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: () => number,
    private readonly options: { intervalMs: number; samples: number; clock?: () => number } = {
      intervalMs: limits.adminOpsSampleIntervalMs,
      samples: limits.adminOpsSamples,
    },
  ) {
    this.rates = new Float64Array(options.samples);
    this.lastTotal = total();
    this.lastAtMs = this.now();
  }

  private now(): number {
    return (this.options.clock ?? (() => performance.now()))();
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Take one sample now (the timer calls this; tests may too). */
  sample(): void {
    const total = this.total();
    const at = this.now();
    const elapsedS = (at - this.lastAtMs) / 1000;
    if (elapsedS <= 0) return;
    const delta = total >= this.lastTotal ? total - this.lastTotal : total;
    this.rates[this.next] = Math.round((delta / elapsedS) * 100) / 100;
    this.next = (this.next + 1) % this.rates.length;
    this.count = Math.min(this.count + 1, this.rates.length);
    this.lastTotal = total;
    this.lastAtMs = at;
  }

  /** The samples, oldest first. */
  samples(): number[] {
    const out: number[] = [];
    const start = (this.next - this.count + this.rates.length) % this.rates.length;
    for (let i = 0; i < this.count; i++) out.push(this.rates[(start + i) % this.rates.length] as number);
    return out;
  }

  latest(): number | null {
    return this.count === 0 ? null : (this.rates[(this.next - 1 + this.rates.length) % this.rates.length] as number);
  }
}

export interface StatusSources {
  readonly server: ServerContext;
  /** The current ring (undefined while this node is in none). */
  readonly ring: () => Ring | undefined;
  /** This node's zone and announced host (a node alone has no member record). */
  readonly selfZone: string;
  readonly selfHost: string;
  readonly ops: OpsSampler;
}

/** Per ring object (a new one on every membership change): its partitions, computed once. */
const ringEntries = new WeakMap<Ring, readonly StatusPartition[]>();

function partitionsOf(ring: Ring): readonly StatusPartition[] {
  let entries = ringEntries.get(ring);
  if (entries === undefined) {
    const list: StatusPartition[] = [];
    for (let p = 0; p < ring.partitions; p++) {
      const preferenceList = ring.preferenceList(p);
      list.push({ partition: p, owner: preferenceList[0] as string, preferenceList });
    }
    entries = list;
    ringEntries.set(ring, entries);
  }
  return entries;
}

export function statusSnapshot(sources: StatusSources): StatusSnapshot {
  const { server, ops } = sources;
  const { cluster } = server;
  const ring = sources.ring();
  const reachable = new Map(cluster.peers().map((p) => [p.id, p.up]));
  const owned = (id: string): number => ring?.ownedBy(id).length ?? 0;
  const records = cluster.membership?.list();
  const members: StatusMember[] =
    records === undefined
      ? [
          {
            id: cluster.self,
            self: true,
            status: 'up',
            health: 'up',
            zone: sources.selfZone,
            host: sources.selfHost,
            port: server.listeningPort(),
            peerPort: 0,
            reachable: true,
            partitionsOwned: owned(cluster.self),
          },
        ]
      : records.map((r) => {
          const self = r.id === cluster.self;
          const up = self || reachable.get(r.id) === true;
          return {
            id: r.id,
            self,
            status: r.status,
            health: r.status === 'left' || up ? r.status : 'down',
            zone: r.zone,
            host: r.host,
            port: self ? server.listeningPort() : r.port,
            peerPort: r.peerPort,
            reachable: up,
            partitionsOwned: owned(r.id),
          };
        });
  return {
    self: cluster.self,
    nodeId: server.identity.nodeId,
    clusterName: cluster.clusterName,
    version: DYNIS_VERSION,
    timeMs: Date.now(),
    uptimeSeconds: Math.floor((Date.now() - server.startedAtMs) / 1000),
    n: cluster.n,
    r: cluster.r,
    w: cluster.w,
    partitions: cluster.partitions,
    scheme: cluster.scheme,
    transition: cluster.membership?.transition?.hash ?? null,
    members,
    ring: ring === undefined ? [] : partitionsOf(ring),
    ops: {
      perSecond: ops.latest(),
      intervalMs: ops.intervalMs,
      samples: ops.samples(),
      totalCommands: server.stats.totalCommands,
    },
    hintsPending: server.hints.pendingTotal(),
    refreshMs: limits.adminPageRefreshMs,
  };
}
