/**
 * The background sweep: walks the keyspace in ring order, a bounded number of keys per tick,
 * and removes keys that hold nothing live: every sibling expired, or a tombstone past the
 * grace period when tombstones may be reaped (a single node, where no other replica or hint
 * can still need them; the cluster rules arrive with anti-entropy). Reads already treat such
 * keys as absent (lazy expiry); the sweep only reclaims their space.
 */
import { limits } from '../limits.js';
import { isLive, type SiblingSet } from '../versions/dvv.js';
import type { ReplicaStore } from './replica-store.js';

export interface SweeperOptions {
  readonly reapTombstones: boolean;
  readonly tombstoneGraceMs: number;
  readonly clock?: () => number;
  readonly onExpired?: (count: number) => void;
}

export class ExpirySweeper {
  private position = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly store: ReplicaStore,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(limits.expirySweepIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  /** True when the set can be removed at `now`. */
  reapable(set: SiblingSet, now: number): boolean {
    if (set.length === 0) return false;
    for (const s of set) {
      if (isLive(s, now)) return false;
      if (s.value === null && (!this.options.reapTombstones || now - s.ts < this.options.tombstoneGraceMs)) return false;
    }
    return true;
  }

  /** One bounded step; returns the number of keys removed. */
  async tick(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let removed = 0;
    try {
      const clock = this.options.clock ?? Date.now;
      const page = await this.store.scan(this.position, limits.expirySweepKeysPerTick);
      const now = clock();
      for (const entry of page.entries) {
        if (!this.reapable(entry.set, now)) continue;
        const expired = entry.set.some((s) => s.value !== null);
        const done = await this.store.update(entry.partition, entry.key, (current) => {
          // Re-check under the key's chain: a write may have arrived since the scan.
          if (!this.reapable(current, clock())) return { next: null, result: false };
          return { next: [], result: true };
        });
        if (done) {
          removed++;
          if (expired) this.options.onExpired?.(1);
        }
      }
      this.position = page.next;
      // A full page of work means there may be more: continue soon, otherwise rest.
      this.schedule(removed > 0 ? 0 : limits.expirySweepIntervalMs);
    } catch {
      this.schedule(limits.expirySweepIntervalMs * 10);
    } finally {
      this.running = false;
    }
    return removed;
  }
}
