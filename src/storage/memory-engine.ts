/**
 * MemoryEngine: a StorageEngine held in memory, for unit tests and simulations.
 *
 * Contract:
 * - supports: not persistent (nothing survives the process; close() and open() of the same
 *   instance keep the data, a new instance starts empty), and write({sync: true}) means nothing
 *   more than write({sync: false}).
 * - Keys are ordered by unsigned bytes (memcmp), exactly as RocksDB's default comparator.
 * - Empty keys are refused, as the rocksdb package refuses them, so that code tested on this
 *   engine does not fail only in production.
 * - Values are copied on write and on read: a caller may reuse or mutate its buffers freely.
 * - A batch is validated before any of it is applied, then applied in order in one synchronous
 *   step, so it is atomic and readers never see part of it.
 * - Every method reads or writes at the moment it is called and answers through a promise that
 *   settles asynchronously, like a real engine; an operation on a closed engine rejects.
 *
 * Layout: a Map from the key as a latin1 string (one code unit per byte, so string order is
 * memcmp order) to the value serves point reads; a SortedKeys (sorted chunks of those strings)
 * serves ranges. Both stay efficient at millions of keys, also when writes and scans
 * interleave, which a lazily re-sorted array would not.
 */
import type { EngineSupports, RangeOptions, StorageEngine, WriteOp } from './engine.js';

/** Largest chunk before it is split; small enough that splicing into one is cheap. */
const CHUNK_MAX = 1024;
/** The rocksdb binding reads the limit as an int32; both engines clamp to it alike. */
const LIMIT_MAX = 0x7fffffff;

/**
 * A sorted set of strings kept as a list of sorted chunks: insert and remove cost a binary
 * search plus a splice inside one chunk, and a range walk starts with two binary searches.
 */
export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;
  /** A chunk smaller than this is merged into its successor when both fit in one chunk. */
  private readonly chunkMin: number;

  /** chunkMax is a parameter only so that tests can exercise splits and merges with few keys. */
  constructor(private readonly chunkMax: number = CHUNK_MAX) {
    if (!Number.isInteger(chunkMax) || chunkMax < 2) throw new RangeError(`chunkMax must be an integer >= 2: ${chunkMax}`);
    this.chunkMin = Math.max(1, chunkMax >>> 2);
  }

  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last key is >= key, or chunks.length if none. */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid] as string[];
      if ((chunk[chunk.length - 1] as string) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds a key that is known to be absent. */
  insert(key: string): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      return;
    }
    // A key above every chunk's last key goes at the end of the last chunk.
    const c = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[c] as string[];
    const at = lowerBound(chunk, key);
    if (at === chunk.length) chunk.push(key);
    else chunk.splice(at, 0, key);
    if (chunk.length > this.chunkMax) this.chunks.splice(c + 1, 0, chunk.splice(this.chunkMax >>> 1));
  }

  /** Removes a key that is known to be present. */
  remove(key: string): void {
    const c = this.chunkFor(key);
    const chunk = this.chunks[c];
    if (chunk === undefined) return;
    const at = lowerBound(chunk, key);
    if (chunk[at] !== key) return;
    chunk.splice(at, 1);
    this.count--;
    this.compact(c);
  }

  /** Removes every key in [gte, lt) (an undefined bound is open) and returns them. */
  removeRange(gte: string | undefined, lt: string | undefined): string[] {
    const removed: string[] = [];
    const first = gte === undefined ? 0 : this.chunkFor(gte);
    let c = first;
    for (; c < this.chunks.length; c++) {
      const chunk = this.chunks[c] as string[];
      // Only the first chunk can hold keys below gte; later ones start above it.
      const start = c === first && gte !== undefined ? lowerBound(chunk, gte) : 0;
      const end = lt === undefined ? chunk.length : lowerBound(chunk, lt, start);
      // A key >= lt left in this chunk means no later chunk is touched.
      const stop = end < chunk.length;
      if (end > start) for (const key of chunk.splice(start, end - start)) removed.push(key);
      if (stop) break;
    }
    // The chunks walked are contiguous and all but the first and last are now empty: drop the
    // empty ones in one splice rather than one splice each.
    const last = Math.min(c, this.chunks.length - 1);
    if (last >= first) {
      const kept = this.chunks.slice(first, last + 1).filter((chunk) => chunk.length > 0);
      this.chunks.splice(first, last - first + 1, ...kept);
      this.compact(first);
      if (first > 0) this.compact(first - 1);
    }
    this.count -= removed.length;
    return removed;
  }

  /** Up to limit keys in [gte, lt) in ascending order (an undefined bound is open). */
  range(gte: string | undefined, lt: string | undefined, limit: number): string[] {
    const out: string[] = [];
    if (limit <= 0) return out;
    let c = gte === undefined ? 0 : this.chunkFor(gte);
    let at = gte === undefined || this.chunks[c] === undefined ? 0 : lowerBound(this.chunks[c] as string[], gte);
    for (; c < this.chunks.length; c++, at = 0) {
      const chunk = this.chunks[c] as string[];
      for (; at < chunk.length; at++) {
        const key = chunk[at] as string;
        if (lt !== undefined && key >= lt) return out;
        out.push(key);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /**
   * Throws if the structure is inconsistent: an empty or oversized chunk, keys out of order
   * (within or across chunks) or a wrong count. For tests; it walks every key.
   */
  checkInvariants(): void {
    let previous: string | undefined;
    let seen = 0;
    for (const chunk of this.chunks) {
      if (chunk.length === 0 || chunk.length > this.chunkMax) throw new Error(`bad chunk size ${chunk.length}`);
      for (const key of chunk) {
        if (previous !== undefined && !(previous < key)) throw new Error('keys out of order');
        previous = key;
        seen++;
      }
    }
    if (seen !== this.count) throw new Error(`count ${this.count} but ${seen} keys`);
  }

  /** Removes chunk c if empty, or merges it into its successor if both are small. */
  private compact(c: number): void {
    const chunk = this.chunks[c];
    if (chunk === undefined) return;
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      return;
    }
    const next = this.chunks[c + 1];
    if (chunk.length < this.chunkMin && next !== undefined && chunk.length + next.length <= this.chunkMax) {
      this.chunks.splice(c, 2, chunk.concat(next));
    }
  }
}

/** First index in sorted[from..] whose element is >= key. */
function lowerBound(sorted: readonly string[], key: string, from = 0): number {
  let lo = from;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function copy(b: Buffer): Buffer {
  return Buffer.from(b);
}

function id(key: Buffer): string {
  return key.toString('latin1');
}

function checkKey(key: unknown): void {
  if (!Buffer.isBuffer(key)) throw new TypeError('key must be a Buffer');
  if (key.length === 0) throw new Error('key cannot be an empty Buffer');
}

export class MemoryEngine implements StorageEngine {
  readonly supports: EngineSupports = { persistent: false, durableSync: false };
  private readonly values = new Map<string, Buffer>();
  private readonly sorted = new SortedKeys();
  private isOpen = false;

  async open(): Promise<void> {
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  /** Number of keys stored (for tests and simulations). */
  get size(): number {
    return this.values.size;
  }

  private checkOpen(): void {
    if (!this.isOpen) throw new Error('memory engine is not open');
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.checkOpen();
    checkKey(key);
    const value = this.values.get(id(key));
    return value === undefined ? undefined : copy(value);
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.checkOpen();
    for (const key of keys) checkKey(key);
    return keys.map((key) => {
      const value = this.values.get(id(key));
      return value === undefined ? undefined : copy(value);
    });
  }

  async write(ops: readonly WriteOp[], _options: { sync: boolean }): Promise<void> {
    this.checkOpen();
    // Validate everything first: a batch that fails must leave no trace.
    for (const op of ops) {
      checkKey(op.key);
      if (op.type === 'put') {
        if (!Buffer.isBuffer(op.value)) throw new TypeError('value must be a Buffer');
      } else if (op.type !== 'del') {
        throw new TypeError(`unknown write op type: ${String((op as { type: unknown }).type)}`);
      }
    }
    for (const op of ops) {
      const k = id(op.key);
      if (op.type === 'put') {
        if (!this.values.has(k)) this.sorted.insert(k);
        this.values.set(k, copy(op.value));
      } else if (this.values.delete(k)) {
        this.sorted.remove(k);
      }
    }
  }

  async range(options: RangeOptions): Promise<Array<[Buffer, Buffer]>> {
    this.checkOpen();
    const limit = normalizeLimit(options.limit);
    const bounds = normalizeBounds(options.gte, options.lt);
    if (bounds === undefined) return [];
    const keys = this.sorted.range(bounds.gte, bounds.lt, limit);
    const empty = Buffer.alloc(0);
    return keys.map((k) => [Buffer.from(k, 'latin1'), options.keysOnly ? empty : copy(this.values.get(k) as Buffer)]);
  }

  async deleteRange(gte: Buffer, lt: Buffer): Promise<void> {
    this.checkOpen();
    const bounds = normalizeBounds(gte, lt);
    if (bounds === undefined) return;
    for (const k of this.sorted.removeRange(bounds.gte, bounds.lt)) this.values.delete(k);
  }
}

/**
 * The limit as both engines apply it (RocksDbEngine has the same rule; the conformance suite
 * checks that they agree): NaN is a caller bug; zero or less returns nothing; fractions round
 * down; anything above int32 (Infinity included) is clamped, as the rocksdb binding must.
 */
function normalizeLimit(limit: number): number {
  if (Number.isNaN(limit)) throw new RangeError('range limit is NaN');
  return Math.min(Math.max(0, Math.floor(limit)), LIMIT_MAX);
}

/**
 * Bounds as latin1 strings; undefined when the range is certainly empty. An empty gte is no
 * lower bound (every key is >= it); an empty lt admits nothing (no key is < it).
 */
function normalizeBounds(gte: Buffer | undefined, lt: Buffer | undefined): { gte: string | undefined; lt: string | undefined } | undefined {
  if (lt !== undefined && lt.length === 0) return undefined;
  const lo = gte === undefined || gte.length === 0 ? undefined : id(gte);
  const hi = lt === undefined ? undefined : id(lt);
  if (lo !== undefined && hi !== undefined && lo >= hi) return undefined;
  return { gte: lo, lt: hi };
}
