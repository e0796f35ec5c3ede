/**
 * The key layout: parses invert builders, keys sort by partition first, and each range holds
 * exactly the keys it names (and no key of another kind).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PARTITIONS_MAX,
  dataKey,
  dataPartitionRange,
  dataPositionKey,
  dataRange,
  hintKey,
  hintTargetRange,
  isDataKey,
  keyHash,
  metaKey,
  parseDataKey,
  parseHintKey,
  positionOfDataKey,
} from '../../src/storage/key-layout.js';

const partitionArb = fc.integer({ min: 0, max: PARTITIONS_MAX - 1 });
/** Partitions near the edges are where off-by-one bugs live. */
const edgyPartitionArb = fc.oneof(partitionArb, fc.constantFrom(0, 1, 255, 256, 65_534, 65_535));
const userKeyArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const targetArb = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('n1', 'n10', 'n1\u0000', 'node-é'));
const inside = (k: Buffer, r: { gte: Buffer; lt: Buffer }): boolean => Buffer.compare(k, r.gte) >= 0 && Buffer.compare(k, r.lt) < 0;

describe('key layout', () => {
  it('round-trips data keys', () => {
    fc.assert(
      fc.property(edgyPartitionArb, userKeyArb, (partition, key) => {
        const k = dataKey(partition, key);
        expect(k.subarray(0, 2).toString('latin1')).toBe('d|');
        expect(isDataKey(k)).toBe(true);
        const parsed = parseDataKey(k);
        expect(parsed.partition).toBe(partition);
        expect(parsed.key.equals(key)).toBe(true);
      }),
    );
  });

  it('round-trips hint keys', () => {
    fc.assert(
      fc.property(targetArb, edgyPartitionArb, userKeyArb, (target, partition, key) => {
        const k = hintKey(target, partition, key);
        expect(k.subarray(0, 2).toString('latin1')).toBe('h|');
        const parsed = parseHintKey(k);
        expect(parsed.target).toBe(target);
        expect(parsed.partition).toBe(partition);
        expect(parsed.key.equals(key)).toBe(true);
      }),
    );
  });

  it('sorts data keys by partition in numeric order, whatever the user keys', () => {
    fc.assert(
      fc.property(edgyPartitionArb, edgyPartitionArb, userKeyArb, userKeyArb, (p, q, a, b) => {
        fc.pre(p !== q);
        expect(Math.sign(Buffer.compare(dataKey(p, a), dataKey(q, b)))).toBe(Math.sign(p - q));
      }),
    );
  });

  it("puts a data key in its own partition's range and in no other", () => {
    fc.assert(
      fc.property(edgyPartitionArb, edgyPartitionArb, userKeyArb, (p, q, key) => {
        expect(inside(dataKey(p, key), dataPartitionRange(q))).toBe(p === q);
        expect(inside(dataKey(p, key), dataRange())).toBe(true);
      }),
    );
  });

  it('keeps hint and meta keys out of data ranges, and data and meta keys out of hint ranges', () => {
    fc.assert(
      fc.property(targetArb, edgyPartitionArb, userKeyArb, fc.string(), (target, partition, key, name) => {
        const hint = hintKey(target, partition, key);
        const meta = metaKey(name);
        expect(inside(hint, dataRange()) || inside(meta, dataRange())).toBe(false);
        expect(inside(hint, dataPartitionRange(partition))).toBe(false);
        expect(inside(dataKey(partition, key), hintTargetRange(target)) || inside(meta, hintTargetRange(target))).toBe(false);
      }),
    );
  });

  it("puts a hint in its own target's range and in no other, also when one target id is a prefix of another", () => {
    fc.assert(
      fc.property(targetArb, targetArb, edgyPartitionArb, userKeyArb, (t, u, partition, key) => {
        expect(inside(hintKey(t, partition, key), hintTargetRange(u))).toBe(t === u);
      }),
    );
    expect(inside(hintKey('n1', 0, Buffer.from('x')), hintTargetRange('n10'))).toBe(false);
    expect(inside(hintKey('n10', 0, Buffer.from('x')), hintTargetRange('n1'))).toBe(false);
  });

  it('the ranges of adjacent partitions meet without a gap, and the last one ends the data range', () => {
    for (const p of [0, 1, 255, 256, 65_533, 65_534]) {
      expect(dataPartitionRange(p).lt.equals(dataPartitionRange(p + 1).gte)).toBe(true);
    }
    expect(Buffer.compare(dataRange().gte, dataPartitionRange(0).gte)).toBeLessThanOrEqual(0);
    expect(dataPartitionRange(PARTITIONS_MAX - 1).lt.equals(dataRange().lt)).toBe(true);
  });

  it('refuses partitions outside 0..65535', () => {
    for (const bad of [-1, 65_536, 1.5, Number.NaN, Infinity]) {
      expect(() => dataKey(bad, Buffer.from('k'))).toThrow(RangeError);
      expect(() => dataPartitionRange(bad)).toThrow(RangeError);
      expect(() => hintKey('n', bad, Buffer.from('k'))).toThrow(RangeError);
    }
  });

  it('refuses hint targets longer than 255 bytes', () => {
    expect(() => hintKey('x'.repeat(256), 0, Buffer.from('k'))).toThrow(RangeError);
    expect(() => hintTargetRange('é'.repeat(128))).toThrow(RangeError);
    expect(parseHintKey(hintKey('x'.repeat(255), 7, Buffer.from('k'))).target.length).toBe(255);
  });

  it('refuses to parse keys of another kind or truncated keys', () => {
    expect(() => parseDataKey(metaKey('identity'))).toThrow();
    expect(() => parseDataKey(Buffer.from('d|'))).toThrow();
    expect(() => parseHintKey(dataKey(0, Buffer.from('k')))).toThrow();
    expect(() => parseHintKey(Buffer.from([0x68, 0x7c, 10, 0x61]))).toThrow();
  });

  it('builds meta keys as m| and the name', () => {
    expect(metaKey('identity').toString()).toBe('m|identity');
  });

  it('orders keys in a partition by position (partition, hash), and positions round-trip', () => {
    fc.assert(
      fc.property(edgyPartitionArb, userKeyArb, (partition, key) => {
        const k = dataKey(partition, key);
        const position = positionOfDataKey(k);
        expect(position).toBe(partition * 2 ** 32 + keyHash(key));
        const start = dataPositionKey(position);
        // The position key is the smallest key at that position: at or before k, same position.
        expect(Buffer.compare(start, k)).toBeLessThanOrEqual(0);
        expect(positionOfDataKey(Buffer.concat([start, Buffer.from([0])]))).toBe(position);
      }),
    );
  });
});
