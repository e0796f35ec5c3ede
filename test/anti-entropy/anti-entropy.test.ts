import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contribution, segmentOf, segmentsFor, SegmentHashes } from '../../src/anti-entropy/hash-tree.js';
import { exchange, type ExchangeLocal, type ExchangePeer } from '../../src/anti-entropy/exchange.js';
import { PartitionTrees } from '../../src/anti-entropy/trees.js';
import { makePartitioner } from '../../src/ring/partition.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import { sameDots, sync, type SiblingSet } from '../../src/versions/dvv.js';
import { sib } from '../helpers/siblings.js';


const SEGMENTS = 64;
const partitionOf = makePartitioner('redis-slot', 8);

async function replica(): Promise<{ engine: MemoryEngine; store: ReplicaStore; trees: PartitionTrees }> {
  const engine = new MemoryEngine();
  await engine.open();
  const store = new ReplicaStore(engine, { fsync: 'no' });
  const trees = new PartitionTrees(engine, store, SEGMENTS);
  return { engine, store, trees };
}

/** The tree of a partition computed from scratch from the store's current sets. */
async function expectedTree(store: ReplicaStore, partition: number): Promise<SegmentHashes> {
  const t = new SegmentHashes(SEGMENTS);
  let position = partition * 2 ** 32;
  const end = (partition + 1) * 2 ** 32;
  for (;;) {
    const page = await store.scan(position, 1000, end);
    for (const e of page.entries) t.update(e.key, [], e.set);
    if (page.next === 0) return t;
    position = page.next;
  }
}

function write(store: ReplicaStore, key: string, set: SiblingSet): Promise<boolean> {
  const k = Buffer.from(key);
  return store.update(partitionOf(k), k, (current) => {
    const next = sync(current, set);
    return sameDots(next, current) ? { next: null, result: false } : { next, result: true };
  });
}

describe('hash tree (pure)', () => {
  it('contribution depends on the key and the dots, not on sibling order or values', () => {
    const a = [sib('x', 1, 'v'), sib('y', 2, 'w')];
    const b = [sib('y', 2, 'other'), sib('x', 1, 'bytes')];
    expect(contribution(Buffer.from('k'), a)).toEqual(contribution(Buffer.from('k'), b));
    expect(contribution(Buffer.from('k'), a)).not.toEqual(contribution(Buffer.from('j'), a));
    expect(contribution(Buffer.from('k'), a)).not.toEqual(contribution(Buffer.from('k'), [sib('x', 1, 'v')]));
    expect(contribution(Buffer.from('k'), [])).toEqual([0, 0]);
  });

  it('an update is undone by its reverse; diff finds exactly the changed segments', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.nat(50)), { maxLength: 40 }), (writes) => {
        const t = new SegmentHashes(SEGMENTS);
        const empty = new SegmentHashes(SEGMENTS);
        const touched = new Set<number>();
        for (const [key, c] of writes) {
          const k = Buffer.from(key);
          t.update(k, [], [sib('a', c + 1, 'v')]);
          touched.add(segmentOf(k, SEGMENTS));
        }
        for (const s of t.diff(empty)) expect(touched.has(s)).toBe(true);
        for (const [key, c] of [...writes].reverse()) t.update(Buffer.from(key), [sib('a', c + 1, 'v')], []);
        expect(t.diff(empty)).toEqual([]);
        expect(SegmentHashes.from(t.toBytes(), SEGMENTS).diff(t)).toEqual([]);
      }),
    );
  });

  it('keeps segment memory bounded whatever Q is', () => {
    expect(segmentsFor(256, 256 * 1024, 16, 1024)).toBe(1024);
    expect(segmentsFor(16384, 256 * 1024, 16, 1024)).toBe(16);
    expect(segmentsFor(2048, 256 * 1024, 16, 1024)).toBe(128);
  });
});

describe('partition trees', () => {
  it('stay exact when writes race a build, and under the write hook afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 1000 }), fc.boolean()), { minLength: 1, maxLength: 80 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 1000 }), fc.boolean(), fc.nat(3)), { maxLength: 60 }),
        fc.integer({ min: 0, max: 3 }),
        async (before, during, writeTurns) => {
          // An engine whose range reads take a turn of the event loop, and 2-key build pages:
          // writes land between the pages of a build, before and after the scan passes them.
          const engine = new MemoryEngine();
          await engine.open();
          const range = engine.range.bind(engine);
          engine.range = async (o) => {
            await new Promise((r) => setImmediate(r));
            return range(o);
          };
          // Batches take a few turns to land, so a page can be read while writes are queued.
          const writeBatch = engine.write.bind(engine);
          engine.write = async (ops, o) => {
            for (let i = 0; i < writeTurns; i++) await new Promise((r) => setImmediate(r));
            return writeBatch(ops, o);
          };
          const store = new ReplicaStore(engine, { fsync: 'no' });
          const trees = new PartitionTrees(engine, store, SEGMENTS, Date.now, 2);
          const op = (k: number, c: number, del: boolean): Promise<boolean> => write(store, `key${k}`, del ? [sib('a', c, null)] : [sib('b', c, 'v')]);
          // The last writes before the build are decided but still in the group commit when it starts.
          const queued: Promise<boolean>[] = [];
          for (const [i, [k, c, del]] of before.entries()) {
            if (i < before.length - 5) await op(k, c, del);
            else queued.push(op(k, c, del));
          }
          for (let i = 0; i < 5; i++) await Promise.resolve();
          const builds = Array.from({ length: 8 }, (_, p) => trees.build(p));
          await Promise.all(queued);
          for (const [k, c, del, pause] of during) {
            const w = op(k, c, del);
            for (let i = 0; i < pause; i++) await new Promise((r) => setImmediate(r));
            if (pause === 0) await w;
          }
          await Promise.all(builds);
          await store.flush();
          for (let p = 0; p < 8; p++) expect(trees.ready(p)!.diff(await expectedTree(store, p)), `partition ${p}`).toEqual([]);
          // More writes after the build go through the hook.
          for (const [k, c] of before.slice(0, 10)) await write(store, `key${k}`, [sib('c', c, 'w')]);
          for (let p = 0; p < 8; p++) expect(trees.ready(p)!.diff(await expectedTree(store, p))).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('abandons a build that too many writes race, and the next build is exact', async () => {
    const engine = new MemoryEngine();
    await engine.open();
    const range = engine.range.bind(engine);
    engine.range = async (o) => {
      await new Promise((r) => setImmediate(r));
      return range(o);
    };
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const trees = new PartitionTrees(engine, store, SEGMENTS, Date.now, 2, 3);
    const p = partitionOf(Buffer.from('key0'));
    const keys = Array.from({ length: 400 }, (_, i) => `key${i}`).filter((k) => partitionOf(Buffer.from(k)) === p);
    for (const k of keys.slice(0, 6)) await write(store, k, [sib('a', 1, 'v')]);
    const building = trees.build(p);
    await Promise.all(keys.slice(6, 12).map((k) => write(store, k, [sib('a', 2, 'w')])));
    expect(await building).toBe(false);
    expect(trees.ready(p)).toBeUndefined();
    expect(await trees.build(p)).toBe(true);
    expect(trees.ready(p)!.diff(await expectedTree(store, p))).toEqual([]);
  });

  it('rebuild after FLUSHALL starts from nothing', async () => {
    const { store, trees } = await replica();
    await write(store, 'a', [sib('x', 1, 'v')]);
    const p = partitionOf(Buffer.from('a'));
    await trees.build(p);
    await store.clearAll();
    expect(trees.ready(p)).toBeUndefined();
    await trees.build(p);
    expect(trees.ready(p)!.diff(new SegmentHashes(SEGMENTS))).toEqual([]);
  });
});

describe('exchange', () => {
  it('brings two divergent replicas to the same sets in both directions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom('a', 'b', 'both'), fc.integer({ min: 1, max: 50 })), { maxLength: 150 }),
        async (writes) => {
          const A = await replica();
          const B = await replica();
          for (const [k, where, c] of writes) {
            const set = [sib(where === 'b' ? 'nb' : 'na', c, `v${c}`)];
            if (where !== 'b') await write(A.store, `key${k}`, set);
            if (where !== 'a') await write(B.store, `key${k}`, set);
          }
          const local = (r: typeof A): ExchangeLocal => ({
            tree: (p) => r.trees.ready(p),
            scan: (position, limit, end) => r.store.scan(position, limit, end),
            sync: (_p, key, set) => write(r.store, key.toString(), set),
          });
          const peer: ExchangePeer = {
            tree: async (_m, p) => B.trees.ready(p)?.toBytes(),
            scan: (_m, _p, position, limit, end) => B.store.scan(position, limit, end),
            write: async (_m, _p, key, set) => void (await write(B.store, key.toString(), set)),
          };
          for (let p = 0; p < 8; p++) {
            await A.trees.build(p);
            await B.trees.build(p);
            const result = await exchange(p, 'B', local(A), peer);
            expect(result.compared).toBe(true);
            expect(A.trees.ready(p)!.diff(B.trees.ready(p)!)).toEqual([]);
          }
          for (let p = 0; p < 8; p++) {
            const [a, b] = [await expectedTree(A.store, p), await expectedTree(B.store, p)];
            expect(a.diff(b)).toEqual([]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
