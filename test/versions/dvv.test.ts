import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  contextOf,
  covers,
  liveValues,
  lwwWinner,
  maxCounterOf,
  put,
  resolveLive,
  sameDots,
  sync,
  type Sibling,
  type SiblingSet,
  type VersionVector,
} from '../../src/versions/dvv.js';
import { decodeContext, decodeSiblingSet, encodeContext, encodeSiblingSet } from '../../src/versions/sibling-set.js';

const ACTORS = ['a.1', 'b.1', 'c.1'];

/**
 * A simulated cluster of replicas for one key. Each replica coordinates puts with its own
 * actor and a monotonic sequence, and replicas exchange whole sets with sync. The model
 * records, for every acknowledged write, which writes its context covered.
 */
interface Sim {
  replicas: Sibling[][];
  seq: number[];
  clock: number;
  /** id (value string) → ids whose dots its context covered */
  writes: Map<string, { actor: string; counter: number }>;
  superseded: Set<string>;
}

type Op =
  | { kind: 'put'; at: number; ctxFrom: number | 'none' }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'putStaleCtx'; at: number; ctxFrom: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), at: fc.nat(2), ctxFrom: fc.oneof(fc.nat(2), fc.constant('none' as const)) }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
  fc.record({ kind: fc.constant('putStaleCtx' as const), at: fc.nat(2), ctxFrom: fc.nat(2) }),
);

function newSim(): Sim {
  return { replicas: [[], [], []], seq: [0, 0, 0], clock: 1000, writes: new Map(), superseded: new Set() };
}

function doPut(sim: Sim, at: number, ctx: VersionVector): void {
  const actor = ACTORS[at] as string;
  const current = sim.replicas[at] as Sibling[];
  const counter = Math.max((sim.seq[at] as number) + 1, maxCounterOf(current, actor) + 1, (ctx.get(actor) ?? 0) + 1);
  sim.seq[at] = counter;
  const id = `w${sim.writes.size}`;
  // The model: a write's context supersedes exactly the writes whose dots it covers.
  for (const [wid, dot] of sim.writes) if (covers(ctx, dot.actor, dot.counter)) sim.superseded.add(wid);
  sim.writes.set(id, { actor, counter });
  sim.replicas[at] = put(current, ctx, actor, counter, { value: Buffer.from(id), ts: sim.clock++, expireAt: 0 });
}

function run(sim: Sim, ops: Op[]): void {
  const stale: VersionVector[] = [new Map(), new Map(), new Map()];
  for (const op of ops) {
    if (op.kind === 'sync') {
      const merged = sync(sim.replicas[op.from] as Sibling[], sim.replicas[op.to] as Sibling[]);
      sim.replicas[op.to] = merged;
    } else if (op.kind === 'put') {
      const ctx = op.ctxFrom === 'none' ? new Map() : contextOf(sim.replicas[op.ctxFrom] as Sibling[]);
      stale[op.at] = ctx;
      doPut(sim, op.at, ctx);
    } else {
      // A client that read long ago writes with its old context.
      doPut(sim, op.at, stale[op.ctxFrom] as VersionVector);
    }
  }
}

function fullSync(sim: Sim): Sibling[] {
  let all: Sibling[] = [];
  for (const r of sim.replicas) all = sync(all, r);
  for (let i = 0; i < sim.replicas.length; i++) sim.replicas[i] = sync(sim.replicas[i] as Sibling[], all);
  return all;
}

const setArb: fc.Arbitrary<Sibling[]> = fc
  .array(opArb, { maxLength: 12 })
  .map((ops) => {
    const sim = newSim();
    run(sim, ops);
    return sim.replicas[0] as Sibling[];
  });

describe('dotted version vectors: sync laws', () => {
  it('sync is commutative, associative and idempotent (same dots)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 20 }), (ops) => {
        const sim = newSim();
        run(sim, ops);
        const [a, b, c] = sim.replicas as [Sibling[], Sibling[], Sibling[]];
        expect(sameDots(sync(a, b), sync(b, a))).toBe(true);
        expect(sameDots(sync(sync(a, b), c), sync(a, sync(b, c)))).toBe(true);
        expect(sameDots(sync(a, a), a)).toBe(true);
        expect(sameDots(sync(a, []), a)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('no acknowledged write disappears unless a later context covered it, and replicas converge', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
        const sim = newSim();
        run(sim, ops);
        const merged = fullSync(sim);
        const present = new Set(merged.map((s) => (s.value as Buffer).toString()));
        for (const id of sim.writes.keys()) {
          if (!sim.superseded.has(id)) expect(present.has(id), `write ${id} lost`).toBe(true);
          else expect(present.has(id), `superseded write ${id} still present`).toBe(false);
        }
        for (const r of sim.replicas) expect(encodeSiblingSet(r)).toEqual(encodeSiblingSet(merged));
      }),
      { numRuns: 500 },
    );
  });

  it('two clients interleaving read/write through the same coordinator never lose a write', () => {
    // The lost-update case plain vector clocks with server ids get wrong.
    let set: SiblingSet = [];
    let seq = 0;
    const write = (ctx: VersionVector, v: string): void => {
      seq = Math.max(seq + 1, maxCounterOf(set, 'n.1') + 1);
      set = put(set, ctx, 'n.1', seq, { value: Buffer.from(v), ts: seq, expireAt: 0 });
    };
    const ctxA = contextOf(set);
    const ctxB = contextOf(set);
    write(ctxA, 'A');
    write(ctxB, 'B');
    expect(liveValues(set, 0).map(String).sort()).toEqual(['A', 'B']);
    const ctxA2 = contextOf(set);
    write(ctxA2, 'A2');
    expect(liveValues(set, 0).map(String)).toEqual(['A2']);
  });

  it('a put drops exactly the siblings its context covers', () => {
    fc.assert(
      fc.property(setArb, fc.nat(2), (set, pick) => {
        const ctx = set.length > 0 ? contextOf([set[pick % set.length] as Sibling]) : new Map<string, number>();
        const next = put(set, ctx, 'z.9', 1_000_000, { value: Buffer.from('new'), ts: 1, expireAt: 0 });
        for (const s of set) {
          const kept = next.includes(s);
          expect(kept).toBe(!covers(ctx, s.actor, s.counter));
        }
        expect(next[next.length - 1]?.actor).toBe('z.9');
      }),
    );
  });
});

describe('resolution', () => {
  const sib = (actor: string, counter: number, ts: number, value: string | null, expireAt = 0): Sibling => ({
    actor,
    counter,
    past: new Map(),
    value: value === null ? null : Buffer.from(value),
    ts,
    expireAt,
  });

  it('last writer wins on (ts, dot), deterministically in any order', () => {
    const s = [sib('a', 1, 5, 'x'), sib('b', 1, 7, 'y'), sib('c', 2, 7, 'z')];
    expect(lwwWinner(s)?.value?.toString()).toBe('z');
    expect(lwwWinner([...s].reverse())?.value?.toString()).toBe('z');
  });

  it('a later tombstone hides earlier values; an expired winner reads as absent', () => {
    expect(resolveLive([sib('a', 1, 5, 'x'), sib('b', 1, 6, null)], 0)).toBeUndefined();
    expect(resolveLive([sib('a', 1, 5, 'x', 100)], 101)).toBeUndefined();
    expect(resolveLive([sib('a', 1, 5, 'x', 100)], 100)?.value?.toString()).toBe('x');
    expect(liveValues([sib('a', 1, 5, 'x'), sib('b', 1, 6, null), sib('c', 1, 1, 'old', 10)], 50).map(String)).toEqual(['x']);
  });
});

describe('encodings', () => {
  it('sibling sets round-trip', () => {
    fc.assert(
      fc.property(setArb, (set) => {
        const decoded = decodeSiblingSet(encodeSiblingSet(set));
        expect(encodeSiblingSet(decoded)).toEqual(encodeSiblingSet(set));
        expect(sameDots(decoded, set)).toBe(true);
      }),
    );
  });

  it('contexts round-trip and "" is the empty context', () => {
    fc.assert(
      fc.property(setArb, (set) => {
        const ctx = contextOf(set);
        const back = decodeContext(encodeContext(ctx));
        expect([...back].sort()).toEqual([...ctx].sort());
      }),
    );
    expect(decodeContext('').size).toBe(0);
  });

  it('malformed contexts and sets are refused, never misread', () => {
    for (const bad of ['!!!', 'AAAA', 'Zm9v', encodeContext(new Map([['a', 1]])).slice(0, -4) + 'AAAA']) {
      expect(() => decodeContext(bad)).toThrow();
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeSiblingSet(Buffer.from(bytes));
        } catch (err) {
          expect((err as Error).name).toBe('DecodeError');
        }
      }),
    );
  });
});
