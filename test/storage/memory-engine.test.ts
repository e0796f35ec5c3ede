/**
 * MemoryEngine: the conformance suite, plus checks of its sorted key index (SortedKeys)
 * against a plain sorted array, and of its behaviour at a scale simulations use.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryEngine, SortedKeys } from '../../src/storage/memory-engine.js';
import { storageConformance } from './conformance.js';

storageConformance('memory', { persistent: false }, async () => ({ engine: new MemoryEngine(), cleanup: async () => undefined }));

describe('MemoryEngine', () => {
  it('claims neither persistence nor durable sync', () => {
    expect(new MemoryEngine().supports).toEqual({ persistent: false, durableSync: false });
  });

  it('starts empty in a new instance', async () => {
    const a = new MemoryEngine();
    await a.open();
    await a.write([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: true });
    const b = new MemoryEngine();
    await b.open();
    expect(await b.get(Buffer.from('k'))).toBeUndefined();
    expect(a.size).toBe(1);
  });

  it('keeps 200k keys ordered while writes, scans and range deletes interleave', async () => {
    const engine = new MemoryEngine();
    await engine.open();
    const key = (i: number): Buffer => {
      const k = Buffer.alloc(6);
      // A scrambled order, so that inserts land all over the index.
      k.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 0);
      k.writeUInt16BE(i & 0xffff, 4);
      return k;
    };
    for (let i = 0; i < 200_000; i += 1000) {
      const ops = [];
      for (let j = i; j < i + 1000; j++) ops.push({ type: 'put' as const, key: key(j), value: Buffer.from([j & 0xff]) });
      await engine.write(ops, { sync: false });
      // A scan after every batch: a lazily re-sorted index would sort all keys each time.
      expect((await engine.range({ gte: key(i), limit: 10 })).length).toBeGreaterThan(0);
    }
    expect(engine.size).toBe(200_000);
    await engine.deleteRange(Buffer.from([0x40]), Buffer.from([0x80]));
    const rest = await engine.range({ limit: 300_000, keysOnly: true });
    for (let i = 1; i < rest.length; i++) expect(Buffer.compare((rest[i - 1] as [Buffer, Buffer])[0], (rest[i] as [Buffer, Buffer])[0])).toBe(-1);
    expect(rest.every(([k]) => (k[0] as number) < 0x40 || (k[0] as number) >= 0x80)).toBe(true);
    expect(rest.length).toBe(engine.size);
  });
});

describe('SortedKeys', () => {
  type Command = { kind: 'insert' | 'remove'; key: string } | { kind: 'removeRange' | 'range'; gte: string | undefined; lt: string | undefined; limit: number };
  const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', '\u0000', '\u00ff'), minLength: 1, maxLength: 3 });
  const boundArb = fc.option(keyArb, { nil: undefined });
  const commandArb: fc.Arbitrary<Command> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: keyArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), key: keyArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeRange' as const), gte: boundArb, lt: boundArb, limit: fc.constant(0) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('range' as const), gte: boundArb, lt: boundArb, limit: fc.integer({ min: 0, max: 30 }) }) },
  );
  const within = (k: string, gte: string | undefined, lt: string | undefined): boolean => (gte === undefined || k >= gte) && (lt === undefined || k < lt);

  it('matches a sorted array, with chunks small enough to split and merge constantly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.array(commandArb, { maxLength: 200 }), (chunkMax, commands) => {
        const index = new SortedKeys(chunkMax);
        let model: string[] = [];
        for (const c of commands) {
          switch (c.kind) {
            case 'insert':
              // The index is told only about absent keys, as MemoryEngine does.
              if (!model.includes(c.key)) {
                index.insert(c.key);
                model = [...model, c.key].sort();
              }
              break;
            case 'remove':
              if (model.includes(c.key)) {
                index.remove(c.key);
                model = model.filter((k) => k !== c.key);
              }
              break;
            case 'removeRange': {
              const removed = index.removeRange(c.gte, c.lt);
              expect(removed).toEqual(model.filter((k) => within(k, c.gte, c.lt)));
              model = model.filter((k) => !within(k, c.gte, c.lt));
              break;
            }
            case 'range':
              expect(index.range(c.gte, c.lt, c.limit)).toEqual(model.filter((k) => within(k, c.gte, c.lt)).slice(0, c.limit));
              break;
          }
          index.checkInvariants();
          expect(index.size).toBe(model.length);
        }
        expect(index.range(undefined, undefined, 1000)).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a chunk size below 2', () => {
    expect(() => new SortedKeys(1)).toThrow(RangeError);
  });
});
