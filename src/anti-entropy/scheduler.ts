/**
 * Anti-entropy on a schedule (DESIGN.md §5): trees of the partitions this node replicates are
 * built in the background at start; then, one partition per interval, round robin, this node
 * exchanges with every other reachable replica of the partition (exchange.ts). One exchange
 * at a time, a bounded number of segments each, and a pause between partitions keep it from
 * competing with foreground requests. A tree older than its maximum age is rebuilt first,
 * which bounds how long any drift could last.
 *
 * It also confirms tombstone reaping for the expiry sweeper: a dead key may be removed only
 * when every replica holds exactly the same dead set (then no replica can bring an older
 * value back), after the grace period, which exceeds the hint window (no hint can either).
 */
import type { ReplicaTransport } from '../replication/transport.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { sameDots, type SiblingSet } from '../versions/dvv.js';
import { RepeatingTimer } from '../util/repeating-timer.js';
import { contribution } from './hash-tree.js';
import { exchange, type ExchangePeer } from './exchange.js';
import type { PartitionTrees } from './trees.js';

export interface AntiEntropyPeer extends ExchangePeer {
  /** Delete the member's copy of a key if it still has exactly the set with this digest and it is dead. */
  reap(member: string, partition: number, key: Buffer, digest: string): Promise<boolean>;
}

export interface AntiEntropyDeps {
  readonly trees: PartitionTrees;
  readonly store: ReplicaStore;
  readonly transport: ReplicaTransport;
  readonly peer: AntiEntropyPeer;
  readonly self: string;
  /** The partitions this node replicates now. */
  replicated(): readonly number[];
  preferenceList(partition: number): readonly string[];
  /** Sync into the local replica (the KV service's syncLocal). */
  syncLocal(partition: number, key: Buffer, set: SiblingSet): Promise<boolean>;
  readonly intervalMs: number;
  readonly treeMaxAgeMs: number;
  readonly clock?: () => number;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
}

export interface AntiEntropyStats {
  exchanges: number;
  segmentsDiffering: number;
  keysRepaired: number;
  reaped: number;
  /** Completed passes over every replicated partition. */
  rounds: number;
}

/** The digest a reap is conditioned on: the key's tree contribution, as hex. */
export function setDigest(key: Buffer, set: SiblingSet): string {
  const [a, b] = contribution(key, set);
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

export class AntiEntropy {
  readonly stats: AntiEntropyStats = { exchanges: 0, segmentsDiffering: 0, keysRepaired: 0, reaped: 0, rounds: 0 };
  private stopped = true;
  private cursor = 0;
  private readonly loop = new RepeatingTimer(async () => {
    await this.tick();
    return this.deps.intervalMs;
  });

  constructor(private readonly deps: AntiEntropyDeps) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  start(): void {
    this.stopped = false;
    void this.buildAll().finally(() => {
      if (!this.stopped) this.loop.start(this.deps.intervalMs);
    });
  }

  stop(): void {
    this.stopped = true;
    this.loop.stop();
  }

  /** Build the tree of every replicated partition that has none, one at a time. */
  async buildAll(): Promise<void> {
    for (const p of this.deps.replicated()) {
      if (this.stopped) return;
      if (this.deps.trees.ready(p) !== undefined) continue;
      try {
        await this.deps.trees.build(p);
      } catch (err) {
        this.deps.log?.('warn', `building the tree of partition ${p}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** Exchange the next partition with its other reachable replicas. */
  async tick(): Promise<void> {
    const partitions = this.deps.replicated();
    if (partitions.length === 0) return;
    if (this.cursor >= partitions.length) {
      this.cursor = 0;
      this.stats.rounds++;
    }
    const partition = partitions[this.cursor++] as number;
    try {
      await this.exchangePartition(partition);
    } catch (err) {
      this.deps.log?.('warn', `anti-entropy of partition ${partition}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** One partition with every other reachable replica (also used by tests and DYN.AE). */
  async exchangePartition(partition: number): Promise<number> {
    const { trees } = this.deps;
    const builtAt = trees.builtAt(partition);
    if (trees.ready(partition) === undefined || (builtAt !== undefined && this.now() - builtAt > this.deps.treeMaxAgeMs)) {
      if (!(await trees.build(partition))) return 0;
    }
    let repaired = 0;
    for (const member of this.deps.preferenceList(partition)) {
      if (member === this.deps.self || !this.deps.transport.isUp(member)) continue;
      const result = await exchange(
        partition,
        member,
        {
          tree: (p) => trees.ready(p),
          scan: (position, limit, end) => this.deps.store.scan(position, limit, end),
          sync: (p, key, set) => this.deps.syncLocal(p, key, set),
        },
        this.deps.peer,
      );
      if (!result.compared) continue;
      this.stats.exchanges++;
      this.stats.segmentsDiffering += result.segmentsDiffering;
      const n = result.keysRepairedHere + result.keysRepairedThere;
      this.stats.keysRepaired += n;
      repaired += n;
    }
    return repaired;
  }

  /**
   * May this node remove a dead key (every sibling a tombstone or expired, older than the
   * grace period, which the sweeper has checked)? Only if every other replica is reachable and
   * holds exactly the same set; they are asked to remove it first, conditioned on that set.
   */
  async confirmReap(partition: number, key: Buffer, set: SiblingSet): Promise<boolean> {
    const others = this.deps.preferenceList(partition).filter((m) => m !== this.deps.self);
    if (!others.every((m) => this.deps.transport.isUp(m))) return false;
    const theirs = await Promise.all(others.map((m) => this.deps.transport.read(m, partition, key)));
    if (!theirs.every((t) => sameDots(t, set))) return false;
    const digest = setDigest(key, set);
    await Promise.allSettled(others.map((m) => this.deps.peer.reap(m, partition, key, digest)));
    this.stats.reaped++;
    return true;
  }
}
