/**
 * The local replica: sibling sets by (partition, key) on a StorageEngine.
 *
 * Contract:
 *  - Operations on one key take effect in the order they were issued (a per-key chain), and a
 *    read issued after an update sees it, even before it reaches the disk.
 *  - An update's promise resolves only after its write batch is in the engine (and synced
 *    when fsync is `always`), so an acknowledged write survives a process crash.
 *  - Writes issued in one event-loop turn go to the engine as one batch (group commit). Up to
 *    limits.writeBatchesInFlightMax batches run at once on the engine's threads, never two
 *    that write the same key (they could apply in either order), and a sync runs alone.
 *    Reads that miss the cache in one turn go as one getMany.
 *  - A bounded two-generation cache of decoded sets (including "absent") serves repeated
 *    reads without a trip to the engine's thread pool; every write goes through here, so it
 *    stays coherent.
 */
import { limits } from '../limits.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';
import type { Sibling, SiblingSet } from '../versions/dvv.js';
import type { StorageEngine, WriteOp } from './engine.js';
import { BloomFilter } from './absent-filter.js';
import { dataKey, dataPositionKey, dataRange, metaKey, parseDataKey, positionOfDataKey } from './key-layout.js';

export type FsyncPolicy = 'always' | 'everysec' | 'no';

export interface ReplicaStoreOptions {
  readonly fsync: FsyncPolicy;
  readonly cacheMaxBytes?: number;
  readonly cacheMaxEntries?: number;
  /** Keys per page of the absent filter's scan (tests use small pages to race writes with it). */
  readonly filterScanPage?: number;
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
  private cache = new Map<string, SiblingSet>();
  private cacheBytes = 0;
  private oldCache = new Map<string, SiblingSet>();
  private oldCacheBytes = 0;
  private readonly cacheMaxBytes: number;
  private readonly cacheMaxEntries: number;

  private writeQueue: WriteOp[] = [];
  private writeWaiters: Waiter[] = [];
  private writeScheduled = false;
  private batchesInFlight = 0;
  /** Storage keys (latin1) written by batches in flight, with counts. */
  private readonly keysInFlight = new Map<string, number>();
  private syncRequested = false;
  private unsyncedWrites = false;
  /** Counts completed unsynced batches, so a sync knows whether one finished beside it. */
  private unsyncedBatchesDone = 0;

  private readonly pendingReads = new Map<string, PendingRead>();
  private readScheduled = false;
  private syncTimer: NodeJS.Timeout | undefined;

  /** Counters for INFO. */
  readonly stats = { batches: 0, batchedOps: 0, reads: 0, cacheHits: 0, engineGets: 0, absentSkips: 0 };
  /** Data keys that may be stored (absent-filter.ts); consulted once `filterReady`. */
  private filter = new BloomFilter(limits.absentFilterInitialKeys);
  private filterReady = false;
  /** The filter being rebuilt from a scan; writes go to both until it replaces `filter`. */
  private nextFilter: BloomFilter | undefined;
  private filterGeneration = 0;
  /** Write batches handed to the engine and not yet finished (for flush()). */
  private readonly batchesRunning = new Set<Promise<void>>();
  /**
   * Called synchronously for every change of a key's set, in the key's order, when the
   * change is decided (before it reaches the engine). Anti-entropy keeps its trees with it.
   */
  onChange: ((partition: number, key: Buffer, before: SiblingSet, after: SiblingSet) => void) | undefined;
  /** Called after clearAll() removed every key. */
  onClear: (() => void) | undefined;

  constructor(
    readonly engine: StorageEngine,
    private readonly options: ReplicaStoreOptions,
  ) {
    this.cacheMaxBytes = options.cacheMaxBytes ?? limits.readCacheMaxBytes;
    this.cacheMaxEntries = options.cacheMaxEntries ?? limits.readCacheMaxEntries;
  }

  start(): void {
    void this.buildFilter();
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

  /**
   * Resolve once every write decided before this call is in the engine (not necessarily
   * synced): the queued ones and the batches already running.
   */
  async flush(): Promise<void> {
    const running = [...this.batchesRunning];
    const queued = this.writeQueue.length > 0 ? this.enqueueWrite([], false) : Promise.resolve();
    await Promise.all([...running.map((p) => p.catch(() => undefined)), queued]);
  }

  /** Write every queued op and sync the engine's log. */
  syncNow(): Promise<void> {
    return this.enqueueWrite([{ type: 'put', key: metaKey('sync'), value: Buffer.from(String(Date.now())) }], true);
  }

  /** Count a data key as stored in the absent filter(s). */
  private remember(storageKey: Buffer): void {
    this.filter.add(storageKey);
    this.nextFilter?.add(storageKey);
    if (this.filterReady && this.nextFilter === undefined && this.filter.added > this.filter.capacity * 2) void this.buildFilter();
  }

  /** True when the key is certainly not stored (and so needs no engine read). */
  private certainlyAbsent(storageKey: Buffer): boolean {
    if (!this.filterReady || this.filter.mightContain(storageKey)) return false;
    this.stats.absentSkips++;
    return true;
  }

  /**
   * (Re)build the absent filter from a keys-only scan of the data. Keys written meanwhile are
   * added to it by remember(), so when the scan ends every stored key is in it.
   */
  private async buildFilter(): Promise<void> {
    if (this.nextFilter !== undefined) return;
    const generation = this.filterGeneration;
    const next = new BloomFilter(Math.max(limits.absentFilterInitialKeys, this.filter.added * 2));
    this.nextFilter = next;
    try {
      const { gte, lt } = dataRange();
      let from = gte;
      for (;;) {
        const page = this.options.filterScanPage ?? limits.absentFilterScanPage;
        const rows = await this.engine.range({ gte: from, lt, limit: page, keysOnly: true });
        if (generation !== this.filterGeneration) return;
        for (const [k] of rows) next.add(k);
        if (rows.length < page) break;
        from = Buffer.concat([(rows[rows.length - 1] as [Buffer, Buffer])[0], Buffer.from([0])]);
      }
      this.filter = next;
      this.filterReady = true;
    } catch {
      // Without a complete scan the filter is not consulted; reads go to the engine.
    } finally {
      if (this.nextFilter === next) this.nextFilter = undefined;
    }
  }

  /** The absent filter's state, for INFO. */
  get filterStats(): { ready: boolean; bytes: number; keys: number; skips: number } {
    return { ready: this.filterReady, bytes: this.filter.bytes, keys: this.filter.added, skips: this.stats.absentSkips };
  }

  /**
   * Write ops that are not data keys (hints, metadata) through the same group commit, so they
   * are as durable as data writes under the fsync policy. Resolves when they are in the engine.
   */
  writeOther(ops: readonly WriteOp[]): Promise<void> {
    for (const op of ops) if (op.key[0] === 0x64) throw new Error('writeOther: data keys go through update()');
    return this.enqueueWrite(ops, false);
  }

  /**
   * The current set of a key if it is known without waiting (cached, no operation in
   * flight), else undefined. Lets reads answer synchronously on the hot path.
   */
  peek(partition: number, key: Buffer): SiblingSet | undefined {
    const id = dataKey(partition, key).toString('latin1');
    if (this.chains.has(id)) return undefined;
    const set = this.cacheGet(id);
    if (set !== undefined) {
      this.stats.reads++;
      this.stats.cacheHits++;
      return set;
    }
    if (this.certainlyAbsent(dataKey(partition, key))) {
      this.stats.reads++;
      return EMPTY;
    }
    return undefined;
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
    if (this.certainlyAbsent(storageKey)) return Promise.resolve(EMPTY);
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
      if (next.length > 0) this.remember(storageKey);
      this.onChange?.(partition, key, current, next);
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
    if (cached !== undefined) return Promise.resolve(cached);
    return this.certainlyAbsent(storageKey) ? Promise.resolve(EMPTY) : this.load(id, storageKey);
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
    if (this.writeScheduled || this.writeQueue.length === 0) return;
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

  /**
   * Start a batch with everything queued, unless it must wait: the engine's threads may apply
   * concurrent batches in any order, so a batch never runs beside one that writes any of the
   * same keys, and a sync (which must cover every earlier write) runs alone.
   */
  private flushWrites(): void {
    if (this.writeQueue.length === 0 || this.batchesInFlight >= limits.writeBatchesInFlightMax) return;
    if (this.syncRequested && this.batchesInFlight > 0) return;
    const ids = this.writeQueue.map((op) => op.key.toString('latin1'));
    for (const id of ids) if (this.keysInFlight.has(id)) return;
    const ops = this.writeQueue;
    const waiters = this.writeWaiters;
    this.writeQueue = [];
    this.writeWaiters = [];
    const sync = this.options.fsync === 'always' || this.syncRequested;
    this.syncRequested = false;
    // A sync starts with nothing else in flight (see above), so it covers every batch done
    // before it; a batch that completes beside it may or may not be covered.
    const unsyncedDoneAtStart = this.unsyncedBatchesDone;
    this.batchesInFlight++;
    for (const id of ids) this.keysInFlight.set(id, (this.keysInFlight.get(id) ?? 0) + 1);
    this.stats.batches++;
    this.stats.batchedOps += ops.length;
    const finish = (): void => {
      this.batchesInFlight--;
      for (const id of ids) {
        const n = (this.keysInFlight.get(id) as number) - 1;
        if (n === 0) this.keysInFlight.delete(id);
        else this.keysInFlight.set(id, n);
      }
      this.flushWrites();
      this.scheduleWrite();
    };
    const batch = this.engine.write(ops, { sync });
    this.batchesRunning.add(batch);
    void batch.then(
      () => this.batchesRunning.delete(batch),
      () => this.batchesRunning.delete(batch),
    );
    batch.then(
      () => {
        if (!sync) {
          this.unsyncedWrites = true;
          this.unsyncedBatchesDone++;
        } else if (this.unsyncedBatchesDone === unsyncedDoneAtStart && this.batchesInFlight === 1) {
          this.unsyncedWrites = false;
        }
        for (const w of waiters) w.resolve();
        finish();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
        finish();
      },
    );
  }

  /*
   * The read cache is two generations (a cheap approximation of LRU, as in 2Q/segmented
   * caches): entries are written to `young`; a hit in `old` promotes the entry; when `young`
   * holds half the budget, `old` is dropped whole and `young` becomes `old`. A hit costs one
   * or two Map lookups instead of LRU's delete and re-insert.
   */
  private cacheGet(id: string): SiblingSet | undefined {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    const old = this.oldCache.get(id);
    if (old !== undefined) {
      this.oldCache.delete(id);
      this.oldCacheBytes -= sizeOf(id, old);
      this.cacheInsert(id, old);
    }
    return old;
  }

  private cacheSet(id: string, set: SiblingSet): void {
    this.cacheDelete(id);
    this.cacheInsert(id, set);
  }

  private cacheInsert(id: string, set: SiblingSet): void {
    this.cache.set(id, set);
    this.cacheBytes += sizeOf(id, set);
    if (this.cacheBytes > this.cacheMaxBytes / 2 || this.cache.size > this.cacheMaxEntries / 2) {
      this.oldCache = this.cache;
      this.oldCacheBytes = this.cacheBytes;
      this.cache = new Map();
      this.cacheBytes = 0;
    }
  }

  private cacheDelete(id: string): void {
    const young = this.cache.get(id);
    if (young !== undefined) {
      this.cacheBytes -= sizeOf(id, young);
      this.cache.delete(id);
    }
    const old = this.oldCache.get(id);
    if (old !== undefined) {
      this.oldCacheBytes -= sizeOf(id, old);
      this.oldCache.delete(id);
    }
  }

  private cacheHas(id: string): boolean {
    return this.cache.has(id) || this.oldCache.has(id);
  }

  /** Forget every cached set (after FLUSHALL or a bulk change made below this layer). */
  cacheClear(): void {
    this.cache = new Map();
    this.oldCache = new Map();
    this.cacheBytes = 0;
    this.oldCacheBytes = 0;
  }

  get cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size + this.oldCache.size, bytes: this.cacheBytes + this.oldCacheBytes };
  }

  /**
   * One page of keys in ring order, starting at `position` (a partition and key-hash
   * position, see key-layout.ts; 0 = the start). Returns about `limit` entries, never
   * splitting a group of keys that share a position, and the position of the next page
   * (0 when done). A key that exists for a whole scan is returned by it. With `endPosition`,
   * the scan stops before that position (one partition: its first position and the next's).
   */
  async scan(position: number, limit: number, endPosition?: number): Promise<{ entries: ScanEntry[]; next: number }> {
    const lt = endPosition === undefined ? dataRange().lt : dataPositionKey(endPosition);
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
      const current = this.chains.has(id) || this.cacheHas(id) ? await this.read(partition, key) : decodeSiblingSet(v);
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
    // Nothing is stored now: a fresh filter, ready at once (a rebuild in flight is abandoned).
    this.filterGeneration++;
    this.filter = new BloomFilter(limits.absentFilterInitialKeys);
    this.nextFilter = undefined;
    this.filterReady = true;
    this.onClear?.();
  }
}

function sizeOf(id: string, set: SiblingSet): number {
  let bytes = CACHE_ENTRY_OVERHEAD_BYTES + id.length;
  for (const s of set) bytes += 96 + (s.value === null ? 0 : s.value.length) + s.past.size * 48;
  return bytes;
}
