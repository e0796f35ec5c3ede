/**
 * The storage engine: an ordered map of byte keys to byte values with atomic batches.
 * Two implementations (RocksDB, memory) pass one conformance suite (test/storage/conformance.ts).
 * Keys compare as unsigned bytes (memcmp order), as in RocksDB's default comparator.
 */
export type WriteOp =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: Buffer };

export interface RangeOptions {
  /** Inclusive lower bound; omitted = from the first key. */
  readonly gte?: Buffer;
  /** Exclusive upper bound; omitted = to the last key. */
  readonly lt?: Buffer;
  /** At most this many entries (required: every scan is bounded). */
  readonly limit: number;
  /** Return keys only (values are empty buffers). */
  readonly keysOnly?: boolean;
}

export interface EngineSupports {
  /** Data survives close() and a later open() of the same location. */
  readonly persistent: boolean;
  /** write({sync: true}) reaches stable storage before it resolves. */
  readonly durableSync: boolean;
}

export interface StorageEngine {
  readonly supports: EngineSupports;
  open(): Promise<void>;
  close(): Promise<void>;
  /** The value at key, or undefined. */
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Values for many keys in one call, in the same order; undefined where absent. */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Apply all ops atomically, in order. sync = fsync before resolving. */
  write(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void>;
  /** Entries in [gte, lt) in ascending key order, at most limit. */
  range(options: RangeOptions): Promise<Array<[Buffer, Buffer]>>;
  /** Delete every key in [gte, lt). */
  deleteRange(gte: Buffer, lt: Buffer): Promise<void>;
}
