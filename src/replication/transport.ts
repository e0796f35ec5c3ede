/**
 * What a coordinator needs from the other replicas, as an interface: the peer bus implements
 * it over TCP (src/peer/peer-bus.ts), the simulation tests in memory with controlled delays and
 * failures. Every call either settles within the transport's timeout or rejects.
 */
import type { ScanEntry } from '../storage/replica-store.js';
import type { SiblingSet } from '../versions/dvv.js';

export interface ScanPage {
  readonly entries: ScanEntry[];
  /** Where the next page starts, or 0 when the scanned range is exhausted. */
  readonly next: number;
}

export interface ReplicaTransport {
  /** True when a request to `member` can be sent now (connected, handshaken, not suspect). */
  isUp(member: string): boolean;
  /**
   * True when `member` is connected even if the failure detector suspects it. A coordinator
   * with no other way to reach a quorum tries such a member anyway (`force`).
   */
  isConnected?(member: string): boolean;
  /**
   * The member's sibling set of a key ([] when it has none); with `hintFor`, the hint it
   * holds for that primary instead (the member stands in for it).
   */
  read(member: string, partition: number, key: Buffer, hintFor?: string, force?: boolean): Promise<SiblingSet>;
  /** Sync a set into the member's replica of a key (DESIGN.md §3 sync). */
  write(member: string, partition: number, key: Buffer, set: SiblingSet, force?: boolean): Promise<void>;
  /** Store a set on the member as a hint for the unreachable primary `target`. */
  hint(member: string, target: string, partition: number, key: Buffer, set: SiblingSet): Promise<void>;
  /** One page of the member's keys of one partition, from `position` (to `end`, default the partition's end). */
  scan(member: string, partition: number, position: number, limit: number, end?: number): Promise<ScanPage>;
  /** Delete every key of the member (FLUSHALL). */
  flushAll(member: string): Promise<void>;
}

/** A transport for a cluster of one: there is nobody to talk to. */
export const noTransport: ReplicaTransport = {
  isUp: () => false,
  read: () => Promise.reject(new Error('no peers')),
  write: () => Promise.reject(new Error('no peers')),
  hint: () => Promise.reject(new Error('no peers')),
  scan: () => Promise.reject(new Error('no peers')),
  flushAll: () => Promise.reject(new Error('no peers')),
};
