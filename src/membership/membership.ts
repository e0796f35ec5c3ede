/**
 * Membership (DESIGN.md §5): the member records of the cluster as this node knows them,
 * spread by gossip, persisted, and turned into rings.
 *
 *  - Gossip: about once a second this node bumps its own heartbeat and exchanges its records
 *    with a few random reachable peers (DYN.GOSSIP): each side merges the other's
 *    (members.ts). Seeds are contacted until their records are known.
 *  - Bootstrap: a node whose data directory has no records and which is in its own seed list
 *    starts with every seed as an up member (a new cluster); one that is not in it starts
 *    as `new` and learns the cluster from the seeds; it takes part only after a join is
 *    committed.
 *  - Operator changes (join, leave, remove) are staged on the node the operator talks to,
 *    shown as a plan of what would move, and take effect on commit: the records change with a
 *    bumped version and gossip carries them.
 *  - Rings: the current ring (reads, writes, anti-entropy) and, during a transition, the
 *    target ring, whose new replicas receive writes as pending replicas and pull their
 *    partitions (transfer.ts). When all of them are ready, joining members become up and
 *    leaving ones left; a node that sees itself left shuts down.
 */
import { randomInt } from 'node:crypto';
import { DynisError } from '../errors.js';
import { limits } from '../limits.js';
import type { RingView } from '../replication/coordinator.js';
import { Ring } from '../ring/ring.js';
import type { PartitionScheme } from '../ring/partition.js';
import { makePartitioner } from '../ring/partition.js';
import type { StorageEngine } from '../storage/engine.js';
import { metaKey } from '../storage/key-layout.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import {
  currentMembers,
  decodeRecords,
  encodeRecords,
  memberSetHash,
  mergeRecords,
  promoteIfReady,
  sameRecords,
  targetMembers,
  type MemberRecord,
} from './members.js';

const RECORDS_KEY = metaKey('members');

export interface SelfAddress {
  readonly id: string;
  readonly host: string;
  readonly peerPort: number;
  readonly port: number;
  readonly zone: string;
  readonly incarnation: string;
}

export interface SeedAddress {
  readonly id: string;
  readonly host: string;
  readonly peerPort: number;
  readonly zone: string;
}

/** What membership needs of the peer bus. */
export interface MembershipBus {
  add(address: { id: string; host: string; port: number }): void;
  remove(id: string): void;
  has(id: string): boolean;
  isUp(member: string): boolean;
  gossip(member: string, records: Buffer): Promise<Buffer>;
}

export interface MembershipOptions {
  readonly partitions: number;
  readonly n: number;
  readonly scheme: PartitionScheme;
  readonly gossipIntervalMs: number;
  readonly clock?: () => number;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
}

export type StagedChange = { readonly kind: 'join' | 'leave' | 'remove'; readonly id: string };

/** A transition from the current ring to the target ring. */
export interface Transition {
  readonly hash: string;
  /** Member → partitions it must pull before the target ring can take over. */
  readonly needed: ReadonlyMap<string, readonly number[]>;
}

export class Membership {
  private records: MemberRecord[] = [];
  private currentRing: Ring | undefined;
  private targetRing: Ring | undefined;
  private transitionState: Transition | undefined;
  private staged: StagedChange[] = [];
  private timer: NodeJS.Timeout | undefined;
  private persistPending = false;
  private leftNotified = false;
  private readonly partitioner: (key: Buffer) => number;
  private readonly listeners: Array<() => void> = [];
  /** Called once when this node's record says it has left the cluster. */
  onLeft: (() => void) | undefined;

  constructor(
    private readonly self: SelfAddress,
    private readonly seeds: readonly SeedAddress[],
    private readonly engine: StorageEngine,
    private readonly store: ReplicaStore,
    private readonly bus: MembershipBus,
    private readonly options: MembershipOptions,
  ) {
    this.partitioner = makePartitioner(options.scheme, options.partitions);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** Load persisted records, or bootstrap them from the seeds. */
  async open(): Promise<void> {
    const raw = await this.engine.get(RECORDS_KEY);
    let records: MemberRecord[] = [];
    if (raw !== undefined) {
      records = decodeRecords(raw);
    } else if (this.seeds.some((s) => s.id === this.self.id)) {
      records = this.seeds.map((s) => this.initialRecord(s, 'up'));
    }
    const mine = records.find((r) => r.id === this.self.id);
    const selfRecord: MemberRecord = {
      ...(mine ?? this.initialRecord(this.self, 'new')),
      host: this.self.host,
      peerPort: this.self.peerPort,
      zone: mine?.zone ?? this.self.zone,
      port: this.self.port,
      incarnation: this.self.incarnation,
      heartbeat: Math.max((mine?.heartbeat ?? 0) + 1, this.now()),
    };
    this.records = mergeRecords(
      records.filter((r) => r.id !== this.self.id),
      [selfRecord],
    );
    this.apply(true);
  }

  private initialRecord(s: SeedAddress, status: MemberRecord['status']): MemberRecord {
    return { id: s.id, host: s.host, peerPort: s.peerPort, zone: s.zone, status, version: 0, heartbeat: 0, port: 0, incarnation: '', ready: '' };
  }

  start(): void {
    this.timer = setInterval(() => void this.gossipRound(), this.options.gossipIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Run `fn` whenever the rings or the records change. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  // --- Records and rings ------------------------------------------------------------------

  list(): readonly MemberRecord[] {
    return this.records;
  }

  get selfRecord(): MemberRecord {
    return this.records.find((r) => r.id === this.self.id) as MemberRecord;
  }

  get selfId(): string {
    return this.self.id;
  }

  /** Merge records received by gossip; true when anything changed. */
  merge(incoming: readonly MemberRecord[]): boolean {
    const mine = this.selfRecord;
    let next = mergeRecords(this.records, incoming);
    // Each message is bounded on decode; the union of many must be bounded too.
    if (next.length > limits.membersMax) {
      throw new DynisError('ERR', `member records would exceed ${limits.membersMax} members; refused`);
    }
    // Only this node sets its owner fields. A copy from before a restart may carry a higher
    // heartbeat: keep ours and move the heartbeat past it, so ours win everywhere from now on.
    const merged = next.find((r) => r.id === this.self.id) as MemberRecord;
    if (merged.heartbeat !== mine.heartbeat || merged.ready !== mine.ready || merged.incarnation !== mine.incarnation || merged.port !== mine.port) {
      const fixed = { ...merged, heartbeat: Math.max(merged.heartbeat, mine.heartbeat) + 1, ready: mine.ready, incarnation: mine.incarnation, port: mine.port };
      next = next.map((r) => (r.id === this.self.id ? fixed : r));
    }
    if (sameRecords(next, this.records)) return false;
    this.records = next;
    this.apply(false);
    return true;
  }

  /** Change this node's own owner fields (bumps the heartbeat). */
  private updateSelf(change: Partial<Pick<MemberRecord, 'ready'>>): void {
    const mine = this.selfRecord;
    const updated: MemberRecord = { ...mine, ...change, heartbeat: Math.max(mine.heartbeat + 1, this.now()) };
    this.records = this.records.map((r) => (r.id === this.self.id ? updated : r));
    this.apply(false);
  }

  /** Recompute the rings and the transition, promote a finished one, update peers, persist. */
  private apply(initial: boolean): void {
    for (let round = 0; round < 2; round++) {
      const current = currentMembers(this.records);
      const target = targetMembers(this.records);
      const currentIds = current.map((m) => `${m.id}@${m.zone}`).join(',');
      const targetIds = target.map((m) => `${m.id}@${m.zone}`).join(',');
      if (this.currentRing === undefined || ringKey(this.currentRing) !== currentIds) {
        this.currentRing = current.length === 0 ? undefined : this.ring(current);
      }
      if (targetIds === currentIds) {
        this.targetRing = undefined;
        this.transitionState = undefined;
        break;
      }
      if (this.targetRing === undefined || ringKey(this.targetRing) !== targetIds) {
        this.targetRing = target.length === 0 ? undefined : this.ring(target);
        this.transitionState = this.computeTransition(target);
      }
      const promoted = promoteIfReady(this.records, new Set((this.transitionState as Transition).needed.keys()));
      if (sameRecords(promoted, this.records)) break;
      this.options.log?.('info', `ring transition ${(this.transitionState as Transition).hash} complete: ${describeChanges(this.records, promoted)}`);
      this.records = promoted;
    }
    this.syncPeers();
    if (!initial) this.schedulePersist();
    for (const fn of this.listeners) fn();
    if (this.selfRecord.status === 'left' && !this.leftNotified) {
      this.leftNotified = true;
      this.options.log?.('info', 'this node has left the cluster');
      this.onLeft?.();
    }
  }

  private ring(members: readonly MemberRecord[]): Ring {
    return new Ring(
      members.map((m) => ({ id: m.id, zone: m.zone })),
      { partitions: this.options.partitions, n: Math.min(this.options.n, members.length), scheme: this.options.scheme },
    );
  }

  private computeTransition(target: readonly MemberRecord[]): Transition {
    const hash = memberSetHash(target);
    const needed = new Map<string, number[]>();
    const tr = this.targetRing;
    if (tr === undefined) return { hash, needed };
    for (let p = 0; p < this.options.partitions; p++) {
      const before = this.currentRing?.preferenceList(p) ?? [];
      for (const id of tr.preferenceList(p)) {
        if (before.includes(id)) continue;
        const list = needed.get(id) ?? [];
        list.push(p);
        needed.set(id, list);
      }
    }
    return { hash, needed };
  }

  /** Talk to every member that is not gone, and to the seeds until their records are known. */
  private syncPeers(): void {
    const wanted = new Map<string, { id: string; host: string; port: number }>();
    for (const r of this.records) if (r.id !== this.self.id && r.status !== 'left') wanted.set(r.id, { id: r.id, host: r.host, port: r.peerPort });
    for (const s of this.seeds) if (s.id !== this.self.id && !this.records.some((r) => r.id === s.id)) wanted.set(s.id, { id: s.id, host: s.host, port: s.peerPort });
    for (const [id, address] of wanted) if (!this.bus.has(id)) this.bus.add(address);
    for (const r of this.records) if (r.status === 'left' && r.id !== this.self.id && this.bus.has(r.id)) this.bus.remove(r.id);
  }

  private schedulePersist(): void {
    if (this.persistPending) return;
    this.persistPending = true;
    setTimeout(() => {
      this.persistPending = false;
      void this.persist().catch((err: unknown) => this.options.log?.('warn', `persisting member records: ${String(err)}`));
    }, 50).unref();
  }

  async persist(): Promise<void> {
    await this.store.writeOther([{ type: 'put', key: RECORDS_KEY, value: encodeRecords(this.records) }]);
  }

  /** The current ring (undefined until this node knows any member that is up). */
  get current(): Ring | undefined {
    return this.currentRing;
  }

  get target(): Ring | undefined {
    return this.targetRing;
  }

  get transition(): Transition | undefined {
    return this.transitionState;
  }

  /** Partitions this node must pull for the target ring (none when not in transition). */
  neededBySelf(): readonly number[] {
    return this.transitionState?.needed.get(this.self.id) ?? [];
  }

  /** This node has pulled every partition it needs for the target `hash`. */
  markReady(hash: string): void {
    if (this.transitionState?.hash !== hash || this.selfRecord.ready === hash) return;
    this.options.log?.('info', `ready for ring ${hash}`);
    this.updateSelf({ ready: hash });
    void this.gossipRound();
  }

  /** The RingView the coordinator uses: the current ring, and pending replicas from the target. */
  ringView(): RingView {
    const ring = (): Ring => {
      const r = this.currentRing;
      if (r === undefined) throw new DynisError('CLUSTERDOWN', 'this node is not part of a cluster yet (no member is up)');
      return r;
    };
    const memberIds = (): readonly string[] => this.currentRing?.members.map((m) => m.id) ?? [];
    return {
      partitions: this.options.partitions,
      get memberIds(): readonly string[] {
        return memberIds();
      },
      partitionOf: (key) => this.partitioner(key),
      preferenceList: (p) => ring().preferenceList(p),
      fallbacks: (p) => ring().fallbacks(p),
      pendingReplicas: (p) => {
        const t = this.targetRing;
        if (t === undefined) return [];
        const now = ring().preferenceList(p);
        return t.preferenceList(p).filter((id) => !now.includes(id));
      },
    };
  }

  // --- Gossip -------------------------------------------------------------------------------

  async gossipRound(): Promise<void> {
    this.updateSelf({});
    const candidates = [...new Set([...this.records.map((r) => r.id), ...this.seeds.map((s) => s.id)])].filter(
      (id) => id !== this.self.id && this.bus.isUp(id) && this.records.find((r) => r.id === id)?.status !== 'left',
    );
    const chosen: string[] = [];
    while (chosen.length < limits.gossipFanout && candidates.length > 0) chosen.push(candidates.splice(randomInt(candidates.length), 1)[0] as string);
    await Promise.all(
      chosen.map(async (id) => {
        try {
          this.merge(decodeRecords(await this.bus.gossip(id, encodeRecords(this.records))));
        } catch {
          // The peer did not answer this round; the failure detector deals with it.
        }
      }),
    );
  }

  /** DYN.GOSSIP on this side: merge what a peer sent, answer with what this node knows. */
  receive(payload: Buffer): Buffer {
    this.merge(decodeRecords(payload));
    return encodeRecords(this.records);
  }

  // --- Operator changes ---------------------------------------------------------------------

  stagedChanges(): readonly StagedChange[] {
    return this.staged;
  }

  stage(change: StagedChange): void {
    const record = this.records.find((r) => r.id === change.id);
    if (record === undefined) throw new DynisError('ERR', `unknown member '${change.id}'`);
    if (this.staged.some((c) => c.id === change.id)) throw new DynisError('ERR', `a change of ${change.id} is already staged (DYNIS ABORT to drop it)`);
    if (change.kind === 'join' && record.status !== 'new') throw new DynisError('ERR', `${change.id} is ${record.status}, not new: only a new node can join`);
    if (change.kind === 'leave' && record.status !== 'up') throw new DynisError('ERR', `${change.id} is ${record.status}, not up: only an up member can leave`);
    if (change.kind === 'remove' && (record.status === 'left' || record.status === 'leaving')) {
      throw new DynisError('ERR', `${change.id} is already ${record.status}`);
    }
    if (change.kind === 'remove' && change.id === this.self.id) throw new DynisError('ERR', 'a node cannot remove itself: use DYNIS LEAVE');
    this.staged.push(change);
  }

  abort(): void {
    this.staged = [];
  }

  /** The records after the staged changes (versions bumped). */
  private applyStaged(records: readonly MemberRecord[]): MemberRecord[] {
    return records.map((r) => {
      const change = this.staged.find((c) => c.id === r.id);
      if (change === undefined) return r;
      const status: MemberRecord['status'] =
        change.kind === 'join' ? 'joining' : change.kind === 'leave' ? 'leaving' : r.status === 'up' ? 'leaving' : 'left';
      return { ...r, status, version: r.version + 1 };
    });
  }

  /** What committing the staged changes would do: per member, partitions owned now and after, and transfers. */
  plan(): string[] {
    if (this.staged.length === 0) return ['no changes staged'];
    const after = this.applyStaged(this.records);
    const target = targetMembers(after);
    if (target.length < this.options.n) throw new DynisError('ERR', `the plan leaves ${target.length} members, fewer than N=${this.options.n}`);
    const ring = this.ring(target);
    const now = this.currentRing;
    const lines = this.staged.map((c) => `${c.kind} ${c.id}`);
    let moved = 0;
    for (let p = 0; p < this.options.partitions; p++) {
      const before = now?.preferenceList(p) ?? [];
      moved += ring.preferenceList(p).filter((id) => !before.includes(id)).length;
    }
    for (const m of mergeRecords(after, [])) {
      if (m.status === 'left' || m.status === 'new') continue;
      const ownedNow = now?.ownedBy(m.id).length ?? 0;
      const ownedAfter = ring.ownedBy(m.id).length;
      lines.push(`${m.id} ${m.status === 'joining' || m.status === 'leaving' ? m.status : 'up'}: owns ${ownedNow} -> ${ownedAfter} partitions`);
    }
    lines.push(`${moved} partition replicas will be transferred`);
    return lines;
  }

  /** Apply the staged changes. */
  commit(): string[] {
    const lines = this.plan();
    if (this.staged.length === 0) throw new DynisError('ERR', 'no changes staged');
    this.records = this.applyStaged(this.records);
    this.staged = [];
    this.apply(false);
    void this.gossipRound();
    return lines;
  }
}

function ringKey(ring: Ring): string {
  return ring.members.map((m) => `${m.id}@${m.zone}`).join(',');
}

function describeChanges(before: readonly MemberRecord[], after: readonly MemberRecord[]): string {
  const changes: string[] = [];
  for (const a of after) {
    const b = before.find((r) => r.id === a.id);
    if (b !== undefined && b.status !== a.status) changes.push(`${a.id} ${b.status} -> ${a.status}`);
  }
  return changes.join(', ');
}
