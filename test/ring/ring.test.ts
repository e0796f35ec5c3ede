/**
 * Ring: preference lists, fallbacks, ownedBy / replicatedBy and partitionOf, checked against a
 * direct clockwise walk over the owners array that claim() returns.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Ring } from '../../src/ring/ring.js';
import { claim, claimShape, type MemberSpec } from '../../src/ring/claim.js';
import { makePartitioner, type PartitionScheme } from '../../src/ring/partition.js';

const membersArb = (min: number, max: number): fc.Arbitrary<MemberSpec[]> =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: 99_999 }), { minLength: min, maxLength: max })
    .chain((ns) =>
      fc
        .array(fc.integer({ min: 0, max: 4 }), { minLength: ns.length, maxLength: ns.length })
        .map((zones) => ns.map((n, i) => ({ id: `node-${n}`, zone: `az-${zones[i] ?? 0}` }))),
    );
const schemeArb = fc.constantFrom<PartitionScheme>('redis-slot', 'md5');
const smallQArb = fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128, 256);

/** Distinct owners in the order a clockwise walk from p first meets them. */
function walk(owners: readonly string[], p: number): string[] {
  const seen: string[] = [];
  for (let i = 0; i < owners.length; i++) {
    const o = owners[(p + i) % owners.length] as string;
    if (!seen.includes(o)) seen.push(o);
  }
  return seen;
}

describe('Ring', () => {
  it('builds preference lists and fallbacks from a clockwise walk over the owners', () => {
    fc.assert(
      fc.property(membersArb(1, 24), smallQArb, fc.integer({ min: 1, max: 5 }), schemeArb, (members, Q, N, scheme) => {
        const ring = new Ring(members, { partitions: Q, n: N, scheme });
        expect(ring.owners).toEqual(claim(members, Q, N));
        expect(ring.members.map((m) => m.id)).toEqual(members.map((m) => m.id).sort());
        const ids = ring.members.map((m) => m.id);
        const want = Math.min(N, members.length);
        for (let p = 0; p < Q; p++) {
          const pref = ring.preferenceList(p);
          const fallbacks = ring.fallbacks(p);
          const met = walk(ring.owners, p);
          expect(pref).toHaveLength(want);
          expect(new Set(pref).size).toBe(want);
          expect(pref[0]).toBe(ring.owners[p]);
          // The walk's owners first; members owning nothing only when the walk runs short.
          expect(pref.slice(0, Math.min(want, met.length))).toEqual(met.slice(0, want));
          for (const id of pref.slice(met.length)) expect(ring.ownedBy(id)).toEqual([]);
          // Fallbacks: the rest of the walk in order, then the members owning nothing.
          expect(fallbacks.filter((id) => pref.includes(id))).toEqual([]);
          expect([...pref, ...fallbacks].sort()).toEqual(ids);
          expect(fallbacks.slice(0, Math.max(0, met.length - want))).toEqual(met.slice(want));
        }
        for (const id of ids) {
          expect(ring.ownedBy(id)).toEqual(ring.owners.flatMap((o, p) => (o === id ? [p] : [])));
          expect(ring.replicatedBy(id)).toEqual(Array.from({ length: Q }, (_, p) => p).filter((p) => ring.preferenceList(p).includes(id)));
        }
        expect(ring.ownedBy('nobody')).toEqual([]);
        expect(ring.replicatedBy('nobody')).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('takes the N partitions starting at p as the preference list wherever claim keeps them distinct', () => {
    fc.assert(
      fc.property(membersArb(1, 64), fc.constantFrom(64, 256, 1024), fc.integer({ min: 1, max: 5 }), (members, Q, N) => {
        fc.pre(members.length >= N);
        const ring = new Ring(members, { partitions: Q, n: N, scheme: 'redis-slot' });
        const shape = claimShape(members, Q, N);
        for (let p = 0; p < Q; p++) {
          if (shape.members === 'no-wrap' && p + N > Q) continue;
          expect(ring.preferenceList(p)).toEqual(Array.from({ length: N }, (_, i) => ring.owners[(p + i) % Q]));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('spreads replicas evenly: each member is in about N/M of the preference lists', () => {
    fc.assert(
      fc.property(membersArb(2, 40), fc.constantFrom(256, 1024), fc.integer({ min: 1, max: 5 }), (members, Q, N) => {
        fc.pre(members.length >= 2 * N);
        const ring = new Ring(members, { partitions: Q, n: N, scheme: 'redis-slot' });
        // With distinct windows a member is in the lists of the N partitions ending at each
        // of its own, so its replica count is N times its owned count.
        for (const m of ring.members) expect(ring.replicatedBy(m.id).length).toBe(N * ring.ownedBy(m.id).length);
      }),
      { numRuns: 40 },
    );
  });

  it('maps keys with the scheme the cluster was created with', () => {
    fc.assert(
      fc.property(schemeArb, fc.constantFrom(1, 16, 256, 4096, 16384), fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: 30 }), (scheme, Q, keys) => {
        const ring = new Ring([{ id: 'a', zone: 'z' }], { partitions: Q, n: 1, scheme });
        const partitioner = makePartitioner(scheme, Q);
        for (const k of keys) {
          const key = Buffer.from(k);
          const p = ring.partitionOf(key);
          expect(p).toBe(partitioner(key));
          expect(ring.preferenceList(p)).toEqual(['a']);
        }
      }),
      { numRuns: 60 },
    );
    // The Redis Cluster slot layout: {hash tags} pin keys to one partition.
    const ring = new Ring([{ id: 'a', zone: 'z' }, { id: 'b', zone: 'z' }], { partitions: 256, n: 1, scheme: 'redis-slot' });
    expect(ring.partitionOf(Buffer.from('{user1000}.following'))).toBe(ring.partitionOf(Buffer.from('{user1000}.followers')));
  });

  it('completes preference lists with members that own nothing when Q is smaller than N', () => {
    const members = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, zone: id }));
    const ring = new Ring(members, { partitions: 2, n: 3, scheme: 'md5' });
    const idle = ring.members.map((m) => m.id).filter((id) => ring.ownedBy(id).length === 0);
    expect(idle).toHaveLength(3);
    for (const p of [0, 1]) {
      const pref = ring.preferenceList(p);
      expect(pref.slice(0, 2)).toEqual(walk(ring.owners, p));
      expect(idle).toContain(pref[2]);
      expect([...pref, ...ring.fallbacks(p)].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    }
    // Rotated by partition, so the two partitions do not lean on the same idle member.
    expect(ring.preferenceList(0)[2]).not.toBe(ring.preferenceList(1)[2]);
  });

  it('puts every member in every preference list when M = N', () => {
    const members = ['n1', 'n2', 'n3'].map((id, i) => ({ id, zone: `az-${i}` }));
    const ring = new Ring(members, { partitions: 256, n: 3, scheme: 'redis-slot' });
    for (let p = 0; p < 256; p++) expect([...ring.preferenceList(p)].sort()).toEqual(['n1', 'n2', 'n3']);
    for (const id of ['n1', 'n2', 'n3']) expect(ring.replicatedBy(id)).toHaveLength(256);
    expect(ring.fallbacks(7)).toEqual([]);
  });

  it('does not let callers change it through returned arrays', () => {
    const ring = new Ring(
      ['a', 'b', 'c', 'd'].map((id) => ({ id, zone: 'z' })),
      { partitions: 16, n: 2, scheme: 'redis-slot' },
    );
    const owned = ring.ownedBy('a');
    ring.ownedBy('a').push(99);
    ring.replicatedBy('a').pop();
    expect(ring.ownedBy('a')).toEqual(owned);
    expect(ring.replicatedBy('a')).toHaveLength(2 * owned.length);
    expect(() => (ring.preferenceList(0) as string[]).push('x')).toThrow();
    expect(() => (ring.owners as string[]).push('x')).toThrow();
  });

  it('rejects bad options and partitions out of range', () => {
    const members = [{ id: 'a', zone: 'z' }];
    expect(() => new Ring(members, { partitions: 3, n: 1, scheme: 'redis-slot' })).toThrow(/power of two/);
    expect(() => new Ring(members, { partitions: 32768, n: 1, scheme: 'redis-slot' })).toThrow();
    expect(() => new Ring([], { partitions: 8, n: 1, scheme: 'redis-slot' })).toThrow(/no members/);
    const ring = new Ring(members, { partitions: 8, n: 1, scheme: 'redis-slot' });
    for (const p of [-1, 8, 1.5, Number.NaN]) {
      expect(() => ring.preferenceList(p)).toThrow(RangeError);
      expect(() => ring.fallbacks(p)).toThrow(RangeError);
    }
  });
});
