/**
 * Binary encodings of sibling sets (stored in RocksDB and sent between peers) and of client
 * contexts (opaque base64 strings in RESP). Both begin with a format version byte so that a
 * later format can be read beside this one.
 *
 * Set format v1: u8 version, varint actorCount, actorCount × string (the actor table), varint
 * siblingCount, then per sibling: varint actorIndex, varint counter, varint pastCount, pastCount
 * × (varint actorIndex, varint counter), u8 flags (1 = tombstone, 2 = has expiry), varint ts,
 * [varint expireAt], [bytes value]. Actors are stored once per set: most keys have one or two.
 */
import { ByteReader, ByteWriter, DecodeError } from '../util/bytes.js';
import { limits } from '../limits.js';
import type { Actor, Sibling, SiblingSet, VersionVector } from './dvv.js';

const SET_FORMAT_V1 = 1;
const CONTEXT_FORMAT_V1 = 1;
const FLAG_TOMBSTONE = 1;
const FLAG_EXPIRES = 2;
/** Bound on actors in one set or context (see docs/versions.md on vector growth). */
const ACTORS_MAX = 1024;

export function encodeSiblingSet(set: SiblingSet): Buffer {
  const actors: Actor[] = [];
  const index = new Map<Actor, number>();
  const idx = (a: Actor): number => {
    let i = index.get(a);
    if (i === undefined) {
      i = actors.length;
      actors.push(a);
      index.set(a, i);
    }
    return i;
  };
  for (const s of set) {
    idx(s.actor);
    for (const a of s.past.keys()) idx(a);
  }
  let valueBytes = 0;
  for (const s of set) valueBytes += s.value === null ? 0 : s.value.length;
  const w = new ByteWriter(64 + valueBytes + actors.length * 24 + set.length * 32);
  w.u8(SET_FORMAT_V1).varint(actors.length);
  for (const a of actors) w.string(a);
  w.varint(set.length);
  for (const s of set) {
    w.varint(idx(s.actor)).varint(s.counter).varint(s.past.size);
    for (const [a, c] of s.past) w.varint(idx(a)).varint(c);
    const flags = (s.value === null ? FLAG_TOMBSTONE : 0) | (s.expireAt !== 0 ? FLAG_EXPIRES : 0);
    w.u8(flags).varint(s.ts);
    if (s.expireAt !== 0) w.varint(s.expireAt);
    if (s.value !== null) w.bytes(s.value);
  }
  return w.finish();
}

/** Decode a stored or received set. Values are zero-copy slices of `buf`. Throws DecodeError. */
export function decodeSiblingSet(buf: Buffer): Sibling[] {
  const r = new ByteReader(buf);
  const version = r.u8();
  if (version !== SET_FORMAT_V1) throw new DecodeError(`unknown sibling set format ${version}`);
  const actorCount = r.count(ACTORS_MAX);
  const actors: Actor[] = new Array(actorCount);
  for (let i = 0; i < actorCount; i++) actors[i] = r.string();
  const actorAt = (i: number): Actor => {
    const a = actors[i];
    if (a === undefined) throw new DecodeError('actor index out of range');
    return a;
  };
  const n = r.count(limits.siblingsMax * 4);
  const out: Sibling[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const actor = actorAt(r.varint());
    const counter = r.varint();
    const pastCount = r.count(ACTORS_MAX);
    const past = new Map<Actor, number>();
    for (let j = 0; j < pastCount; j++) past.set(actorAt(r.varint()), r.varint());
    const flags = r.u8();
    const ts = r.varint();
    const expireAt = flags & FLAG_EXPIRES ? r.varint() : 0;
    const value = flags & FLAG_TOMBSTONE ? null : r.bytes();
    out[i] = { actor, counter, past, value, ts, expireAt };
  }
  r.end();
  return out;
}

/** A context as the opaque string clients hold: base64 of a versioned vector encoding. */
export function encodeContext(v: VersionVector): string {
  if (v.size === 0) return '';
  const w = new ByteWriter(16 + v.size * 24);
  w.u8(CONTEXT_FORMAT_V1).varint(v.size);
  // Canonical order keeps equal contexts byte-equal.
  for (const a of [...v.keys()].sort()) w.string(a).varint(v.get(a) as number);
  return w.finish().toString('base64');
}

/** Parse a client context; "" is the empty context. Throws DecodeError with a reason. */
export function decodeContext(text: Buffer | string): VersionVector {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  if (s.length === 0) return new Map();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) throw new DecodeError('not base64');
  const r = new ByteReader(Buffer.from(s, 'base64'));
  const version = r.u8();
  if (version !== CONTEXT_FORMAT_V1) throw new DecodeError(`unknown context format ${version}`);
  const n = r.count(ACTORS_MAX);
  const out = new Map<Actor, number>();
  for (let i = 0; i < n; i++) {
    const actor = r.string();
    const counter = r.varint();
    if (actor.length === 0 || counter === 0) throw new DecodeError('empty entry');
    out.set(actor, counter);
  }
  r.end();
  return out;
}
