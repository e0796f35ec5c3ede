/**
 * Key → partition: a pure function chosen when a cluster is created.
 *
 *  - `redis-slot` (default): Redis Cluster's CRC16 (XMODEM) of the key or its {hash tag},
 *    16384 slots; partition = the slot's range (slot >> (14 - log2 Q)), so each partition is
 *    a contiguous slot range and cluster-aware clients can later be shown an exact slot map.
 *  - `md5`: the Dynamo paper's ring position, the 128-bit MD5 of the key; partition = its top
 *    log2(Q) bits (DeCandia et al., "Dynamo", SOSP 2007, §4.2 and strategy 3 of §6.2).
 */
import { createHash } from 'node:crypto';

export type PartitionScheme = 'redis-slot' | 'md5';
export const SLOTS = 16384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM), as Redis Cluster uses: crc16("123456789") = 0x31c3. */
export function crc16(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ (buf[i] as number)) & 0xff] as number);
  }
  return crc;
}

/** Redis's keyHashSlot: hash only the part between the first '{' and the next '}' if non-empty. */
export function keySlot(key: Buffer): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & (SLOTS - 1);
  }
  return crc16(key) & (SLOTS - 1);
}

function log2(q: number): number {
  return 31 - Math.clz32(q);
}

export function validatePartitions(scheme: PartitionScheme, partitions: number): void {
  const max = scheme === 'redis-slot' ? SLOTS : 65536;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > max || (partitions & (partitions - 1)) !== 0) {
    throw new Error(`partitions must be a power of two between 1 and ${max} for ${scheme} (got ${partitions})`);
  }
}

export function makePartitioner(scheme: PartitionScheme, partitions: number): (key: Buffer) => number {
  validatePartitions(scheme, partitions);
  const bits = log2(partitions);
  if (scheme === 'redis-slot') {
    const shift = 14 - bits;
    return (key) => keySlot(key) >> shift;
  }
  return (key) => {
    if (bits === 0) return 0;
    const digest = createHash('md5').update(key).digest();
    return digest.readUInt32BE(0) >>> (32 - bits);
  };
}

/** The slots [first, last] of a partition under redis-slot. */
export function partitionSlotRange(partition: number, partitions: number): [number, number] {
  const size = SLOTS / partitions;
  return [partition * size, partition * size + size - 1];
}
