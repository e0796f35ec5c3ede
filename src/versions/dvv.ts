/**
 * Dotted version vectors with sibling sets (pure).
 *
 * This follows Preguiça, Baquero, Almeida, Fonte, Gonçalves, "Dotted Version Vectors:
 * Logical Clocks for Optimistic Replication" (2010) and the "DVVSet" of riak_kv. A replica
 * keeps, per key, a set of siblings; each sibling has a unique dot (the actor that
 * coordinated the write and a counter from that actor's monotonic sequence) and the causal
 * past it was written with (the context the writer had seen). A sibling is obsolete exactly
 * when some version vector that a writer had seen covers its dot.
 *
 * Invariants (checked by the property tests in test/versions):
 *  - A sibling's own past never covers its own dot.
 *  - sync is commutative, associative and idempotent; the empty set is its identity.
 *  - put(S, C, …) drops exactly the siblings of S covered by C and adds one new sibling.
 */

export type Actor = string;
/** A version vector: actor → highest counter seen. Absent actors are 0. */
export type VersionVector = ReadonlyMap<Actor, number>;

export interface Sibling {
  /** The dot: the actor that coordinated this write … */
  readonly actor: Actor;
  /** … and the counter it took from its monotonic sequence. */
  readonly counter: number;
  /** The causal past (the writer's context). */
  readonly past: VersionVector;
  /** The value, or null for a tombstone (DEL). */
  readonly value: Buffer | null;
  /** Coordinator wall clock at write time (ms); used only for last-writer-wins in GET. */
  readonly ts: number;
  /** Absolute expiry (ms since epoch), or 0 for none. An expired sibling reads as a tombstone. */
  readonly expireAt: number;
}

export type SiblingSet = readonly Sibling[];

export const EMPTY_VV: VersionVector = new Map();

/** True when vector v has seen the dot (actor, counter). */
export function covers(v: VersionVector, actor: Actor, counter: number): boolean {
  const seen = v.get(actor);
  return seen !== undefined && seen >= counter;
}

/** The pointwise maximum of two vectors. */
export function joinVectors(a: VersionVector, b: VersionVector): VersionVector {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [actor, counter] of b) {
    const mine = out.get(actor);
    if (mine === undefined || mine < counter) out.set(actor, counter);
  }
  return out;
}

/** a ≤ b pointwise. */
export function descends(b: VersionVector, a: VersionVector): boolean {
  for (const [actor, counter] of a) if (!covers(b, actor, counter)) return false;
  return true;
}

export function vectorsEqual(a: VersionVector, b: VersionVector): boolean {
  return a.size === b.size && descends(a, b) && descends(b, a);
}

/**
 * The context a client receives for a sibling set: the join of every sibling's past and
 * dot. Writing with it declares "I have seen all of these", so a put with it replaces them.
 */
export function contextOf(set: SiblingSet): VersionVector {
  if (set.length === 0) return EMPTY_VV;
  const out = new Map<Actor, number>();
  for (const s of set) {
    for (const [actor, counter] of s.past) {
      const mine = out.get(actor);
      if (mine === undefined || mine < counter) out.set(actor, counter);
    }
    const mine = out.get(s.actor);
    if (mine === undefined || mine < s.counter) out.set(s.actor, s.counter);
  }
  return out;
}

/** The highest counter of `actor` anywhere in the set (dots and pasts), or 0. */
export function maxCounterOf(set: SiblingSet, actor: Actor): number {
  let max = 0;
  for (const s of set) {
    if (s.actor === actor && s.counter > max) max = s.counter;
    const p = s.past.get(actor);
    if (p !== undefined && p > max) max = p;
  }
  return max;
}

export interface NewWrite {
  readonly value: Buffer | null;
  readonly ts: number;
  readonly expireAt: number;
}

/**
 * Put with context C at coordinator `actor`, taking `counter` from the actor's sequence.
 * Contract: counter is larger than any counter of `actor` in C and in the set (the caller
 * takes max(sequence.next(), maxCounterOf(set, actor) + 1, C[actor] + 1)). The result is the
 * set's siblings not covered by C, plus the new sibling {dot: (actor, counter), past: C}.
 */
export function put(set: SiblingSet, context: VersionVector, actor: Actor, counter: number, write: NewWrite): Sibling[] {
  const out: Sibling[] = [];
  for (const s of set) if (!covers(context, s.actor, s.counter)) out.push(s);
  out.push({ actor, counter, past: context, value: write.value, ts: write.ts, expireAt: write.expireAt });
  return out;
}

/**
 * Sync two replicas' sets for one key: union by dot, then drop every sibling covered by
 * another sibling's past. Commutative, associative, idempotent. The output is in canonical
 * order (by actor, then counter) so equal sets encode to equal bytes.
 */
export function sync(a: SiblingSet, b: SiblingSet): Sibling[] {
  if (b.length === 0) return a.length <= 1 ? a.slice() : canonical(dropObsolete(dedupe(a)));
  if (a.length === 0) return b.length <= 1 ? b.slice() : canonical(dropObsolete(dedupe(b)));
  return canonical(dropObsolete(dedupe([...a, ...b])));
}

function dedupe(all: readonly Sibling[]): Sibling[] {
  const out: Sibling[] = [];
  const seen = new Set<string>();
  for (const s of all) {
    const id = `${s.counter}@${s.actor}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(s);
  }
  return out;
}

function dropObsolete(all: readonly Sibling[]): Sibling[] {
  if (all.length <= 1) return all.slice();
  const out: Sibling[] = [];
  for (const s of all) {
    let obsolete = false;
    for (const t of all) {
      if (t !== s && covers(t.past, s.actor, s.counter)) {
        obsolete = true;
        break;
      }
    }
    if (!obsolete) out.push(s);
  }
  return out;
}

function canonical(set: Sibling[]): Sibling[] {
  if (set.length > 1) set.sort(compareDots);
  return set;
}

function compareDots(x: Sibling, y: Sibling): number {
  if (x.actor !== y.actor) return x.actor < y.actor ? -1 : 1;
  return x.counter - y.counter;
}

/** True when the sibling holds a value that has not expired at `nowMs`. */
export function isLive(s: Sibling, nowMs: number): boolean {
  // Like Redis (keyIsExpired: now > when), a key is still live at its expiry millisecond.
  return s.value !== null && (s.expireAt === 0 || s.expireAt >= nowMs);
}

/**
 * Last-writer-wins over (ts, dot): the sibling GET returns. Deterministic on every replica
 * because it depends only on the set. Tombstones and expired siblings take part (a later
 * DEL beats an earlier SET); the caller treats a non-live winner as "no value".
 */
export function lwwWinner(set: SiblingSet): Sibling | undefined {
  let best: Sibling | undefined;
  for (const s of set) {
    if (best === undefined || s.ts > best.ts || (s.ts === best.ts && compareDots(s, best) > 0)) best = s;
  }
  return best;
}

/** The live value GET returns at `nowMs`, or undefined. */
export function resolveLive(set: SiblingSet, nowMs: number): Sibling | undefined {
  const w = lwwWinner(set);
  return w !== undefined && isLive(w, nowMs) ? w : undefined;
}

/** Every live sibling's value (VGET), in canonical order. */
export function liveValues(set: SiblingSet, nowMs: number): Buffer[] {
  const out: Buffer[] = [];
  for (const s of set) if (isLive(s, nowMs)) out.push(s.value as Buffer);
  return out;
}

/** True when two sets hold the same dots (after sync they are then identical). */
export function sameDots(a: SiblingSet, b: SiblingSet): boolean {
  if (a.length !== b.length) return false;
  for (const s of a) if (!b.some((t) => t.actor === s.actor && t.counter === s.counter)) return false;
  return true;
}
