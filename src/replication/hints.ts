/**
 * Hinted handoff storage (DESIGN.md §5): versions this node holds for a replica that could
 * not take them (a down primary it stands in for, or, as in Cassandra, a primary that missed
 * a write this node coordinated while no spare node could stand in).
 *
 *  - A hint is `h|target|partition|key → u8 format, varint createdAtMs, sibling set`. Hints
 *    for one target and key merge by sync; createdAt stays that of the first, so a hint
 *    expires a fixed window after the oldest version in it was stored.
 *  - Hints are written through the replica store's group commit: a hint is acknowledged only
 *    once it is in the engine, exactly like a data write.
 *  - A hint is deleted only if it still holds what was delivered (compare-and-delete under the
 *    key's chain), so a version added while a delivery was in flight is delivered later.
 *  - Expired hints are dropped, never delivered: tombstones are reaped only after a grace
 *    period longer than the window (config.ts checks it), so an expired hint cannot bring a
 *    deleted value back. Anti-entropy repairs what an expired hint would have carried.
 *  - Pending hints are counted per target (rebuilt by a scan at start) and bounded per
 *    target (limits.hintsPerTargetMax): beyond it a new hint is refused and the write looks
 *    for another replica.
 */
import { limits } from '../limits.js';
import type { FallbackJournal } from './fallback-journal.js';
import type { StorageEngine } from '../storage/engine.js';
import { hintKey, hintTargetRange, isHintKey, parseHintKey } from '../storage/key-layout.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { ByteReader, ByteWriter } from '../util/bytes.js';
import { KeyedChain } from '../util/keyed-chain.js';
import { RepeatingTimer } from '../util/repeating-timer.js';
import { sameDots, sync, type SiblingSet } from '../versions/dvv.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';

const HINT_FORMAT_V1 = 1;

export interface Hint {
  readonly target: string;
  readonly partition: number;
  readonly key: Buffer;
  readonly set: SiblingSet;
  readonly createdAtMs: number;
}

export class HintLimitError extends Error {
  constructor(target: string) {
    super(`hints for ${target} are at their limit (${limits.hintsPerTargetMax})`);
    this.name = 'HintLimitError';
  }
}

export function encodeHint(createdAtMs: number, set: SiblingSet): Buffer {
  const header = new ByteWriter(16).u8(HINT_FORMAT_V1).varint(createdAtMs).finish();
  return Buffer.concat([header, encodeSiblingSet(set)]);
}

export function decodeHint(raw: Buffer): { createdAtMs: number; set: SiblingSet } {
  const r = new ByteReader(raw);
  const version = r.u8();
  if (version !== HINT_FORMAT_V1) throw new Error(`unknown hint format ${version}`);
  const createdAtMs = r.varint();
  return { createdAtMs, set: decodeSiblingSet(raw.subarray(r.offset)) };
}

export interface HintStats {
  stored: number;
  delivered: number;
  expired: number;
  refused: number;
}

export class HintStore {
  private readonly counts = new Map<string, number>();
  private readonly chains = new KeyedChain();
  readonly stats: HintStats = { stored: 0, delivered: 0, expired: 0, refused: 0 };

  constructor(
    private readonly engine: StorageEngine,
    private readonly store: ReplicaStore,
    private readonly options: { readonly windowMs: number; readonly clock?: () => number },
  ) {}

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** Count the hints already stored (after a restart). Bounded pages over the hint range. */
  async open(): Promise<void> {
    let from = Buffer.from('h|');
    const lt = Buffer.from('h}');
    for (;;) {
      const rows = await this.engine.range({ gte: from, lt, limit: 4096, keysOnly: true });
      for (const [k] of rows) {
        if (!isHintKey(k)) continue;
        const { target } = parseHintKey(k);
        this.counts.set(target, (this.counts.get(target) ?? 0) + 1);
      }
      if (rows.length < 4096) return;
      from = Buffer.concat([(rows[rows.length - 1] as [Buffer, Buffer])[0], Buffer.from([0])]);
    }
  }

  /** Pending hints per target. */
  pending(): ReadonlyMap<string, number> {
    return this.counts;
  }

  pendingTotal(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** Store (merge) a hint for `target`. Resolves once it is in the engine. */
  put(target: string, partition: number, key: Buffer, set: SiblingSet): Promise<void> {
    const storageKey = hintKey(target, partition, key);
    return this.chains.run(storageKey.toString('latin1'), async () => {
      const raw = await this.engine.get(storageKey);
      let createdAtMs = this.now();
      let merged = set;
      if (raw !== undefined) {
        const old = decodeHint(raw);
        createdAtMs = old.createdAtMs;
        merged = sync(old.set, set);
        if (sameDots(merged, old.set)) return;
      } else {
        if ((this.counts.get(target) ?? 0) >= limits.hintsPerTargetMax) {
          this.stats.refused++;
          throw new HintLimitError(target);
        }
        this.counts.set(target, (this.counts.get(target) ?? 0) + 1);
      }
      try {
        await this.store.writeOther([{ type: 'put', key: storageKey, value: encodeHint(createdAtMs, merged) }]);
      } catch (err) {
        if (raw === undefined) this.decrement(target);
        throw err;
      }
      this.stats.stored++;
    });
  }

  /** The hinted set for one target and key ([] when none or expired). */
  async get(target: string, partition: number, key: Buffer): Promise<SiblingSet> {
    const raw = await this.engine.get(hintKey(target, partition, key));
    if (raw === undefined) return [];
    const hint = decodeHint(raw);
    return this.expired(hint.createdAtMs) ? [] : hint.set;
  }

  private expired(createdAtMs: number): boolean {
    return this.now() - createdAtMs > this.options.windowMs;
  }

  /**
   * Up to `limit` deliverable hints for `target`, in key order. Expired hints met on the way
   * are deleted (and counted), never returned.
   */
  async page(target: string, limit: number): Promise<Hint[]> {
    const { gte, lt } = hintTargetRange(target);
    const rows = await this.engine.range({ gte, lt, limit });
    const out: Hint[] = [];
    for (const [k, v] of rows) {
      const { partition, key } = parseHintKey(k);
      let hint: { createdAtMs: number; set: SiblingSet };
      try {
        hint = decodeHint(v);
      } catch {
        // An undecodable hint cannot be delivered; drop it rather than retry it forever.
        await this.deleteIf(target, partition, Buffer.from(key), () => true);
        continue;
      }
      if (this.expired(hint.createdAtMs)) {
        if (await this.deleteIf(target, partition, Buffer.from(key), (h) => this.expired(h.createdAtMs))) this.stats.expired++;
        continue;
      }
      out.push({ target, partition, key: Buffer.from(key), set: hint.set, createdAtMs: hint.createdAtMs });
    }
    return out;
  }

  /** Delete a delivered hint if it still holds exactly the delivered dots. */
  async delivered(hint: Hint): Promise<boolean> {
    const done = await this.deleteIf(hint.target, hint.partition, hint.key, (h) => sameDots(h.set, hint.set));
    if (done) this.stats.delivered++;
    return done;
  }

  private deleteIf(
    target: string,
    partition: number,
    key: Buffer,
    still: (h: { createdAtMs: number; set: SiblingSet }) => boolean,
  ): Promise<boolean> {
    const storageKey = hintKey(target, partition, key);
    return this.chains.run(storageKey.toString('latin1'), async () => {
      const raw = await this.engine.get(storageKey);
      if (raw === undefined) return false;
      let keep = false;
      try {
        keep = !still(decodeHint(raw));
      } catch {
        keep = false;
      }
      if (keep) return false;
      await this.store.writeOther([{ type: 'del', key: storageKey }]);
      this.decrement(target);
      return true;
    });
  }

  /** Drop every hint for a target (it left the cluster; anti-entropy and transfer cover it). */
  async dropTarget(target: string): Promise<void> {
    const { gte, lt } = hintTargetRange(target);
    await this.engine.deleteRange(gte, lt);
    this.counts.delete(target);
  }

  /** Drop every hint (FLUSHALL). */
  async clear(): Promise<void> {
    await this.engine.deleteRange(Buffer.from('h|'), Buffer.from('h}'));
    this.counts.clear();
  }

  private decrement(target: string): void {
    const n = (this.counts.get(target) ?? 1) - 1;
    if (n <= 0) this.counts.delete(target);
    else this.counts.set(target, n);
  }
}

/** What the replayer needs to deliver hints. */
export interface HintDelivery {
  isUp(member: string): boolean;
  write(member: string, partition: number, key: Buffer, set: SiblingSet): Promise<void>;
}

/**
 * Replays hints to their targets when they are reachable: one target at a time, pages of
 * limits.hintReplayPageSize with at most limits.hintReplayInFlightMax deliveries at once, so
 * a returning node is caught up promptly without starving foreground requests.
 */
export class HintReplayer {
  private running = false;
  private readonly loop = new RepeatingTimer(async () => {
    const { delivered, more } = await this.round();
    return more && delivered > 0 ? 0 : this.options.intervalMs;
  });

  constructor(
    private readonly hints: HintStore,
    private readonly delivery: HintDelivery,
    private readonly options: {
      readonly intervalMs: number;
      readonly log?: (level: 'info' | 'warn', line: string) => void;
      /** Expired fallback-journal entries are swept along with each round. */
      readonly journal?: FallbackJournal;
    },
  ) {}

  start(): void {
    this.loop.start(this.options.intervalMs);
  }

  stop(): void {
    this.loop.stop();
  }

  /** One round over the targets; returns the number of hints delivered. */
  async tick(): Promise<number> {
    return (await this.round()).delivered;
  }

  private async round(): Promise<{ delivered: number; more: boolean }> {
    if (this.running) return { delivered: 0, more: false };
    this.running = true;
    let delivered = 0;
    let more = false;
    try {
      for (const target of [...this.hints.pending().keys()]) {
        if (!this.delivery.isUp(target)) continue;
        const page = await this.hints.page(target, limits.hintReplayPageSize);
        delivered += await this.deliver(page);
        if (page.length === limits.hintReplayPageSize) more = true;
      }
      if (delivered > 0) this.options.log?.('info', `delivered ${delivered} hints`);
      await this.options.journal?.sweep();
    } catch (err) {
      this.options.log?.('warn', `hint replay: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.running = false;
    }
    return { delivered, more };
  }

  private async deliver(page: readonly Hint[]): Promise<number> {
    let delivered = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < page.length) {
        const hint = page[next++] as Hint;
        if (!this.delivery.isUp(hint.target)) return;
        try {
          await this.delivery.write(hint.target, hint.partition, hint.key, hint.set);
        } catch {
          return; // The target stopped answering: the rest waits for the next round.
        }
        if (await this.hints.delivered(hint)) delivered++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limits.hintReplayInFlightMax, page.length) }, worker));
    return delivered;
  }
}
