/**
 * The hash trees of the partitions this node replicates, kept up to date on every write
 * through the replica store's change hook, and (re)built from storage at start, after
 * FLUSHALL and when a tree is older than its maximum age.
 *
 * A build scans the partition while writes go on. It stays exact this way:
 *  1. Start recording the keys written from now on ("touched"), each with its set before
 *     its first such write and its latest set.
 *  2. Wait until every write decided before step 1 is in the engine (store.flush()), so for a
 *     key not yet touched the engine holds exactly the store's current set.
 *  3. Scan the partition from the engine in pages and add every key's contribution, except
 *     for keys already touched when the scan reaches them.
 *  4. In one synchronous step: for each touched key the scan had already added (it was
 *     touched after the scan passed it, so the scan saw its set before the first touch),
 *     remove that; then add its latest set. From then on the hook updates the tree directly.
 */
import { limits } from '../limits.js';
import type { StorageEngine } from '../storage/engine.js';
import { dataKey, dataPartitionRange, parseDataKey } from '../storage/key-layout.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { SiblingSet } from '../versions/dvv.js';
import { decodeSiblingSet } from '../versions/sibling-set.js';
import { contribution, segmentOf, SegmentHashes } from './hash-tree.js';

interface Touched {
  readonly key: Buffer;
  readonly firstBefore: SiblingSet;
  latest: SiblingSet;
  /** The scan had added this key before its first touch. */
  scannedBefore: boolean;
}

interface TreeState {
  readonly hashes: SegmentHashes;
  ready: boolean;
  builtAtMs: number;
  /** While building: keys written since the build began. */
  touched?: Map<string, Touched>;
  /** While building: the last storage key the scan has added. */
  cursor?: Buffer;
}

export interface TreeStats {
  builds: number;
  buildMsTotal: number;
}

export class PartitionTrees {
  private readonly trees = new Map<number, TreeState>();
  /** Bumped by reset(): a build that started before it is abandoned. */
  private generation = 0;
  readonly stats: TreeStats = { builds: 0, buildMsTotal: 0 };

  constructor(
    private readonly engine: StorageEngine,
    private readonly store: ReplicaStore,
    readonly segments: number,
    private readonly clock: () => number = Date.now,
    private readonly pageSize: number = limits.aeBuildPageSize,
    private readonly touchedMax: number = limits.aeBuildTouchedMax,
  ) {
    store.onChange = (partition, key, before, after) => this.onChange(partition, key, before, after);
    store.onClear = () => this.reset();
  }

  private onChange(partition: number, key: Buffer, before: SiblingSet, after: SiblingSet): void {
    const tree = this.trees.get(partition);
    if (tree === undefined) return;
    if (tree.ready) {
      tree.hashes.update(key, before, after);
      return;
    }
    const touched = tree.touched;
    if (touched === undefined) return;
    const id = key.toString('latin1');
    const seen = touched.get(id);
    if (seen !== undefined) {
      seen.latest = after;
      return;
    }
    if (touched.size >= this.touchedMax) {
      // Too many writes raced this build: abandon it (the partition gets no tree until the next
      // build, which the scheduler starts when it next reaches the partition).
      this.trees.delete(partition);
      return;
    }
    const scannedBefore = tree.cursor !== undefined && Buffer.compare(dataKey(partition, key), tree.cursor) <= 0;
    touched.set(id, { key: Buffer.from(key), firstBefore: before, latest: after, scannedBefore });
  }

  /** The partition's segment hashes, if its tree is built. */
  ready(partition: number): SegmentHashes | undefined {
    const tree = this.trees.get(partition);
    return tree?.ready === true ? tree.hashes : undefined;
  }

  builtAt(partition: number): number | undefined {
    return this.trees.get(partition)?.builtAtMs;
  }

  /** Partitions with a tree (built or building). */
  partitions(): number[] {
    return [...this.trees.keys()];
  }

  /** Stop keeping a partition's tree (the node no longer replicates it). */
  drop(partition: number): void {
    this.trees.delete(partition);
  }

  /** Forget every tree's contents: each is rebuilt by the next build() (after FLUSHALL). */
  reset(): void {
    this.generation++;
    for (const p of [...this.trees.keys()]) this.trees.delete(p);
  }

  /** (Re)build one partition's tree from storage. Resolves false if a reset abandoned it. */
  async build(partition: number): Promise<boolean> {
    const started = this.clock();
    const generation = this.generation;
    const state: TreeState = { hashes: new SegmentHashes(this.segments), ready: false, builtAtMs: 0, touched: new Map() };
    this.trees.set(partition, state);
    await this.store.flush();
    const { gte, lt } = dataPartitionRange(partition);
    let from = gte;
    for (;;) {
      if (this.generation !== generation || this.trees.get(partition) !== state) return false;
      const rows = await this.engine.range({ gte: from, lt, limit: this.pageSize });
      if (this.generation !== generation || this.trees.get(partition) !== state) return false;
      const touched = state.touched as Map<string, Touched>;
      for (const [k, v] of rows) {
        const { key } = parseDataKey(k);
        if (touched.has(key.toString('latin1'))) continue;
        let set: SiblingSet;
        try {
          set = decodeSiblingSet(v);
        } catch {
          continue; // An undecodable record contributes nothing; anti-entropy will repair it.
        }
        state.hashes.toggle(segmentOf(key, this.segments), contribution(key, set));
      }
      if (rows.length > 0) state.cursor = (rows[rows.length - 1] as [Buffer, Buffer])[0];
      if (rows.length < this.pageSize) break;
      from = Buffer.concat([state.cursor as Buffer, Buffer.from([0])]);
    }
    for (const t of (state.touched as Map<string, Touched>).values()) {
      if (t.scannedBefore) state.hashes.update(t.key, t.firstBefore, []);
      state.hashes.update(t.key, [], t.latest);
    }
    state.touched = undefined;
    state.cursor = undefined;
    state.ready = true;
    state.builtAtMs = this.clock();
    this.stats.builds++;
    this.stats.buildMsTotal += state.builtAtMs - started;
    return true;
  }
}
