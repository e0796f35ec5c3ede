/**
 * StorageEngine on RocksDB through the `rocksdb` package (abstract-leveldown 7 API, with a
 * prebuilt binary). Point reads, getMany, atomic batches (synced on request), bounded range
 * reads and range deletes. Every RocksDB error is wrapped with the database location.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { EngineSupports, RangeOptions, StorageEngine, WriteOp } from './engine.js';

type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;

/** The part of the rocksdb package's (untyped) API that this engine uses. */
interface RocksIterator {
  next(cb: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(cb: Callback): void;
}
interface RocksDb {
  open(options: Record<string, unknown>, cb: Callback): void;
  close(cb: Callback): void;
  get(key: Buffer, options: { asBuffer: boolean }, cb: Callback<Buffer>): void;
  getMany(keys: Buffer[], options: { asBuffer: boolean }, cb: Callback<Array<Buffer | undefined>>): void;
  batch(ops: Array<{ type: 'put' | 'del'; key: Buffer; value?: Buffer }>, options: { sync: boolean }, cb: Callback): void;
  iterator(options: Record<string, unknown>): RocksIterator;
  clear(options: { gte: Buffer; lt: Buffer }, cb: Callback): void;
  getProperty(name: string): string;
}

const require = createRequire(import.meta.url);
const rocksdb = require('rocksdb') as (location: string) => RocksDb;

export interface RocksDbEngineOptions {
  readonly cacheSizeBytes?: number;
  readonly writeBufferSizeBytes?: number;
}

export class RocksDbEngine implements StorageEngine {
  readonly supports: EngineSupports = { persistent: true, durableSync: true };
  private db: RocksDb | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly location: string,
    private readonly options: RocksDbEngineOptions = {},
  ) {}

  private wrap(what: string, err: Error): Error {
    return new Error(`rocksdb ${what} failed at ${this.location}: ${err.message}`, { cause: err });
  }

  private call<T>(what: string, fn: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      fn((err, value) => (err ? reject(this.wrap(what, err)) : resolve(value as T)));
    });
  }

  private handle(): RocksDb {
    if (this.db === undefined) throw new Error(`rocksdb at ${this.location} is not open`);
    return this.db;
  }

  async open(): Promise<void> {
    mkdirSync(this.location, { recursive: true });
    const db = rocksdb(this.location);
    await this.call('open', (cb) =>
      db.open(
        {
          createIfMissing: true,
          cacheSize: this.options.cacheSizeBytes ?? 64 * 1024 * 1024,
          writeBufferSize: this.options.writeBufferSizeBytes ?? 32 * 1024 * 1024,
          compression: true,
        },
        cb,
      ),
    );
    this.db = db;
    this.closing = undefined;
  }

  close(): Promise<void> {
    if (this.db === undefined) return this.closing ?? Promise.resolve();
    const db = this.db;
    this.db = undefined;
    this.closing = this.call('close', (cb) => db.close(cb));
    return this.closing;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    const [value] = await this.getMany([key]);
    return value;
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const db = this.handle();
    return this.call<Array<Buffer | undefined>>('getMany', (cb) => db.getMany(keys.slice(), { asBuffer: true }, cb)).then(
      (values) => values.map((v) => (v === undefined || v === null ? undefined : v)),
    );
  }

  write(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    const db = this.handle();
    const batch = ops.map((op) => (op.type === 'put' ? { type: 'put' as const, key: op.key, value: op.value } : { type: 'del' as const, key: op.key }));
    return this.call('batch', (cb) => db.batch(batch, { sync: options.sync }, cb));
  }

  async range(options: RangeOptions): Promise<Array<[Buffer, Buffer]>> {
    const db = this.handle();
    if (options.limit <= 0) return [];
    const it = db.iterator({
      ...(options.gte ? { gte: options.gte } : {}),
      ...(options.lt ? { lt: options.lt } : {}),
      limit: options.limit,
      keys: true,
      values: !options.keysOnly,
      keyAsBuffer: true,
      valueAsBuffer: true,
      // Read ahead in bigger steps than the default for scans of thousands of keys.
      highWaterMark: 256 * 1024,
    });
    const out: Array<[Buffer, Buffer]> = [];
    const empty = Buffer.alloc(0);
    try {
      for (;;) {
        const entry = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) => {
          it.next((err, key, value) => {
            if (err) reject(this.wrap('iterator', err));
            else resolve(key === undefined ? undefined : [key, options.keysOnly ? empty : (value ?? empty)]);
          });
        });
        if (entry === undefined) break;
        out.push(entry);
      }
    } finally {
      await new Promise<void>((resolve) => it.end(() => resolve()));
    }
    return out;
  }

  deleteRange(gte: Buffer, lt: Buffer): Promise<void> {
    const db = this.handle();
    return this.call('clear', (cb) => db.clear({ gte, lt }, cb));
  }

  /** A RocksDB property (e.g. rocksdb.estimate-num-keys), for INFO. */
  property(name: string): string | undefined {
    try {
      return this.db?.getProperty(name);
    } catch {
      return undefined;
    }
  }
}
