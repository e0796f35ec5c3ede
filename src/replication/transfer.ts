/**
 * Partition transfer (DESIGN.md §5: "partitions move with a streamed transfer and ownership
 * switches only after the new owner has the data").
 *
 * During a ring transition a member that replicates a partition in the target ring but not in
 * the current one pulls it: page by page (DYN.SCAN) from every reachable replica of the
 * current ring, each entry merged into the local replica by sync. Writes that land meanwhile
 * reach it as a pending replica (the coordinator sends them, or keeps a hint), so once every
 * page is pulled the partition is complete. When all its partitions are, the member marks
 * itself ready for the target ring; membership switches rings when every such member is.
 *
 * Progress (the target, the partitions done, and where the partition in progress stands) is
 * persisted after every page, so a restarted node resumes where it stopped. Pages are
 * throttled (limits.transferPauseMs) to keep foreground latency.
 *
 * After a transition, partitions this node no longer replicates are deleted once the ring
 * has named other replicas for limits.partitionDropDelayMs (time for every member's view to
 * catch up).
 */
import { limits } from '../limits.js';
import type { Membership } from '../membership/membership.js';
import type { StorageEngine } from '../storage/engine.js';
import { dataPartitionRange, metaKey } from '../storage/key-layout.js';
import type { ReplicaStore, ScanEntry } from '../storage/replica-store.js';
import type { SiblingSet } from '../versions/dvv.js';
import type { ReplicaTransport } from './transport.js';

const PROGRESS_KEY = metaKey('transfer');
const POSITIONS_PER_PARTITION = 2 ** 32;

interface Progress {
  hash: string;
  done: number[];
  /** The partition in progress: per source member, the position to continue from. */
  partition: number;
  positions: Record<string, number>;
}

export interface TransferDeps {
  readonly membership: Membership;
  readonly transport: ReplicaTransport;
  readonly engine: StorageEngine;
  readonly store: ReplicaStore;
  readonly self: string;
  syncLocal(partition: number, key: Buffer, set: SiblingSet): Promise<boolean>;
  /** Called when a partition's data was dropped (its anti-entropy tree goes too). */
  onDropped?(partition: number): void;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
  readonly clock?: () => number;
}

export interface TransferStats {
  partitionsPulled: number;
  keysPulled: number;
  partitionsDropped: number;
}

export class TransferManager {
  readonly stats: TransferStats = { partitionsPulled: 0, keysPulled: 0, partitionsDropped: 0 };
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Partition → since when this node replicates it neither in the current nor the target ring. */
  private readonly unowned = new Map<number, number>();
  private progress: Progress | undefined;

  constructor(private readonly deps: TransferDeps) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  async open(): Promise<void> {
    const raw = await this.deps.engine.get(PROGRESS_KEY);
    if (raw !== undefined) this.progress = JSON.parse(raw.toString('utf8')) as Progress;
  }

  start(): void {
    this.stopped = false;
    this.deps.membership.onChange(() => this.kick());
    this.timer = setInterval(() => {
      this.kick();
      void this.dropUnowned().catch((err: unknown) => this.deps.log?.('warn', `dropping partitions: ${String(err)}`));
    }, 1000);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Pending work: the partitions left to pull for the current transition. */
  remaining(): number {
    const t = this.deps.membership.transition;
    if (t === undefined) return 0;
    const needed = this.deps.membership.neededBySelf();
    const done = this.progress?.hash === t.hash ? new Set(this.progress.done) : new Set<number>();
    return needed.filter((p) => !done.has(p)).length;
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    const t = this.deps.membership.transition;
    if (t === undefined || this.deps.membership.selfRecord.ready === t.hash) return;
    if (this.deps.membership.selfRecord.status === 'left') return;
    this.running = true;
    void this.pullAll(t.hash)
      .catch((err: unknown) => this.deps.log?.('warn', `transfer: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        this.running = false;
      });
  }

  private async saveProgress(): Promise<void> {
    await this.deps.store.writeOther([{ type: 'put', key: PROGRESS_KEY, value: Buffer.from(JSON.stringify(this.progress)) }]);
  }

  /** Pull every needed partition for target `hash`; mark ready when all are here. */
  private async pullAll(hash: string): Promise<void> {
    if (this.progress?.hash !== hash) this.progress = { hash, done: [], partition: -1, positions: {} };
    const progress = this.progress;
    for (const partition of this.deps.membership.neededBySelf()) {
      if (this.stopped || this.deps.membership.transition?.hash !== hash) return;
      if (progress.done.includes(partition)) continue;
      if (progress.partition !== partition) {
        progress.partition = partition;
        progress.positions = {};
      }
      if (!(await this.pullPartition(hash, partition, progress))) return; // no source reachable: retry later
      progress.done.push(partition);
      progress.partition = -1;
      progress.positions = {};
      await this.saveProgress();
      this.stats.partitionsPulled++;
    }
    if (this.deps.membership.transition?.hash === hash) this.deps.membership.markReady(hash);
  }

  /** Pull one partition from every reachable current replica; false when none was reachable. */
  private async pullPartition(hash: string, partition: number, progress: Progress): Promise<boolean> {
    const current = this.deps.membership.current;
    if (current === undefined) return false;
    const sources = current.preferenceList(partition).filter((m) => m !== this.deps.self && this.deps.transport.isUp(m));
    if (sources.length === 0) return false;
    const start = partition * POSITIONS_PER_PARTITION;
    for (const source of sources) {
      let position = progress.positions[source] ?? start;
      if (position === -1) continue; // this source is done
      for (;;) {
        if (this.stopped || this.deps.membership.transition?.hash !== hash) return false;
        const page = await this.deps.transport.scan(source, partition, position, limits.transferPageSize);
        await this.syncAll(page.entries);
        this.stats.keysPulled += page.entries.length;
        position = page.next === 0 ? -1 : page.next;
        progress.positions[source] = position;
        await this.saveProgress();
        if (position === -1) break;
        await new Promise((r) => setTimeout(r, limits.transferPauseMs));
      }
    }
    return true;
  }

  private async syncAll(entries: readonly ScanEntry[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const e = entries[next++] as ScanEntry;
        await this.deps.syncLocal(e.partition, e.key, e.set);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limits.transferSyncInFlightMax, entries.length) }, worker));
  }

  /** Delete the data of partitions this node has not replicated for a while. */
  async dropUnowned(): Promise<void> {
    const { membership } = this.deps;
    const current = membership.current;
    if (current === undefined || membership.transition !== undefined) {
      this.unowned.clear();
      return;
    }
    const mine = new Set(current.replicatedBy(this.deps.self));
    const now = this.now();
    for (let p = 0; p < current.partitions; p++) {
      if (mine.has(p)) {
        this.unowned.delete(p);
        continue;
      }
      const since = this.unowned.get(p);
      if (since === undefined) {
        this.unowned.set(p, now);
        continue;
      }
      if (now - since < limits.partitionDropDelayMs) continue;
      const { gte, lt } = dataPartitionRange(p);
      const rows = await this.deps.engine.range({ gte, lt, limit: 1, keysOnly: true });
      this.unowned.set(p, Number.POSITIVE_INFINITY); // checked; only a new transition re-arms it
      if (rows.length === 0) continue;
      await this.deps.store.flush();
      await this.deps.engine.deleteRange(gte, lt);
      this.deps.store.cacheClear();
      this.deps.onDropped?.(p);
      this.stats.partitionsDropped++;
      this.deps.log?.('info', `dropped partition ${p}: this node no longer replicates it`);
    }
  }
}
