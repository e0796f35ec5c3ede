/**
 * A Bloom filter over the data keys stored in the engine (Bloom, "Space/time trade-offs in
 * hash coding with allowable errors", 1970), so that a read of a key that was never written
 * (every first write of a key reads it first) is answered without a trip to RocksDB.
 *
 * It may say "maybe" for a key that is absent (a false positive: the read just goes to the
 * engine), and must never say "absent" for a key that is stored. The replica store keeps that
 * promise by adding every data key it writes, from the moment it starts, and by counting as
 * stored every key a scan of the engine finds; the filter is consulted only once that scan is
 * complete. Deletes do not remove keys (a Bloom filter cannot), which only adds false positives;
 * when more keys were added than the filter was sized for, it is rebuilt larger.
 */
import { limits } from '../limits.js';

const PROBES = 7; // optimal for 10 bits per key: about a 1% false-positive rate

export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  added = 0;

  /** A filter for about `capacity` keys at limits.absentFilterBitsPerKey bits each. */
  constructor(readonly capacity: number) {
    let size = 1024;
    while (size < capacity * limits.absentFilterBitsPerKey && size * 2 <= limits.absentFilterMaxBytes * 8) size *= 2;
    this.bits = new Uint32Array(size / 32);
    this.mask = size - 1;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }

  add(key: Buffer): void {
    const [first, h2] = hashes(key);
    let h1 = first;
    for (let i = 0; i < PROBES; i++) {
      const bit = h1 & this.mask;
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] as number) | (1 << (bit & 31));
      h1 = (h1 + h2) >>> 0;
    }
    this.added++;
  }

  /** False only if `key` was never added. */
  mightContain(key: Buffer): boolean {
    const [first, h2] = hashes(key);
    let h1 = first;
    for (let i = 0; i < PROBES; i++) {
      const bit = h1 & this.mask;
      if (((this.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
      h1 = (h1 + h2) >>> 0;
    }
    return true;
  }
}

/** Two independent 32-bit hashes for double hashing (Kirsch and Mitzenmacher, 2006). */
function hashes(key: Buffer): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key[i] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  return [a >>> 0, (b | 1) >>> 0];
}
