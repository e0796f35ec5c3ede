/**
 * The StorageEngine conformance suite (abstract-level style): every engine runs it, switched
 * by its `supports` manifest.
 */
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import type { StorageEngine, WriteOp } from '../../src/storage/engine.js';

export interface EngineHarness {
  engine: StorageEngine;
  reopen?: () => Promise<StorageEngine>;
  cleanup: () => Promise<void>;
}

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const hex = (rows: Array<[Buffer, Buffer]>): string[][] => rows.map(([k, v]) => [k.toString('hex'), v.toString('hex')]);

/** `supports` mirrors the engine's manifest; tests an engine does not claim are not registered. */
export function storageConformance(name: string, supports: { persistent: boolean }, make: () => Promise<EngineHarness>): void {
  describe(`StorageEngine conformance: ${name}`, () => {
    let h: EngineHarness;
    let db: StorageEngine;
    beforeEach(async () => {
      h = await make();
      db = h.engine;
      await db.open();
    });
    afterEach(async () => {
      await db.close();
      await h.cleanup();
    });

    it('puts, gets and deletes; missing keys are undefined', async () => {
      expect(await db.get(b('a'))).toBeUndefined();
      await db.write([{ type: 'put', key: b('a'), value: b('1') }], { sync: false });
      expect((await db.get(b('a')))?.toString()).toBe('1');
      await db.write([{ type: 'del', key: b('a') }], { sync: true });
      expect(await db.get(b('a'))).toBeUndefined();
    });

    it('getMany keeps order and marks missing entries', async () => {
      await db.write([{ type: 'put', key: b('x'), value: b('X') }, { type: 'put', key: b('z'), value: b('Z') }], { sync: false });
      const got = await db.getMany([b('z'), b('missing'), b('x')]);
      expect(got.map((v) => v?.toString())).toEqual(['Z', undefined, 'X']);
    });

    it('applies a batch in order (put then del of the same key)', async () => {
      await db.write(
        [
          { type: 'put', key: b('k'), value: b('1') },
          { type: 'del', key: b('k') },
          { type: 'put', key: b('j'), value: b('1') },
          { type: 'put', key: b('j'), value: b('2') },
        ],
        { sync: false },
      );
      expect(await db.get(b('k'))).toBeUndefined();
      expect((await db.get(b('j')))?.toString()).toBe('2');
    });

    it('orders binary keys as unsigned bytes', async () => {
      const keys = [[0x02], [0x01, 0x00], [0xff], [0x01], [0x7f], [0x00]].map((k) => b(k));
      await db.write(keys.map((key) => ({ type: 'put', key, value: b('v') })), { sync: false });
      const rows = await db.range({ limit: 100, keysOnly: true });
      expect(rows.map(([k]) => k.toString('hex'))).toEqual(['00', '01', '0100', '02', '7f', 'ff']);
    });

    it('ranges honour gte, lt and limit', async () => {
      const ops: WriteOp[] = [];
      for (let i = 0; i < 20; i++) ops.push({ type: 'put', key: b(`k${String(i).padStart(2, '0')}`), value: b(String(i)) });
      await db.write(ops, { sync: false });
      const rows = await db.range({ gte: b('k05'), lt: b('k10'), limit: 100 });
      expect(rows.map(([k, v]) => `${k}=${v}`)).toEqual(['k05=5', 'k06=6', 'k07=7', 'k08=8', 'k09=9']);
      expect((await db.range({ gte: b('k05'), limit: 2 })).length).toBe(2);
      expect(await db.range({ gte: b('z'), limit: 5 })).toEqual([]);
      const keysOnly = await db.range({ gte: b('k00'), lt: b('k02'), limit: 10, keysOnly: true });
      expect(keysOnly.map(([k, v]) => [k.toString(), v.length])).toEqual([
        ['k00', 0],
        ['k01', 0],
      ]);
    });

    it('deleteRange removes exactly [gte, lt)', async () => {
      await db.write(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put', key: b(k), value: b(k) })), { sync: false });
      await db.deleteRange(b('b'), b('d'));
      expect((await db.range({ limit: 10 })).map(([k]) => k.toString())).toEqual(['a', 'd']);
    });

    it('copies values: a caller reusing its buffer does not change stored data', async () => {
      const v = b('original');
      await db.write([{ type: 'put', key: b('c'), value: v }], { sync: false });
      v.write('XXXXXXXX');
      expect((await db.get(b('c')))?.toString()).toBe('original');
    });

    it('stores large values', async () => {
      const big = Buffer.alloc(1024 * 1024, 7);
      await db.write([{ type: 'put', key: b('big'), value: big }], { sync: true });
      expect((await db.get(b('big')))?.equals(big)).toBe(true);
    });

    it('property: random batches match a reference model', async () => {
      const opArb = fc.oneof(
        fc.record({ type: fc.constant('put' as const), key: fc.uint8Array({ minLength: 1, maxLength: 3 }), value: fc.uint8Array({ maxLength: 4 }) }),
        fc.record({ type: fc.constant('del' as const), key: fc.uint8Array({ minLength: 1, maxLength: 3 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(opArb, { maxLength: 8 }), { maxLength: 8 }), async (batches) => {
          await db.deleteRange(Buffer.from([0]), Buffer.from([0xff, 0xff, 0xff, 0xff]));
          const model = new Map<string, string>();
          for (const batch of batches) {
            const ops: WriteOp[] = batch.map((op) =>
              op.type === 'put' ? { type: 'put', key: Buffer.from(op.key), value: Buffer.from(op.value) } : { type: 'del', key: Buffer.from(op.key) },
            );
            await db.write(ops, { sync: false });
            for (const op of ops) {
              if (op.type === 'put') model.set(op.key.toString('hex'), op.value.toString('hex'));
              else model.delete(op.key.toString('hex'));
            }
          }
          const expected = [...model.entries()].sort(([x], [y]) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex')));
          expect(hex(await db.range({ limit: 10_000 }))).toEqual(expected);
        }),
        { numRuns: 60 },
      );
    });

    if (supports.persistent) it('keeps data across close and reopen', async () => {
      expect(db.supports.persistent).toBe(true);
      if (!h.reopen) throw new Error('a persistent engine harness must provide reopen()');
      await db.write([{ type: 'put', key: b('p'), value: b('kept') }], { sync: true });
      await db.close();
      db = await h.reopen();
      await db.open();
      expect((await db.get(b('p')))?.toString()).toBe('kept');
    });
  });
}
