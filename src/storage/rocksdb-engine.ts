/**
 * RocksDbEngine: a StorageEngine on RocksDB through the `rocksdb` npm package (5.2.1, the
 * abstract-leveldown 7 API, with a prebuilt binary).
 *
 * Contract:
 * - supports: persistent (open() of the same location after close() sees every acknowledged
 *   write) and durableSync (write({sync: true}) fsyncs the WAL before it resolves; a write
 *   with sync false survives a process crash but not necessarily a machine crash).
 * - open() creates the directory and the database if missing; open() on an open engine and
 *   close() on a closed one are harmless. After close() the same instance may be opened again.
 * - Keys are ordered by unsigned bytes (RocksDB's default bytewise comparator). Empty keys are
 *   refused (the package refuses them).
 * - Returned buffers are fresh copies owned by the caller; buffers passed in are copied by the
 *   binding before write() returns its promise, so the caller may reuse them at once.
 * - write() is one RocksDB WriteBatch: atomic and applied in order.
 * - range() reads one consistent snapshot. deleteRange() is not atomic: the package deletes
 *   the range in batches of about 16 KB of keys (it has no DeleteRange binding); concurrent
 *   writes into the range may or may not survive it.
 * - Every error from RocksDB is rethrown as an Error naming the operation and the location,
 *   with the original as `cause`.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { EngineSupports, RangeOptions, StorageEngine, WriteOp } from './engine.js';

type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;

/** The part of the rocksdb package's (untyped) iterator that this engine uses. */
interface RocksIterator {
  next(cb: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(cb: (err?: Error | null) => void): void;
}

/** The part of the rocksdb package's (untyped) database that this engine uses. */
interface RocksDb {
  open(options: RocksOpenOptions, cb: Callback): void;
  close(cb: Callback): void;
  getMany(keys: Buffer[], options: { asBuffer: boolean; fillCache?: boolean }, cb: Callback<Array<Buffer | undefined>>): void;
  /** A chained batch: each put/del goes straight into the native WriteBatch. */
  batch(): RocksChainedBatch;
  iterator(options: RocksIteratorOptions): RocksIterator;
  clear(options: { gte?: Buffer; lt?: Buffer }, cb: Callback): void;
  getProperty(name: string): string;
}

interface RocksChainedBatch {
  put(key: Buffer, value: Buffer): RocksChainedBatch;
  del(key: Buffer): RocksChainedBatch;
  write(options: { sync: boolean }, cb: Callback): void;
}

/** Options read by the binding's db_open (see binding.cc in the package). */
interface RocksOpenOptions {
  createIfMissing: boolean;
  errorIfExists: boolean;
  compression: boolean;
  cacheSize: number;
  writeBufferSize: number;
  maxOpenFiles?: number;
}

/** Options read by the binding's iterator_init. */
interface RocksIteratorOptions {
  gte?: Buffer;
  lt?: Buffer;
  limit: number;
  keys: boolean;
  values: boolean;
  keyAsBuffer: boolean;
  valueAsBuffer: boolean;
  fillCache: boolean;
  /** Bytes the binding reads ahead per native call (it also stops at 1000 entries). */
  highWaterMark: number;
}

const require = createRequire(import.meta.url);
const rocksdb = require('rocksdb') as (location: string) => RocksDb;

export interface RocksDbEngineOptions {
  /** Size of the LRU block cache (RocksDB's default through the package is 8 MB). */
  readonly cacheSizeBytes?: number;
  /** Size of one memtable before it is flushed (the package's default is 4 MB). */
  readonly writeBufferSizeBytes?: number;
}

const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
const DEFAULT_WRITE_BUFFER_BYTES = 32 * 1024 * 1024;
/** The binding reads sizes as uint32; a larger number would silently wrap. */
const UINT32_MAX = 0xffffffff;
/** Read-ahead of a range scan: bigger than the package's 16 KB so a scan of thousands of small
 * entries takes a few native round trips rather than dozens. */
const RANGE_READ_AHEAD_BYTES = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * The limit as both engines apply it (MemoryEngine has the same rule; the conformance suite
 * checks that they agree): NaN is a caller bug; zero or less returns nothing; fractions round
 * down; anything above int32 (Infinity included) is clamped, because the binding reads the limit
 * as an int32 and Infinity would become 0.
 */
function normalizeLimit(limit: number): number {
  if (Number.isNaN(limit)) throw new RangeError('range limit is NaN');
  return Math.min(Math.max(0, Math.floor(limit)), 0x7fffffff);
}

export class RocksDbEngine implements StorageEngine {
  readonly supports: EngineSupports = { persistent: true, durableSync: true };
  private db: RocksDb | undefined;
  /** The open or close in progress, so that concurrent calls wait for it instead of racing. */
  private transition: Promise<void> | undefined;

  constructor(
    readonly location: string,
    private readonly options: RocksDbEngineOptions = {},
  ) {
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > UINT32_MAX)) {
        throw new RangeError(`rocksdb option ${name} must be an integer in [0, 2^32): ${String(value)}`);
      }
    }
  }

  private wrap(what: string, err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    return new Error(`rocksdb ${what} failed at ${this.location}: ${message}`, { cause: err });
  }

  /** Calls a callback-style method of the package and settles with its result or a wrapped error. */
  private call<T>(what: string, fn: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        fn((err, value) => (err ? reject(this.wrap(what, err)) : resolve(value as T)));
      } catch (err) {
        // The package throws synchronously for some misuse (e.g. an iterator on a closing db).
        reject(this.wrap(what, err));
      }
    });
  }

  /** The open database; rejects (never throws synchronously) when closed. */
  private handle(what: string): RocksDb {
    if (this.db === undefined) throw new Error(`rocksdb ${what} failed at ${this.location}: the database is not open`);
    return this.db;
  }

  async open(): Promise<void> {
    while (this.transition !== undefined) await this.transition.catch(() => undefined);
    if (this.db !== undefined) return;
    this.transition = this.doOpen();
    try {
      await this.transition;
    } finally {
      this.transition = undefined;
    }
  }

  private async doOpen(): Promise<void> {
    try {
      await mkdir(this.location, { recursive: true });
    } catch (err) {
      throw this.wrap('mkdir', err);
    }
    const db = rocksdb(this.location);
    await this.call('open', (cb) =>
      db.open(
        {
          createIfMissing: true,
          errorIfExists: false,
          compression: true,
          cacheSize: this.options.cacheSizeBytes ?? DEFAULT_CACHE_BYTES,
          writeBufferSize: this.options.writeBufferSizeBytes ?? DEFAULT_WRITE_BUFFER_BYTES,
        },
        cb,
      ),
    );
    this.db = db;
  }

  async close(): Promise<void> {
    while (this.transition !== undefined) await this.transition.catch(() => undefined);
    const db = this.db;
    if (db === undefined) return;
    // Refuse new operations at once; the binding lets those in flight finish before it closes.
    this.db = undefined;
    this.transition = this.call('close', (cb) => db.close(cb));
    try {
      await this.transition;
    } finally {
      this.transition = undefined;
    }
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    // getMany rather than get: the package reports a missing key from get() only as an Error
    // whose message starts with "NotFound" (no code), which would have to be matched by text
    // and costs an Error per miss; getMany answers undefined.
    const [value] = await this.getMany([key]);
    return value;
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const db = this.handle('getMany');
    if (keys.length === 0) return [];
    // The package's getMany takes a mutable array; a copy of the readonly one keeps the type honest.
    const values = await this.call<Array<Buffer | undefined>>('getMany', (cb) => db.getMany(keys.slice(), { asBuffer: true }, cb));
    return values.map((v) => v ?? undefined);
  }

  async write(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void> {
    const db = this.handle('write');
    if (ops.length === 0) return;
    // The chained batch hands each key and value to the native WriteBatch directly; the array
    // form copies every op object in JS and reads its fields back one by one in C++, which
    // profiled at a tenth of a node's busy time under write load.
    await this.call('write', (cb) => {
      const batch = db.batch();
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      batch.write({ sync: options.sync }, cb);
    });
  }

  async range(options: RangeOptions): Promise<Array<[Buffer, Buffer]>> {
    const db = this.handle('range');
    const limit = normalizeLimit(options.limit);
    // The binding ignores an empty bound; an empty lt must instead mean "nothing is below it".
    if (limit === 0 || (options.lt !== undefined && options.lt.length === 0)) return [];
    if (options.gte !== undefined && options.lt !== undefined && Buffer.compare(options.gte, options.lt) >= 0) return [];
    const keysOnly = options.keysOnly === true;
    const iteratorOptions: RocksIteratorOptions = {
      limit,
      keys: true,
      values: !keysOnly,
      keyAsBuffer: true,
      valueAsBuffer: true,
      // A scan would otherwise evict hot blocks of point reads from the block cache.
      fillCache: false,
      highWaterMark: RANGE_READ_AHEAD_BYTES,
    };
    if (options.gte !== undefined && options.gte.length > 0) iteratorOptions.gte = options.gte;
    if (options.lt !== undefined) iteratorOptions.lt = options.lt;

    let it: RocksIterator;
    try {
      it = db.iterator(iteratorOptions);
    } catch (err) {
      throw this.wrap('range', err);
    }
    // One promise for the whole scan: the package hands out entries one callback at a time
    // (from a cache it fills up to highWaterMark bytes or 1000 entries per native call; it has
    // no nextv in this version), and a promise per entry would double the cost of long scans.
    const out: Array<[Buffer, Buffer]> = [];
    const scanned = new Promise<void>((resolve, reject) => {
      const step = (err: Error | null | undefined, key?: Buffer, value?: Buffer): void => {
        if (err) return reject(this.wrap('range', err));
        if (key === undefined) return resolve();
        out.push([key, keysOnly ? EMPTY : (value ?? EMPTY)]);
        it.next(step);
      };
      it.next(step);
    });
    let failure: unknown;
    try {
      await scanned;
    } catch (err) {
      failure = err;
    }
    // Always end the iterator: it pins a snapshot and keeps close() waiting.
    const ended = await new Promise<Error | undefined>((resolve) => it.end((err) => resolve(err ?? undefined)));
    if (failure !== undefined) throw failure;
    if (ended !== undefined) throw this.wrap('range (ending the iterator)', ended);
    return out;
  }

  async deleteRange(gte: Buffer, lt: Buffer): Promise<void> {
    const db = this.handle('deleteRange');
    // As in range(): the binding would read an empty lt as "no upper bound" and delete too much.
    if (lt.length === 0 || (gte.length > 0 && Buffer.compare(gte, lt) >= 0)) return;
    await this.call('deleteRange', (cb) => db.clear(gte.length > 0 ? { gte, lt } : { lt }, cb));
  }

  /** A RocksDB property (e.g. rocksdb.estimate-num-keys), for INFO; undefined when closed or unknown. */
  property(name: string): string | undefined {
    try {
      // RocksDB answers an unknown property with an empty string.
      const value = this.db?.getProperty(name);
      return value === '' ? undefined : value;
    } catch {
      return undefined;
    }
  }
}
