import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  currentMembers,
  decodeRecords,
  encodeRecords,
  memberSetHash,
  mergeRecords,
  promoteIfReady,
  targetMembers,
  type MemberRecord,
  type MemberStatus,
} from '../../src/membership/members.js';
import { DecodeError } from '../../src/util/bytes.js';
import { limits } from '../../src/limits.js';
import { Membership } from '../../src/membership/membership.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';

const statusArb = fc.constantFrom<MemberStatus>('new', 'joining', 'up', 'leaving', 'left');
const recordArb = (id: string): fc.Arbitrary<MemberRecord> =>
  fc.record({
    id: fc.constant(id),
    host: fc.constant('127.0.0.1'),
    peerPort: fc.constant(16379),
    zone: fc.constantFrom('a', 'b'),
    status: statusArb,
    version: fc.nat(3),
    heartbeat: fc.nat(5),
    port: fc.constantFrom(6379, 6380),
    incarnation: fc.constantFrom('i1', 'i2'),
    ready: fc.constantFrom('', 'h1', 'h2'),
  });
const listArb = fc.array(fc.oneof(recordArb('m1'), recordArb('m2'), recordArb('m3')), { maxLength: 6 });
const rec = (id: string, status: MemberStatus, extra: Partial<MemberRecord> = {}): MemberRecord => ({
  id,
  host: '127.0.0.1',
  peerPort: 1,
  zone: 'z',
  status,
  version: 0,
  heartbeat: 0,
  port: 0,
  incarnation: '',
  ready: '',
  ...extra,
});

describe('member records', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(listArb, listArb, listArb, (a, b, c) => {
        expect(mergeRecords(a, b)).toEqual(mergeRecords(b, a));
        expect(mergeRecords(mergeRecords(a, b), c)).toEqual(mergeRecords(a, mergeRecords(b, c)));
        const ab = mergeRecords(a, b);
        expect(mergeRecords(ab, ab)).toEqual(ab);
      }),
    );
  });

  it('an operator change (higher version) beats any status of the member itself; otherwise status moves forward', () => {
    const removed = rec('m', 'leaving', { version: 1 });
    const selfSays = rec('m', 'up', { version: 0, heartbeat: 999 });
    expect(mergeRecords([removed], [selfSays])[0]!.status).toBe('leaving');
    expect(mergeRecords([rec('m', 'joining')], [rec('m', 'up')])[0]!.status).toBe('up');
    expect(mergeRecords([rec('m', 'up', { version: 2 })], [rec('m', 'left', { version: 1 })])[0]!.status).toBe('up'); // a rejoin
    // Owner fields come from the fresher heartbeat, independently of the status.
    const merged = mergeRecords([rec('m', 'leaving', { version: 1, heartbeat: 3, ready: 'old' })], [rec('m', 'up', { heartbeat: 7, ready: 'new' })])[0]!;
    expect(merged).toMatchObject({ status: 'leaving', ready: 'new', heartbeat: 7 });
  });

  it('current ring: up and leaving members; target ring: joining and up', () => {
    const records = [rec('a', 'up'), rec('b', 'joining'), rec('c', 'leaving'), rec('d', 'new'), rec('e', 'left')];
    expect(currentMembers(records).map((r) => r.id)).toEqual(['a', 'c']);
    expect(targetMembers(records).map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('promotes a transition only when every member that pulls data is ready for the target', () => {
    const target = memberSetHash([rec('a', 'up'), rec('b', 'joining')]);
    const records = [rec('a', 'up'), rec('b', 'joining'), rec('c', 'leaving')];
    expect(promoteIfReady(records, new Set(['a', 'b']))).toEqual(records);
    const ready = [rec('a', 'up', { ready: target }), rec('b', 'joining', { ready: target }), rec('c', 'leaving')];
    expect(promoteIfReady(ready, new Set(['a', 'b'])).map((r) => r.status)).toEqual(['up', 'up', 'left']);
    // Ready for another target does not count.
    const stale = [rec('a', 'up', { ready: 'other' }), rec('b', 'joining', { ready: target }), rec('c', 'leaving')];
    expect(promoteIfReady(stale, new Set(['a', 'b']))).toEqual(stale);
  });

  it('round-trips through the wire format and refuses malformed payloads', () => {
    fc.assert(
      fc.property(listArb, (a) => {
        const merged = mergeRecords(a, []);
        expect(decodeRecords(encodeRecords(merged))).toEqual(merged);
      }),
    );
    const good = encodeRecords([rec('a', 'up')]);
    expect(() => decodeRecords(good.subarray(0, good.length - 1))).toThrow(DecodeError);
    expect(() => decodeRecords(Buffer.from([9, 0]))).toThrow(/unknown member records format/);
    const badStatus = Buffer.from(good);
    badStatus[badStatus.indexOf(Buffer.from('z')) + 1] = 9; // the status byte after the zone
    expect(() => decodeRecords(badStatus)).toThrow(/unknown member status/);
  });
});

describe('membership', () => {
  it('refuses gossip that would take it past the member limit, keeping what it had', async () => {
    const engine = new MemoryEngine();
    await engine.open();
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const bus = { add: () => undefined, remove: () => undefined, has: () => true, isUp: () => false, gossip: () => Promise.reject(new Error('no')) };
    const self = { id: 'self:1', host: 'self', peerPort: 1, port: 2, zone: 'z', incarnation: 'i' };
    const m = new Membership(self, [{ id: 'self:1', host: 'self', peerPort: 1, zone: 'z' }], engine, store, bus, {
      partitions: 8,
      n: 1,
      scheme: 'redis-slot',
      gossipIntervalMs: 1000,
    });
    await m.open();
    const batch = (from: number): MemberRecord[] => Array.from({ length: limits.membersMax / 2 }, (_, i) => rec(`m${from + i}:1`, 'new'));
    m.receive(encodeRecords(batch(0)));
    expect(m.list()).toHaveLength(limits.membersMax / 2 + 1);
    expect(() => m.receive(encodeRecords(batch(limits.membersMax / 2)))).toThrow(/would exceed 1024 members/);
    expect(m.list()).toHaveLength(limits.membersMax / 2 + 1);
  });
});
