/**
 * The StorageEngine conformance suite: every engine must pass it, so that code tested on the
 * memory engine behaves the same on RocksDB.
 *
 * Usage: storageConformance(name, supports, make), where
 * make() returns a fresh, empty, not yet opened engine, an optional reopen() that returns a
 * new, not yet opened engine on the same storage (required when the engine is persistent), and
 * cleanup() that removes what make() created. The suite opens the engine, closes every engine
 * it opened, then calls cleanup().
 *
 * Tests of a capability the engine does not claim are not registered at all (never skipped);
 * the suite checks that the declared `supports` matches engine.supports.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { StorageEngine, WriteOp } from '../../src/storage/engine.js';

export interface ConformanceSubject {
  readonly engine: StorageEngine;
  readonly reopen?: () => Promise<StorageEngine>;
  readonly cleanup: () => Promise<void>;
}
/** What a caller declares ahead of make(), so that unclaimed tests are not registered. */
export interface DeclaredSupports {
  readonly persistent: boolean;
}

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);
const s = (text: string): Buffer => Buffer.from(text, 'utf8');
const put = (key: Buffer, value: Buffer): WriteOp => ({ type: 'put', key, value });
const del = (key: Buffer): WriteOp => ({ type: 'del', key });

/** Entries as [hex key, utf8 value] pairs, for readable assertion failures. */
function readable(entries: Array<[Buffer, Buffer]>): Array<[string, string]> {
  return entries.map(([k, v]) => [k.toString('hex'), v.toString('utf8')]);
}

/** A bound above every key the tests write (they never write 16 bytes of 0xff). */
const TOP = Buffer.alloc(16, 0xff);
/** The least non-empty key: with TOP, a bound pair around everything. */
const BOTTOM = b(0x00);

export function storageConformance(name: string, declared: DeclaredSupports, make: () => Promise<ConformanceSubject>): void {

  describe(`StorageEngine conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    /** The engine under test; persistence tests replace it by a reopened one. */
    let engine: StorageEngine;
    /** Every engine opened by a test, closed in afterEach (closing twice is harmless). */
    let opened: StorageEngine[] = [];

    async function reopen(): Promise<StorageEngine> {
      if (subject.reopen === undefined) throw new Error(`${name} claims persistence but its make() gives no reopen()`);
      await engine.close();
      engine = await subject.reopen();
      opened.push(engine);
      await engine.open();
      return engine;
    }

    async function all(): Promise<Array<[string, string]>> {
      return readable(await engine.range({ limit: 1_000_000 }));
    }

    beforeEach(async () => {
      subject = await make();
      engine = subject.engine;
      opened = [engine];
      if (declared.persistent !== engine.supports.persistent) {
        throw new Error(`${name}: declared persistent=${declared.persistent} but engine.supports.persistent=${engine.supports.persistent}`);
      }
      await engine.open();
    });

    afterEach(async () => {
      for (const e of opened) await e.close();
      await subject.cleanup();
    });

    describe('point reads and writes', () => {
      it('puts, gets, overwrites and deletes', async () => {
        expect(await engine.get(s('a'))).toBeUndefined();
        await engine.write([put(s('a'), s('1'))], { sync: false });
        expect((await engine.get(s('a')))?.toString()).toBe('1');
        await engine.write([put(s('a'), s('2'))], { sync: false });
        expect((await engine.get(s('a')))?.toString()).toBe('2');
        await engine.write([del(s('a'))], { sync: false });
        expect(await engine.get(s('a'))).toBeUndefined();
      });

      it('answers undefined for missing keys and ignores deletes of them', async () => {
        await engine.write([put(s('present'), s('x'))], { sync: false });
        expect(await engine.get(s('absent'))).toBeUndefined();
        expect(await engine.get(s('presen'))).toBeUndefined();
        expect(await engine.get(s('present!'))).toBeUndefined();
        await engine.write([del(s('absent'))], { sync: false });
        expect(await all()).toEqual([[s('present').toString('hex'), 'x']]);
      });

      it('stores an empty value as an empty buffer, distinct from a missing key', async () => {
        await engine.write([put(s('e'), Buffer.alloc(0))], { sync: false });
        const value = await engine.get(s('e'));
        expect(Buffer.isBuffer(value)).toBe(true);
        expect(value?.length).toBe(0);
        expect((await engine.getMany([s('e')]))[0]?.length).toBe(0);
      });

      it('returns Buffers', async () => {
        await engine.write([put(s('k'), s('v'))], { sync: false });
        expect(Buffer.isBuffer(await engine.get(s('k')))).toBe(true);
        const [[key, value]] = (await engine.range({ limit: 1 })) as [[Buffer, Buffer]];
        expect(Buffer.isBuffer(key) && Buffer.isBuffer(value)).toBe(true);
      });

      it('refuses empty keys', async () => {
        await expect(engine.get(Buffer.alloc(0))).rejects.toThrow();
        await expect(engine.write([put(Buffer.alloc(0), s('v'))], { sync: false })).rejects.toThrow();
      });
    });

    describe('getMany', () => {
      it('answers in the order asked, undefined where absent, duplicates included', async () => {
        await engine.write([put(s('a'), s('1')), put(s('c'), s('3')), put(s('b'), s('2'))], { sync: false });
        const values = await engine.getMany([s('c'), s('x'), s('a'), s('b'), s('a'), s('y')]);
        expect(values.map((v) => v?.toString())).toEqual(['3', undefined, '1', '2', '1', undefined]);
      });

      it('answers [] for no keys', async () => {
        expect(await engine.getMany([])).toEqual([]);
      });

      it('handles thousands of keys in one call', async () => {
        const keys = Array.from({ length: 5000 }, (_, i) => s(`k${i}`));
        await engine.write(
          keys.filter((_, i) => i % 2 === 0).map((k) => put(k, k)),
          { sync: false },
        );
        const values = await engine.getMany(keys);
        values.forEach((v, i) => expect(v?.toString()).toBe(i % 2 === 0 ? `k${i}` : undefined));
      });
    });

    describe('batches', () => {
      it('apply in order: put then del of one key deletes it, del then put keeps it', async () => {
        await engine.write([put(s('a'), s('1')), del(s('a')), del(s('b')), put(s('b'), s('2')), put(s('c'), s('3')), put(s('c'), s('4'))], { sync: false });
        expect(await engine.get(s('a'))).toBeUndefined();
        expect((await engine.get(s('b')))?.toString()).toBe('2');
        expect((await engine.get(s('c')))?.toString()).toBe('4');
      });

      it('are atomic: a batch with an invalid op applies nothing', async () => {
        await engine.write([put(s('keep'), s('old'))], { sync: false });
        const bad = [put(s('keep'), s('new')), put(s('other'), s('x')), put(Buffer.alloc(0), s('bad'))];
        await expect(engine.write(bad, { sync: false })).rejects.toThrow();
        expect(await all()).toEqual([[s('keep').toString('hex'), 'old']]);
      });

      it('are atomic for readers: a concurrent read sees all of a batch or none of it', async () => {
        const keys = Array.from({ length: 200 }, (_, i) => s(`atom${String(i).padStart(3, '0')}`));
        for (let round = 0; round < 5; round++) {
          const value = s(`round${round}`);
          const writing = engine.write(keys.map((k) => put(k, value)), { sync: false });
          const reading = engine.getMany(keys);
          await writing;
          const seen = new Set((await reading).map((v) => v?.toString()));
          expect(seen.size).toBe(1);
        }
      });

      it('accept an empty batch', async () => {
        await engine.write([], { sync: false });
        await engine.write([], { sync: true });
        expect(await all()).toEqual([]);
      });

      it('many concurrent batches all land', async () => {
        await Promise.all(Array.from({ length: 50 }, (_, i) => engine.write([put(s(`c${String(i).padStart(2, '0')}`), s(String(i)))], { sync: i % 10 === 0 })));
        const rows = await all();
        expect(rows.length).toBe(50);
        expect(rows[49]).toEqual([s('c49').toString('hex'), '49']);
      });
    });

    describe('binary keys and memcmp order', () => {
      const keys = [b(0x00), b(0x00, 0x00), b(0x01), b(0x01, 0x00), b(0x01, 0x00, 0xff), b(0x01, 0xff), b(0x02), b(0x7f), b(0x7f, 0xff), b(0x80), b(0xfe, 0xff), b(0xff), b(0xff, 0x00), b(0xff, 0xff)];

      it('orders keys by unsigned bytes, a prefix before its extensions', async () => {
        // Written in reverse so that insertion order cannot pass for key order.
        await engine.write(
          [...keys].reverse().map((k) => put(k, s(k.toString('hex')))),
          { sync: false },
        );
        const rows = await engine.range({ limit: 100 });
        expect(rows.map(([k]) => k.toString('hex'))).toEqual(keys.map((k) => k.toString('hex')));
        rows.forEach(([k, v]) => expect(v.toString()).toBe(k.toString('hex')));
      });

      it('tells apart keys that differ only in 0x00 and 0xff bytes', async () => {
        await engine.write(
          keys.map((k) => put(k, s(k.toString('hex')))),
          { sync: false },
        );
        for (const k of keys) expect((await engine.get(k))?.toString()).toBe(k.toString('hex'));
        expect(await engine.get(b(0x00, 0x00, 0x00))).toBeUndefined();
        expect(await engine.get(b(0xff, 0xff, 0xff))).toBeUndefined();
      });

      it('stores keys and values of every byte value', async () => {
        const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const reversed = Buffer.from(every).reverse();
        await engine.write([put(every, reversed), put(reversed, every)], { sync: false });
        expect((await engine.get(every))?.equals(reversed)).toBe(true);
        expect((await engine.get(reversed))?.equals(every)).toBe(true);
        const rows = await engine.range({ limit: 10 });
        expect(rows.map(([k]) => k.toString('hex'))).toEqual([every.toString('hex'), reversed.toString('hex')]);
      });

      it('bounds ranges in memcmp order', async () => {
        await engine.write(
          keys.map((k) => put(k, s('v'))),
          { sync: false },
        );
        const between = await engine.range({ gte: b(0x01), lt: b(0x02), limit: 100 });
        expect(between.map(([k]) => k.toString('hex'))).toEqual(['01', '0100', '0100ff', '01ff']);
        const high = await engine.range({ gte: b(0x7f, 0xff), limit: 100 });
        expect(high.map(([k]) => k.toString('hex'))).toEqual(['7fff', '80', 'feff', 'ff', 'ff00', 'ffff']);
      });
    });

    describe('range', () => {
      const letters = ['a', 'b', 'c', 'd', 'e', 'f'];
      beforeEach(async () => {
        await engine.write(
          letters.map((l) => put(s(l), s(l.toUpperCase()))),
          { sync: false },
        );
      });
      const keysOf = (rows: Array<[Buffer, Buffer]>): string[] => rows.map(([k]) => k.toString());

      it('includes gte and excludes lt', async () => {
        expect(keysOf(await engine.range({ gte: s('b'), lt: s('e'), limit: 10 }))).toEqual(['b', 'c', 'd']);
        expect(keysOf(await engine.range({ gte: s('bb'), lt: s('dd'), limit: 10 }))).toEqual(['c', 'd']);
      });

      it('is open-ended without gte or lt', async () => {
        expect(keysOf(await engine.range({ lt: s('c'), limit: 10 }))).toEqual(['a', 'b']);
        expect(keysOf(await engine.range({ gte: s('e'), limit: 10 }))).toEqual(['e', 'f']);
        expect(keysOf(await engine.range({ limit: 10 }))).toEqual(letters);
      });

      it('returns values, or empty values when keysOnly', async () => {
        expect(readable(await engine.range({ gte: s('a'), lt: s('c'), limit: 10 }))).toEqual([
          ['61', 'A'],
          ['62', 'B'],
        ]);
        const rows = await engine.range({ gte: s('a'), lt: s('c'), limit: 10, keysOnly: true });
        expect(keysOf(rows)).toEqual(['a', 'b']);
        rows.forEach(([, v]) => expect(v.length).toBe(0));
      });

      it('stops at limit, counting from gte', async () => {
        expect(keysOf(await engine.range({ limit: 2 }))).toEqual(['a', 'b']);
        expect(keysOf(await engine.range({ gte: s('c'), limit: 3 }))).toEqual(['c', 'd', 'e']);
        expect(keysOf(await engine.range({ gte: s('c'), lt: s('e'), limit: 3 }))).toEqual(['c', 'd']);
        expect(keysOf(await engine.range({ limit: 1, keysOnly: true }))).toEqual(['a']);
      });

      it('treats a huge limit as no limit and rounds a fractional one down', async () => {
        expect(keysOf(await engine.range({ limit: Number.MAX_SAFE_INTEGER }))).toEqual(letters);
        expect(keysOf(await engine.range({ limit: Infinity }))).toEqual(letters);
        expect(keysOf(await engine.range({ limit: 2.9 }))).toEqual(['a', 'b']);
      });

      it('returns nothing for empty ranges', async () => {
        expect(await engine.range({ limit: 0 })).toEqual([]);
        expect(await engine.range({ limit: -1 })).toEqual([]);
        expect(await engine.range({ gte: s('c'), lt: s('c'), limit: 10 })).toEqual([]);
        expect(await engine.range({ gte: s('d'), lt: s('b'), limit: 10 })).toEqual([]);
        expect(await engine.range({ gte: s('bb'), lt: s('bc'), limit: 10 })).toEqual([]);
        expect(await engine.range({ gte: s('g'), limit: 10 })).toEqual([]);
        expect(await engine.range({ lt: s('a'), limit: 10 })).toEqual([]);
        // No key is below the empty key, so an empty lt admits nothing.
        expect(await engine.range({ lt: Buffer.alloc(0), limit: 10 })).toEqual([]);
      });

      it('treats an empty gte as no lower bound', async () => {
        expect(keysOf(await engine.range({ gte: Buffer.alloc(0), lt: s('b'), limit: 10 }))).toEqual(['a']);
      });

      it('sees writes and deletes made before it', async () => {
        await engine.write([del(s('b')), put(s('bb'), s('BB')), put(s('z'), s('Z'))], { sync: false });
        expect(keysOf(await engine.range({ limit: 10 }))).toEqual(['a', 'bb', 'c', 'd', 'e', 'f', 'z']);
      });

      it('rejects a NaN limit', async () => {
        await expect(engine.range({ limit: Number.NaN })).rejects.toThrow();
      });

      it('pages through many keys with gte = last key + 0x00', async () => {
        const many = Array.from({ length: 3000 }, (_, i) => s(`m${String(i).padStart(5, '0')}`));
        await engine.write(
          many.map((k) => put(k, k)),
          { sync: false },
        );
        const seen: string[] = [];
        let gte = s('m');
        for (;;) {
          const page = await engine.range({ gte, lt: s('n'), limit: 700 });
          for (const [k, v] of page) {
            expect(v.equals(k)).toBe(true);
            seen.push(k.toString());
          }
          if (page.length < 700) break;
          gte = Buffer.concat([(page[page.length - 1] as [Buffer, Buffer])[0], b(0x00)]);
        }
        expect(seen).toEqual(many.map((k) => k.toString()));
      });
    });

    describe('deleteRange', () => {
      beforeEach(async () => {
        await engine.write(
          ['a', 'b', 'ba', 'c', 'd'].map((l) => put(s(l), s(l))),
          { sync: false },
        );
      });

      it('deletes exactly [gte, lt)', async () => {
        await engine.deleteRange(s('b'), s('c'));
        expect((await all()).map(([, v]) => v)).toEqual(['a', 'c', 'd']);
        await engine.deleteRange(s('a'), s('bz'));
        expect((await all()).map(([, v]) => v)).toEqual(['c', 'd']);
      });

      it('does nothing for empty ranges', async () => {
        await engine.deleteRange(s('c'), s('c'));
        await engine.deleteRange(s('d'), s('a'));
        await engine.deleteRange(s('bb'), s('bc'));
        await engine.deleteRange(s('a'), Buffer.alloc(0));
        expect((await all()).map(([, v]) => v)).toEqual(['a', 'b', 'ba', 'c', 'd']);
      });

      it('deletes everything between BOTTOM and TOP, and the keys can be written again', async () => {
        await engine.deleteRange(BOTTOM, TOP);
        expect(await all()).toEqual([]);
        expect(await engine.get(s('a'))).toBeUndefined();
        await engine.write([put(s('a'), s('again'))], { sync: false });
        expect(await all()).toEqual([['61', 'again']]);
      });

      it('deletes many keys across a wide range', async () => {
        const many = Array.from({ length: 5000 }, (_, i) => s(`w${String(i).padStart(5, '0')}`));
        await engine.write(
          many.map((k) => put(k, k)),
          { sync: false },
        );
        await engine.deleteRange(s('w00100'), s('w04900'));
        const rows = await engine.range({ gte: s('w'), lt: s('x'), limit: 10_000, keysOnly: true });
        expect(rows.length).toBe(200);
        expect(rows[99]?.[0].toString()).toBe('w00099');
        expect(rows[100]?.[0].toString()).toBe('w04900');
      });
    });

    describe('buffer ownership', () => {
      it('copies keys and values on write: the caller may reuse its buffers at once', async () => {
        const key = s('key1');
        const value = s('value');
        const writing = engine.write([put(key, value)], { sync: false });
        // Mutated before the write is even awaited.
        key.write('key2');
        value.fill(0x78);
        await writing;
        expect((await engine.get(s('key1')))?.toString()).toBe('value');
        expect(await engine.get(s('key2'))).toBeUndefined();
      });

      it('copies values out: mutating a result does not change the store', async () => {
        await engine.write([put(s('k'), s('value'))], { sync: false });
        (await engine.get(s('k')))?.fill(0);
        (await engine.getMany([s('k')]))[0]?.fill(0);
        const [[rk, rv]] = (await engine.range({ limit: 1 })) as [[Buffer, Buffer]];
        rk.fill(0);
        rv.fill(0);
        expect(await all()).toEqual([['6b', 'value']]);
      });

      it('stores slices of a larger buffer as just the slice', async () => {
        const pool = s('xxKEYxxVALUExx');
        await engine.write([put(pool.subarray(2, 5), pool.subarray(7, 12))], { sync: false });
        expect(await all()).toEqual([[s('KEY').toString('hex'), 'VALUE']]);
      });
    });

    describe('large values', () => {
      it('stores and reads 1 MB values through get, getMany and range', async () => {
        const big = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
        const big2 = Buffer.from(big).reverse();
        await engine.write([put(s('big1'), big), put(s('big2'), big2)], { sync: true });
        expect((await engine.get(s('big1')))?.equals(big)).toBe(true);
        const [g1, g2] = await engine.getMany([s('big1'), s('big2')]);
        expect(g1?.equals(big)).toBe(true);
        expect(g2?.equals(big2)).toBe(true);
        const rows = await engine.range({ gte: s('big'), limit: 10 });
        expect(rows.length).toBe(2);
        expect(rows[0]?.[1].equals(big)).toBe(true);
        expect(rows[1]?.[1].equals(big2)).toBe(true);
      });
    });

    describe('sync writes', () => {
      it('resolve after the write, which is then readable', async () => {
        await engine.write([put(s('s1'), s('1'))], { sync: true });
        expect((await engine.get(s('s1')))?.toString()).toBe('1');
        await engine.write([put(s('s2'), s('2')), del(s('s1'))], { sync: true });
        expect(await all()).toEqual([[s('s2').toString('hex'), '2']]);
      });

      it('mix with unsynced writes in call order', async () => {
        const writes = [];
        for (let i = 0; i < 20; i++) writes.push(engine.write([put(s('same'), s(String(i)))], { sync: i % 3 === 0 }));
        await Promise.all(writes);
        expect((await engine.get(s('same')))?.toString()).toBe('19');
      });
    });

    describe('lifecycle', () => {
      it('rejects operations on a closed engine, and close twice is harmless', async () => {
        await engine.close();
        await engine.close();
        await expect(engine.get(s('a'))).rejects.toThrow();
        await expect(engine.getMany([s('a')])).rejects.toThrow();
        await expect(engine.write([put(s('a'), s('1'))], { sync: false })).rejects.toThrow();
        await expect(engine.range({ limit: 1 })).rejects.toThrow();
        await expect(engine.deleteRange(s('a'), s('b'))).rejects.toThrow();
      });

      it('answers asynchronously', async () => {
        let settled = false;
        const p = engine.get(s('a')).then(() => (settled = true));
        expect(settled).toBe(false);
        await p;
        expect(settled).toBe(true);
      });

      it('can be opened again after close', async () => {
        await engine.write([put(s('a'), s('1'))], { sync: true });
        await engine.close();
        await engine.open();
        await engine.write([put(s('b'), s('2'))], { sync: false });
        expect((await engine.get(s('b')))?.toString()).toBe('2');
      });
    });

    if (declared.persistent) describe('persistence', () => {
      it('keeps synced and unsynced writes and range deletes across close and reopen', async () => {
        await engine.write([put(s('a'), s('1')), put(s('b'), s('2')), put(b(0x00, 0xff), s('bin'))], { sync: true });
        await engine.write([put(s('c'), s('3')), del(s('b'))], { sync: false });
        await engine.write(
          Array.from({ length: 100 }, (_, i) => put(s(`r${String(i).padStart(3, '0')}`), s(String(i)))),
          { sync: false },
        );
        await engine.deleteRange(s('r010'), s('r090'));
        const before = await all();
        await reopen();
        expect(await all()).toEqual(before);
        expect((await engine.get(s('a')))?.toString()).toBe('1');
        expect(await engine.get(s('b'))).toBeUndefined();
        expect((await engine.get(b(0x00, 0xff)))?.toString()).toBe('bin');
        expect((await engine.range({ gte: s('r'), lt: s('s'), limit: 1000 })).length).toBe(20);
      });

      it('keeps large values across reopen, and accepts writes after it', async () => {
        const big = Buffer.alloc(1024 * 1024, 0xab);
        await engine.write([put(s('big'), big)], { sync: true });
        await reopen();
        expect((await engine.get(s('big')))?.equals(big)).toBe(true);
        await engine.write([put(s('after'), s('x'))], { sync: true });
        await reopen();
        expect((await engine.get(s('after')))?.toString()).toBe('x');
        expect((await engine.get(s('big')))?.equals(big)).toBe(true);
      });
    });

    describe('model', () => {
      it('matches a sorted-map model under random puts, deletes, batches, ranges and range deletes', async () => {
        // A small alphabet of edge bytes and short keys, so that operations collide and
        // prefixes of one another are common.
        const keyArb = fc.uint8Array({ minLength: 1, maxLength: 3 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][x % 6] as number)));
        const boundArb = fc.option(
          fc.uint8Array({ minLength: 0, maxLength: 3 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x01, 0x7f, 0x80, 0xff][x % 5] as number))),
          { nil: undefined },
        );
        const valueArb = fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a));
        const opArb: fc.Arbitrary<WriteOp> = fc.oneof(
          fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }),
          fc.record({ type: fc.constant('del' as const), key: keyArb }),
        );
        type Command =
          | { kind: 'write'; ops: WriteOp[]; sync: boolean }
          | { kind: 'get'; keys: Buffer[] }
          | { kind: 'range'; gte: Buffer | undefined; lt: Buffer | undefined; limit: number; keysOnly: boolean }
          | { kind: 'deleteRange'; gte: Buffer; lt: Buffer }
          | { kind: 'reopen' };
        const commandArb: fc.Arbitrary<Command> = fc.oneof(
          { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 6 }), sync: fc.boolean() }) },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), keys: fc.array(keyArb, { maxLength: 5 }) }) },
          { weight: 3, arbitrary: fc.record({ kind: fc.constant('range' as const), gte: boundArb, lt: boundArb, limit: fc.integer({ min: 0, max: 12 }), keysOnly: fc.boolean() }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteRange' as const), gte: boundArb.map((x) => x ?? Buffer.alloc(0)), lt: boundArb.map((x) => x ?? TOP) }) },
          { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
        );

        await fc.assert(
          fc.asyncProperty(fc.array(commandArb, { maxLength: 30 }), async (commands) => {
            // One engine serves every run: empty it first.
            await engine.deleteRange(Buffer.alloc(0), TOP);
            const model = new Map<string, Buffer>();
            const sortedModel = (): Array<[Buffer, Buffer]> => [...model.entries()].map(([k, v]): [Buffer, Buffer] => [Buffer.from(k, 'hex'), v]).sort(([x], [y]) => Buffer.compare(x, y));
            const inRange = (k: Buffer, gte: Buffer | undefined, lt: Buffer | undefined): boolean => (gte === undefined || Buffer.compare(k, gte) >= 0) && (lt === undefined || Buffer.compare(k, lt) < 0);

            for (const command of commands) {
              switch (command.kind) {
                case 'write':
                  await engine.write(command.ops, { sync: command.sync });
                  for (const op of command.ops) {
                    if (op.type === 'put') model.set(op.key.toString('hex'), Buffer.from(op.value));
                    else model.delete(op.key.toString('hex'));
                  }
                  break;
                case 'get': {
                  const got = await engine.getMany(command.keys);
                  expect(got.map((v) => v?.toString('hex'))).toEqual(command.keys.map((k) => model.get(k.toString('hex'))?.toString('hex')));
                  const first = command.keys[0];
                  if (first !== undefined) expect((await engine.get(first))?.toString('hex')).toBe(model.get(first.toString('hex'))?.toString('hex'));
                  break;
                }
                case 'range': {
                  const { gte, lt, limit, keysOnly } = command;
                  const got = await engine.range({ ...(gte ? { gte } : {}), ...(lt ? { lt } : {}), limit, keysOnly });
                  const want = sortedModel()
                    .filter(([k]) => inRange(k, gte, lt))
                    .slice(0, limit)
                    .map(([k, v]): [Buffer, Buffer] => [k, keysOnly ? Buffer.alloc(0) : v]);
                  expect(got.map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual(want.map(([k, v]) => [k.toString('hex'), v.toString('hex')]));
                  break;
                }
                case 'deleteRange':
                  await engine.deleteRange(command.gte, command.lt);
                  for (const [k, key] of [...model.keys()].map((h): [string, Buffer] => [h, Buffer.from(h, 'hex')])) {
                    if (inRange(key, command.gte, command.lt)) model.delete(k);
                  }
                  break;
                case 'reopen':
                  if (engine.supports.persistent) await reopen();
                  break;
              }
            }
            const final = await engine.range({ limit: 10_000 });
            expect(final.map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual(sortedModel().map(([k, v]) => [k.toString('hex'), v.toString('hex')]));
          }),
          { numRuns: 60 },
        );
      }, 120_000);
    });
  });
}
