/**
 * The journal of a fallback coordinator: what this node wrote for keys it does not replicate.
 *
 * Why it exists. A context is a version vector, and a vector entry a → c claims every dot of
 * actor a up to c. That claim is honest only if each new dot of an actor is created from a
 * set that holds the actor's earlier dots of the key (or something that covers them): then
 * the whole set the coordinator replicates carries them along (DESIGN.md §3). A replica
 * coordinator has them in its own replica. A node that coordinates a write for a key it does
 * not replicate (sloppy quorum, no primary reachable) has no replica to remember them in, so
 * a second such write could be based on a set without the first, and a client writing with
 * the resulting context would silently drop the first. (The simulation test found exactly
 * this.)
 *
 * What it does. Fallback writes use an *episode actor* `actor~n` (n from the node's dot
 * sequence, so it is never reused) and this journal keeps, per key, the episode's actor and
 * the set of its latest write, updated under a per-key chain. Every write of the episode
 * starts from that set, so the episode's dots are contiguous in the sense above. An episode
 * ends when its entry expires (the hint window, after which the primaries have it by handoff
 * or anti-entropy) or the entry is lost; the next fallback write for the key starts a new
 * episode with a new actor, which has no history to be dishonest about. Vectors grow by one
 * entry per episode and key, not per write.
 */
import { limits } from '../limits.js';
import type { StorageEngine } from '../storage/engine.js';
import { episodeKey, episodeRange } from '../storage/key-layout.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { ByteReader, ByteWriter } from '../util/bytes.js';
import { KeyedChain } from '../util/keyed-chain.js';
import type { SiblingSet } from '../versions/dvv.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';

const EPISODE_FORMAT_V1 = 1;

export interface Episode {
  readonly actor: string;
  readonly createdAtMs: number;
  readonly set: SiblingSet;
}

function encodeEpisode(e: Episode): Buffer {
  const header = new ByteWriter(64).u8(EPISODE_FORMAT_V1).string(e.actor).varint(e.createdAtMs).finish();
  return Buffer.concat([header, encodeSiblingSet(e.set)]);
}

function decodeEpisode(raw: Buffer): Episode {
  const r = new ByteReader(raw);
  const version = r.u8();
  if (version !== EPISODE_FORMAT_V1) throw new Error(`unknown episode format ${version}`);
  const actor = r.string();
  const createdAtMs = r.varint();
  return { actor, createdAtMs, set: decodeSiblingSet(raw.subarray(r.offset)) };
}

export interface EpisodeOutcome<T> {
  /** The episode to journal after this write (undefined: no write, journal unchanged). */
  readonly next?: Episode;
  readonly result: T;
}

export class FallbackJournal {
  private readonly chains = new KeyedChain();

  constructor(
    private readonly engine: StorageEngine,
    private readonly store: ReplicaStore,
    private readonly options: { readonly windowMs: number; readonly clock?: () => number },
  ) {}

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  private expired(e: Episode): boolean {
    return this.now() - e.createdAtMs > this.options.windowMs;
  }

  /**
   * Run `fn` with the key's live episode (undefined when there is none) after every earlier
   * update of the key, and journal the episode it returns before resolving.
   */
  update<T>(partition: number, key: Buffer, fn: (episode: Episode | undefined) => EpisodeOutcome<T>): Promise<T> {
    const storageKey = episodeKey(partition, key);
    const id = storageKey.toString('latin1');
    const run = async (): Promise<T> => {
      const raw = await this.engine.get(storageKey);
      let episode: Episode | undefined;
      try {
        episode = raw === undefined ? undefined : decodeEpisode(raw);
      } catch {
        episode = undefined; // An unreadable entry ends its episode; the next one has a new actor.
      }
      if (episode !== undefined && this.expired(episode)) episode = undefined;
      const outcome = fn(episode);
      if (outcome.next !== undefined) await this.store.writeOther([{ type: 'put', key: storageKey, value: encodeEpisode(outcome.next) }]);
      return outcome.result;
    };
    return this.chains.run(id, run);
  }

  /** Delete expired entries, a bounded page per call; returns how many were deleted. */
  async sweep(): Promise<number> {
    const { gte, lt } = episodeRange();
    const rows = await this.engine.range({ gte, lt, limit: limits.hintReplayPageSize });
    let deleted = 0;
    for (const [k, v] of rows) {
      let expired = true;
      try {
        expired = this.expired(decodeEpisode(v));
      } catch {
        expired = true;
      }
      if (!expired || this.chains.busy(k.toString('latin1'))) continue;
      await this.store.writeOther([{ type: 'del', key: k }]);
      deleted++;
    }
    return deleted;
  }

  /** Drop every entry (FLUSHALL). */
  async clear(): Promise<void> {
    const { gte, lt } = episodeRange();
    await this.engine.deleteRange(gte, lt);
  }
}
