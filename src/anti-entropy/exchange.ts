/**
 * One anti-entropy exchange (DESIGN.md §5): this node and one other replica of a partition
 * compare their segment hashes; for each segment that differs (a bounded number per
 * exchange), both sides' keys in the segment are read, merged by sync, and every key is
 * written to the side that holds less, in both directions.
 */
import { limits } from '../limits.js';
import type { ScanPage } from '../replication/transport.js';
import type { ScanEntry } from '../storage/replica-store.js';
import { sameDots, sync, type SiblingSet } from '../versions/dvv.js';
import { segmentStart, SegmentHashes } from './hash-tree.js';

const POSITIONS_PER_PARTITION = 2 ** 32;

/** What an exchange needs of the other replica (the peer bus implements it). */
export interface ExchangePeer {
  /** The peer's segment hashes of a partition, or undefined when its tree is not built. */
  tree(member: string, partition: number): Promise<Buffer | undefined>;
  /** One page of the peer's keys in [position, end) of a partition. */
  scan(member: string, partition: number, position: number, limit: number, end: number): Promise<ScanPage>;
  write(member: string, partition: number, key: Buffer, set: SiblingSet): Promise<void>;
}

/** What an exchange needs of this node. */
export interface ExchangeLocal {
  tree(partition: number): SegmentHashes | undefined;
  scan(position: number, limit: number, end: number): Promise<{ entries: ScanEntry[]; next: number }>;
  /** Sync a set into the local replica; true when it changed. */
  sync(partition: number, key: Buffer, set: SiblingSet): Promise<boolean>;
}

export interface ExchangeResult {
  /** false when either tree was not built (nothing compared). */
  readonly compared: boolean;
  readonly segmentsDiffering: number;
  readonly keysRepairedHere: number;
  readonly keysRepairedThere: number;
}

export async function exchange(partition: number, member: string, local: ExchangeLocal, peer: ExchangePeer): Promise<ExchangeResult> {
  const mine = local.tree(partition);
  if (mine === undefined) return { compared: false, segmentsDiffering: 0, keysRepairedHere: 0, keysRepairedThere: 0 };
  const raw = await peer.tree(member, partition);
  if (raw === undefined) return { compared: false, segmentsDiffering: 0, keysRepairedHere: 0, keysRepairedThere: 0 };
  const theirs = SegmentHashes.from(raw, mine.segments);
  const differing = mine.diff(theirs);
  let here = 0;
  let there = 0;
  for (const segment of differing.slice(0, limits.aeSegmentsPerExchangeMax)) {
    const base = partition * POSITIONS_PER_PARTITION;
    const start = base + segmentStart(segment, mine.segments);
    const end = segment + 1 === mine.segments ? base + POSITIONS_PER_PARTITION : base + segmentStart(segment + 1, mine.segments);
    const [ours, remote] = await Promise.all([
      readAll((position) => local.scan(position, limits.aeKeysPerPage, end), start),
      readAll((position) => peer.scan(member, partition, position, limits.aeKeysPerPage, end), start),
    ]);
    const byKey = new Map<string, { key: Buffer; ours: SiblingSet; theirs: SiblingSet }>();
    for (const e of ours) byKey.set(e.key.toString('latin1'), { key: e.key, ours: e.set, theirs: [] });
    for (const e of remote) {
      const id = e.key.toString('latin1');
      const known = byKey.get(id);
      if (known === undefined) byKey.set(id, { key: e.key, ours: [], theirs: e.set });
      else known.theirs = e.set;
    }
    for (const { key, ours: a, theirs: b } of byKey.values()) {
      if (sameDots(a, b)) continue;
      const merged = sync(a, b);
      if (!sameDots(merged, a) && (await local.sync(partition, key, merged))) here++;
      if (!sameDots(merged, b)) {
        await peer.write(member, partition, key, merged);
        there++;
      }
    }
  }
  return { compared: true, segmentsDiffering: differing.length, keysRepairedHere: here, keysRepairedThere: there };
}

/** Every entry of a range, page by page (bounded by limits.aeKeysPerSegmentMax). */
async function readAll(page: (position: number) => Promise<ScanPage>, start: number): Promise<ScanEntry[]> {
  const out: ScanEntry[] = [];
  let position = start;
  for (;;) {
    const p = await page(position);
    out.push(...p.entries);
    if (p.next === 0 || out.length >= limits.aeKeysPerSegmentMax) return out;
    position = p.next;
  }
}
