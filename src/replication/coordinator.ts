/**
 * The KV service: the coordinator every command talks to (DESIGN.md §1, §3, §5).
 *
 *  - Reads may be coordinated by any node, as in Riak (its get FSM runs where the request
 *    arrives): ask every replica of the key's preference list, answer with the sync of the
 *    first R answers, then read-repair every replica that answered with less once all have
 *    answered or timed out. This saves the forwarding hop for reads.
 *  - Writes are coordinated by a replica (the router forwards them there): a read-modify-write
 *    on the coordinator's own replica takes the new dot and the context "what this coordinator
 *    knows" atomically per key, then the whole resulting sibling set is sent to the other
 *    replicas, and the write is acknowledged when W replicas (this one included) stored it.
 *    Stragglers finish in the background.
 *  - Not enough answers is an error that names the quorum (NOQUORUM), never a silent success.
 *
 * A single node is this same code with one member and N = R = W = 1; the hot paths return
 * early when the preference list is just this node.
 */
import { Errors } from '../errors.js';
import { limits } from '../limits.js';
import type { ReplicaStore, ScanEntry } from '../storage/replica-store.js';
import { DotSequence, SequenceExhaustedError } from '../storage/identity.js';
import { keyHash } from '../storage/key-layout.js';
import {
  contextOf,
  maxCounterOf,
  put,
  resolveLive,
  sameDots,
  sync,
  type Sibling,
  type SiblingSet,
  type VersionVector,
} from '../versions/dvv.js';
import type { ReplicaTransport, ScanPage } from './transport.js';

/** Returned by getNow when the value is not known without waiting. */
export const NOT_READY: unique symbol = Symbol('not-ready');

const POSITIONS_PER_PARTITION = 2 ** 32;

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

export interface MutateOptions {
  /** A client write (bounded siblings) rather than an internal one. Default true. */
  readonly fromClient?: boolean;
  /** Replicas that must store the write before it is acknowledged (default: the node's W). */
  readonly w?: number;
  /**
   * The mutation depends on the current value (INCR, APPEND, NX/XX, DEL's reply …): first
   * bring the local replica up to date with a quorum read, so a stale local copy is not the
   * base. Default true; a plain SET or VSET passes false.
   */
  readonly fresh?: boolean;
}

/** What the coordinator needs of the ring (src/ring/ring.ts implements it). */
export interface RingView {
  readonly partitions: number;
  readonly memberIds: readonly string[];
  partitionOf(key: Buffer): number;
  /** The N (or fewer, when there are fewer members) distinct replicas of a partition. */
  preferenceList(partition: number): readonly string[];
}

export interface KvServiceDeps {
  readonly store: ReplicaStore;
  readonly actor: string;
  readonly sequence: DotSequence;
  readonly ring: RingView;
  /** This node's member id in the ring. */
  readonly self: string;
  readonly transport: ReplicaTransport;
  readonly r: number;
  readonly w: number;
  readonly clock?: () => number;
}

export interface KvStats {
  reads: number;
  writes: number;
  siblingsSeen: number;
  readRepairs: number;
  readQuorumFailures: number;
  writeQuorumFailures: number;
}

export class KvService {
  readonly stats: KvStats = { reads: 0, writes: 0, siblingsSeen: 0, readRepairs: 0, readQuorumFailures: 0, writeQuorumFailures: 0 };
  private readonly clock: () => number;
  private readonly store: ReplicaStore;
  private readonly self: string;

  constructor(private readonly deps: KvServiceDeps) {
    this.clock = deps.clock ?? Date.now;
    this.store = deps.store;
    this.self = deps.self;
  }

  now(): number {
    return this.clock();
  }

  get ring(): RingView {
    return this.deps.ring;
  }

  partitionOf(key: Buffer): number {
    return this.deps.ring.partitionOf(key);
  }

  /** True when this node is one of the key's replicas (and so may coordinate its writes). */
  replicates(key: Buffer): boolean {
    return this.deps.ring.preferenceList(this.deps.ring.partitionOf(key)).includes(this.self);
  }

  /** The merged sibling set of a key: a quorum read of R replicas (default: the node's R). */
  read(key: Buffer, r = this.deps.r): Promise<SiblingSet> {
    this.stats.reads++;
    const partition = this.deps.ring.partitionOf(key);
    const pref = this.deps.ring.preferenceList(partition);
    if (pref.length === 1 && pref[0] === this.self) {
      return this.store.read(partition, key).then((set) => this.seen(set));
    }
    return this.quorumRead(partition, key, pref, Math.min(r, pref.length)).then((set) => this.seen(set));
  }

  private seen(set: SiblingSet): SiblingSet {
    if (set.length > 1) this.stats.siblingsSeen++;
    return set;
  }

  private quorumRead(partition: number, key: Buffer, pref: readonly string[], need: number): Promise<SiblingSet> {
    return new Promise((resolve, reject) => {
      const answers: Array<SiblingSet | undefined> = new Array<SiblingSet | undefined>(pref.length);
      let ok = 0;
      let failed = 0;
      let settled = false;
      const afterAll = (): void => {
        if (ok + failed < pref.length) return;
        this.readRepair(partition, key, pref, answers);
      };
      pref.forEach((member, i) => {
        const request = this.readReplica(member, partition, key);
        request.then(
          (set) => {
            answers[i] = set;
            ok++;
            if (!settled && ok >= need) {
              settled = true;
              resolve(mergeAll(answers));
            }
            afterAll();
          },
          () => {
            failed++;
            if (!settled && pref.length - failed < need) {
              settled = true;
              this.stats.readQuorumFailures++;
              reject(Errors.noQuorum(ok, need, 'read'));
            }
            afterAll();
          },
        );
      });
    });
  }

  private readReplica(member: string, partition: number, key: Buffer): Promise<SiblingSet> {
    if (member === this.self) return this.store.read(partition, key);
    if (!this.deps.transport.isUp(member)) return Promise.reject(new Error(`${member} is unreachable`));
    return this.deps.transport.read(member, partition, key);
  }

  /** Send the merge of every answer to each replica that answered with less. */
  private readRepair(partition: number, key: Buffer, pref: readonly string[], answers: ReadonlyArray<SiblingSet | undefined>): void {
    const merged = mergeAll(answers);
    pref.forEach((member, i) => {
      const answer = answers[i];
      if (answer === undefined || sameDots(answer, merged)) return;
      this.stats.readRepairs++;
      this.syncReplica(member, partition, key, merged).catch(() => undefined);
    });
  }

  /** Sync a set into one replica (this node's or a peer's). */
  private syncReplica(member: string, partition: number, key: Buffer, set: SiblingSet): Promise<void> {
    if (member === this.self) return this.syncLocal(partition, key, set).then(() => undefined);
    if (!this.deps.transport.isUp(member)) return Promise.reject(new Error(`${member} is unreachable`));
    return this.deps.transport.write(member, partition, key, set);
  }

  /** Sync an incoming set into the local replica (DYN.WRITE, read repair). True when it changed. */
  syncLocal(partition: number, key: Buffer, incoming: SiblingSet): Promise<boolean> {
    return this.store.update(partition, key, (current) => {
      const next = sync(current, incoming);
      if (sameDots(next, current)) return { next: null, result: false };
      return { next, result: true };
    });
  }

  /**
   * GET without waiting when the answer is already known locally (this node is the only
   * replica and the key is cached): the live winner, undefined for none, or NOT_READY when
   * the caller must use get().
   */
  getNow(key: Buffer): Sibling | undefined | typeof NOT_READY {
    const partition = this.deps.ring.partitionOf(key);
    const pref = this.deps.ring.preferenceList(partition);
    if (pref.length !== 1 || pref[0] !== this.self) return NOT_READY;
    const set = this.store.peek(partition, key);
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
   * Read-modify-write one key at this coordinator, then replicate the resulting set to the
   * other replicas and wait for W of them. `fn` must be pure (it can run again after a retry).
   */
  async mutate<T>(key: Buffer, fn: MutationFn<T>, options: MutateOptions = {}): Promise<T> {
    const partition = this.deps.ring.partitionOf(key);
    const pref = this.deps.ring.preferenceList(partition);
    if (!pref.includes(this.self)) {
      throw Errors.internal(`this node is not a replica of partition ${partition}; writes must be forwarded`);
    }
    const base = (options.fresh ?? true) && pref.length > 1 ? await this.read(key) : undefined;
    const { result, written } = await this.localUpdate(partition, key, fn, base, options.fromClient ?? true);
    if (written === undefined || pref.length === 1) return result;
    await this.replicate(partition, key, pref, written, Math.min(options.w ?? this.deps.w, pref.length));
    return result;
  }

  private async localUpdate<T>(
    partition: number,
    key: Buffer,
    fn: MutationFn<T>,
    base: SiblingSet | undefined,
    fromClient: boolean,
  ): Promise<{ result: T; written: SiblingSet | undefined }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.update<{ result: T; written: SiblingSet | undefined }>(partition, key, (stored) => {
          const current = base === undefined ? stored : sync(stored, base);
          const now = this.clock();
          const m = fn(current, now);
          if (m.write === undefined) {
            // Nothing to write, but keep what the quorum read brought in.
            const changed = current !== stored && !sameDots(current, stored);
            return { next: changed ? current : null, result: { result: m.result, written: undefined } };
          }
          const context = m.write.context ?? contextOf(current);
          const { actor } = this.deps;
          const atLeast = Math.max(maxCounterOf(current, actor), context.get(actor) ?? 0) + 1;
          const counter = this.deps.sequence.next(atLeast);
          const next = put(current, context, actor, counter, { value: m.write.value, ts: now, expireAt: m.write.expireAt });
          if (fromClient && next.length > limits.siblingsMax) throw Errors.tooManySiblings(next.length);
          this.stats.writes++;
          return { next, result: { result: m.result, written: next } };
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

  /** Send the whole set to the other replicas; resolve when `need` replicas (this one included) hold it. */
  private replicate(partition: number, key: Buffer, pref: readonly string[], set: SiblingSet, need: number): Promise<void> {
    const others = pref.filter((m) => m !== this.self);
    return new Promise((resolve, reject) => {
      let acks = 1;
      let failed = 0;
      let settled = false;
      if (acks >= need) {
        settled = true;
        resolve();
      }
      for (const member of others) {
        this.syncReplica(member, partition, key, set).then(
          () => {
            acks++;
            if (!settled && acks >= need) {
              settled = true;
              resolve();
            }
          },
          () => {
            failed++;
            if (!settled && pref.length - failed < need) {
              settled = true;
              this.stats.writeQuorumFailures++;
              reject(Errors.noQuorum(acks, need, 'write'));
            }
          },
        );
      }
    });
  }

  /**
   * One page of a key scan in ring order from `position` (0 = the start). Returns the page
   * and the position to continue from (0 = done). Each partition's replicas are asked and
   * their answers merged, so a key that one replica lacks is still found.
   */
  async scan(position: number, count: number): Promise<{ entries: ScanEntry[]; next: number }> {
    if (this.deps.ring.memberIds.length === 1) return this.store.scan(position, count);
    const q = this.deps.ring.partitions;
    let partition = Math.floor(position / POSITIONS_PER_PARTITION);
    const entries: ScanEntry[] = [];
    let visited = 0;
    while (partition < q && visited < limits.scanPartitionsPerPage && entries.length < count) {
      // A window of partitions is fetched at once; pages are used in order, so a window that
      // overshoots `count` only costs the pages after the cut.
      const window = Math.min(limits.scanPartitionsInParallel, q - partition, limits.scanPartitionsPerPage - visited);
      const want = count - entries.length;
      const pages = await Promise.all(
        Array.from({ length: window }, (_, i) => {
          const p = partition + i;
          return this.scanPartition(p, Math.max(position, p * POSITIONS_PER_PARTITION), want);
        }),
      );
      for (const page of pages) {
        entries.push(...page.entries);
        if (page.next !== 0) return { entries, next: page.next };
        partition++;
        visited++;
        if (entries.length >= count) break;
      }
    }
    return { entries, next: partition >= q ? 0 : partition * POSITIONS_PER_PARTITION };
  }

  /** Scan one partition on every reachable replica from `start` and merge the pages. */
  async scanPartition(partition: number, start: number, limit: number): Promise<ScanPage> {
    const end = (partition + 1) * POSITIONS_PER_PARTITION;
    const pref = this.deps.ring.preferenceList(partition);
    const pages = await Promise.allSettled(
      pref.map((member) => {
        if (member === this.self) return this.store.scan(start, limit, end);
        if (!this.deps.transport.isUp(member)) return Promise.reject(new Error(`${member} is unreachable`));
        return this.deps.transport.scan(member, partition, start, limit);
      }),
    );
    const answered = pages.filter((p): p is PromiseFulfilledResult<ScanPage> => p.status === 'fulfilled').map((p) => p.value);
    if (answered.length === 0) throw Errors.noQuorum(0, 1, 'read');
    // A truncated page covers positions below its `next` only: the merge stops at the lowest.
    let cut = end;
    for (const page of answered) if (page.next !== 0 && page.next < cut) cut = page.next;
    const byKey = new Map<string, { position: number; entry: ScanEntry }>();
    for (const page of answered) {
      for (const entry of page.entries) {
        const position = partition * POSITIONS_PER_PARTITION + keyHash(entry.key);
        if (position >= cut) continue;
        const id = entry.key.toString('latin1');
        const seen = byKey.get(id);
        if (seen === undefined) byKey.set(id, { position, entry });
        else seen.entry = { partition, key: entry.key, set: sync(seen.entry.set, entry.set) };
      }
    }
    const merged = [...byKey.values()].sort((a, b) => a.position - b.position || Buffer.compare(a.entry.key, b.entry.key));
    return { entries: merged.map((m) => m.entry), next: cut === end ? 0 : cut };
  }

  /**
   * Live keys and live keys with an expiry, O(keys): of the whole cluster (DBSIZE), or of this
   * node's own replica only (`local`, INFO keyspace: like a Redis Cluster node, it reports what
   * it holds, and it answers even when no peer does).
   */
  async countLive(scope: 'cluster' | 'local' = 'cluster'): Promise<{ keys: number; expires: number }> {
    const now = this.clock();
    let keys = 0;
    let expires = 0;
    let position = 0;
    do {
      const page = scope === 'local' ? await this.store.scan(position, 1000) : await this.scan(position, 1000);
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

  /** Delete every key on every member (FLUSHALL). Fails naming the members it could not reach. */
  async flushAll(): Promise<void> {
    const others = this.deps.ring.memberIds.filter((m) => m !== this.self);
    const results = await Promise.allSettled([
      this.store.clearAll(),
      ...others.map((m) => (this.deps.transport.isUp(m) ? this.deps.transport.flushAll(m) : Promise.reject(new Error('unreachable')))),
    ]);
    const failed = others.filter((_, i) => results[i + 1]?.status === 'rejected');
    if (results[0]?.status === 'rejected') throw results[0].reason;
    if (failed.length > 0) {
      throw Errors.internal(`FLUSHALL did not reach ${failed.length} of ${others.length + 1} nodes (${failed.join(', ')})`);
    }
  }

  /** Put a value (or a tombstone) with an explicit client context (VSET). */
  putWithContext(key: Buffer, context: VersionVector, value: Buffer | null, expireAt = 0, w?: number): Promise<void> {
    return this.mutate(key, () => ({ write: { value, expireAt, context }, result: undefined }), { w, fresh: false });
  }
}

/** The sync of every answer (undefined = no answer). */
function mergeAll(answers: ReadonlyArray<SiblingSet | undefined>): SiblingSet {
  let merged: SiblingSet | undefined;
  for (const a of answers) {
    if (a === undefined) continue;
    merged = merged === undefined ? a : sync(merged, a);
  }
  return merged ?? [];
}
