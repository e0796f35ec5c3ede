/**
 * The anti-entropy hash tree of one partition (pure). DESIGN.md §5; the idea is the Merkle
 * tree of the Dynamo paper §4.7 and Riak's AAE, with XOR-combined leaves so that a write
 * updates the tree in O(1) instead of rehashing a leaf.
 *
 *  - A partition's keyspace (the 32-bit key hash, see storage/key-layout.ts) is cut into S
 *    equal segments, S a power of two; segment = the top log2(S) bits of the key hash. Each
 *    segment is therefore one contiguous range of the partition's data keys.
 *  - A key's contribution is a 64-bit hash of the key and the dots of its sibling set (equal
 *    dots mean equal sets, DESIGN.md §3), or 0 for no set. A segment's value is the XOR of its
 *    keys' contributions; a write XORs out the old contribution and XORs in the new.
 *  - Two replicas whose segment values are equal hold the same sets in that segment (up to a
 *    64-bit hash collision); an exchange compares the S values and syncs the keys of the
 *    segments that differ.
 *
 * Values are kept as pairs of uint32 (two independent 32-bit hash lanes).
 */
import { fmix32 } from '../util/hash.js';
import { keyHash } from '../storage/key-layout.js';
import type { SiblingSet } from '../versions/dvv.js';

/** Segments per partition for a ring of `partitions`: a fixed total, so memory does not grow with Q. */
export function segmentsFor(partitions: number, total: number, min: number, max: number): number {
  let s = max;
  while (s > min && s * partitions > total) s /= 2;
  return s;
}

/** The segment of a key (top bits of its key hash). */
export function segmentOf(key: Buffer, segments: number): number {
  return Math.floor(keyHash(key) / (2 ** 32 / segments));
}

/** The first key-hash value of segment `s` (the segment is [first, first + 2^32/S)). */
export function segmentStart(s: number, segments: number): number {
  return s * (2 ** 32 / segments);
}

function mixBytes(h1: number, h2: number, b: Buffer): [number, number] {
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return [h1, h2];
}

function mixString(h1: number, h2: number, s: string): [number, number] {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return [h1, h2];
}

function mixNumber(h1: number, h2: number, n: number): [number, number] {
  const lo = n >>> 0;
  const hi = Math.floor(n / 2 ** 32) >>> 0;
  h1 = Math.imul(h1 ^ lo, 0x01000193);
  h1 = Math.imul(h1 ^ hi, 0x01000193);
  h2 = Math.imul(h2 ^ lo, 0x5bd1e995);
  h2 ^= h2 >>> 15;
  h2 = Math.imul(h2 ^ hi, 0x5bd1e995);
  h2 ^= h2 >>> 15;
  return [h1, h2];
}


/**
 * A key's contribution: [lane1, lane2], [0, 0] for no set. Depends on the key and the set's
 * dots only, in an order-independent way (dots are combined by sum), so equal sets on two
 * replicas contribute equally whatever order their siblings are in.
 */
export function contribution(key: Buffer, set: SiblingSet): [number, number] {
  if (set.length === 0) return [0, 0];
  let [k1, k2] = mixBytes(0x811c9dc5, 0x9747b28c, key);
  let d1 = 0;
  let d2 = 0;
  for (const s of set) {
    let [a, b] = mixString(0x2545f491, 0x68e31da4, s.actor);
    [a, b] = mixNumber(a, b, s.counter);
    d1 = (d1 + fmix32(a)) >>> 0;
    d2 = (d2 + fmix32(b)) >>> 0;
  }
  [k1, k2] = mixNumber(k1, k2, d1);
  [k1, k2] = mixNumber(k1, k2, d2);
  [k1, k2] = mixNumber(k1, k2, set.length);
  const lo = fmix32(k1) || 1; // never [0, 0] for a present key
  return [lo, fmix32(k2 ^ lo)];
}

/** The segment values of one partition. */
export class SegmentHashes {
  readonly values: Uint32Array;

  constructor(readonly segments: number) {
    this.values = new Uint32Array(segments * 2);
  }

  static from(bytes: Buffer, segments: number): SegmentHashes {
    if (bytes.length !== segments * 8) throw new Error(`expected ${segments * 8} bytes of segment hashes, got ${bytes.length}`);
    const t = new SegmentHashes(segments);
    for (let i = 0; i < segments * 2; i++) t.values[i] = bytes.readUInt32BE(i * 4);
    return t;
  }

  toBytes(): Buffer {
    const out = Buffer.allocUnsafe(this.segments * 8);
    for (let i = 0; i < this.segments * 2; i++) out.writeUInt32BE(this.values[i] as number, i * 4);
    return out;
  }

  /** XOR a contribution into segment `s` (to add or, applied again, to remove it). */
  toggle(s: number, c: readonly [number, number]): void {
    this.values[s * 2] = ((this.values[s * 2] as number) ^ c[0]) >>> 0;
    this.values[s * 2 + 1] = ((this.values[s * 2 + 1] as number) ^ c[1]) >>> 0;
  }

  /** Apply a change of one key from `before` to `after`. */
  update(key: Buffer, before: SiblingSet, after: SiblingSet): void {
    const s = segmentOf(key, this.segments);
    this.toggle(s, contribution(key, before));
    this.toggle(s, contribution(key, after));
  }

  /** Segments whose values differ from `other`'s. */
  diff(other: SegmentHashes): number[] {
    if (other.segments !== this.segments) throw new Error('segment counts differ');
    const out: number[] = [];
    for (let s = 0; s < this.segments; s++) {
      if (this.values[s * 2] !== other.values[s * 2] || this.values[s * 2 + 1] !== other.values[s * 2 + 1]) out.push(s);
    }
    return out;
  }
}
