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
 *  - Sloppy quorum: a primary that is down (or stops answering) is stood in for by the next
 *    reachable fallback of the key, which stores the set as a hint naming the primary; its
 *    ack counts toward W. Reads ask the same stand-ins for their hints. When no fallback is
 *    left (e.g. three nodes with N = 3), the coordinator keeps the hint itself, as Cassandra
 *    does, without counting it toward W. Hints are replayed when the primary is back
 *    (hints.ts).
 *  - When no primary of a key is reachable at all, the node that received the write
 *    coordinates it itself as a fallback: it reads what it can, writes with its own actor and
 *    hands the result to stand-ins. Concurrent writes through such a node may become
 *    siblings (it holds no per-key order for keys it does not replicate); none is lost.
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
import type { FallbackJournal } from './fallback-journal.js';
import { HintLimitError, type HintStore } from './hints.js';
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
  /** The other members, in the order they stand in for unreachable primaries (sloppy quorum). */
  fallbacks(partition: number): readonly string[];
  /**
   * During a ring transition: the partition's replicas in the target ring that are not in the
   * current one. They receive every write (or a hint is kept for them) but do not count toward W.
   */
  pendingReplicas?(partition: number): readonly string[];
}

export interface KvServiceDeps {
  readonly store: ReplicaStore;
  readonly actor: string;
  readonly sequence: DotSequence;
  readonly ring: RingView;
  /** This node's member id in the ring. */
  readonly self: string;
  readonly transport: ReplicaTransport;
  readonly hints: HintStore;
  readonly journal: FallbackJournal;
  readonly r: number;
  readonly w: number;
  readonly clock?: () => number;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
}

export interface KvStats {
  reads: number;
  writes: number;
  siblingsSeen: number;
  readRepairs: number;
  readQuorumFailures: number;
  writeQuorumFailures: number;
  /** Writes that a fallback (or this coordinator) took as a hint for an unreachable primary. */
  hintedWrites: number;
  /** Writes coordinated here although this node is not one of the key's replicas. */
  fallbackCoordinated: number;
  /** Writes that left a key with more than limits.siblingsWarn siblings. */
  manySiblings: number;
}

/** One replica a read asks: a primary, or a fallback asked for its hint for a primary. */
interface ReadTarget {
  readonly member: string;
  readonly hintFor?: string;
  /** Ask even though the failure detector suspects it. */
  readonly force?: boolean;
}

export class KvService {
  readonly stats: KvStats = {
    reads: 0,
    writes: 0,
    siblingsSeen: 0,
    readRepairs: 0,
    readQuorumFailures: 0,
    writeQuorumFailures: 0,
    hintedWrites: 0,
    fallbackCoordinated: 0,
    manySiblings: 0,
  };
  private lastSiblingWarningMs = 0;
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

  /** A member that can be sent requests now (this node always can). */
  private available(member: string): boolean {
    return member === this.self || this.deps.transport.isUp(member);
  }

  /** The primaries that are reachable, and a reachable fallback for each one that is not. */
  private readTargets(partition: number, pref: readonly string[]): ReadTarget[] {
    const targets: ReadTarget[] = [];
    let fallbacks: readonly string[] | undefined;
    let next = 0;
    for (const member of pref) {
      if (this.available(member)) {
        targets.push({ member });
        continue;
      }
      fallbacks ??= this.deps.ring.fallbacks(partition);
      while (next < fallbacks.length && !this.available(fallbacks[next] as string)) next++;
      if (next < fallbacks.length) targets.push({ member: fallbacks[next++] as string, hintFor: member });
    }
    return targets;
  }

  private quorumRead(partition: number, key: Buffer, pref: readonly string[], need: number): Promise<SiblingSet> {
    const targets = this.readTargets(partition, pref);
    if (targets.length < need) {
      // Too few reachable replicas: ask the suspected but still connected ones as well (a
      // suspicion routes around a node when there is another way, it must not fail a read).
      for (const m of pref) if (!this.available(m) && this.deps.transport.isConnected?.(m) === true) targets.push({ member: m, force: true });
    }
    // Ask R replicas (this node first: its answer costs no round trip) and another for each
    // that fails. With the read-repair chance, ask all of them, so replicas that nobody
    // writes to are still repaired by reads now and then (anti-entropy repairs the rest).
    const self = targets.findIndex((t) => t.member === this.self && t.hintFor === undefined);
    if (self > 0) targets.unshift(...targets.splice(self, 1));
    const askAll = need >= targets.length || Math.random() < limits.readRepairChance;
    return new Promise((resolve, reject) => {
      const answers: Array<SiblingSet | undefined> = new Array<SiblingSet | undefined>(targets.length);
      let ok = 0;
      let failed = 0;
      let sent = 0;
      let settled = false;
      const check = (): void => {
        if (!settled && ok >= need) {
          settled = true;
          resolve(mergeAll(answers));
        } else if (!settled && ok + failed === targets.length) {
          // Every target has answered or failed and there are too few answers.
          settled = true;
          this.stats.readQuorumFailures++;
          reject(Errors.noQuorum(ok, need, 'read'));
        }
        if (ok + failed === sent && (sent === targets.length || settled)) this.readRepair(partition, key, targets.slice(0, sent), answers);
      };
      const send = (): void => {
        const i = sent++;
        this.readReplica(targets[i] as ReadTarget, partition, key).then(
          (set) => {
            answers[i] = set;
            ok++;
            check();
          },
          () => {
            failed++;
            // Replace the failed answer with the next replica's, while one is left.
            if (!settled && sent < targets.length) send();
            check();
          },
        );
      };
      if (targets.length === 0) check();
      const first = askAll ? targets.length : Math.min(need, targets.length);
      for (let i = 0; i < first; i++) send();
    });
  }

  private readReplica(target: ReadTarget, partition: number, key: Buffer): Promise<SiblingSet> {
    const { member, hintFor, force } = target;
    if (member === this.self) return hintFor === undefined ? this.store.read(partition, key) : this.deps.hints.get(hintFor, partition, key);
    if (force !== true && !this.deps.transport.isUp(member)) return Promise.reject(new Error(`${member} is unreachable`));
    return this.deps.transport.read(member, partition, key, hintFor, force);
  }

  /** Send the merge of every answer to each primary that answered with less. */
  private readRepair(partition: number, key: Buffer, targets: readonly ReadTarget[], answers: ReadonlyArray<SiblingSet | undefined>): void {
    const merged = mergeAll(answers);
    targets.forEach((target, i) => {
      const answer = answers[i];
      if (target.hintFor !== undefined || answer === undefined || sameDots(answer, merged)) return;
      this.stats.readRepairs++;
      this.syncReplica(target.member, partition, key, merged).catch(() => undefined);
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
    const need = Math.min(options.w ?? this.deps.w, pref.length);
    if (!pref.includes(this.self)) return this.mutateAsFallback(partition, key, pref, fn, options, need);
    const base = (options.fresh ?? true) && pref.length > 1 ? await this.read(key) : undefined;
    const { result, written } = await this.localUpdate(partition, key, fn, base, options.fromClient ?? true);
    if (written === undefined) return result;
    if (pref.length === 1 && this.deps.ring.pendingReplicas === undefined) return result;
    await this.replicate(partition, key, pref, written, need, true);
    return result;
  }

  /**
   * Coordinate a write for a key this node does not replicate (no primary was reachable to
   * forward it to): base it on whatever replicas answer plus this node's journal of the key
   * (fallback-journal.ts explains why the journal and its episode actor are needed), write,
   * and hand the whole set to stand-ins for the primaries.
   */
  private async mutateAsFallback<T>(
    partition: number,
    key: Buffer,
    pref: readonly string[],
    fn: MutationFn<T>,
    options: MutateOptions,
    need: number,
  ): Promise<T> {
    this.stats.fallbackCoordinated++;
    let base: SiblingSet = [];
    try {
      base = await this.quorumRead(partition, key, pref, 1);
    } catch {
      // Nothing answered: the write becomes a sibling of whatever the replicas hold.
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const { result, written } = await this.deps.journal.update<{ result: T; written: SiblingSet | undefined }>(partition, key, (episode) => {
          const current = episode === undefined ? base : sync(episode.set, base);
          const now = this.clock();
          const m = fn(current, now);
          if (m.write === undefined) return { result: { result: m.result, written: undefined } };
          const actor = episode?.actor ?? `${this.deps.actor}~${this.deps.sequence.next()}`;
          const next = this.putLocal(current, m.write, now, options.fromClient ?? true, actor);
          return { next: { actor, createdAtMs: episode?.createdAtMs ?? now, set: next }, result: { result: m.result, written: next } };
        });
        if (written !== undefined) await this.replicate(partition, key, pref, written, need, false);
        return result;
      } catch (err) {
        if (err instanceof SequenceExhaustedError && attempt < 3) {
          await this.deps.sequence.ready();
          continue;
        }
        throw err;
      }
    }
  }

  /** The put of DESIGN.md §3 at `actor` (this coordinator's), with a fresh dot from its sequence. */
  private putLocal(
    current: SiblingSet,
    write: NonNullable<Mutation<unknown>['write']>,
    now: number,
    fromClient: boolean,
    actor: string = this.deps.actor,
  ): SiblingSet {
    const context = write.context ?? contextOf(current);
    const atLeast = Math.max(maxCounterOf(current, actor), context.get(actor) ?? 0) + 1;
    const counter = this.deps.sequence.next(atLeast);
    const next = put(current, context, actor, counter, { value: write.value, ts: now, expireAt: write.expireAt });
    if (fromClient && next.length > limits.siblingsMax) throw Errors.tooManySiblings(next.length);
    if (next.length > limits.siblingsWarn) {
      this.stats.manySiblings++;
      if (now - this.lastSiblingWarningMs >= limits.siblingsWarnIntervalMs) {
        this.lastSiblingWarningMs = now;
        this.deps.log?.('warn', `a key has ${next.length} siblings (writers are not passing contexts from VGET to VSET?); ${this.stats.manySiblings} such writes so far`);
      }
    }
    this.stats.writes++;
    return next;
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
          const next = this.putLocal(current, m.write, now, fromClient);
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

  /**
   * Send the whole set to the other primaries; resolve when `need` of them (this node
   * included when `selfStored`) hold it, directly or through a stand-in's hint.
   */
  private replicate(partition: number, key: Buffer, pref: readonly string[], set: SiblingSet, need: number, selfStored: boolean): Promise<void> {
    const pending = this.deps.ring.pendingReplicas?.(partition) ?? [];
    if (pending.length === 0) return this.replicateToPrimaries(partition, key, pref, set, need, selfStored);
    // A pending replica may already have pulled this key: the write must reach it or be kept
    // for it as a hint before the client hears OK, or the new replica could miss it.
    return Promise.all([
      this.replicateToPrimaries(partition, key, pref, set, need, selfStored),
      ...pending.map((m) => this.toPending(m, partition, key, set)),
    ]).then(() => undefined);
  }

  private async toPending(member: string, partition: number, key: Buffer, set: SiblingSet): Promise<void> {
    if (member === this.self) {
      await this.syncLocal(partition, key, set);
      return;
    }
    try {
      if (!this.deps.transport.isUp(member)) throw new Error('unreachable');
      await this.deps.transport.write(member, partition, key, set);
    } catch {
      await this.deps.hints.put(member, partition, key, set);
      this.stats.hintedWrites++;
    }
  }

  private replicateToPrimaries(partition: number, key: Buffer, pref: readonly string[], set: SiblingSet, need: number, selfStored: boolean): Promise<void> {
    const others = pref.filter((m) => m !== this.self);
    const standIns = new StandIns(this.deps.ring.fallbacks(partition), (m) => this.available(m));
    return new Promise((resolve, reject) => {
      let acks = selfStored ? 1 : 0;
      let failed = 0;
      let settled = false;
      const check = (): void => {
        if (settled) return;
        if (acks >= need) {
          settled = true;
          resolve();
        } else if ((selfStored ? 1 : 0) + others.length - failed < need) {
          // Even if every primary still pending answers, the write cannot reach W.
          settled = true;
          this.stats.writeQuorumFailures++;
          reject(Errors.noQuorum(acks, need, 'write'));
        }
      };
      check();
      for (const member of others) {
        const direct = this.available(member) ? this.syncReplica(member, partition, key, set).then(() => true) : Promise.resolve(false);
        direct
          .catch(() => false)
          .then((ok) => (ok ? true : this.handOff(member, partition, key, set, standIns, !this.available(member))))
          .then(
            (ok) => {
              if (ok) acks++;
              else failed++;
              check();
            },
            () => {
              failed++;
              check();
            },
          );
      }
    });
  }

  /**
   * Give `set` to a stand-in for an unreachable primary: the next reachable fallback stores
   * it as a hint (true: it counts toward W). With no fallback left, keep the hint here
   * (false: it does not count, but the primary is brought up to date when it is back).
   */
  private async handOff(primary: string, partition: number, key: Buffer, set: SiblingSet, standIns: StandIns, untried: boolean): Promise<boolean> {
    for (let f = standIns.next(); f !== undefined; f = standIns.next()) {
      try {
        if (f === this.self) await this.deps.hints.put(primary, partition, key, set);
        else await this.deps.transport.hint(f, primary, partition, key, set);
        this.stats.hintedWrites++;
        return true;
      } catch {
        // That stand-in failed too: try the next.
      }
    }
    // No stand-in: a primary that was skipped only because it is suspect may still answer.
    if (untried && this.deps.transport.isConnected?.(primary) === true) {
      try {
        await this.deps.transport.write(primary, partition, key, set, true);
        return true;
      } catch {
        // It did not: keep the hint below.
      }
    }
    try {
      await this.deps.hints.put(primary, partition, key, set);
      this.stats.hintedWrites++;
    } catch (err) {
      if (!(err instanceof HintLimitError)) throw err;
    }
    return false;
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

  private keyspace: { keys: number; expires: number; atMs: number } | undefined;
  private counting: Promise<void> | undefined;

  /**
   * This node's replica's live keys for INFO keyspace, without waiting: the last background
   * count (refreshed when older than limits.keyspaceCountMaxAgeMs; a count is O(keys)), or
   * undefined before the first one finishes. Clients send INFO on every connect (ioredis's
   * ready check), so it must not scan the keyspace each time.
   */
  keyspaceEstimate(): { keys: number; expires: number } | undefined {
    const now = this.clock();
    if ((this.keyspace === undefined || now - this.keyspace.atMs > limits.keyspaceCountMaxAgeMs) && this.counting === undefined) {
      this.counting = this.countLive('local')
        .then((c) => {
          this.keyspace = { ...c, atMs: this.clock() };
        })
        .catch(() => undefined)
        .finally(() => {
          this.counting = undefined;
        });
    }
    return this.keyspace;
  }

  /** Forget the keyspace count (after FLUSHALL or a bulk change). */
  private keyspaceChanged(): void {
    this.keyspace = undefined;
  }

  /** Delete every key on every member (FLUSHALL). Fails naming the members it could not reach. */
  async flushAll(): Promise<void> {
    const others = this.deps.ring.memberIds.filter((m) => m !== this.self);
    const results = await Promise.allSettled([
      this.store.clearAll(),
      ...others.map((m) => (this.deps.transport.isUp(m) ? this.deps.transport.flushAll(m) : Promise.reject(new Error('unreachable')))),
    ]);
    this.keyspaceChanged();
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

/**
 * The fallbacks of one write, handed out in ring order to the primaries that need a stand-in;
 * each fallback stands in for at most one primary of the write.
 */
class StandIns {
  private next_ = 0;
  constructor(
    private readonly fallbacks: readonly string[],
    private readonly available: (member: string) => boolean,
  ) {}

  next(): string | undefined {
    while (this.next_ < this.fallbacks.length) {
      const f = this.fallbacks[this.next_++] as string;
      if (this.available(f)) return f;
    }
    return undefined;
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
