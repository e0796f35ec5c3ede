/**
 * The KV service: the coordinator every command talks to.
 *
 * A write runs as a read-modify-write on the coordinator's own replica (so the new dot and
 * the context "what this coordinator knows" are taken atomically per key), then the whole
 * resulting sibling set is sent to the other replicas, and the write is acknowledged when W
 * replicas (this one included) have stored it. A read asks R replicas and merges their sets
 * with sync. A single node is this same code with one member and N = R = W = 1.
 */
import { Errors } from '../errors.js';
import { limits } from '../limits.js';
import type { ReplicaStore, ScanEntry } from '../storage/replica-store.js';
import { DotSequence, SequenceExhaustedError } from '../storage/identity.js';
import {
  contextOf,
  maxCounterOf,
  put,
  resolveLive,
  type Sibling,
  type SiblingSet,
  type VersionVector,
} from '../versions/dvv.js';

/** Returned by getNow when the value is not known without waiting. */
export const NOT_READY: unique symbol = Symbol('not-ready');

export interface Mutation<T> {
  /** What to write, or undefined for no write (the result is still returned). */
  readonly write?: {
    readonly value: Buffer | null;
    readonly expireAt: number;
    /** The context of the put; omitted = the coordinator's local join ("overwrite what I know"). */
    readonly context?: VersionVector;
  };
  readonly result: T;
}

export type MutationFn<T> = (current: SiblingSet, nowMs: number) => Mutation<T>;

export interface KvServiceDeps {
  readonly store: ReplicaStore;
  readonly actor: string;
  readonly sequence: DotSequence;
  readonly partitionOf: (key: Buffer) => number;
  readonly clock?: () => number;
}

export interface KvStats {
  reads: number;
  writes: number;
  siblingsSeen: number;
}

export class KvService {
  readonly stats: KvStats = { reads: 0, writes: 0, siblingsSeen: 0 };
  private readonly clock: () => number;

  constructor(private readonly deps: KvServiceDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  now(): number {
    return this.clock();
  }

  partitionOf(key: Buffer): number {
    return this.deps.partitionOf(key);
  }

  /** The merged sibling set of a key (quorum read). */
  async read(key: Buffer): Promise<SiblingSet> {
    this.stats.reads++;
    const set = await this.deps.store.read(this.deps.partitionOf(key), key);
    if (set.length > 1) this.stats.siblingsSeen++;
    return set;
  }

  /**
   * GET without waiting when the answer is already known locally (single replica, cached):
   * the live winner, undefined for none, or NOT_READY when the caller must use get().
   */
  getNow(key: Buffer): Sibling | undefined | typeof NOT_READY {
    const set = this.deps.store.peek(this.deps.partitionOf(key), key);
    if (set === undefined) return NOT_READY;
    this.stats.reads++;
    if (set.length > 1) this.stats.siblingsSeen++;
    return resolveLive(set, this.clock());
  }

  /** GET: the last-writer-wins sibling if it is live, else undefined. */
  async get(key: Buffer): Promise<Sibling | undefined> {
    return resolveLive(await this.read(key), this.clock());
  }

  /**
   * Read-modify-write one key at this coordinator. `fn` sees the current set and decides;
   * it must be pure (it can run again after a retry).
   */
  async mutate<T>(key: Buffer, fn: MutationFn<T>, options: { fromClient?: boolean } = {}): Promise<T> {
    const fromClient = options.fromClient ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.store.update(this.deps.partitionOf(key), key, (current) => {
          const now = this.clock();
          const m = fn(current, now);
          if (m.write === undefined) return { next: null, result: m.result };
          const context = m.write.context ?? contextOf(current);
          const { actor } = this.deps;
          const atLeast = Math.max(maxCounterOf(current, actor), context.get(actor) ?? 0) + 1;
          const counter = this.deps.sequence.next(atLeast);
          const next = put(current, context, actor, counter, { value: m.write.value, ts: now, expireAt: m.write.expireAt });
          if (fromClient && next.length > limits.siblingsMax) throw Errors.tooManySiblings(next.length);
          this.stats.writes++;
          return { next, result: m.result };
        });
      } catch (err) {
        // The dot sequence ran ahead of its persisted reservation: wait for it once, then retry.
        if (err instanceof SequenceExhaustedError && attempt < 3) {
          await this.deps.sequence.ready();
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * One page of a key scan in ring order from `position` (0 = the start). Returns the page
   * and the position to continue from (0 = done). See ReplicaStore.scan.
   */
  scan(position: number, count: number): Promise<{ entries: ScanEntry[]; next: number }> {
    return this.deps.store.scan(position, count);
  }

  /** Live keys and live keys with an expiry (DBSIZE, INFO keyspace). O(keys). */
  async countLive(): Promise<{ keys: number; expires: number }> {
    const now = this.clock();
    let keys = 0;
    let expires = 0;
    let position = 0;
    do {
      const page = await this.deps.store.scan(position, 1000);
      for (const e of page.entries) {
        const w = resolveLive(e.set, now);
        if (w === undefined) continue;
        keys++;
        if (w.expireAt !== 0) expires++;
      }
      position = page.next;
    } while (position !== 0);
    return { keys, expires };
  }

  /** Delete every key (FLUSHALL). */
  flushAll(): Promise<void> {
    return this.deps.store.clearAll();
  }

  /** Put a value (or a tombstone) with an explicit client context (VSET). */
  putWithContext(key: Buffer, context: VersionVector, value: Buffer | null, expireAt = 0): Promise<void> {
    return this.mutate(key, () => ({ write: { value, expireAt, context }, result: undefined }));
  }
}
