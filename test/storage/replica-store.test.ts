/**
 * ReplicaStore over an engine whose writes finish in random order: concurrent batches must
 * never reorder two writes of one key, reads must see every issued update, and what reaches
 * the engine must equal the model once everything settles.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WriteOp } from '../../src/storage/engine.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { BloomFilter } from '../../src/storage/absent-filter.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import type { Sibling, SiblingSet } from '../../src/versions/dvv.js';

/** A MemoryEngine whose writes apply after a random delay, so concurrent batches finish in any order. */
class ShuffledEngine extends MemoryEngine {
  concurrentMax = 0;
  private concurrent = 0;
  constructor(private readonly delays: () => number) {
    super();
  }
  override async write(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void> {
    this.concurrent++;
    this.concurrentMax = Math.max(this.concurrentMax, this.concurrent);
    await new Promise((r) => setTimeout(r, this.delays()));
    this.concurrent--;
    return super.write(ops, options);
  }
}

const sibling = (value: string): Sibling => ({ actor: 'a', counter: 1, past: new Map(), value: Buffer.from(value), ts: 1, expireAt: 0 });
const valueOf = (set: SiblingSet): string | undefined => set[0]?.value?.toString();

describe('ReplicaStore', () => {
  it('keeps per-key order and the model under random concurrent updates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 5 }), op: fc.constantFrom('append', 'delete', 'read'), turn: fc.boolean() }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 16 }),
        fc.constantFrom('always', 'everysec', 'no') as fc.Arbitrary<'always' | 'everysec' | 'no'>,
        async (steps, delayList, fsync) => {
          let d = 0;
          const engine = new ShuffledEngine(() => delayList[d++ % delayList.length] as number);
          await engine.open();
          const store = new ReplicaStore(engine, { fsync });
          const model = new Map<number, string>();
          const pending: Promise<unknown>[] = [];
          for (const [i, step] of steps.entries()) {
            const key = Buffer.from(`k${step.key}`);
            if (step.op === 'read') {
              const expected = model.get(step.key);
              pending.push(store.read(0, key).then((set) => expect(valueOf(set)).toBe(expected)));
            } else if (step.op === 'append') {
              const next = (model.get(step.key) ?? '') + String(i % 10);
              model.set(step.key, next);
              pending.push(store.update(0, key, (cur) => ({ next: [sibling((valueOf(cur) ?? '') + String(i % 10))], result: undefined })));
            } else {
              model.delete(step.key);
              pending.push(store.update(0, key, () => ({ next: [], result: undefined })));
            }
            // Some steps start a new event-loop turn, so several batches are in flight at once.
            if (step.turn) await new Promise((r) => setImmediate(r));
          }
          await Promise.all(pending);
          await store.stop();
          // A second store has an empty cache: it reads what the engine holds.
          const fresh = new ReplicaStore(engine, { fsync: 'no' });
          for (let k = 0; k <= 5; k++) expect(valueOf(await fresh.read(0, Buffer.from(`k${k}`)))).toBe(model.get(k));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('runs independent batches concurrently', async () => {
    const engine = new ShuffledEngine(() => 5);
    await engine.open();
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 8; i++) {
      writes.push(store.update(0, Buffer.from(`key${i}`), () => ({ next: [sibling('v')], result: undefined })));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    expect(engine.concurrentMax).toBeGreaterThan(1);
  });

  it('answers peek from the cache only when nothing is in flight for the key', async () => {
    const engine = new ShuffledEngine(() => 2);
    await engine.open();
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const key = Buffer.from('p');
    expect(store.peek(0, key)).toBeUndefined();
    expect(await store.read(0, key)).toEqual([]);
    expect(store.peek(0, key)).toEqual([]);
    const write = store.update(0, key, () => ({ next: [sibling('x')], result: undefined }));
    expect(store.peek(0, key)).toBeUndefined();
    await write;
    expect(valueOf(store.peek(0, key) as SiblingSet)).toBe('x');
  });
});

describe('absent filter', () => {
  it('a Bloom filter never forgets a key it was given', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 300 }), (keys) => {
        const f = new BloomFilter(100);
        for (const k of keys) f.add(Buffer.from(k));
        for (const k of keys) expect(f.mightContain(Buffer.from(k))).toBe(true);
      }),
    );
  });

  it('never answers "absent" for a stored key: after a restart, and while its scan races writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 120 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 60 }), async (before, during) => {
        // Range reads that take a turn each, so writes land while the filter is being built.
        const engine = new MemoryEngine();
        await engine.open();
        const range = engine.range.bind(engine);
        engine.range = async (o) => {
          await new Promise((r) => setImmediate(r));
          return range(o);
        };
        const first = new ReplicaStore(engine, { fsync: 'no' });
        for (const k of before) await first.update(0, Buffer.from(`k${k}`), () => ({ next: [sibling(`v${k}`)], result: undefined }));
        await first.stop();
        // A new store over the same data (a restart), with a small cache.
        const second = new ReplicaStore(engine, { fsync: 'no', cacheMaxEntries: 2, filterScanPage: 3 });
        second.start();
        // Writes spread over the scan's pages ('d' keys sort before 'k' keys: some land before
        // the scan reaches them, some after it passed).
        const writes: Promise<unknown>[] = [];
        for (const k of during) {
          writes.push(second.update(0, Buffer.from(k % 2 === 0 ? `d${k}` : `z${k}`), () => ({ next: [sibling(`w${k}`)], result: undefined })));
          await new Promise((r) => setImmediate(r));
        }
        await Promise.all(writes);
        for (let i = 0; i < 1000 && !second.filterStats.ready; i++) await new Promise((r) => setImmediate(r));
        expect(second.filterStats.ready).toBe(true);
        for (const k of before) expect(valueOf(await second.read(0, Buffer.from(`k${k}`)))).toBe(`v${k}`);
        for (const k of during) expect(valueOf(await second.read(0, Buffer.from(k % 2 === 0 ? `d${k}` : `z${k}`)))).toBe(`w${k}`);
        expect(await second.read(0, Buffer.from('never-written'))).toEqual([]);
        await second.stop();
      }),
      { numRuns: 40 },
    );
  });
});
