/**
 * ReplicaStore over an engine whose writes finish in random order: concurrent batches must
 * never reorder two writes of one key, reads must see every issued update, and what reaches
 * the engine must equal the model once everything settles.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WriteOp } from '../../src/storage/engine.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
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
