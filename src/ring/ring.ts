/**
 * The ring of one membership: partition ownership from claim() (a pure function of the member
 * set, Q and N), the key → partition function, and every partition's preference list and
 * fallbacks (DESIGN.md §4).
 *
 *  - preferenceList(p): walk clockwise from p (p, p+1, …, wrapping) and keep each owner the
 *    first time it is met, until min(N, M) members are chosen. claim() keeps any
 *    W = min(N, M, Q) consecutive partitions on distinct owners (see claim.ts for the one
 *    exception at the wrap point), so the walk usually ends after W partitions.
 *  - fallbacks(p): the remaining members in the order the same walk first meets them, for
 *    sloppy quorum and hinted handoff.
 *  - Members that own no partition (only when M > Q) are never met by a walk. They complete a
 *    preference list that would otherwise be short (only when Q < min(N, M)) and end the
 *    fallbacks, in id order rotated by the partition number, so that such partitions do not
 *    all pick the same member.
 *
 * Preference lists are computed for every partition up front, so the request path reads one
 * array; fallbacks are computed on first use and cached (Q·M entries would be large for big
 * clusters, and only failure handling needs them).
 */
import { claim, type MemberSpec } from './claim.js';
import { makePartitioner, type PartitionScheme } from './partition.js';

export type { MemberSpec } from './claim.js';

export interface RingOptions {
  readonly partitions: number;
  readonly n: number;
  readonly scheme: PartitionScheme;
}

export class Ring {
  /** owners[p] = id of the member that owns partition p (from claim()). */
  readonly owners: readonly string[];
  /** The members, sorted by id. */
  readonly members: readonly MemberSpec[];
  readonly partitions: number;
  readonly n: number;
  readonly scheme: PartitionScheme;
  private readonly partitioner: (key: Buffer) => number;
  private readonly preference: readonly (readonly string[])[];
  private readonly fallbackCache: (readonly string[] | undefined)[];
  private readonly ownerIndex: Int32Array;
  private readonly owned = new Map<string, number[]>();
  private readonly replicated = new Map<string, number[]>();
  /** Members that own no partition, in id order. */
  private readonly idle: readonly number[];

  constructor(members: readonly MemberSpec[], options: RingOptions) {
    const { partitions, n, scheme } = options;
    this.partitioner = makePartitioner(scheme, partitions);
    this.partitions = partitions;
    this.n = n;
    this.scheme = scheme;
    this.owners = Object.freeze(claim(members, partitions, n));
    this.members = Object.freeze(
      [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((m) => Object.freeze({ id: m.id, zone: m.zone })),
    );
    const index = new Map(this.members.map((m, i) => [m.id, i]));
    this.ownerIndex = Int32Array.from(this.owners, (id) => index.get(id) as number);
    for (const m of this.members) {
      this.owned.set(m.id, []);
      this.replicated.set(m.id, []);
    }
    this.owners.forEach((id, p) => (this.owned.get(id) as number[]).push(p));
    this.idle = this.members.flatMap((m, i) => ((this.owned.get(m.id) as number[]).length === 0 ? [i] : []));

    const want = Math.min(n, this.members.length);
    const seen = new Int32Array(this.members.length);
    const preference: (readonly string[])[] = [];
    for (let p = 0; p < partitions; p++) {
      const list: string[] = [];
      for (let step = 0; step < partitions && list.length < want; step++) {
        const m = this.ownerIndex[(p + step) % partitions] as number;
        if (seen[m] === p + 1) continue;
        seen[m] = p + 1;
        list.push((this.members[m] as MemberSpec).id);
      }
      for (const m of this.idleOrder(p)) {
        if (list.length >= want) break;
        list.push((this.members[m] as MemberSpec).id);
      }
      preference.push(Object.freeze(list));
      for (const id of list) (this.replicated.get(id) as number[]).push(p);
    }
    this.preference = preference;
    this.fallbackCache = new Array<readonly string[] | undefined>(partitions);
  }

  /** The partition of a key, by the scheme chosen when the cluster was created. */
  partitionOf(key: Buffer): number {
    return this.partitioner(key);
  }

  /** The first min(N, M) distinct owners walking clockwise from partition p (p, p+1, …, wrapping). */
  preferenceList(partition: number): readonly string[] {
    return this.preference[this.check(partition)] as readonly string[];
  }

  /** The remaining members in clockwise first-appearance order after the preference list (for sloppy quorum). */
  fallbacks(partition: number): readonly string[] {
    const p = this.check(partition);
    const cached = this.fallbackCache[p];
    if (cached !== undefined) return cached;
    const chosen = new Set(this.preference[p]);
    const list: string[] = [];
    const total = this.members.length - chosen.size;
    const seen = new Uint8Array(this.members.length);
    for (let step = 0; step < this.partitions && list.length < total; step++) {
      const m = this.ownerIndex[(p + step) % this.partitions] as number;
      const id = (this.members[m] as MemberSpec).id;
      if (seen[m] === 1 || chosen.has(id)) continue;
      seen[m] = 1;
      list.push(id);
    }
    for (const m of this.idleOrder(p)) {
      const id = (this.members[m] as MemberSpec).id;
      if (!chosen.has(id)) list.push(id);
    }
    const frozen = Object.freeze(list);
    this.fallbackCache[p] = frozen;
    return frozen;
  }

  /** Partitions this member owns (as primary), ascending; [] for an unknown id. */
  ownedBy(id: string): number[] {
    return [...(this.owned.get(id) ?? [])];
  }

  /** Partitions whose preference list contains this member, ascending; [] for an unknown id. */
  replicatedBy(id: string): number[] {
    return [...(this.replicated.get(id) ?? [])];
  }

  /** Members owning nothing, in id order rotated by the partition number. */
  private idleOrder(p: number): number[] {
    const k = this.idle.length;
    if (k === 0) return [];
    return Array.from({ length: k }, (_, i) => this.idle[(p + i) % k] as number);
  }

  private check(partition: number): number {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(`partition out of range: ${partition} (ring has ${this.partitions})`);
    }
    return partition;
  }
}
