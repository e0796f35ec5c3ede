/**
 * The key layout in the storage engine. The partition leads every data key, so a partition
 * is one contiguous iterator range (transfer, anti-entropy and SCAN walk it in order):
 *
 *   data:  'd' '|' partition(u16 BE) hash(u32 BE) key      → sibling set
 *   hints: 'h' '|' len(u8) target partition(u16 BE) key    → hinted sibling set
 *   fallback episodes: 'f' '|' partition(u16 BE) key     → a fallback coordinator's journal (replication/fallback-journal.ts)
 *   meta:  'm' '|' name                                    → node metadata
 *
 * Inside a partition keys are ordered by a 32-bit hash of the key (FNV-1a), so a position in
 * the whole keyspace is the 48-bit number partition·2^32 + hash. SCAN uses that number as
 * its cursor: it needs no server-side state, survives restarts, can be continued through any
 * node, and stays below 2^53 so clients that parse cursors as numbers keep it exact.
 * (The shared design's data key is 'd' '|' partition key; the hash is inserted between the
 * partition and the key for the SCAN cursor, and replica-store.ts relies on it.)
 *
 * The '|' after the one-letter prefix is a literal byte. Every later field is fixed-width or
 * length-prefixed, so a user key may hold any bytes and needs no escaping, and the three kinds
 * of keys occupy disjoint ranges ('d|', 'h|', 'm|').
 */
const SEP = 0x7c; // '|'
const DATA = 0x64; // 'd'
const HINT = 0x68; // 'h'
const META = 0x6d; // 'm'
const EPISODE = 0x66; // 'f'
const DATA_HEADER_BYTES = 2 + 2 + 4;
export const PARTITIONS_MAX = 65536;
const TWO_POW_32 = 2 ** 32;

/** FNV-1a, 32 bits: cheap, well spread for short keys; only orders keys within a partition. */
export function keyHash(key: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= PARTITIONS_MAX) {
    throw new RangeError(`partition out of range: ${partition}`);
  }
}

export function dataKey(partition: number, key: Buffer): Buffer {
  checkPartition(partition);
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES + key.length);
  out[0] = DATA;
  out[1] = SEP;
  out.writeUInt16BE(partition, 2);
  out.writeUInt32BE(keyHash(key), 4);
  key.copy(out, DATA_HEADER_BYTES);
  return out;
}

export function isDataKey(k: Buffer): boolean {
  return k.length >= DATA_HEADER_BYTES && k[0] === DATA && k[1] === SEP;
}

/** The partition and user key of a data key (the key is a zero-copy slice). */
export function parseDataKey(k: Buffer): { partition: number; key: Buffer } {
  if (!isDataKey(k)) throw new Error(`not a data key: ${k.subarray(0, 16).toString('hex')}`);
  return { partition: k.readUInt16BE(2), key: k.subarray(DATA_HEADER_BYTES) };
}

/** The keyspace position (partition·2^32 + hash) of a data key. */
export function positionOfDataKey(k: Buffer): number {
  return k.readUInt16BE(2) * TWO_POW_32 + k.readUInt32BE(4);
}

/** The smallest data key at or after a keyspace position. */
export function dataPositionKey(position: number): Buffer {
  if (!Number.isSafeInteger(position) || position < 0 || position >= PARTITIONS_MAX * TWO_POW_32) {
    throw new RangeError(`position out of range: ${position}`);
  }
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  out[0] = DATA;
  out[1] = SEP;
  out.writeUInt16BE(Math.floor(position / TWO_POW_32), 2);
  out.writeUInt32BE(position % TWO_POW_32, 4);
  return out;
}

/** [gte, lt) of one partition's data keys. */
export function dataPartitionRange(partition: number): { gte: Buffer; lt: Buffer } {
  checkPartition(partition);
  const gte = Buffer.from([DATA, SEP, partition >> 8, partition & 0xff]);
  const lt = partition + 1 < PARTITIONS_MAX ? Buffer.from([DATA, SEP, (partition + 1) >> 8, (partition + 1) & 0xff]) : Buffer.from([DATA, SEP + 1]);
  return { gte, lt };
}

/** [gte, lt) of every data key. */
export function dataRange(): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([DATA, SEP]), lt: Buffer.from([DATA, SEP + 1]) };
}

function targetBytes(target: string): Buffer {
  const t = Buffer.from(target, 'utf8');
  if (t.length > 255) throw new RangeError(`hint target id longer than 255 bytes: ${target.slice(0, 40)}...`);
  return t;
}

export function hintKey(target: string, partition: number, key: Buffer): Buffer {
  checkPartition(partition);
  const t = targetBytes(target);
  const out = Buffer.allocUnsafe(3 + t.length + 2 + key.length);
  out[0] = HINT;
  out[1] = SEP;
  out[2] = t.length;
  t.copy(out, 3);
  out.writeUInt16BE(partition, 3 + t.length);
  key.copy(out, 5 + t.length);
  return out;
}

export function isHintKey(k: Buffer): boolean {
  return k.length >= 5 && k[0] === HINT && k[1] === SEP && k.length >= 5 + (k[2] as number);
}

/** The target node, partition and user key of a hint key (the key is a zero-copy slice). */
export function parseHintKey(k: Buffer): { target: string; partition: number; key: Buffer } {
  if (!isHintKey(k)) throw new Error(`not a hint key: ${k.subarray(0, 16).toString('hex')}`);
  const len = k[2] as number;
  return {
    target: k.toString('utf8', 3, 3 + len),
    partition: k.readUInt16BE(3 + len),
    key: k.subarray(5 + len),
  };
}

/** [gte, lt) of every hint for one target node. */
export function hintTargetRange(target: string): { gte: Buffer; lt: Buffer } {
  const t = targetBytes(target);
  const gte = Buffer.concat([Buffer.from([HINT, SEP, t.length]), t]);
  // Every hint for the target is gte + partition + key, so gte with its last byte below 0xff
  // incremented (and what follows dropped) bounds them all. The prefix starts with 'h', so
  // such a byte always exists.
  return { gte, lt: incrementPrefix(gte) };
}

function incrementPrefix(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  let i = out.length - 1;
  while ((out[i] as number) === 0xff) i--;
  out[i] = (out[i] as number) + 1;
  return out.subarray(0, i + 1);
}

export function episodeKey(partition: number, key: Buffer): Buffer {
  checkPartition(partition);
  const out = Buffer.allocUnsafe(4 + key.length);
  out[0] = EPISODE;
  out[1] = SEP;
  out.writeUInt16BE(partition, 2);
  key.copy(out, 4);
  return out;
}

/** [gte, lt) of every fallback episode key. */
export function episodeRange(): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([EPISODE, SEP]), lt: Buffer.from([EPISODE, SEP + 1]) };
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([META, SEP]), Buffer.from(name, 'utf8')]);
}
