/**
 * The local replica: sibling sets by (partition, key) on a StorageEngine.
 *
 * Contract:
 *  - Operations on one key take effect in the order they were issued (a per-key chain), and a
 *    read issued after an update sees it, even before it reaches the disk.
 *  - An update's promise resolves only after its write batch is in the engine (and synced
 *    when fsync is `always`), so an acknowledged write survives a process crash.
 *  - Writes issued in one event-loop turn go to the engine as one batch (group commit), one
 *    batch at a time so batches apply in order; reads that miss the cache in one turn go as
 *    one getMany.
 *  - A bounded LRU cache of decoded sets (including "absent") serves repeated reads without
 *    a trip to the engine's thread pool; every write goes through here, so it stays coherent.
 */
import { limits } from '../limits.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';
import type { Sibling, SiblingSet } from '../versions/dvv.js';
import type { StorageEngine, WriteOp } from './engine.js';
import { dataKey, dataPositionKey, dataRange, metaKey, parseDataKey, positionOfDataKey } from './key-layout.js';

export type FsyncPolicy = 'always' | 'everysec' | 'no';

export interface ReplicaStoreOptions {
  readonly fsync: FsyncPolicy;
  readonly cacheMaxBytes?: number;
  readonly cacheMaxEntries?: number;
}

export interface UpdateOutcome<T> {
  /** The new set to store, or null to leave the key unchanged. An empty set deletes the key. */
  readonly next: SiblingSet | null;
  readonly result: T;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface PendingRead {
  readonly storageKey: Buffer;
  readonly waiters: Array<{ resolve: (s: SiblingSet) => void; reject: (err: unknown) => void }>;
}

const EMPTY: SiblingSet = Object.freeze([]) as SiblingSet;
/** Rough per-entry overhead of a cached set besides its values (Map slot, objects, key string). */
const CACHE_ENTRY_OVERHEAD_BYTES = 160;

export interface ScanEntry {
  readonly partition: number;
  readonly key: Buffer;
  readonly set: Sibling[];
}

export class ReplicaStore {
  private readonly chains = new Map<string, Promise<SiblingSet>>();
  private readonly cache = new Map<string, SiblingSet>();
  private cacheBytes = 0;
  private readonly cacheMaxBytes: number;
  private readonly cacheMaxEntries: number;

  private writeQueue: WriteOp[] = [];
  private writeWaiters: Waiter[] = [];
  private writeScheduled = false;
  private writing = false;
  private syncRequested = false;
  private unsyncedWrites = false;

  private readonly pendingReads = new Map<string, PendingRead>();
  private readScheduled = false;
  private syncTimer: NodeJS.Timeout | undefined;

  /** Counters for INFO. */
  readonly stats = { batches: 0, batchedOps: 0, reads: 0, cacheHits: 0, engineGets: 0 };

  constructor(
    readonly engine: StorageEngine,
    private readonly options: ReplicaStoreOptions,
  ) {
    this.cacheMaxBytes = options.cacheMaxBytes ?? limits.readCacheMaxBytes;
    this.cacheMaxEntries = options.cacheMaxEntries ?? limits.readCacheMaxEntries;
  }

  start(): void {
    if (this.options.fsync === 'everysec') {
      this.syncTimer = setInterval(() => {
        if (this.unsyncedWrites) void this.syncNow().catch(() => undefined);
      }, 1000);
      this.syncTimer.unref();
    }
  }

  /** Flush pending writes and stop the fsync timer. */
  async stop(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = undefined;
    await this.syncNow();
  }

  /** Write every queued op and sync the engine's log. */
  syncNow(): Promise<void> {
    return this.enqueueWrite([{ type: 'put', key: metaKey('sync'), value: Buffer.from(String(Date.now())) }], true);
  }

  /** The current set of a key ([] when absent). */
  read(partition: number, key: Buffer): Promise<SiblingSet> {
    this.stats.reads++;
    const storageKey = dataKey(partition, key);
    const id = storageKey.toString('latin1');
    const chained = this.chains.get(id);
    if (chained !== undefined) return chained;
    const cached = this.cacheGet(id);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      return Promise.resolve(cached);
    }
    return this.load(id, storageKey);
  }

  /**
   * Read-modify-write one key. `fn` sees the current set and decides the next one; it runs
   * after every earlier operation on the key and before any later one. Resolves with fn's
   * result once the write is stored.
   */
  update<T>(partition: number, key: Buffer, fn: (current: SiblingSet) => UpdateOutcome<T>): Promise<T> {
    const storageKey = dataKey(partition, key);
    const id = storageKey.toString('latin1');
    const base = this.chains.get(id) ?? this.currentUnchained(id, storageKey);
    let commit: Promise<void> | undefined;
    let result: T;
    const state = base.then((current) => {
      const outcome = fn(current);
      result = outcome.result;
      if (outcome.next === null) return current;
      const next = outcome.next.length === 0 ? EMPTY : outcome.next;
      this.cacheSet(id, next);
      commit = this.enqueueWrite(
        [next.length === 0 ? { type: 'del', key: storageKey } : { type: 'put', key: storageKey, value: encodeSiblingSet(next) }],
        false,
      );
      return next;
    });
    // The chain carries the key's state; a failed fn leaves the state as it was.
    const chainState = state.catch(() => base);
    this.chains.set(id, chainState);
    const done = state.then(() => (commit === undefined ? result : commit.then(() => result)));
    const release = (): void => {
      if (this.chains.get(id) === chainState) this.chains.delete(id);
    };
    done.then(release, (err: unknown) => {
      // A failed write leaves the cache unsure of the key: drop it so the next read goes to disk.
      if (commit !== undefined) this.cacheDelete(id);
      release();
      return err;
    });
    return done;
  }

  private currentUnchained(id: string, storageKey: Buffer): Promise<SiblingSet> {
    const cached = this.cacheGet(id);
    return cached !== undefined ? Promise.resolve(cached) : this.load(id, storageKey);
  }

  private load(id: string, storageKey: Buffer): Promise<SiblingSet> {
    return new Promise<SiblingSet>((resolve, reject) => {
      let pending = this.pendingReads.get(id);
      if (pending === undefined) {
        pending = { storageKey, waiters: [] };
        this.pendingReads.set(id, pending);
      }
      pending.waiters.push({ resolve, reject });
      if (this.pendingReads.size >= limits.groupReadKeysMax) this.flushReads();
      else if (!this.readScheduled) {
        this.readScheduled = true;
        setImmediate(() => this.flushReads());
      }
    });
  }

  private flushReads(): void {
    this.readScheduled = false;
    if (this.pendingReads.size === 0) return;
    const batch = [...this.pendingReads];
    this.pendingReads.clear();
    this.stats.engineGets += batch.length;
    this.engine.getMany(batch.map(([, p]) => p.storageKey)).then(
      (values) => {
        for (let i = 0; i < batch.length; i++) {
          const [id, pending] = batch[i] as [string, PendingRead];
          const raw = values[i];
          let set: SiblingSet;
          try {
            set = raw === undefined ? EMPTY : decodeSiblingSet(raw);
          } catch (err) {
            for (const w of pending.waiters) w.reject(err);
            continue;
          }
          // A write that raced this read has put a newer state in the cache: prefer it.
          const newer = this.chains.has(id) ? undefined : this.cacheGet(id);
          if (newer === undefined && !this.chains.has(id)) this.cacheSet(id, set);
          for (const w of pending.waiters) w.resolve(newer ?? set);
        }
      },
      (err: unknown) => {
        for (const [, pending] of batch) for (const w of pending.waiters) w.reject(err);
      },
    );
  }

  private enqueueWrite(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.writeQueue.push(op);
      this.writeWaiters.push({ resolve, reject });
      if (sync) this.syncRequested = true;
      this.scheduleWrite();
    });
  }

  private scheduleWrite(): void {
    if (this.writing || this.writeScheduled || this.writeQueue.length === 0) return;
    if (this.writeQueue.length >= limits.groupCommitOpsMax) {
      this.flushWrites();
      return;
    }
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      this.flushWrites();
    });
  }

  private flushWrites(): void {
    if (this.writing || this.writeQueue.length === 0) return;
    const ops = this.writeQueue;
    const waiters = this.writeWaiters;
    this.writeQueue = [];
    this.writeWaiters = [];
    const sync = this.options.fsync === 'always' || this.syncRequested;
    this.syncRequested = false;
    this.writing = true;
    this.stats.batches++;
    this.stats.batchedOps += ops.length;
    this.engine.write(ops, { sync }).then(
      () => {
        this.unsyncedWrites = !sync;
        this.writing = false;
        for (const w of waiters) w.resolve();
        this.scheduleWrite();
      },
      (err: unknown) => {
        this.writing = false;
        for (const w of waiters) w.reject(err);
        this.scheduleWrite();
      },
    );
  }

  private cacheGet(id: string): SiblingSet | undefined {
    const set = this.cache.get(id);
    if (set !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so re-insert at the end.
      this.cache.delete(id);
      this.cache.set(id, set);
    }
    return set;
  }

  private cacheSet(id: string, set: SiblingSet): void {
    const old = this.cache.get(id);
    if (old !== undefined) {
      this.cacheBytes -= sizeOf(id, old);
      this.cache.delete(id);
    }
    this.cache.set(id, set);
    this.cacheBytes += sizeOf(id, set);
    while (this.cacheBytes > this.cacheMaxBytes || this.cache.size > this.cacheMaxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cacheDelete(oldest.value);
    }
  }

  private cacheDelete(id: string): void {
    const old = this.cache.get(id);
    if (old === undefined) return;
    this.cacheBytes -= sizeOf(id, old);
    this.cache.delete(id);
  }

  /** Forget every cached set (after FLUSHALL or a bulk change made below this layer). */
  cacheClear(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }

  get cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cacheBytes };
  }

  /**
   * One page of keys in ring order, starting at `position` (a partition and key-hash
   * position, see key-layout.ts; 0 = the start). Returns about `limit` entries, never
   * splitting a group of keys that share a position, and the position of the next page
   * (0 when done). A key that exists for a whole scan is returned by it.
   */
  async scan(position: number, limit: number): Promise<{ entries: ScanEntry[]; next: number }> {
    const { lt } = dataRange();
    let from = dataPositionKey(position);
    const rows: Array<[Buffer, Buffer]> = [];
    // Fetch a little more than asked so the page can end at a position boundary.
    for (let round = 0; round < 64; round++) {
      const batch = await this.engine.range({ gte: from, lt, limit: limit + 16 });
      rows.push(...batch);
      if (batch.length < limit + 16) break;
      if (rows.length > limit && positionOfDataKey((rows[limit] as [Buffer, Buffer])[0]) !== positionOfDataKey((rows[limit - 1] as [Buffer, Buffer])[0])) break;
      from = Buffer.concat([(batch[batch.length - 1] as [Buffer, Buffer])[0], Buffer.from([0])]);
    }
    let take = Math.min(limit, rows.length);
    if (take > 0) {
      const lastPos = positionOfDataKey((rows[take - 1] as [Buffer, Buffer])[0]);
      while (take < rows.length && positionOfDataKey((rows[take] as [Buffer, Buffer])[0]) === lastPos) take++;
    }
    const entries: ScanEntry[] = [];
    for (let i = 0; i < take; i++) {
      const [k, v] = rows[i] as [Buffer, Buffer];
      const { partition, key } = parseDataKey(k);
      const id = k.toString('latin1');
      // A key with an operation in flight or a cached state is read through the store, so
      // SCAN sees the same state as GET.
      const current = this.chains.has(id) || this.cache.has(id) ? await this.read(partition, key) : decodeSiblingSet(v);
      entries.push({ partition, key: Buffer.from(key), set: current.slice() });
    }
    const nextRow = rows[take];
    const next = nextRow !== undefined ? positionOfDataKey(nextRow[0]) : 0;
    return { entries, next };
  }

  /** Delete every data key (FLUSHALL on this replica). */
  async clearAll(): Promise<void> {
    await this.syncNow();
    await Promise.all([...this.chains.values()].map((p) => p.catch(() => undefined)));
    const { gte, lt } = dataRange();
    await this.engine.deleteRange(gte, lt);
    this.cacheClear();
  }
}

function sizeOf(id: string, set: SiblingSet): number {
  let bytes = CACHE_ENTRY_OVERHEAD_BYTES + id.length;
  for (const s of set) bytes += 96 + (s.value === null ? 0 : s.value.length) + s.past.size * 48;
  return bytes;
}
