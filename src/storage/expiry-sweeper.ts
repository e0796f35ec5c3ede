/**
 * The background sweep: walks the keyspace in ring order, a bounded number of keys per tick,
 * and removes keys that hold nothing live. Reads already treat such keys as absent (lazy
 * expiry); the sweep only reclaims their space.
 *
 *  - A single node removes a key whose siblings have all expired at once, and a tombstone
 *    after a short grace period: no other replica or hint can still need it.
 *  - In a cluster a dead key (every sibling a tombstone or expired) is removed only after the
 *    tombstone grace period, counted from its newest sibling, which exceeds the hint window
 *    so no hint can bring an older value back, and only when `confirm` says every other
 *    replica holds exactly the same set (and has removed it); anti-entropy provides that.
 */
import { limits } from '../limits.js';
import { RepeatingTimer } from '../util/repeating-timer.js';
import { isLive, sameDots, type SiblingSet } from '../versions/dvv.js';
import type { ReplicaStore } from './replica-store.js';

export interface SweeperOptions {
  readonly reapTombstones: boolean;
  readonly tombstoneGraceMs: number;
  /** Cluster mode: every other replica holds exactly `set` and has removed it. */
  readonly confirm?: (partition: number, key: Buffer, set: SiblingSet) => Promise<boolean>;
  readonly clock?: () => number;
  readonly onExpired?: (count: number) => void;
}

export class ExpirySweeper {
  private position = 0;
  private running = false;
  /** A page with removals means there may be more: continue soon, otherwise rest; after a failure, rest longer. */
  private readonly loop = new RepeatingTimer(async () => {
    const { removed, failed } = await this.round();
    return failed ? limits.expirySweepIntervalMs * 10 : removed > 0 ? 0 : limits.expirySweepIntervalMs;
  });

  constructor(
    private readonly store: ReplicaStore,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.loop.start(limits.expirySweepIntervalMs);
  }

  stop(): void {
    this.loop.stop();
  }

  /** True when the set can be removed at `now`. */
  reapable(set: SiblingSet, now: number): boolean {
    if (set.length === 0) return false;
    if (this.options.confirm !== undefined) {
      for (const s of set) {
        if (isLive(s, now) || now - Math.max(s.ts, s.expireAt) <= this.options.tombstoneGraceMs) return false;
      }
      return true;
    }
    for (const s of set) {
      if (isLive(s, now)) return false;
      if (s.value === null && (!this.options.reapTombstones || now - s.ts < this.options.tombstoneGraceMs)) return false;
    }
    return true;
  }

  /** One bounded step; returns the number of keys removed. */
  async tick(): Promise<number> {
    return (await this.round()).removed;
  }

  private async round(): Promise<{ removed: number; failed: boolean }> {
    if (this.running) return { removed: 0, failed: false };
    this.running = true;
    let removed = 0;
    try {
      const clock = this.options.clock ?? Date.now;
      const page = await this.store.scan(this.position, limits.expirySweepKeysPerTick);
      const now = clock();
      for (const entry of page.entries) {
        if (!this.reapable(entry.set, now)) continue;
        const expired = entry.set.some((s) => s.value !== null);
        if (this.options.confirm !== undefined && !(await this.options.confirm(entry.partition, entry.key, entry.set).catch(() => false))) continue;
        const done = await this.store.update(entry.partition, entry.key, (current) => {
          // Re-check under the key's chain: a write may have arrived since the scan.
          if (!this.reapable(current, clock()) || !sameDots(current, entry.set)) return { next: null, result: false };
          return { next: [], result: true };
        });
        if (done) {
          removed++;
          if (expired) this.options.onExpired?.(1);
        }
      }
      this.position = page.next;
      return { removed, failed: false };
    } catch {
      return { removed, failed: true };
    } finally {
      this.running = false;
    }
  }
}
